"""Non-BLE sample sources the bridge runs beside its BLE links (e.g. Moticon UDP)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from calfload.bridge.messages import RawBatch, SensorQuality


class BatchSource(Protocol):
    """Produces :class:`RawBatch` es into the sink it is attached to until stopped."""

    def attach(self, on_batch: Callable[[RawBatch], None]) -> None: ...

    async def run(self) -> None: ...

    def stop(self) -> None: ...

    def quality(self) -> list[SensorQuality]: ...
