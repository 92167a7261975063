"""A bleak scanner backend for the virtual radio: ``BleakScanner(backend=VirtualScanner,
radio=radio)``.

bleak's ``BleakScanner`` accepts any ``BaseBleakScanner`` subclass through
``backend=`` and passes extra keyword arguments on to it. This one reports each
peripheral on a :class:`~calfload.bridge.virtual.radio.VirtualRadio` every
``interval_s`` as an advertisement: its name, the service UUIDs its GATT server
holds, and a made-up RSSI (stronger for peripherals added earlier). It does not
simulate the radio's advertising channel; what it exercises is bleak's scanner API
and everything the bridge builds on it (``calfload scan``, finding configured
sensors by address or name).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from bleak.backends.scanner import AdvertisementData, AdvertisementDataCallback, BaseBleakScanner
from bumble.gatt import Service

from calfload.bridge.virtual.bleak_backend import _uuid_str
from calfload.bridge.virtual.radio import VirtualDeviceDetails, VirtualRadio


class VirtualScanner(BaseBleakScanner):
    """``BaseBleakScanner`` over a :class:`VirtualRadio` (pass ``radio=``)."""

    def __init__(
        self,
        detection_callback: AdvertisementDataCallback | None,
        service_uuids: list[str] | None,
        scanning_mode: str = "active",
        *,
        radio: VirtualRadio,
        interval_s: float = 0.1,
        **kwargs: Any,
    ) -> None:
        super().__init__(detection_callback, service_uuids)
        self.radio = radio
        self.interval_s = interval_s
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.seen_devices = {}
        self._task = asyncio.create_task(self._advertise(), name="virtual-scanner")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _advertise(self) -> None:
        while True:
            for k, peripheral in enumerate(list(self.radio.peripherals)):
                uuids = [
                    _uuid_str(a.uuid)
                    for a in peripheral.gatt_server.attributes
                    if isinstance(a, Service)
                ]
                if not self.is_allowed_uuid(uuids):
                    continue
                adv = AdvertisementData(
                    local_name=peripheral.name,
                    manufacturer_data={},
                    service_data={},
                    service_uuids=uuids,
                    tx_power=None,
                    rssi=-48 - 4 * k,
                    platform_data=(),
                )
                address = str(peripheral.public_address)
                device = self.create_or_update_device(
                    address,
                    address,
                    peripheral.name,
                    VirtualDeviceDetails(self.radio, peripheral),
                    adv,
                )
                self.call_detection_callbacks(device, adv)
            await asyncio.sleep(self.interval_s)
