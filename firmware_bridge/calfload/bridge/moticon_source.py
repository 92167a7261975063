"""Moticon OpenGo live UDP as a bridge source: datagrams in, raw batches out.

OpenGo Software sends one datagram per sample (both insoles, ``devices.moticon_udp``).
This source listens on a UDP port, decodes each datagram, groups each insole's
consecutive samples into :class:`RawBatch` es exactly like the BLE links do (sensor
time on the session clock via :class:`SensorClock`, lost samples counted via
:class:`GapTracker`, never invented), and hands them to the bridge's publisher.
Bad datagrams are counted per insole and dropped, never raised.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Final

import numpy as np

from calfload.bridge.devices import moticon_udp
from calfload.bridge.devices.moticon_udp import (
    FULL_LAYOUT,
    FloatArray,
    Layout,
    MoticonFoot,
    Side,
)
from calfload.bridge.errors import PacketError
from calfload.bridge.link import LinkStats
from calfload.bridge.messages import SCHEMA, RawBatch, SensorQuality
from calfload.bridge.timebase import SensorClock

log = logging.getLogger(__name__)
FAMILY: Final = "moticon-udp"
#: A stream time this far before the previous sample means a new recording, not a reorder.
RESTART_BACKSTEP_US: Final = 1_000_000


@dataclass(frozen=True)
class MoticonUdpSpec:
    """Where OpenGo Software sends its stream and who wears which insole.

    ``sensor_ids`` maps each insole to publish (``left``/``right``) to its sensor id.
    ``port`` 0 binds a free port (tests). ``fs_hz`` is the rate set in the OpenGo app.
    """

    athlete: str
    sensor_ids: Mapping[Side, str]
    host: str = "127.0.0.1"
    port: int = 8888
    fs_hz: float = 100.0
    layout: Layout = FULL_LAYOUT
    samples_per_batch: int = 10

    def __post_init__(self) -> None:
        missing = [s for s in self.sensor_ids if s not in self.layout.sides]
        if missing:
            raise ValueError(f"Moticon UDP layout carries no channels for {', '.join(missing)}")
        for side in self.sensor_ids:
            if (side, "total_force") not in self.layout.groups:
                raise ValueError(f"Moticon UDP layout must include {side}.total_force")
        if not 1 <= self.samples_per_batch <= 100 or self.fs_hz <= 0:
            raise ValueError("Moticon UDP: samples_per_batch must be 1-100 and fs_hz > 0")


@dataclass
class _Pending:
    t_us: list[int] = field(default_factory=list)
    arrival_s: float = 0.0
    force_n: list[float] = field(default_factory=list)
    acc: list[FloatArray] = field(default_factory=list)
    gyr: list[FloatArray] = field(default_factory=list)
    cop_x_frac: list[float] = field(default_factory=list)  # NaN where a sample has no CoP
    has_imu: tuple[bool, bool] = (False, False)


class MoticonUdpSource:
    """Listens for OpenGo UDP datagrams and emits one batch stream per insole."""

    def __init__(
        self, spec: MoticonUdpSpec, on_batch: Callable[[RawBatch], None] | None = None
    ) -> None:
        self.spec = spec
        self.on_batch = on_batch
        self.dt_us = round(1e6 / spec.fs_hz)
        self.stats: dict[Side, LinkStats] = {side: LinkStats() for side in spec.sensor_ids}
        self.datagrams_received = 0
        self.datagrams_bad = 0
        self.bound = asyncio.Event()
        self.port: int | None = None
        self._clock: dict[Side, SensorClock] = {side: SensorClock() for side in spec.sensor_ids}
        self._pending: dict[Side, _Pending] = {side: _Pending() for side in spec.sensor_ids}
        self._seq: dict[Side, int] = dict.fromkeys(spec.sensor_ids, 0)
        self._last_us: dict[Side, int] = {}
        self.restarts: dict[Side, int] = dict.fromkeys(spec.sensor_ids, 0)
        self._stop = asyncio.Event()

    # -- BatchSource
    def attach(self, on_batch: Callable[[RawBatch], None]) -> None:
        self.on_batch = on_batch

    def stop(self) -> None:
        self._stop.set()

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        source = self

        class _Protocol(asyncio.DatagramProtocol):
            def datagram_received(self, data: bytes, addr: tuple[str | object, int]) -> None:
                source._emit(source.process(time.time(), data))

        transport, _ = await loop.create_datagram_endpoint(
            _Protocol, local_addr=(self.spec.host, self.spec.port)
        )
        self.port = int(transport.get_extra_info("sockname")[1])
        self.bound.set()
        log.info("Moticon UDP: listening on %s:%d", self.spec.host, self.port)
        try:
            await self._stop.wait()
        finally:
            transport.close()
            self._emit(self.flush())

    def quality(self) -> list[SensorQuality]:
        out = []
        for side, sensor_id in self.spec.sensor_ids.items():
            s = self.stats[side]
            total = s.gaps.samples_ok + s.gaps.samples_lost
            out.append(
                SensorQuality(
                    schema=SCHEMA,
                    sensor_id=sensor_id,
                    athlete=self.spec.athlete,
                    side=side,
                    t_s=time.time(),
                    packets_ok=s.packets_ok,
                    packets_bad=s.packets_bad,
                    samples_ok=s.gaps.samples_ok,
                    samples_lost=s.gaps.samples_lost,
                    loss_pct=round(100.0 * s.gaps.samples_lost / total, 3) if total else 0.0,
                    effective_fs_hz=round(s.effective_fs_hz(), 2),
                    longest_gap_s=s.gaps.longest_gap_s,
                    last_error=s.last_error,
                )
            )
        return out

    # -- pure-ish processing, testable without sockets
    def _emit(self, batches: list[RawBatch]) -> None:
        if self.on_batch is not None:
            for batch in batches:
                self.on_batch(batch)

    def _bad(self, side: Side, reason: str, message: str) -> None:
        s = self.stats[side]
        s.packets_bad += 1
        s.bad_by_reason[reason] = s.bad_by_reason.get(reason, 0) + 1
        s.last_error = message

    def process(self, arrival_s: float, datagram: bytes) -> list[RawBatch]:
        """Decode one datagram; return the batches it completes."""
        self.datagrams_received += 1
        try:
            sample = moticon_udp.decode(datagram, self.spec.layout)
        except PacketError as exc:
            self.datagrams_bad += 1
            for side in self.spec.sensor_ids:
                self._bad(side, exc.reason, str(exc))
            if self.datagrams_bad in (1, 10, 100) or self.datagrams_bad % 1000 == 0:
                log.warning(
                    "Moticon UDP: dropped a bad datagram (%d so far): %s", self.datagrams_bad, exc
                )
            return []
        t_us = round(sample.t_s * 1e6)
        out: list[RawBatch] = []
        for side in self.spec.sensor_ids:
            foot = sample.feet.get(side, MoticonFoot())
            out += self._add(side, t_us, arrival_s, foot)
        return out

    def _add(self, side: Side, t_us: int, arrival_s: float, foot: MoticonFoot) -> list[RawBatch]:
        if foot.total_force_n is None:
            self._bad(side, "missing", f"Moticon UDP: no {side} total force at t = {t_us / 1e6} s")
            return []
        out: list[RawBatch] = []
        has_imu = (foot.acc_mps2 is not None, foot.gyr_dps is not None)
        last_us = self._last_us.get(side)
        if last_us is not None and t_us < last_us - RESTART_BACKSTEP_US:
            # The stream's clock went far back: OpenGo started a new recording.
            # Close what we have and start a new time base, as after a reconnect.
            out += self._close(side)
            self._clock[side] = SensorClock()
            self.stats[side].gaps.reset()
            self.restarts[side] += 1
            log.info("Moticon UDP: %s stream restarted at t = %.3f s", side, t_us / 1e6)
            last_us = None
        if last_us is not None and t_us - last_us < self.dt_us // 2:
            self._bad(
                side,
                "order",
                f"Moticon UDP: {side} sample at {t_us / 1e6} s is repeated or out of order",
            )
            return out
        p = self._pending[side]
        if p.t_us and (
            abs(t_us - p.t_us[-1] - self.dt_us) > self.dt_us // 2 or has_imu != p.has_imu
        ):
            out += self._close(side)  # a gap (or a change of channels) ends the batch
        p = self._pending[side]
        self.stats[side].packets_ok += 1
        self._last_us[side] = t_us
        p.has_imu = has_imu
        p.t_us.append(t_us)
        p.arrival_s = arrival_s
        p.force_n.append(foot.total_force_n)
        if foot.acc_mps2 is not None:
            p.acc.append(foot.acc_mps2)
        if foot.gyr_dps is not None:
            p.gyr.append(foot.gyr_dps)
        # OpenGo's normalised CoP X runs heel (−0.5) → toe (+0.5) along the insole (in the
        # reference export, stance sweeps −0.36 → +0.33): the fraction from the heel edge.
        p.cop_x_frac.append(float(foot.cop[0]) + 0.5 if foot.cop is not None else math.nan)
        if len(p.t_us) >= self.spec.samples_per_batch:
            out += self._close(side)
        return out

    def flush(self) -> list[RawBatch]:
        """Close every insole's pending batch (at shutdown)."""
        out: list[RawBatch] = []
        for side in self.spec.sensor_ids:
            out += self._close(side)
        return out

    def _close(self, side: Side) -> list[RawBatch]:
        p = self._pending[side]
        if not p.t_us:
            return []
        self._pending[side] = _Pending()
        n = len(p.t_us)
        stats = self.stats[side]
        stats.arrived(p.arrival_s, n)
        gap = stats.gaps.step(p.t_us[0], self.dt_us, n)
        t0_sensor_s = p.t_us[0] / 1e6
        offset_s = self._clock[side].observe(t0_sensor_s + (n - 1) * self.dt_us / 1e6, p.arrival_s)
        batch = RawBatch(
            schema=SCHEMA,
            sensor_id=self.spec.sensor_ids[side],
            athlete=self.spec.athlete,
            side=side,
            placement="insole",
            family=FAMILY,
            seq=self._seq[side],
            t0_s=round(t0_sensor_s + offset_s, 6),
            fs_hz=1e6 / self.dt_us,
            n=n,
            gap_samples=gap,
            force_n=np.round(p.force_n, 2).tolist(),
            acc_mps2=np.round(p.acc, 3).tolist() if p.has_imu[0] else None,
            gyr_dps=np.round(p.gyr, 2).tolist() if p.has_imu[1] else None,
            cop_x_frac=np.round(p.cop_x_frac, 4).tolist()
            if all(math.isfinite(c) for c in p.cop_x_frac)
            else None,  # only whole batches: never mix samples with and without a CoP
        )
        self._seq[side] += 1
        return [batch]
