"""What every virtual twin does to leave range or shut down (shared by all twins)."""

from __future__ import annotations

import asyncio
import contextlib

from bumble.device import Device


async def disconnect_all(device: Device | None) -> None:
    """Simulate the sensor leaving radio range: drop every connection it has."""
    if device is None:
        return
    for connection in list(device.connections.values()):
        with contextlib.suppress(Exception):  # a connection already going away is fine
            await connection.disconnect()


async def cancel_quietly(task: asyncio.Task[None] | None) -> None:
    """Cancel a twin's streaming task and wait for it to finish."""
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
