"""Raw batches → step messages and session summaries, per athlete. Pure, no I/O.

The live worker and offline analysis both feed :class:`AthletePipeline`; only the
chunk sizes differ.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

import msgspec
import numpy as np

from calfload.bridge.messages import SCHEMA, RawBatch, Side
from calfload.processing.events import Contact, InsoleContactDetector
from calfload.processing.fusion import FusedContact
from calfload.processing.imu_source import IMU_PLACEMENTS, ImuSource
from calfload.processing.load_stream import LoadTracker
from calfload.processing.messages import (
    Quality,
    SessionSummary,
    SideSummary,
    Source,
    StepMessage,
)

G0_MPS2 = 9.80665
RECENT_STEPS = 20
MAX_FLIGHT_S = 1.0


@dataclass
class _Stream:
    detector: InsoleContactDetector = field(default_factory=InsoleContactDetector)
    next_t_s: float | None = None
    steps: int = 0
    last_ic_s: float | None = None
    recent_gct_ms: deque[float] = field(default_factory=lambda: deque(maxlen=RECENT_STEPS))
    recent_peak_bw: deque[float] = field(default_factory=lambda: deque(maxlen=RECENT_STEPS))
    gct_ms_last: float | None = None


@dataclass
class AthletePipeline:
    """Step detection and session totals for one athlete (both feet)."""

    athlete: str
    body_mass_kg: float | None = None
    streams: dict[Side, _Stream] = field(default_factory=dict)
    last_to_s: dict[Side, float] = field(default_factory=dict)
    recent_ic_s: deque[float] = field(default_factory=lambda: deque(maxlen=2 * RECENT_STEPS))
    gaps_reset: int = 0
    load: LoadTracker = field(default_factory=LoadTracker)
    imu: ImuSource = field(default_factory=ImuSource)

    def on_batch(self, batch: RawBatch) -> list[StepMessage]:
        """Feed one raw batch; return the steps that closed in it."""
        if batch.force_n is None:
            self.load.on_batch(batch, gap=False)
            return self._on_imu_batch(batch)
        stream = self.streams.setdefault(batch.side, _Stream())
        expected = stream.next_t_s
        period = 1.0 / batch.fs_hz
        gap = batch.gap_samples > 0 or (
            expected is not None and abs(batch.t0_s - expected) > 1.5 * period
        )
        if gap:
            # Samples are missing: never bridge a contact across the hole.
            stream.detector.reset()
            self.gaps_reset += 1
        self.load.on_batch(batch, gap=gap)
        stream.next_t_s = batch.t0_s + batch.n * period
        contacts = stream.detector.feed(batch.t0_s, batch.fs_hz, batch.force_n)
        return self._insole_steps(batch, stream, [c for c in contacts if c.kind == "step"])

    # -- IMU and fusion (kept apart from the insole path) -----------------------------

    def _insole_steps(
        self, batch: RawBatch, stream: _Stream, contacts: list[Contact]
    ) -> list[StepMessage]:
        """Insole contacts, checked against an IMU on the same foot when there is one."""
        imu = self.imu
        imu.insole_sides[batch.side] = batch.sensor_id
        end_s = batch.t0_s + batch.n / batch.fs_hz
        released: list[FusedContact] = []
        if imu.check_insole_imu and batch.acc_mps2 is not None and batch.gyr_dps is not None:
            fusion = imu.fusion_for(batch.side, "foot_top")
            released += fusion.add_imu(imu.feed(batch, "foot_top"), end_s)
        fusion_or_none = imu.fusion.get(batch.side)
        if fusion_or_none is None:
            return [self._step(batch, stream, c) for c in contacts]
        released += fusion_or_none.add_insole(contacts, end_s)
        return [self._step(batch, stream, f.contact, f.source, f.quality) for f in released]

    def _on_imu_batch(self, batch: RawBatch) -> list[StepMessage]:
        """A batch from a foot/shank IMU: IMU steps, or a check of the insole's steps."""
        if batch.speed_mps:
            self.imu.set_speed(batch.speed_mps[-1])  # footpod pace → IMU speed correction
        if batch.acc_mps2 is None or batch.gyr_dps is None:
            return []
        if batch.placement not in IMU_PLACEMENTS:
            return []
        imu = self.imu
        contacts = imu.feed(batch, batch.placement)
        insole_id = imu.insole_sides.get(batch.side)
        if insole_id is None:
            stream = self.streams.setdefault(batch.side, _Stream())
            return [self._step(batch, stream, c, "imu") for c in contacts]
        fusion = imu.fusion_for(batch.side, batch.placement)
        released = fusion.add_imu(contacts, batch.t0_s + batch.n / batch.fs_hz)
        stream = self.streams[batch.side]
        as_insole = msgspec.structs.replace(batch, sensor_id=insole_id)
        return [self._step(as_insole, stream, f.contact, f.source, f.quality) for f in released]

    def _step(
        self,
        batch: RawBatch,
        stream: _Stream,
        c: Contact,
        source: Source = "insole",
        quality: Quality = "ok",
    ) -> StepMessage:
        side = batch.side
        other: Side = "right" if side == "left" else "left"
        other_to = self.last_to_s.get(other)
        flight_ms = None  # negative: double support (walking)
        if other_to is not None and c.ic_s - other_to <= MAX_FLIGHT_S:
            flight_ms = round((c.ic_s - other_to) * 1000.0, 2)
        step_time_ms = None
        if self.recent_ic_s and 0.0 < c.ic_s - self.recent_ic_s[-1] <= 2.0:
            step_time_ms = round((c.ic_s - self.recent_ic_s[-1]) * 1000.0, 2)
        self.recent_ic_s.append(c.ic_s)
        self.last_to_s[side] = c.to_s
        stream.steps += 1
        gct_ms = round(c.gct_ms, 3)
        stream.gct_ms_last = gct_ms
        stream.recent_gct_ms.append(gct_ms)
        weight_n = self.body_mass_kg * G0_MPS2 if self.body_mass_kg else None
        has_force = math.isfinite(c.peak_force_n)  # NaN for IMU contacts: not measured
        peak_bw = round(c.peak_force_n / weight_n, 3) if weight_n and has_force else None
        if peak_bw is not None:
            stream.recent_peak_bw.append(peak_bw)
        loading = (
            self.load.contact_fields(side, c.ic_s, c.to_s, self.body_mass_kg)
            if has_force
            else self.load.imu_fields(gct_ms, flight_ms, self.body_mass_kg)
        )
        step = StepMessage(
            schema=SCHEMA,
            athlete=self.athlete,
            side=side,
            sensor_id=batch.sensor_id,
            step_index=stream.steps,
            ic_s=round(c.ic_s, 6),
            to_s=round(c.to_s, 6),
            gct_ms=gct_ms,
            flight_ms=flight_ms,
            step_time_ms=step_time_ms,
            cadence_spm=round(60000.0 / step_time_ms, 2) if step_time_ms else None,
            quality=quality,
            source=source,
            # Measured force fields; a spring-mass estimate (IMU steps) may supply them.
            **{
                "peak_force_n": round(c.peak_force_n, 2) if has_force else None,
                "peak_force_bw": peak_bw,
                "impulse_ns": round(c.impulse_ns, 3) if has_force else None,
                **loading,
            },
        )
        self.load.add_step(step)
        return step

    def cadence_spm(self) -> float | None:
        ic = np.asarray(self.recent_ic_s)
        if ic.size < 3:
            return None
        d = np.diff(ic)
        d = d[(d > 0) & (d <= 2.0)]
        return round(60.0 / float(np.median(d)), 2) if d.size else None

    def summary(self, t_s: float) -> SessionSummary:
        sides = {s: self._side_summary(s) for s in ("left", "right")}
        left, right = sides["left"].gct_ms_mean, sides["right"].gct_ms_mean
        sym = None
        if left and right:
            sym = round(200.0 * (left - right) / (left + right), 2)
        return SessionSummary(
            schema=SCHEMA,
            athlete=self.athlete,
            t_s=t_s,
            steps=sides["left"].steps + sides["right"].steps,
            cadence_spm=self.cadence_spm(),
            left=sides["left"],
            right=sides["right"],
            gct_symmetry_pct=sym,
            load=self.load.summary(),
        )

    def _side_summary(self, side: Side) -> SideSummary:
        stream = self.streams.get(side)
        if stream is None:
            return SideSummary(
                schema=SCHEMA, steps=0, gct_ms_mean=None, gct_ms_last=None, peak_force_bw_mean=None
            )
        return SideSummary(
            schema=SCHEMA,
            steps=stream.steps,
            gct_ms_mean=_mean(stream.recent_gct_ms),
            gct_ms_last=stream.gct_ms_last,
            peak_force_bw_mean=_mean(stream.recent_peak_bw),
        )


def _mean(values: deque[float]) -> float | None:
    return round(float(np.mean(values)), 2) if values else None
