"""Shared machinery of the IMU twins (Movesense, Polar): a bumble peripheral that,
while a central has asked it to stream, emits packets of foot-IMU samples in real
time from the gait simulator, with the faults of :class:`TwinFaults`.

A subclass builds its GATT database in :meth:`ImuTwin._build`, turns the control
commands it receives into :meth:`begin_stream` / :meth:`end_stream`, and encodes
samples in :meth:`ImuTwin._encode`.
"""

from __future__ import annotations

import abc
import asyncio
import logging
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt
from bumble.device import Connection, Device
from bumble.gatt import Characteristic

from calfload.bridge.devices.open_insole_twin import TwinFaults
from calfload.bridge.simulator import GaitSimulator
from calfload.bridge.topics import Side
from calfload.bridge.virtual.lifecycle import cancel_quietly, disconnect_all
from calfload.bridge.virtual.radio import VirtualRadio

log = logging.getLogger(__name__)
FloatArray = npt.NDArray[np.float64]

__all__ = ["ImuTwin", "TwinFaults", "foot_imu"]


def foot_imu(
    simulator: GaitSimulator, side: Side, t_s: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """The simulator's foot IMU (acc m/s², gyro dps) at ``t_s``.

    Uses ``simulator.imu`` when the simulator provides one, else the IMU channels of
    :meth:`GaitSimulator.insole` (the insole's IMU sits under the foot).
    """
    imu: Callable[[Side, FloatArray], Any] | None = getattr(simulator, "imu", None)
    if callable(imu):
        acc, gyr = imu(side, t_s)[:2]
        return np.asarray(acc, dtype=np.float64), np.asarray(gyr, dtype=np.float64)
    _cells, acc, gyr = simulator.insole(side, t_s)
    return acc, gyr


class ImuTwin(abc.ABC):
    """One virtual IMU sensor on a :class:`VirtualRadio`."""

    def __init__(
        self,
        radio: VirtualRadio,
        simulator: GaitSimulator,
        side: Side,
        *,
        name: str,
        rate_hz: int,
        samples_per_packet: int,
        clock_offset_s: float = 0.0,
        faults: TwinFaults | None = None,
    ) -> None:
        self.radio = radio
        self.simulator = simulator
        self.side = side
        self.name = name
        self.rate_hz = rate_hz
        self.samples_per_packet = samples_per_packet
        self.clock_offset_s = clock_offset_s
        self.faults = faults or TwinFaults()
        self.device: Device | None = None
        self.commands: list[bytes] = []
        self.packets_sent = 0  # good sample packets (a split packet counts once)
        self.notifications_sent = 0
        self.samples_sent = 0
        self.garbage_sent = 0
        self.packets_dropped = 0
        self.connections = 0
        self._streaming = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._data_char: Characteristic[bytes] | None = None
        self._t_sim_origin: float | None = None

    @abc.abstractmethod
    def _build(self, device: Device) -> Characteristic[bytes]:
        """Add the GATT service(s) to ``device``; return the data characteristic."""

    @abc.abstractmethod
    def _encode(self, t_sensor_s: FloatArray, acc: FloatArray, gyr: FloatArray) -> list[bytes]:
        """Notifications carrying these samples (sensor times in seconds)."""

    @abc.abstractmethod
    def _garbage(self, k: int, good: bytes) -> bytes:
        """The k-th malformed notification (cycle through the shapes to reject)."""

    async def start(self, t_sim_origin: float) -> Device:
        self._t_sim_origin = t_sim_origin
        device = await self.radio.add_peripheral(self.name)
        self._data_char = self._build(device)
        device.on(device.EVENT_CONNECTION, self._on_connection)
        self.device = device
        self._task = asyncio.create_task(self._stream(), name=f"twin-{self.name}")
        return device

    def _on_connection(self, connection: Connection) -> None:
        self.connections += 1
        # Like the real sensors, a lost link ends the measurement.
        connection.on(connection.EVENT_DISCONNECTION, lambda *_: self.end_stream())

    def begin_stream(self) -> None:
        self._streaming.set()

    def end_stream(self) -> None:
        self._streaming.clear()

    @property
    def streaming(self) -> bool:
        return self._streaming.is_set()

    async def drop_link(self) -> None:
        """Simulate the sensor leaving radio range: disconnect every connection."""
        await disconnect_all(self.device)

    async def stop(self) -> None:
        await cancel_quietly(self._task)
        self._task = None

    def sensor_time_s(self, t_sim_s: FloatArray) -> FloatArray:
        drift = 1.0 + self.faults.clock_drift_ppm * 1e-6
        return self.clock_offset_s + t_sim_s * drift

    async def _stream(self) -> None:
        """The packet with samples k..k+n-1 leaves once sample k+n-1 has been taken."""
        loop = asyncio.get_running_loop()
        assert self._t_sim_origin is not None
        sample = 0
        seq = 0
        while True:
            if not self._streaming.is_set():
                await self._streaming.wait()
                # A new subscription may have changed the rate: restart on its grid.
                now_sim = loop.time() - self._t_sim_origin
                sample = int(now_sim * self.rate_hz) + 1
            dt_s = 1.0 / self.rate_hz
            n = self.samples_per_packet
            t = (sample + np.arange(n, dtype=np.float64)) * dt_s
            delay = self._t_sim_origin + t[-1] - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            if not self._streaming.is_set():
                continue
            acc, gyr = foot_imu(self.simulator, self.side, t)
            notifications = self._encode(self.sensor_time_s(t), acc, gyr)
            sample += n
            seq += 1
            f = self.faults
            if f.drop_every and seq % f.drop_every == 0:
                self.packets_dropped += 1
                continue
            for value in notifications:
                await self.notify(value)
            self.packets_sent += 1
            self.samples_sent += n
            if f.garbage_every and self.packets_sent % f.garbage_every == 0:
                await self.notify(self._garbage(self.garbage_sent, notifications[0]))
                self.garbage_sent += 1

    async def notify(self, value: bytes) -> None:
        assert self.device is not None and self._data_char is not None
        try:
            await self.device.notify_subscribers(self._data_char, value)
            self.notifications_sent += 1
        except Exception as exc:  # a link torn down mid-notify is a normal event here
            log.debug("twin %s: notify failed: %s", self.name, exc)
