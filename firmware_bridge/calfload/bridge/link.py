"""One sensor's BLE session: connect, subscribe, start, decode, reconnect.

The notification callback only stamps the arrival time and enqueues the bytes
(bleak's queue pattern); a consumer task decodes, time-stamps and hands batches
to the publisher. Bad packets are counted and reported, never raised.

Time stamping (see :mod:`calfload.bridge.timebase`). One :class:`SensorClock` per
link lives across reconnects (it restarts itself when the sensor clock jumps, e.g.
after a reboot), so the offset-and-drift fit keeps its history through a dropped
link. Sensors with a clock are mapped from their own sample times. Sensors without
one (``t0_sensor_us is None``) use their running sample count at the nominal rate
as the clock: arrival-stamped until the fit has :attr:`SensorClock.min_span_s` of
data, then jitter-smoothed times on the fitted rate (which may be from about half
to ten times the nominal one; beyond that they stay arrival-stamped).

Lost samples of a clockless sensor show only in arrival times, and a late packet is
usually just late (BLE retransmits within a connection, then delivers the backlog in
a burst). So a loss is declared only when packets keep arriving late against the
fitted clock for :data:`LOSS_CONFIRM_S` without catching up; the batch where that
is confirmed carries the estimated ``gap_samples`` and the count jumps ahead. The
batches of those seconds were stamped early by the lost span; nothing is invented.

A batch's start is never earlier than the end of the previous batch: session time
never runs backwards within a run (``LinkStats.time_clamps`` counts the rare cases
where that needed a nudge).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
import numpy.typing as npt
from bleak import BleakClient
from bleak.backends.client import BaseBleakClient
from bleak.backends.device import BLEDevice
from bleak.exc import BleakError

from calfload.bridge.devices.base import Decoder, DeviceError, DeviceFamily, SampleBlock
from calfload.bridge.devices.registry import get_family
from calfload.bridge.errors import PacketError
from calfload.bridge.messages import SCHEMA, Placement, RawBatch, Side
from calfload.bridge.timebase import GapTracker, SensorClock

log = logging.getLogger(__name__)

#: Seconds to wait before reconnecting, by attempt (then the last value repeats).
BACKOFF_S: Final = (0.5, 1.0, 2.0, 4.0, 8.0)
QUEUE_LIMIT: Final = 2000
#: Lateness (s, or 2.5 sample periods if longer) a clockless sensor's packets must keep,
#: without catching up, for :data:`LOSS_CONFIRM_S` before samples count as lost.
CLOCKLESS_GAP_S: Final = 0.05
LOSS_CONFIRM_S: Final = 3.0


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
    offline_s: float = 0.0
    time_clamps: int = 0

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
        first_seq: int = 0,
    ) -> None:
        try:
            self.family: DeviceFamily = get_family(spec.family)
        except ValueError as exc:
            raise ValueError(f"sensor {spec.sensor_id}: {exc}") from None
        self.spec = spec
        self.on_batch = on_batch
        self.on_state = on_state
        self.backend = backend
        self.connect_timeout_s = connect_timeout_s
        self.stats = LinkStats()
        self.connected = asyncio.Event()
        self._queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue(QUEUE_LIMIT)
        self.clock = SensorClock()
        self._count = 0  # samples counted, the "clock" of a clockless sensor
        self._resync_count = True
        self._late_since_s: float | None = None  # clockless: lateness seen since then
        self._late_min_s = math.inf
        self._next_t_s = -math.inf  # earliest start allowed for the next batch
        self._down_since_s: float | None = None
        self._decoder: Decoder | None = None
        self._decoder_ready = asyncio.Event()
        self._seq = first_seq  # the bridge continues numbering across its restarts
        self._stop = asyncio.Event()

    async def run(self) -> None:
        consumer = asyncio.create_task(self._consume(), name=f"decode-{self.spec.sensor_id}")
        try:
            attempt = 0
            while not self._stop.is_set():
                try:
                    await self._session()
                    attempt = 0
                except (BleakError, DeviceError, TimeoutError, OSError, EOFError) as exc:
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
        if self._down_since_s is not None:
            self.stats.offline_s += time.time() - self._down_since_s
            self._down_since_s = None
        # Continuity of sample numbers across a reconnect is unknown (the sensor may
        # have rebooted): an outage is reported as offline time, not as lost samples.
        self.stats.gaps.reset()
        self._resync_count = True
        try:
            self._decoder_ready.clear()
            self._decoder = await self.family.start(client, self._on_notify, self.spec.rate_hz)
            self._decoder_ready.set()
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
                self._down_since_s = time.time()
            self.on_state(self.spec, False, reason)
            if client.is_connected:
                with contextlib.suppress(BleakError, TimeoutError, OSError):
                    await self.family.stop(client)
                    await client.disconnect()

    def stop(self) -> None:
        self._stop.set()

    def _on_notify(self, data: bytes) -> None:
        try:
            self._queue.put_nowait((time.time(), data))
        except asyncio.QueueFull:
            self.stats.queue_overflows += 1

    async def _consume(self) -> None:
        while True:
            arrival_s, data = await self._queue.get()
            await self._decoder_ready.wait()
            try:
                batches = self.process(arrival_s, data)
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
                # Good frames the decoder recovered around the junk are not lost.
                batches = [self._batch(arrival_s, block) for block in exc.salvaged]
            for batch in batches:
                self.on_batch(batch)

    def process(self, arrival_s: float, data: bytes) -> list[RawBatch]:
        """Decode one notification into raw batches on the session clock."""
        if self._decoder is None:
            self._decoder = self.family.decoder(rate_hz=self.spec.rate_hz)
        blocks = self._decoder.feed(data)
        self.stats.packets_ok += 1
        return [self._batch(arrival_s, block) for block in blocks]

    def _batch(self, arrival_s: float, block: SampleBlock) -> RawBatch:
        self.stats.arrived(arrival_s, block.n)
        period_s = 1.0 / block.fs_hz
        span_s = (block.n - 1) * period_s
        if block.t0_sensor_us is None:
            if self.clock.alpha_s is None and not self.clock.follow_arrivals:
                self.clock = SensorClock(follow_arrivals=True, max_skew=0.9)
            gap = self._count_gap(arrival_s, block.n, period_s)
            t0_sensor_s = self._count * period_s
            self._count += block.n
            self.stats.gaps.samples_ok += block.n
            self.stats.gaps.samples_lost += gap
            if gap:
                self.stats.gaps.longest_gap_s = max(self.stats.gaps.longest_gap_s, gap * period_s)
        else:
            gap = self.stats.gaps.step(block.t0_sensor_us, period_s * 1e6, block.n)
            t0_sensor_s = block.t0_sensor_us / 1e6
        offset_s = self.clock.observe(t0_sensor_s + span_s, arrival_s)
        t0_s = t0_sensor_s + offset_s
        if t0_s < self._next_t_s:
            self.stats.time_clamps += 1
            t0_s = self._next_t_s
        # The next batch must start after this one's last sample (at the mapped spacing).
        self._next_t_s = t0_s + span_s * (1.0 + self.clock.beta) + 1e-5
        batch = RawBatch(
            schema=SCHEMA,
            sensor_id=self.spec.sensor_id,
            athlete=self.spec.athlete,
            side=self.spec.side,
            placement=self.spec.placement,
            family=self.spec.family,
            seq=self._seq,
            t0_s=round(t0_s, 6),
            fs_hz=block.fs_hz,
            n=block.n,
            gap_samples=gap,
            force_n=_list(block.force_n, 2),
            cell_force_n=_list(block.cell_force_n, 2),
            acc_mps2=_list(block.acc_mps2, 3),
            gyr_dps=_list(block.gyr_dps, 2),
            speed_mps=_list(block.speed_mps, 3),
            cadence_spm=_list(block.cadence_spm, 2),
            stride_m=_list(block.stride_m, 3),
        )
        self._seq += 1
        return batch

    def _count_gap(self, arrival_s: float, n: int, period_s: float) -> int:
        """Samples a clockless sensor lost before this packet (see the module notes);
        0 until the clock is fitted, and just after a reconnect."""
        clock = self.clock
        if self._resync_count or not clock.fitted:
            if self._resync_count and clock.fitted:
                # Jump the count to "now" after a reconnect, without calling it loss.
                last_s = clock.sensor_time_at(arrival_s)
                self._count = max(self._count, round(last_s / period_s) - (n - 1))
            self._resync_count = False
            self._late_since_s = None
            return 0
        last_s = (self._count + n - 1) * period_s
        lateness_s = arrival_s - (last_s + clock.line_s(last_s))
        if lateness_s <= max(CLOCKLESS_GAP_S, 2.5 * period_s):
            self._late_since_s = None  # on time again: it was delay, not loss
            return 0
        if self._late_since_s is None:
            self._late_since_s, self._late_min_s = arrival_s, lateness_s
            return 0
        self._late_min_s = min(self._late_min_s, lateness_s)
        if arrival_s - self._late_since_s < LOSS_CONFIRM_S:
            return 0
        missing = round(self._late_min_s / period_s)
        self._count += missing
        self._late_since_s = None
        return missing


def _list(values: npt.NDArray[np.float64] | None, decimals: int) -> Any:
    return None if values is None else np.round(values, decimals).tolist()
