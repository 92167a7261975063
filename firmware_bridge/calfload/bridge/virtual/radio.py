"""An in-process BLE radio built from bumble controllers on one ``LocalLink``.

The radio owns one *central* bumble device (the host adapter the bridge would use)
and any number of *peripherals* (virtual sensors). ``ble_device(peripheral)`` hands
out a ``bleak.BLEDevice`` whose ``details`` point back here, which is what
:class:`calfload.bridge.virtual.bleak_backend.BumbleBleakClient` needs to connect.
"""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass
from typing import Any

from bleak.backends.device import BLEDevice
from bumble.controller import Controller
from bumble.device import Connection, Device
from bumble.hci import Address
from bumble.host import Host
from bumble.link import LocalLink
from bumble.transport.common import AsyncPipeSink

_address_counter = itertools.count(1)


def _next_address() -> str:
    n = next(_address_counter)
    # Static random addresses: the two top bits of the most significant byte set.
    return f"C0:CA:1F:{(n >> 16) & 0xFF:02X}:{(n >> 8) & 0xFF:02X}:{n & 0xFF:02X}"


def _make_device(link: LocalLink, name: str, address: str) -> Device:
    controller = Controller(name, link=link, public_address=address)
    device = Device(address=Address(address), host=Host(controller, AsyncPipeSink(controller)))
    device.name = name
    return device


@dataclass(frozen=True)
class VirtualDeviceDetails:
    """What ``BLEDevice.details`` carries for a virtual peripheral."""

    radio: VirtualRadio
    peripheral: Device


class VirtualRadio:
    """One simulated BLE neighbourhood: a central adapter and its peripherals."""

    def __init__(self) -> None:
        self.link = LocalLink()  # type: ignore[no-untyped-call]
        self.central = _make_device(self.link, "calfload-host", _next_address())
        self.peripherals: list[Device] = []
        self._powered = False
        self._connect_lock = asyncio.Lock()

    async def power_on(self) -> None:
        if not self._powered:
            await self.central.power_on()
            self._powered = True

    async def add_peripheral(self, name: str) -> Device:
        """Create, power on and return a new peripheral device named ``name``."""
        device = _make_device(self.link, name, _next_address())
        await device.power_on()
        self.peripherals.append(device)
        return device

    def ble_device(self, peripheral: Device) -> BLEDevice:
        """A ``BLEDevice`` for bleak, as a scanner would have returned it."""
        return BLEDevice(
            str(peripheral.public_address),
            peripheral.name,
            VirtualDeviceDetails(self, peripheral),
        )

    async def connect(self, peripheral: Device, timeout_s: float) -> Connection:
        """Connect the central to ``peripheral`` (one connection attempt at a time)."""
        await self.power_on()
        async with self._connect_lock:
            accepted: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

            def on_connection(connection: Connection) -> None:
                if not accepted.done():
                    accepted.set_result(connection)

            peripheral.once(peripheral.EVENT_CONNECTION, on_connection)
            await peripheral.start_advertising(auto_restart=False)
            try:
                connection = await asyncio.wait_for(
                    self.central.connect(peripheral.random_address), timeout_s
                )
                await asyncio.wait_for(accepted, timeout_s)
            finally:
                if peripheral.is_advertising:
                    await peripheral.stop_advertising()
            return connection
