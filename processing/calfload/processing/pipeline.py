"""Raw batches → step messages and session summaries, per athlete. Pure, no I/O.

The live worker and offline analysis (``calfload analyze``) both feed
:class:`AthletePipeline` with :class:`SampleBlock` s; only the chunk sizes differ, and the
steps are the same (tested).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field, replace

import numpy as np
import numpy.typing as npt

from calfload.bridge.messages import SCHEMA, RawBatch, Side
from calfload.processing.events import Contact, ContactParams, InsoleContactDetector
from calfload.processing.fusion import FusedContact
from calfload.processing.imu_source import IMU_PLACEMENTS, ImuSource
from calfload.processing.load_stream import LoadTracker
from calfload.processing.messages import SessionSummary, SideSummary, Source, StepMessage

G0_MPS2 = 9.80665
RECENT_STEPS = 20
MAX_FLIGHT_S = 1.0
HOLD_MAX_S = 2.0
GATE_LOOKBACK_S = 1.0
GATE_TOLERANCE_S = 0.1  # both feet may leave the ground together (a jump start)
#: An IMU detector settles a contact within about one stride after its toe-off.
IMU_SETTLE_S = 1.2


@dataclass(frozen=True, slots=True)
class _Held:
    """A closed contact waiting for release, with the source of its events."""

    contact: Contact
    source: Source = "insole"

    @property
    def ic_s(self) -> float:
        return self.contact.ic_s


def _other(side: Side) -> Side:
    return "right" if side == "left" else "left"


def _other_foot_lifted(other: _Stream, c: Contact) -> bool:
    """Two-foot gait gate: between this foot's previous toe-off and this toe-off the other foot
    must have left the ground once (in running before this contact, in walking at the end of
    double support; 100 ms of tolerance for both feet lifting together). A foot that unloads
    and reloads while the other keeps standing (weight shifting) fails it."""
    start = c.prev_to_s - GATE_TOLERANCE_S if c.prev_to_s is not None else c.ic_s - GATE_LOOKBACK_S
    if other.continuous_since_s > start:
        return True  # the other foot's data does not cover the window: cannot judge, keep
    return any(start < t <= c.to_s for t in other.detector.toe_offs)


def _caught_up(other: _Stream, ic_s: float) -> bool:
    """Has the other foot's data settled every contact of that foot that began before ``ic_s``?

    True once its samples reach past ``ic_s`` by the detector's walk-back window (a contact whose
    initial contact lies before ``ic_s`` has been opened by then) and no contact that began before
    ``ic_s`` is still open there. In running this holds when the step closes, so steps are not
    delayed; in walking (double support) the step waits for the other foot's toe-off.
    """
    window = other.detector.lookback_samples / other.fs_hz
    if other.done_s < ic_s + window:
        return False
    since = other.detector.open_since_s()
    return since is None or since >= ic_s


@dataclass(frozen=True)
class SampleBlock:
    """Consecutive samples of one foot's insole as numpy arrays (the pipeline's input).

    Sample ``i`` was taken at ``t0_s + i / fs_hz``; ``gap_samples`` counts samples lost just
    before this block. The live worker builds one from each :class:`RawBatch`; ``calfload
    analyze`` slices recordings into blocks.
    """

    side: Side
    sensor_id: str
    t0_s: float
    fs_hz: float
    force_n: npt.NDArray[np.float64]
    gap_samples: int = 0
    cell_force_n: npt.NDArray[np.float64] | None = None  # (n, cells), for the load estimates
    cop_x_m: npt.NDArray[np.float64] | None = None  # (n,), m from the heel edge; lever w/o cells

    @classmethod
    def from_batch(cls, batch: RawBatch, insole_length_m: float = 0.0) -> SampleBlock | None:
        """The batch's insole samples; a ``cop_x_frac`` becomes metres × ``insole_length_m``."""
        if batch.force_n is None:
            return None
        force = np.asarray(batch.force_n, dtype=np.float64)
        cop = None
        if batch.cop_x_frac is not None and insole_length_m > 0:
            cop = np.asarray(batch.cop_x_frac, dtype=np.float64) * insole_length_m
        cells = None
        if batch.cell_force_n is not None:
            try:
                cells = np.asarray(batch.cell_force_n, dtype=np.float64)
            except ValueError:  # ragged rows: keep the force; the load tracker reports it
                cells = np.empty((0,))
        return cls(
            batch.side,
            batch.sensor_id,
            batch.t0_s,
            batch.fs_hz,
            force,
            batch.gap_samples,
            cells,
            cop,
        )


@dataclass
class _Stream:
    detector: InsoleContactDetector
    sensor_id: str = ""
    mass_kg: float | None = None  # body mass the detector's loaded level was started from
    fs_hz: float = 100.0
    continuous_since_s: float = np.inf  # start of the data without gaps
    next_t_s: float | None = None
    done_s: float = -np.inf  # samples processed up to this time
    steps: int = 0
    pending: deque[_Held] = field(default_factory=deque)
    history: deque[Contact] = field(default_factory=lambda: deque(maxlen=8))
    recent_gct_ms: deque[float] = field(default_factory=lambda: deque(maxlen=RECENT_STEPS))
    recent_peak_bw: deque[float] = field(default_factory=lambda: deque(maxlen=RECENT_STEPS))
    gct_ms_last: float | None = None


@dataclass
class AthletePipeline:
    """Step detection and session totals for one athlete (both feet).

    A closed contact is held until the other foot's data has settled every contact of that foot
    that began before it (see :func:`_caught_up`), so that the cross-foot fields (flight and step
    time) do not depend on how the two feet's samples were chunked or interleaved: live and
    offline give the same steps. If the other foot lags by more
    than ``HOLD_MAX_S`` (or never sends data) the step is released without waiting.
    """

    athlete: str
    body_mass_kg: float | None = None
    params: ContactParams | None = None
    streams: dict[Side, _Stream] = field(default_factory=dict)
    recent_ic_s: deque[float] = field(default_factory=lambda: deque(maxlen=2 * RECENT_STEPS))
    gaps_reset: int = 0
    shuffles: int = 0
    load: LoadTracker = field(default_factory=LoadTracker)
    imu: ImuSource = field(default_factory=ImuSource)

    def on_batch(self, batch: RawBatch) -> list[StepMessage]:
        """Feed one raw batch; return the steps released by it."""
        if batch.force_n is None:
            if batch.speed_mps is not None:
                self.load.on_footpod(batch)  # distance, for load per km
            return self._on_imu_batch(batch)
        block = SampleBlock.from_batch(batch, self.load.insole_length_m())
        if block is None:
            return []
        imu_contacts: list[Contact] | None = None
        if self.imu.check_insole_imu and batch.acc_mps2 is not None and batch.gyr_dps is not None:
            imu_contacts = self.imu.feed(batch, "foot_top")  # the insole's own IMU
        return self.on_samples(block, imu_contacts)

    def _stream(self, side: Side, sensor_id: str) -> _Stream:
        stream = self.streams.get(side)
        if stream is None:
            weight = self.body_mass_kg * G0_MPS2 if self.body_mass_kg else None
            stream = self.streams[side] = _Stream(
                InsoleContactDetector(self.params, weight), sensor_id, self.body_mass_kg
            )
        return stream

    def on_samples(
        self, block: SampleBlock, imu_contacts: list[Contact] | None = None
    ) -> list[StepMessage]:
        """Feed one block of one foot's samples; return the steps released by it.

        ``imu_contacts`` are contacts an IMU in the same insole found in the same samples;
        they check the insole's events (:mod:`calfload.processing.fusion`).
        """
        new = block.side not in self.streams
        stream = self._stream(block.side, block.sensor_id)
        stream.sensor_id = block.sensor_id  # the insole names the foot's steps (also fused)
        if not new and self.body_mass_kg and self.body_mass_kg != stream.mass_kg:
            # The athlete's body mass arrived (or changed) after the data started.
            stream.detector.set_loaded_level(self.body_mass_kg * G0_MPS2)
            stream.mass_kg = self.body_mass_kg
        if block.force_n.size == 0:
            return []
        expected = stream.next_t_s
        period = 1.0 / block.fs_hz
        missing = block.gap_samples
        if expected is not None and abs(block.t0_s - expected) > 0.5 * period:
            missing = max(missing, round((block.t0_s - expected) / period))
            if block.t0_s < expected:
                missing = 1_000_000  # time went backwards: start afresh
        if missing > 0:
            # Samples are missing: never bridge an event across the hole.
            stream.detector.gap(missing)
            self.gaps_reset += 1
        self.load.on_samples(
            block.side,
            block.sensor_id,
            block.t0_s,
            block.fs_hz,
            block.force_n,
            block.cell_force_n,
            gap=missing > 0,
            cop_x_m=block.cop_x_m,
        )
        if missing > 0 or expected is None:
            stream.continuous_since_s = block.t0_s
        stream.fs_hz = block.fs_hz
        stream.next_t_s = block.t0_s + block.force_n.size * period
        stream.done_s = stream.next_t_s
        contacts = [
            c
            for c in stream.detector.feed(block.t0_s, block.fs_hz, block.force_n)
            if c.kind == "step"
        ]
        imu = self.imu
        imu.insole_sides[block.side] = block.sensor_id
        fusion = imu.fusion.get(block.side)
        if imu_contacts is not None:
            fusion = imu.fusion_for(block.side, "foot_top")
            self._hold(stream, fusion.add_imu(imu_contacts, stream.done_s))
        if fusion is None:
            stream.pending.extend(_Held(c) for c in contacts)
        else:
            self._hold(stream, fusion.add_insole(contacts, stream.done_s))
        return self._release(final=False)

    # -- IMU and fusion (kept apart from the insole path) -----------------------------

    @staticmethod
    def _hold(stream: _Stream, fused: list[FusedContact]) -> None:
        for f in fused:
            c = f.contact
            if f.quality == "suspect" and c.quality == "ok":
                c = replace(c, quality="suspect", reason="imu_disagrees")
            stream.pending.append(_Held(c, f.source))

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
        end_s = batch.t0_s + batch.n / batch.fs_hz
        insole_id = imu.insole_sides.get(batch.side)
        if insole_id is None:
            # IMU only on this foot: its own stream, settled up to one stride back.
            stream = self._stream(batch.side, batch.sensor_id)
            stream.fs_hz = batch.fs_hz
            stream.done_s = max(stream.done_s, end_s - IMU_SETTLE_S)
            stream.pending.extend(_Held(c, "imu") for c in contacts)
        else:
            stream = self.streams[batch.side]
            fusion = imu.fusion_for(batch.side, batch.placement)
            self._hold(stream, fusion.add_imu(contacts, end_s))
        return self._release(final=False)

    def flush(self) -> list[StepMessage]:
        """Release every held step (end of a file or session)."""
        return self._release(final=True)

    def _release(self, *, final: bool) -> list[StepMessage]:
        """Release held steps in order of initial contact across both feet."""
        out: list[StepMessage] = []
        while True:
            heads = [(st.pending[0], side) for side, st in self.streams.items() if st.pending]
            # (a _Held has the contact's ic_s; its contact has the events)
            if not heads:
                break
            heads.sort(key=lambda h: h[0].ic_s)
            chosen = None
            for k, (held, side) in enumerate(heads):
                c = held.contact
                stream = self.streams[side]
                other = self.streams.get(_other(side))
                overdue = stream.done_s - c.to_s > HOLD_MAX_S
                ready = final or other is None or overdue or _caught_up(other, c.ic_s)
                if ready and (k == 0 or overdue):
                    chosen = side
                    break
            if chosen is None:
                break
            stream = self.streams[chosen]
            held = stream.pending.popleft()
            c = held.contact
            other = self.streams.get(_other(chosen))
            if held.source != "imu" and other is not None and not _other_foot_lifted(other, c):
                self.shuffles += 1  # weight shifting while standing: not a step
                continue
            out.append(self._step(chosen, stream, other, c, held.source))
        return out

    def _step(
        self,
        side: Side,
        stream: _Stream,
        other: _Stream | None,
        c: Contact,
        source: Source = "insole",
    ) -> StepMessage:
        prev = None
        if other is not None:
            before = [o for o in other.history if o.ic_s < c.ic_s]
            prev = before[-1] if before else None
        flight_ms = None  # negative: double support (walking)
        step_time_ms = None
        if prev is not None and c.ic_s - prev.to_s <= MAX_FLIGHT_S:
            flight_ms = round((c.ic_s - prev.to_s) * 1000.0, 2)
        if prev is not None and 0.0 < c.ic_s - prev.ic_s <= 2.0:
            step_time_ms = round((c.ic_s - prev.ic_s) * 1000.0, 2)
        stream.history.append(c)
        self.recent_ic_s.append(c.ic_s)
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
        gait = c.gait if c.gait != "standing" else None
        if source == "imu":  # the IMU detector does not classify gait: use the flight time
            gait = None if flight_ms is None else ("running" if flight_ms > 0 else "walking")
        step = StepMessage(
            schema=SCHEMA,
            athlete=self.athlete,
            side=side,
            sensor_id=stream.sensor_id,
            step_index=stream.steps,
            ic_s=round(c.ic_s, 6),
            to_s=round(c.to_s, 6),
            gct_ms=gct_ms,
            flight_ms=flight_ms,
            step_time_ms=step_time_ms,
            cadence_spm=round(60000.0 / step_time_ms, 2) if step_time_ms else None,
            quality=c.quality,
            source=source,
            gait=gait,
            quality_reason=c.reason,
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
