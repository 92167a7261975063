"""Typed errors raised by the bridge's pure decoders."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from calfload.bridge.devices.base import SampleBlock


class PacketError(ValueError):
    """A notification payload that cannot be decoded.

    ``reason`` is a short machine-readable tag (``short``, ``version``, ``length``,
    ``field``) used for counting; the message is written for a user.
    ``salvaged`` holds good samples decoded from the same notification (a stream
    decoder that skipped junk between good frames); the link still delivers them.
    """

    def __init__(
        self,
        reason: str,
        message: str,
        payload: bytes = b"",
        *,
        salvaged: Sequence[SampleBlock] = (),
    ) -> None:
        hexdump = payload[:32].hex()
        suffix = f" (payload {hexdump}{'…' if len(payload) > 32 else ''})" if payload else ""
        super().__init__(f"{message}{suffix}")
        self.reason = reason
        self.payload = bytes(payload)
        self.salvaged: tuple[SampleBlock, ...] = tuple(salvaged)
