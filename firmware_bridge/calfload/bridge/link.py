"""One sensor's BLE session: connect, subscribe, start, decode, reconnect.

The notification callback only stamps the arrival time and enqueues the bytes
(bleak's queue pattern); a consumer task decodes, time-stamps and hands batches
to the publisher. Bad packets are counted and reported, never raised.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

import numpy as np
from bleak import BleakClient
from bleak.backends.client import BaseBleakClient
from bleak.backends.device import BLEDevice
from bleak.exc import BleakError

from calfload.bridge.devices import open_insole
from calfload.bridge.errors import PacketError
from calfload.bridge.messages import SCHEMA, Placement, RawBatch, Side
from calfload.bridge.timebase import GapTracker, SensorClock

log = logging.getLogger(__name__)

#: Seconds to wait before reconnecting, by attempt (then the last value repeats).
BACKOFF_S: Final = (0.5, 1.0, 2.0, 4.0, 8.0)
QUEUE_LIMIT: Final = 2000


@dataclass(frozen=True)
class SensorSpec:
    """A configured sensor: who wears it, where, and how to reach it."""

    sensor_id: str
    athlete: str
    side: Side
    placement: Placement
    family: str
    device: BLEDevice
    rate_hz: int = 100


@dataclass
class LinkStats:
    packets_ok: int = 0
    packets_bad: int = 0
    bad_by_reason: dict[str, int] = field(default_factory=dict)
    connects: int = 0
    disconnects: int = 0
    queue_overflows: int = 0
    last_error: str = ""
    gaps: GapTracker = field(default_factory=GapTracker)
    first_arrival_s: float | None = None
    first_samples: int = 0
    last_arrival_s: float | None = None

    def arrived(self, arrival_s: float, n_samples: int) -> None:
        """Note a good packet's host arrival time (for the effective rate)."""
        if self.first_arrival_s is None:
            self.first_arrival_s, self.first_samples = arrival_s, n_samples
        self.last_arrival_s = arrival_s

    def effective_fs_hz(self) -> float:
        """Samples received per second of host time since the first packet (0 before two)."""
        if self.first_arrival_s is None or self.last_arrival_s is None:
            return 0.0
        span_s = self.last_arrival_s - self.first_arrival_s
        received = self.gaps.samples_ok - self.first_samples
        return received / span_s if span_s > 0 else 0.0


BatchSink = Callable[[RawBatch], None]
StateSink = Callable[["SensorSpec", bool, str], None]


class SensorLink:
    """Keeps one sensor streaming into ``on_batch`` until :meth:`stop`."""

    def __init__(
        self,
        spec: SensorSpec,
        on_batch: BatchSink,
        on_state: StateSink,
        *,
        backend: type[BaseBleakClient] | None = None,
        connect_timeout_s: float = 20.0,
    ) -> None:
        if spec.family != "open-insole":
            raise ValueError(
                f"sensor {spec.sensor_id}: family {spec.family!r} is not supported yet"
            )
        self.spec = spec
        self.on_batch = on_batch
        self.on_state = on_state
        self.backend = backend
        self.connect_timeout_s = connect_timeout_s
        self.stats = LinkStats()
        self.connected = asyncio.Event()
        self._queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue(QUEUE_LIMIT)
        self.clock = SensorClock()
        self._seq = 0
        self._stop = asyncio.Event()

    async def run(self) -> None:
        consumer = asyncio.create_task(self._consume(), name=f"decode-{self.spec.sensor_id}")
        try:
            attempt = 0
            while not self._stop.is_set():
                try:
                    await self._session()
                    attempt = 0
                except (BleakError, TimeoutError, OSError, EOFError) as exc:
                    self.stats.last_error = f"{type(exc).__name__}: {exc}"
                    log.warning(
                        "sensor %s: connection failed (%s); retrying",
                        self.spec.sensor_id,
                        self.stats.last_error,
                    )
                if self._stop.is_set():
                    break
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(
                        self._stop.wait(), BACKOFF_S[min(attempt, len(BACKOFF_S) - 1)]
                    )
                attempt += 1
        finally:
            consumer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await consumer

    async def _session(self) -> None:
        lost = asyncio.Event()

        def on_disconnect(_client: BleakClient) -> None:
            lost.set()

        client = BleakClient(
            self.spec.device,
            disconnected_callback=on_disconnect,
            timeout=self.connect_timeout_s,
            backend=self.backend,
        )
        await client.connect()
        self.stats.connects += 1
        self.clock = SensorClock()  # a reconnect may follow a sensor reboot
        self.stats.gaps.reset()
        try:
            await client.start_notify(open_insole.DATA_CHAR_UUID, self._on_notify)
            await client.write_gatt_char(
                open_insole.CONTROL_CHAR_UUID,
                open_insole.set_rate_command(self.spec.rate_hz),
                response=True,
            )
            await client.write_gatt_char(
                open_insole.CONTROL_CHAR_UUID, open_insole.CMD_START, response=True
            )
            self.connected.set()
            self.on_state(self.spec, True, "")
            stop_waiter = asyncio.ensure_future(self._stop.wait())
            lost_waiter = asyncio.ensure_future(lost.wait())
            try:
                await asyncio.wait({stop_waiter, lost_waiter}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                stop_waiter.cancel()
                lost_waiter.cancel()
        finally:
            self.connected.clear()
            reason = "stopped" if self._stop.is_set() else "link lost"
            if lost.is_set():
                self.stats.disconnects += 1
            self.on_state(self.spec, False, reason)
            if client.is_connected:
                with contextlib.suppress(BleakError, TimeoutError, OSError):
                    await client.write_gatt_char(
                        open_insole.CONTROL_CHAR_UUID, open_insole.CMD_STOP, response=True
                    )
                    await client.disconnect()

    def stop(self) -> None:
        self._stop.set()

    def _on_notify(self, _char: object, data: bytearray) -> None:
        try:
            self._queue.put_nowait((time.time(), bytes(data)))
        except asyncio.QueueFull:
            self.stats.queue_overflows += 1

    async def _consume(self) -> None:
        while True:
            arrival_s, data = await self._queue.get()
            try:
                batch = self.process(arrival_s, data)
            except PacketError as exc:
                self.stats.packets_bad += 1
                reasons = self.stats.bad_by_reason
                reasons[exc.reason] = reasons.get(exc.reason, 0) + 1
                self.stats.last_error = str(exc)
                if self.stats.packets_bad in (1, 10, 100) or self.stats.packets_bad % 1000 == 0:
                    log.warning(
                        "sensor %s: dropped a malformed packet (%d so far): %s",
                        self.spec.sensor_id,
                        self.stats.packets_bad,
                        exc,
                    )
                continue
            self.on_batch(batch)

    def process(self, arrival_s: float, data: bytes) -> RawBatch:
        """Decode one notification into a raw batch on the session clock."""
        packet = open_insole.decode(data)
        self.stats.packets_ok += 1
        self.stats.arrived(arrival_s, packet.n_samples)
        t0_us = self.clock.unwrap_us(packet.t0_us)
        gap = self.stats.gaps.step(t0_us, packet.dt_us, packet.n_samples)
        t0_sensor_s = t0_us / 1e6
        last_sensor_s = t0_sensor_s + (packet.n_samples - 1) * packet.dt_us / 1e6
        offset_s = self.clock.observe(last_sensor_s, arrival_s)
        cells = packet.cell_force_n
        batch = RawBatch(
            schema=SCHEMA,
            sensor_id=self.spec.sensor_id,
            athlete=self.spec.athlete,
            side=self.spec.side,
            placement=self.spec.placement,
            family=self.spec.family,
            seq=self._seq,
            t0_s=round(t0_sensor_s + offset_s, 6),
            fs_hz=packet.fs_hz,
            n=packet.n_samples,
            gap_samples=gap,
            force_n=np.round(cells.sum(axis=1), 2).tolist(),
            cell_force_n=np.round(cells, 2).tolist(),
            acc_mps2=None if packet.acc_mps2 is None else np.round(packet.acc_mps2, 3).tolist(),
            gyr_dps=None if packet.gyr_dps is None else np.round(packet.gyr_dps, 2).tolist(),
        )
        self._seq += 1
        return batch
