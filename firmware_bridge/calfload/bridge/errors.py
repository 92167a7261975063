"""Typed errors raised by the bridge's pure decoders."""

from __future__ import annotations


class PacketError(ValueError):
    """A notification payload that cannot be decoded.

    ``reason`` is a short machine-readable tag (``short``, ``version``, ``length``,
    ``field``) used for counting; the message is written for a user.
    """

    def __init__(self, reason: str, message: str, payload: bytes = b"") -> None:
        hexdump = payload[:32].hex()
        suffix = f" (payload {hexdump}{'…' if len(payload) > 32 else ''})" if payload else ""
        super().__init__(f"{message}{suffix}")
        self.reason = reason
        self.payload = bytes(payload)
