"""Virtual twin of an open-profile insole: a bumble GATT peripheral speaking the
exact bytes of :mod:`calfload.bridge.devices.open_insole`, fed by the gait simulator.

Faults it can inject (for tests and demos): garbage notifications between good
ones, dropped notifications (a real loss, visible in the sequence numbers), a
sensor clock that drifts, and a link that goes away.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

import numpy as np
from bumble.att import Attribute
from bumble.device import Connection, Device
from bumble.gatt import Characteristic, CharacteristicValue, Service

from calfload.bridge.devices import open_insole
from calfload.bridge.simulator import GaitSimulator
from calfload.bridge.topics import Side
from calfload.bridge.virtual.lifecycle import cancel_quietly, disconnect_all
from calfload.bridge.virtual.radio import VirtualRadio

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TwinFaults:
    """Faults to inject. ``garbage_every`` adds one malformed notification after every
    N good ones (no data lost); ``drop_every`` silently skips every Nth notification."""

    garbage_every: int = 0
    drop_every: int = 0
    clock_drift_ppm: float = 0.0


class OpenInsoleTwin:
    """One virtual insole on a :class:`VirtualRadio`."""

    def __init__(
        self,
        radio: VirtualRadio,
        simulator: GaitSimulator,
        side: Side,
        *,
        name: str,
        rate_hz: int = 100,
        samples_per_packet: int = 5,
        clock_offset_us: int = 0,
        faults: TwinFaults | None = None,
    ) -> None:
        self.radio = radio
        self.simulator = simulator
        self.side = side
        self.name = name
        self.rate_hz = rate_hz
        self.samples_per_packet = samples_per_packet
        self.clock_offset_us = clock_offset_us
        self.faults = faults or TwinFaults()
        self.device: Device | None = None
        self.commands: list[bytes] = []
        self.packets_sent = 0
        self.garbage_sent = 0
        self.packets_dropped = 0
        self._seq = 0
        self._streaming = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._data_char: Characteristic[bytes] | None = None
        self._t_sim_origin: float | None = None  # loop time of simulator t = 0

    async def start(self, t_sim_origin: float) -> Device:
        """Create the peripheral and its GATT database; stream once a central says start."""
        self._t_sim_origin = t_sim_origin
        device = await self.radio.add_peripheral(self.name)
        self._data_char = Characteristic(
            open_insole.DATA_CHAR_UUID,
            Characteristic.Properties.NOTIFY,
            Attribute.Permissions.READABLE,
            b"",
        )
        control: Characteristic[bytes] = Characteristic(
            open_insole.CONTROL_CHAR_UUID,
            Characteristic.Properties.WRITE | Characteristic.Properties.WRITE_WITHOUT_RESPONSE,
            Attribute.Permissions.WRITEABLE,
            CharacteristicValue[bytes](write=self._on_control),
        )
        device.add_service(Service(open_insole.SERVICE_UUID, [self._data_char, control]))
        device.on(device.EVENT_CONNECTION, self._on_connection)
        self.device = device
        self._task = asyncio.create_task(self._stream(), name=f"twin-{self.name}")
        return device

    def _on_connection(self, connection: Connection) -> None:
        connection.on(connection.EVENT_DISCONNECTION, lambda *_: self._streaming.clear())

    def _on_control(self, connection: Connection, value: bytes) -> None:
        self.commands.append(bytes(value))
        if value == open_insole.CMD_START:
            self._streaming.set()
        elif value == open_insole.CMD_STOP:
            self._streaming.clear()
        elif len(value) == 3 and value[0] == open_insole.CMD_SET_RATE:
            self.rate_hz = int.from_bytes(value[1:3], "little")

    async def drop_link(self) -> None:
        """Simulate the sensor walking out of range: disconnect every connection."""
        await disconnect_all(self.device)

    async def stop(self) -> None:
        await cancel_quietly(self._task)
        self._task = None

    def sensor_time_us(self, t_sim_s: float) -> int:
        drift = 1.0 + self.faults.clock_drift_ppm * 1e-6
        return round(self.clock_offset_us + t_sim_s * 1e6 * drift)

    async def _stream(self) -> None:
        """Emit packets in real time: the packet holding samples k..k+n-1 leaves when
        sample k+n-1 has been taken. Samples are counted continuously from t = 0,
        including while nobody listens, as a real sensor's clock runs on."""
        loop = asyncio.get_running_loop()
        assert self._t_sim_origin is not None
        assert self._data_char is not None
        sample = 0
        while True:
            dt_s = 1.0 / self.rate_hz
            if not self._streaming.is_set():
                await self._streaming.wait()
                # Resume at "now" after idling: samples nobody asked for are not owed.
                now_sim = loop.time() - self._t_sim_origin
                sample = max(sample, int(now_sim / dt_s))
            n = self.samples_per_packet
            t = (sample + np.arange(n, dtype=np.float64)) * dt_s
            due = self._t_sim_origin + t[-1]
            delay = due - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            if not self._streaming.is_set():
                continue
            cells, acc, gyr = self.simulator.insole(self.side, t)
            packet = open_insole.encode(
                seq=self._seq,
                t0_us=self.sensor_time_us(float(t[0])),
                dt_us=round(1e6 / self.rate_hz),
                cell_force_n=cells,
                acc_mps2=acc,
                gyr_dps=gyr,
            )
            self._seq = (self._seq + 1) & 0xFFFF
            sample += n
            f = self.faults
            if f.drop_every and self._seq % f.drop_every == 0:
                self.packets_dropped += 1
                continue
            await self._notify(packet)
            self.packets_sent += 1
            if f.garbage_every and self.packets_sent % f.garbage_every == 0:
                await self._notify(_garbage(self.garbage_sent, packet))
                self.garbage_sent += 1

    async def _notify(self, value: bytes) -> None:
        assert self.device is not None
        assert self._data_char is not None
        try:
            await self.device.notify_subscribers(self._data_char, value)
        except Exception as exc:  # a link torn down mid-notify is a normal event here
            log.debug("twin %s: notify failed: %s", self.name, exc)


def _garbage(k: int, good: bytes) -> bytes:
    """Cycle through the malformed shapes the decoder must reject."""
    kind = k % 3
    if kind == 0:
        return good[:7]  # short
    if kind == 1:
        return bytes([open_insole.VERSION + 8]) + good[1:]  # wrong version
    return good + b"\x00\x01"  # wrong length
