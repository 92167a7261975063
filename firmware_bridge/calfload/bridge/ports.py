"""Checking that a loopback port is free before a server needs it."""

from __future__ import annotations

import socket


class PortInUseError(RuntimeError):
    """A port a command needs is taken; the message names the option to change it."""


def check_port_free(port: int, option: str) -> None:
    """Raise :class:`PortInUseError` when 127.0.0.1:``port`` cannot be bound."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError as exc:
            raise PortInUseError(
                f"port {port} is already in use; choose another with {option} PORT"
            ) from exc
