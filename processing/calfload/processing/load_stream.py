"""Streaming glue for the load estimates: bounded per-side sample buffers and totals.

:class:`LoadTracker` is the one object :class:`~calfload.processing.pipeline.AthletePipeline`
talks to about load. It keeps the most recent insole samples of each foot in a
fixed-size ring (:class:`SampleRing`), so that when the contact detector closes a
contact its samples are still at hand; it turns them into the step's loading fields
(:mod:`calfload.processing.load`) and sums the session totals
(:mod:`calfload.processing.session`). Memory is bounded by the ring capacity,
whatever the session length. Feeding the same samples in any chunking gives the
same fields (the ring holds the samples, not the chunks).

Use from a pipeline (any step source)::

    tracker.on_samples(side, sensor_id, t0_s, fs_hz, force_n, cells, gap=gap)  # insole data
    tracker.on_footpod(batch)                         # footpod batches (distance)
    fields = tracker.contact_fields(side, ic_s, to_s, body_mass_kg)   # insole contact
    fields = tracker.imu_fields(gct_ms, flight_ms, body_mass_kg)      # IMU-only step
    step = StepMessage(..., **fields)
    tracker.add_step(step)                            # session totals and symmetry
    summary = SessionSummary(..., load=tracker.summary())
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from calfload.bridge.messages import SCHEMA, AthleteInfo, RawBatch, Side
from calfload.bridge.simulator import CELL_XY_FRACTION
from calfload.processing.athlete import DEFAULT_FOOT_LENGTH_M, AthleteSettings, SettingsError
from calfload.processing.history import History, compact, compare
from calfload.processing.load import ContactLoad, LoadInputError, contact_load, spring_mass_load
from calfload.processing.messages import LoadHistory, LoadSummary, StepMessage
from calfload.processing.session import SYMMETRY_METRICS, LoadTotals, SessionLoad

#: Samples kept per foot: ≥ the longest contact (1.5 s) at 200 Hz, with margin.
RING_CAPACITY: Final = 1024
#: Largest gap between consecutive steps that still counts as running for distance.
MAX_STEP_GAP_S: Final = 2.0
F64 = npt.NDArray[np.float64]


class SampleRing:
    """Fixed-capacity ring of (time, force, cell forces, CoP) samples, oldest overwritten.

    Cell forces and the centre of pressure are optional channels: NaN marks samples
    written without them, and a window that contains such a sample returns ``None``
    for that channel (never mixes samples with and without it).
    """

    def __init__(self, capacity: int = RING_CAPACITY) -> None:
        self.capacity = capacity
        self._t = np.zeros(capacity)
        self._f = np.zeros(capacity)
        self._cells: F64 | None = None
        self._cop = np.full(capacity, np.nan)
        self._n = 0  # samples ever written since the last clear
        self.cells_dropped = 0

    def clear(self) -> None:
        self._n = 0
        self._cells = None

    def __len__(self) -> int:
        return min(self._n, self.capacity)

    def reserve(self, capacity: int) -> None:
        """Grow to hold ``capacity`` samples, keeping the contents (never shrinks).

        A batch larger than the ring (offline files fed in big chunks) must fit whole
        together with the contact in progress, so memory follows the largest batch,
        which the caller already holds, never the session length.
        """
        if capacity <= self.capacity:
            return
        n = len(self)
        order = (self._n - n + np.arange(n)) % self.capacity
        t, f, cop = np.zeros(capacity), np.zeros(capacity), np.full(capacity, np.nan)
        t[:n], f[:n], cop[:n] = self._t[order], self._f[order], self._cop[order]
        if self._cells is not None:
            cells = np.full((capacity, self._cells.shape[1]), np.nan)
            cells[:n] = self._cells[order]
            self._cells = cells
        self._t, self._f, self._cop, self.capacity, self._n = t, f, cop, capacity, n

    def append(
        self, t_s: F64, force_n: F64, cell_force_n: F64 | None, cop_x_m: F64 | None = None
    ) -> None:
        """Append samples (vectorised); cells are kept only while their count is constant."""
        k = t_s.size
        if k == 0:
            return
        if k > self.capacity:
            t_s, force_n = t_s[-self.capacity :], force_n[-self.capacity :]
            cell_force_n = None if cell_force_n is None else cell_force_n[-self.capacity :]
            cop_x_m = None if cop_x_m is None else cop_x_m[-self.capacity :]
            self._n += k - self.capacity
            k = self.capacity
        if cell_force_n is not None:
            if self._cells is None or self._cells.shape[1] != cell_force_n.shape[1]:
                if self._cells is not None:
                    self.cells_dropped += 1
                self._cells = np.full((self.capacity, cell_force_n.shape[1]), np.nan)
        elif self._cells is not None:
            self._cells = None  # cells stopped arriving: never mix samples with and without
        idx = (self._n + np.arange(k)) % self.capacity
        self._t[idx] = t_s
        self._f[idx] = force_n
        self._cop[idx] = np.nan if cop_x_m is None else cop_x_m
        if self._cells is not None and cell_force_n is not None:
            self._cells[idx] = cell_force_n
        self._n += k

    def window(self, t_from_s: float, t_to_s: float) -> tuple[F64, F64, F64 | None]:
        """Samples with ``t_from_s ≤ t ≤ t_to_s`` in time order (copies): time, force, cells."""
        n = len(self)
        order = (self._n - n + np.arange(n)) % self.capacity
        t = self._t[order]
        sel = order[(t >= t_from_s) & (t <= t_to_s)]
        cells = None
        if self._cells is not None:
            cells = self._cells[sel]
            if not np.all(np.isfinite(cells)):
                cells = None  # the window reaches back before the cells began
        return self._t[sel], self._f[sel], cells

    def cop_window(self, t_from_s: float, t_to_s: float) -> F64 | None:
        """The CoP of the same samples as :meth:`window`, ``None`` unless every one has it.

        A CoP of exactly zero-force samples may be NaN at the vendor's choice: those are
        tolerated (they carry no moment); any other missing CoP voids the window.
        """
        n = len(self)
        order = (self._n - n + np.arange(n)) % self.capacity
        t = self._t[order]
        sel = order[(t >= t_from_s) & (t <= t_to_s)]
        cop = self._cop[sel]
        if cop.size == 0 or not np.all(np.isfinite(cop) | (self._f[sel] <= 0.0)):
            return None
        return cop

    def newest_s(self) -> float | None:
        """Time of the newest kept sample (``None`` when empty)."""
        return float(self._t[(self._n - 1) % self.capacity]) if self._n else None

    def covers(self, t_s: float) -> bool:
        """True when the oldest kept sample is at or before ``t_s``."""
        n = len(self)
        if n == 0:
            return False
        oldest = self._t[(self._n - n) % self.capacity]
        return bool(oldest <= t_s)


def settings_from_info(info: AthleteInfo) -> AthleteSettings:
    """Athlete settings from the retained athlete-info message (raises SettingsError)."""
    return AthleteSettings(
        body_mass_kg=info.body_mass_kg,
        foot_length_m=info.foot_length_m,
        shoe_size_eu=info.shoe_size_eu,
        insole_length_m=info.insole_length_m,
        achilles_moment_arm_m=info.achilles_moment_arm_m,
        ankle_x_m=info.ankle_x_m,
        height_m=info.height_m,
        leg_length_m=info.leg_length_m,
        load_budget_bw_s=info.load_budget_bw_s,
        speed_mps=info.speed_mps,
    )


LOAD_FIELDS: Final = (
    "forefoot_peak_n",
    "push_off_impulse_ns",
    "loading_rate_bw_s",
    "pf_moment_nm",
    "pf_moment_nm_kg",
    "achilles_force_n",
    "achilles_force_bw",
    "achilles_impulse_ns",
)
_DECIMALS: Final = {
    "forefoot_peak_n": 2,
    "push_off_impulse_ns": 3,
    "loading_rate_bw_s": 2,
    "pf_moment_nm": 2,
    "pf_moment_nm_kg": 3,
    "achilles_force_n": 1,
    "achilles_force_bw": 3,
    "achilles_impulse_ns": 2,
}


def step_fields(load: ContactLoad) -> dict[str, Any]:
    """The StepMessage loading fields of one contact (rounded; ``load_model`` when F_AT)."""
    out: dict[str, Any] = {}
    for name in LOAD_FIELDS:
        value = getattr(load, name)
        if value is not None and math.isfinite(value):
            out[name] = round(float(value), _DECIMALS[name])
    if "achilles_force_n" in out:
        out["load_model"] = load.model
    return out


@dataclass
class LoadTracker:
    """Per-athlete load state: sample rings per foot, settings, session totals."""

    settings: AthleteSettings | None = None
    cell_x_fraction: F64 = field(default_factory=lambda: CELL_XY_FRACTION[:, 0].copy())
    rings: dict[Side, SampleRing] = field(default_factory=dict)
    session: SessionLoad | None = None
    errors: int = 0
    last_error: str = ""
    history: History | None = None  # past sessions, read once (optional)
    history_t_s: float = 0.0  # this session's start (epoch s) for the 30-day window
    _footpod_seen: bool = False
    _last_ic_s: float | None = None
    _pending_distance_m: float = 0.0

    def set_settings(self, settings: AthleteSettings) -> None:
        self.settings = settings
        if self.session is not None:
            self.session.body_mass_kg = settings.body_mass_kg
            self.session.budget_bw_s = settings.load_budget_bw_s

    def insole_length_m(self) -> float:
        """Insole length that scales a live CoP fraction (settings, else the default foot)."""
        return self.settings.insole_m if self.settings is not None else DEFAULT_FOOT_LENGTH_M

    def settings_for(self, body_mass_kg: float | None) -> AthleteSettings | None:
        """The athlete's settings, or defaults around a known body mass."""
        if self.settings is None and body_mass_kg:
            try:
                self.settings = AthleteSettings(body_mass_kg=body_mass_kg)
            except SettingsError as exc:
                self._error(str(exc))
        return self.settings

    def _error(self, message: str) -> None:
        self.errors += 1
        self.last_error = message

    def on_samples(
        self,
        side: Side,
        sensor_id: str,
        t0_s: float,
        fs_hz: float,
        force_n: F64,
        cell_force_n: F64 | None,
        *,
        gap: bool,
        cop_x_m: F64 | None = None,
    ) -> None:
        """Keep one block of a foot's insole samples (live batches and offline blocks).

        ``cop_x_m`` (m from the insole's heel edge, heel → toe) is the lever when the
        cells are absent or do not match the cell map.
        """
        ring = self.rings.setdefault(side, SampleRing())
        newest_s = ring.newest_s()
        if gap and newest_s is not None and t0_s <= newest_s:
            ring.clear()  # time went backwards (a restarted sensor): the old samples are void
        # After a forward gap the ring keeps the samples before it: windows select by time,
        # and a contact that closed before the gap may still be waiting for release.
        n = force_n.size
        ring.reserve(n + RING_CAPACITY)
        t = t0_s + np.arange(n, dtype=np.float64) / fs_hz
        cells = None
        cop = cop_x_m if cop_x_m is not None and cop_x_m.shape == (n,) else None
        if cell_force_n is not None:
            c = cell_force_n
            if c.ndim == 2 and c.shape[0] == n and c.shape[1] == self.cell_x_fraction.size:
                cells = c
            elif cop is None:
                self._error(
                    f"{sensor_id}: {c.shape[-1] if c.ndim == 2 else '?'} cells per sample "
                    f"do not match the {self.cell_x_fraction.size}-cell map; moments skipped"
                )
        ring.append(t, force_n, cells, cop)

    def on_footpod(self, batch: RawBatch) -> None:
        """Distance from a footpod batch (``speed_mps``), for load per km."""
        speeds = np.asarray(batch.speed_mps, dtype=np.float64)
        speeds = speeds[np.isfinite(speeds) & (speeds >= 0.0) & (speeds < 12.0)]
        if speeds.size:
            self._add_distance(float(speeds.sum()) / batch.fs_hz)
        self._footpod_seen = True

    def _add_distance(self, metres: float) -> None:
        if self.session is not None:
            self.session.add_distance(metres)
        else:
            self._pending_distance_m += metres

    def contact_fields(
        self, side: Side, ic_s: float, to_s: float, body_mass_kg: float | None
    ) -> dict[str, Any]:
        """Loading fields of a contact that just closed (empty when not computable)."""
        settings = self.settings_for(body_mass_kg)
        ring = self.rings.get(side)
        if settings is None or ring is None or not ring.covers(ic_s):
            return {}
        t, f, cells = ring.window(ic_s, to_s)
        cop = ring.cop_window(ic_s, to_s) if cells is None else None  # cells first, CoP else
        try:
            load = contact_load(
                t,
                f,
                settings,
                cell_force_n=cells,
                cell_x_fraction=self.cell_x_fraction,
                cop_x_m=cop,
            )
        except LoadInputError as exc:
            self._error(f"{side} contact at {ic_s:.3f} s: {exc}")
            return {}
        return step_fields(load)

    def imu_fields(
        self, gct_ms: float, flight_ms: float | None, body_mass_kg: float | None
    ) -> dict[str, Any]:
        """Spring–mass estimate for a step from IMU events (lower confidence)."""
        settings = self.settings_for(body_mass_kg)
        if settings is None or flight_ms is None or flight_ms < 0:
            return {}  # walking or unknown flight: the running model does not apply
        try:
            load = spring_mass_load(gct_ms / 1000.0, flight_ms / 1000.0, settings)
        except LoadInputError as exc:
            self._error(str(exc))
            return {}
        out = step_fields(load)
        out["peak_force_n"] = round(load.peak_force_n, 2)
        out["peak_force_bw"] = round(load.peak_force_bw, 3)
        return out

    def add_step(self, step: StepMessage) -> None:
        """Count a published step (any source) in the session totals."""
        side, ic_s = step.side, step.ic_s
        metrics: dict[str, float | None] = {n: getattr(step, n) for n in SYMMETRY_METRICS}
        if self.session is None:
            if self.settings is None:
                return
            self.session = SessionLoad(
                body_mass_kg=self.settings.body_mass_kg, budget_bw_s=self.settings.load_budget_bw_s
            )
            if self._footpod_seen:
                self.session.add_distance(self._pending_distance_m)
        self.session.add(side, metrics)
        speed = self.settings.speed_mps if self.settings else None
        if (
            not self._footpod_seen
            and speed is not None
            and self._last_ic_s is not None
            and 0.0 < ic_s - self._last_ic_s <= MAX_STEP_GAP_S
        ):
            self._add_distance(speed * (ic_s - self._last_ic_s))
        self._last_ic_s = ic_s

    def totals(self) -> LoadTotals | None:
        return self.session.totals() if self.session is not None else None

    def summary(self) -> LoadSummary | None:
        """The session totals as the ``load`` part of a SessionSummary (rounded)."""
        totals = self.totals()
        if totals is None:
            return None
        return LoadSummary(
            schema=SCHEMA,
            steps=totals.steps,
            achilles_impulse_ns=round(totals.achilles_impulse_ns, 1),
            achilles_impulse_bws=round(totals.achilles_impulse_bws, 3),
            weighted_load_bw=round(totals.weighted_load_bw, 3),
            distance_m=_r(totals.distance_m, 1),
            achilles_impulse_bws_per_km=_r(totals.achilles_impulse_bws_per_km, 2),
            budget_used_pct=_r(totals.budget_used_pct, 2),
            symmetry_pct={k: _r(v, 2) for k, v in totals.symmetry_pct.items()},
            left_mean={k: round(v, 4) for k, v in totals.means_left.items()},
            right_mean={k: round(v, 4) for k, v in totals.means_right.items()},
            history=None
            if self.history is None
            else LoadHistory(
                **compact(compare(self.history, self.history_t_s, totals.achilles_impulse_bws))
            ),
        )


def _r(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)
