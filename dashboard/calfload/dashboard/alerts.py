"""Per-athlete alerts: thresholds a therapist sets, and their evaluation. Pure.

Everything here is a function of its arguments (no clock, no I/O), so the live
dashboard (:mod:`calfload.dashboard.state`) and the tests call the same code.

* :class:`Thresholds`: the limits of one athlete (``None`` switches an alert off);
* :func:`window_means`: per-metric means of a run of steps (NaN-aware, numpy);
* :func:`symmetry_pct`: the symmetry index of left and right means;
* :class:`Baseline`: the steps of the session's first minutes, kept for the drift;
* :func:`evaluate`: the alerts that hold for an :class:`Observation`.

Symmetry index: SI = 100 × (L − R) / (0.5 × (L + R)), positive when the left
value is larger (Robinson, Herzog & Nigg 1987, "Use of force platform variables to
quantify the effects of chiropractic manipulation on gait symmetry", J Manipulative
Physiol Ther 10(4):172-176); the same definition as the worker's session summary.

GCT drift: mean ground contact time over the most recent steps minus its mean over
the session's first minutes. Contact time lengthens as runners fatigue over a long
run (Chan-Roper et al. 2012, "Kinematic changes during a marathon for fast and slow
runners", J Sports Sci Med 11(1):77-82), so a rise of a set number of milliseconds
is the drift alert.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from typing import Final, Literal

import numpy as np

from calfload.bridge.topics import SIDES, Side
from calfload.processing.messages import StepMessage

METRICS: Final = (
    "gct_ms",
    "flight_ms",
    "cadence_spm",
    "peak_force_bw",
    "achilles_force_bw",
    "push_off_impulse_ns",
    "achilles_impulse_ns",
)
"""Step fields the dashboard averages, charts and compares."""
SYMMETRY_METRICS: Final = ("gct_ms", "peak_force_bw", "achilles_force_bw", "push_off_impulse_ns")
"""Fields whose left/right symmetry the asymmetry alert watches (the worst one counts)."""
RECENT_STEPS: Final = 20
"""Steps per side in the "current" window."""
BASELINE_KEEP_S: Final = 600.0
"""The longest "first minutes" a therapist may choose (steps after it are not kept)."""
BUDGET_WARN_FRACTION: Final = 0.9
"""The load alert warns at this share of the budget and alarms when it is reached."""

Level = Literal["warn", "alarm"]
Kind = Literal["asymmetry", "gct_drift", "budget", "sensor_lost", "data_loss"]
LEVEL_RANK: Final[dict[str, int]] = {"ok": 0, "warn": 1, "alarm": 2}


class ThresholdError(ValueError):
    """A threshold a therapist entered is out of range (the message says which)."""


@dataclass(frozen=True)
class Thresholds:
    """The alert limits of one athlete. ``None`` switches that alert off."""

    asymmetry_pct: float | None = 10.0
    """|symmetry index| of the recent steps above this (any of :data:`SYMMETRY_METRICS`)."""
    gct_drift_ms: float | None = 15.0
    """Recent mean GCT this many ms above the first minutes' mean (either side)."""
    baseline_s: float = 120.0
    """How long "the session's first minutes" are, in seconds."""
    budget_pct: float | None = 100.0
    """Share of the athlete's session load budget (``load.budget_used_pct``) that alarms."""
    loss_pct: float | None = 5.0
    """A sensor's data loss above this warns; a sensor offline always alarms."""
    target_cadence_spm: float | None = None
    """The runner's metronome cadence (not an alert; shown in the runner view)."""

    def __post_init__(self) -> None:
        limits: dict[str, tuple[float, float]] = {
            "asymmetry_pct": (0.5, 200.0),
            "gct_drift_ms": (1.0, 500.0),
            "baseline_s": (10.0, BASELINE_KEEP_S),
            "budget_pct": (1.0, 1000.0),
            "loss_pct": (0.1, 100.0),
            "target_cadence_spm": (60.0, 260.0),
        }
        for name, (low, high) in limits.items():
            value = getattr(self, name)
            if value is None:
                continue
            if not isinstance(value, int | float) or not low <= value <= high:
                raise ThresholdError(
                    f"{name.replace('_', ' ')} must be between {low:g} and {high:g}"
                )

    def to_json(self) -> dict[str, float | None]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> Thresholds:
        """From stored or posted values; unknown keys are ignored, bad ones raise
        :class:`ThresholdError`."""
        values: dict[str, float | None] = {}
        for f in fields(cls):
            if f.name not in data:
                continue
            raw = data[f.name]
            if raw is None or raw == "":
                if f.name == "baseline_s":
                    raise ThresholdError("baseline s must be a number of seconds")
                values[f.name] = None
                continue
            try:
                number = float(raw)  # type: ignore[arg-type]
            except (TypeError, ValueError):
                raise ThresholdError(f"{f.name.replace('_', ' ')} must be a number") from None
            if not math.isfinite(number):
                raise ThresholdError(f"{f.name.replace('_', ' ')} must be a finite number")
            values[f.name] = number
        return replace(cls(), **values)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Alert:
    kind: Kind
    level: Level
    text: str
    """One line a therapist reads on the tile."""

    def to_json(self) -> dict[str, str]:
        return {"kind": self.kind, "level": self.level, "text": self.text}


@dataclass(frozen=True)
class SensorStatus:
    sensor_id: str
    side: Side
    online: bool
    loss_pct: float | None = None


@dataclass(frozen=True)
class Observation:
    """What the alerts look at for one athlete."""

    symmetry_pct: Mapping[str, float] = field(default_factory=dict)
    """Symmetry index of the recent window, per metric (only metrics both sides have)."""
    gct_drift_ms: Mapping[Side, float] = field(default_factory=dict)
    """Recent mean GCT minus the first minutes' mean, per side (once both exist)."""
    budget_used_pct: float | None = None
    sensors: Sequence[SensorStatus] = ()


def window_means(
    steps: Iterable[StepMessage], metrics: Sequence[str] = METRICS
) -> dict[str, float]:
    """Mean of each metric over ``steps``, ignoring steps that lack it; metrics no
    step has are left out."""
    rows = [[_value(s, m) for m in metrics] for s in steps]
    if not rows:
        return {}
    table = np.asarray(rows, dtype=np.float64)
    present = np.isfinite(table)
    counts = present.sum(axis=0)
    sums = np.where(present, table, 0.0).sum(axis=0)
    return {m: float(sums[i] / counts[i]) for i, m in enumerate(metrics) if counts[i] > 0}


def _value(step: StepMessage, metric: str) -> float:
    value = getattr(step, metric, None)
    return float(value) if isinstance(value, int | float) else math.nan


def symmetry_pct(left: float, right: float) -> float | None:
    """Robinson's symmetry index; ``None`` when it is undefined (sum near zero)."""
    mean = 0.5 * (left + right)
    if not math.isfinite(mean) or abs(mean) < 1e-9:
        return None
    return 100.0 * (left - right) / mean


def symmetries(left: Mapping[str, float], right: Mapping[str, float]) -> dict[str, float]:
    out: dict[str, float] = {}
    for metric in left.keys() & right.keys():
        si = symmetry_pct(left[metric], right[metric])
        if si is not None:
            out[metric] = si
    return out


@dataclass
class Baseline:
    """The steps of the first :data:`BASELINE_KEEP_S` seconds of an athlete's session
    (from the first step the dashboard saw), per side."""

    first_ic_s: float | None = None
    steps: dict[Side, list[StepMessage]] = field(default_factory=lambda: {s: [] for s in SIDES})
    _cache: dict[tuple[Side, float], dict[str, float] | None] = field(default_factory=dict)

    def add(self, step: StepMessage) -> None:
        if self.first_ic_s is None or step.ic_s < self.first_ic_s:
            self.first_ic_s = step.ic_s
            self._cache.clear()
        if step.ic_s - self.first_ic_s <= BASELINE_KEEP_S:
            self.steps[step.side].append(step)
            for side, baseline_s in list(self._cache):  # a late step inside a finished window
                if side == step.side and step.ic_s <= self.first_ic_s + baseline_s:
                    del self._cache[(side, baseline_s)]

    def means(self, side: Side, baseline_s: float, newest_ic_s: float) -> dict[str, float] | None:
        """The first ``baseline_s`` seconds' means of one side, once that much of the
        session has passed (``None`` before). Computed once per window, then cached."""
        if self.first_ic_s is None or newest_ic_s - self.first_ic_s < baseline_s:
            return None
        key = (side, baseline_s)
        if key not in self._cache:
            end = self.first_ic_s + baseline_s
            self._cache[key] = window_means(s for s in self.steps[side] if s.ic_s <= end) or None
        return self._cache[key]


def evaluate(thresholds: Thresholds, obs: Observation) -> tuple[Alert, ...]:
    """The alerts that hold, most severe first."""
    alerts: list[Alert] = []
    t = thresholds
    watched = {k: v for k, v in obs.symmetry_pct.items() if k in SYMMETRY_METRICS}
    if t.asymmetry_pct is not None and watched:
        metric, si = max(watched.items(), key=lambda kv: (abs(kv[1]), kv[0]))
        if abs(si) > t.asymmetry_pct:
            side = "left" if si > 0 else "right"
            alerts.append(
                Alert(
                    "asymmetry",
                    "warn",
                    f"{_LABELS.get(metric, metric)} {abs(si):.0f}% higher on the {side} "
                    f"(limit {t.asymmetry_pct:g}%)",
                )
            )
    if t.gct_drift_ms is not None and obs.gct_drift_ms:
        side, drift = max(obs.gct_drift_ms.items(), key=lambda kv: (kv[1], kv[0]))
        if drift > t.gct_drift_ms:
            alerts.append(
                Alert(
                    "gct_drift",
                    "warn",
                    f"GCT {side} up {drift:.0f} ms since the first minutes "
                    f"(limit {t.gct_drift_ms:g} ms)",
                )
            )
    if t.budget_pct is not None and obs.budget_used_pct is not None:
        used = obs.budget_used_pct
        if used >= t.budget_pct:
            alerts.append(
                Alert("budget", "alarm", f"calf load budget reached: {used:.0f}% of budget")
            )
        elif used >= BUDGET_WARN_FRACTION * t.budget_pct:
            alerts.append(Alert("budget", "warn", f"calf load at {used:.0f}% of budget"))
    for sensor in sorted(obs.sensors, key=lambda s: s.sensor_id):
        if not sensor.online:
            alerts.append(
                Alert("sensor_lost", "alarm", f"{sensor.side} sensor {sensor.sensor_id} lost")
            )
        elif (
            t.loss_pct is not None and sensor.loss_pct is not None and sensor.loss_pct > t.loss_pct
        ):
            alerts.append(
                Alert(
                    "data_loss",
                    "warn",
                    f"{sensor.side} sensor {sensor.sensor_id} losing {sensor.loss_pct:.1f}% "
                    f"of its data (limit {t.loss_pct:g}%)",
                )
            )
    alerts.sort(key=lambda a: -LEVEL_RANK[a.level])
    return tuple(alerts)


def severity(alerts: Sequence[Alert]) -> int:
    """0 (none), 1 (warn) or 2 (alarm): the tiles sort by it."""
    return max((LEVEL_RANK[a.level] for a in alerts), default=0)


_LABELS: Final = {
    "gct_ms": "GCT",
    "peak_force_bw": "peak force",
    "achilles_force_bw": "Achilles force",
    "push_off_impulse_ns": "push-off impulse",
}
