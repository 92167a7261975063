"""Session totals, left/right symmetry and the comparison with recent history. Pure.

* Symmetry index SI = 100 × (L − R) / (0.5 × (L + R)) % (positive: left larger), of
  Robinson RO, Herzog W, Nigg BM (1987) "Use of force platform variables to quantify
  the effects of chiropractic manipulation on gait symmetry", *J Manipulative Physiol
  Ther* 10(4):172–176. Undefined (``None``) when either side is missing or
  L + R = 0.
* Cumulative Achilles impulse (N·s and BW·s) and per km: the cumulative-load metric
  of Firminger CR et al. (2020) "Cumulative metrics of tendon load and damage vary
  discordantly with running speed", *Med Sci Sports Exerc* 52(7):1549–1556 (stance
  integral of tendon force × steps per km).
* Magnitude-weighted (stress-weighted) cumulative load: the loading-history stimulus
  ψ = (Σ_i F_i^m)^(1/m) of Carter DR, Fyhrie DP, Whalen RT (1987) "Trabecular bone
  density and loading history: regulation of connective tissue biology by mechanical
  energy", *J Biomech* 20(8):785–794, applied to per-step peak Achilles force in BW
  with their exponent m = :data:`STRESS_EXPONENT` (4). It grows with magnitude much
  faster than with step count (Edwards WB 2018, *Exerc Sport Sci Rev* 46(4):224–231);
  the exponent was proposed for bone, not measured for tendon — treat the value as a
  relative index within one athlete.
* History: a session's load against the largest single session of the previous 30
  days, in the bands of the Garmin-RUNSAFE cohort ("How much running is too much?",
  *Br J Sports Med* 2025, doi:10.1136/bjsports-2024-109380), which were derived for
  running *distance*; applying them to Achilles impulse is an extrapolation and is
  labelled so.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Final, Literal

STRESS_EXPONENT: Final = 4.0
HISTORY_WINDOW_S: Final = 30 * 86400.0
G0_MPS2: Final = 9.80665

HistoryBand = Literal["no-history", "within", "spike-10-30", "spike-30-100", "spike-over-100"]
#: Hazard rate ratios for injury per band (BJSM 2025), distance-based.
BAND_HRR: Final[dict[str, float | None]] = {
    "no-history": None,
    "within": 1.0,
    "spike-10-30": 1.64,
    "spike-30-100": 1.52,
    "spike-over-100": 2.28,
}


def symmetry_pct(left: float | None, right: float | None) -> float | None:
    """Robinson et al. (1987) symmetry index in % (positive: left larger)."""
    if left is None or right is None:
        return None
    if not (math.isfinite(left) and math.isfinite(right)):
        return None
    mean = 0.5 * (left + right)
    if mean == 0.0:
        return None
    return 100.0 * (left - right) / mean


@dataclass
class SideLoad:
    """Running sums for one foot."""

    steps: int = 0
    achilles_impulse_ns: float = 0.0
    weighted_sum: float = 0.0  # Σ (peak Achilles force in BW)^m
    loaded_steps: int = 0  # steps that carried an Achilles estimate
    sums: dict[str, float] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)

    def add_metric(self, name: str, value: float | None) -> None:
        if value is None or not math.isfinite(value):
            return
        self.sums[name] = self.sums.get(name, 0.0) + value
        self.counts[name] = self.counts.get(name, 0) + 1

    def mean(self, name: str) -> float | None:
        n = self.counts.get(name, 0)
        return self.sums[name] / n if n else None


@dataclass(frozen=True, slots=True)
class LoadTotals:
    """Session totals (both feet)."""

    steps: int
    achilles_impulse_ns: float
    achilles_impulse_bws: float
    weighted_load_bw: float
    distance_m: float | None
    achilles_impulse_bws_per_km: float | None
    budget_used_pct: float | None
    symmetry_pct: dict[str, float | None]
    means_left: dict[str, float]
    means_right: dict[str, float]


#: Step metrics that get a per-side mean and a symmetry index.
SYMMETRY_METRICS: Final = (
    "gct_ms",
    "flight_ms",
    "peak_force_bw",
    "forefoot_peak_n",
    "push_off_impulse_ns",
    "loading_rate_bw_s",
    "pf_moment_nm_kg",
    "achilles_force_bw",
    "achilles_impulse_ns",
)


@dataclass
class SessionLoad:
    """Accumulates per-step loads of one athlete into session totals.

    Feed each step with :meth:`add`, the distance with :meth:`add_distance` (footpod
    speed × time, or the athlete's speed setting × time); read :meth:`totals`.
    """

    body_mass_kg: float
    budget_bw_s: float | None = None
    exponent: float = STRESS_EXPONENT
    left: SideLoad = field(default_factory=SideLoad)
    right: SideLoad = field(default_factory=SideLoad)
    distance_m: float = 0.0
    distance_known: bool = False

    def side(self, side: str) -> SideLoad:
        return self.left if side == "left" else self.right

    def add(
        self,
        side: str,
        metrics: dict[str, float | None],
    ) -> None:
        """Add one step's metrics (names as in :data:`SYMMETRY_METRICS`)."""
        s = self.side(side)
        s.steps += 1
        for name in SYMMETRY_METRICS:
            s.add_metric(name, metrics.get(name))
        impulse = metrics.get("achilles_impulse_ns")
        peak_bw = metrics.get("achilles_force_bw")
        if impulse is not None and math.isfinite(impulse):
            s.achilles_impulse_ns += impulse
        if peak_bw is not None and math.isfinite(peak_bw) and peak_bw > 0:
            s.weighted_sum += peak_bw**self.exponent
            s.loaded_steps += 1

    def add_distance(self, metres: float) -> None:
        if math.isfinite(metres) and metres >= 0:
            self.distance_m += metres
            self.distance_known = True

    def totals(self) -> LoadTotals:
        weight = self.body_mass_kg * G0_MPS2
        impulse = self.left.achilles_impulse_ns + self.right.achilles_impulse_ns
        impulse_bws = impulse / weight
        weighted = (self.left.weighted_sum + self.right.weighted_sum) ** (1.0 / self.exponent)
        per_km = None
        if self.distance_known and self.distance_m >= 10.0:
            per_km = impulse_bws / (self.distance_m / 1000.0)
        budget = None
        if self.budget_bw_s:
            budget = 100.0 * impulse_bws / self.budget_bw_s
        sym = {m: symmetry_pct(self.left.mean(m), self.right.mean(m)) for m in SYMMETRY_METRICS}
        return LoadTotals(
            steps=self.left.steps + self.right.steps,
            achilles_impulse_ns=impulse,
            achilles_impulse_bws=impulse_bws,
            weighted_load_bw=weighted,
            distance_m=self.distance_m if self.distance_known else None,
            achilles_impulse_bws_per_km=per_km,
            budget_used_pct=budget,
            symmetry_pct=sym,
            means_left=_means(self.left),
            means_right=_means(self.right),
        )


def _means(s: SideLoad) -> dict[str, float]:
    return {m: v for m in SYMMETRY_METRICS if (v := s.mean(m)) is not None}


@dataclass(frozen=True, slots=True)
class PastSession:
    """One earlier session's totals (``t_s``: its start, seconds since the epoch)."""

    t_s: float
    distance_m: float | None = None
    achilles_impulse_bws: float | None = None


@dataclass(frozen=True, slots=True)
class HistoryComparison:
    """A session against the largest session of the previous 30 days."""

    metric: str
    current: float
    reference_max: float | None
    sessions_in_window: int
    excess_pct: float | None
    band: HistoryBand
    hazard_ratio: float | None
    extrapolated: bool


def compare_with_history(
    t_s: float,
    current: float,
    past: Iterable[PastSession],
    *,
    metric: Literal["distance_m", "achilles_impulse_bws"] = "distance_m",
    window_s: float = HISTORY_WINDOW_S,
) -> HistoryComparison:
    """Compare one session's ``metric`` with the largest of the previous ``window_s``.

    Bands (BJSM 2025): ≤ 10 % over the 30-day maximum → ``within``; > 10–30 %,
    > 30–100 %, > 100 % → spikes with hazard rate ratios 1.64, 1.52, 2.28. Sessions
    at or after ``t_s`` and those with the metric missing are ignored.
    ``extrapolated`` is true for any metric other than distance.
    """
    if not math.isfinite(current) or current < 0:
        raise ValueError(f"current {metric} must be a non-negative number, got {current!r}")
    values: Sequence[float] = [
        v
        for p in past
        if t_s - window_s <= p.t_s < t_s
        and (v := getattr(p, metric)) is not None
        and math.isfinite(v)
    ]
    ref = max(values) if values else None
    if ref is None or ref <= 0:
        band: HistoryBand = "no-history"
        excess = None
    else:
        excess = 100.0 * (current - ref) / ref
        if excess <= 10.0:
            band = "within"
        elif excess <= 30.0:
            band = "spike-10-30"
        elif excess <= 100.0:
            band = "spike-30-100"
        else:
            band = "spike-over-100"
    return HistoryComparison(
        metric=metric,
        current=current,
        reference_max=ref,
        sessions_in_window=len(values),
        excess_pct=excess,
        band=band,
        hazard_ratio=BAND_HRR[band],
        extrapolated=metric != "distance_m",
    )
