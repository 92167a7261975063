"""Gait simulator with known ground truth, feeding the virtual sensors.

The model is deliberately simple and fully known: steps alternate left/right at
the athlete's cadence with small random variability; each contact's vertical
force is a half-sine (Cavagna-style spring–mass approximation, as used by
Morin et al. 2005, "A simple method for measuring stiffness during running")
with an impact transient for rear-foot strikers, and the centre of pressure rolls
from the heel to the toes during stance. Force is exactly zero outside contact, so
the true initial contact and toe-off are the half-sine's start and end.

Simulator time ``t`` is seconds since the run started.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

import numpy as np
import numpy.typing as npt

from calfload.bridge.topics import Side

G0_MPS2: Final = 9.80665

#: Insole cell map (x from heel towards toe, y to the medial side), as fractions of
#: foot length / width. Matches the cell table in ``hardware.md``.
CELL_XY_FRACTION: Final = np.array(
    [
        [0.10, 0.40],  # 0 heel medial
        [0.10, 0.65],  # 1 heel lateral (y measured from medial edge)
        [0.45, 0.75],  # 2 midfoot lateral
        [0.70, 0.25],  # 3 first metatarsal head
        [0.70, 0.50],  # 4 second/third metatarsal heads
        [0.68, 0.80],  # 5 fifth metatarsal head
        [0.90, 0.25],  # 6 hallux
        [0.88, 0.60],  # 7 lesser toes
    ]
)
N_CELLS: Final = len(CELL_XY_FRACTION)


@dataclass(frozen=True)
class AthleteProfile:
    """Who runs, and how. ``asymmetry_pct`` lengthens the left contact time."""

    athlete: str
    name: str
    body_mass_kg: float = 70.0
    speed_mps: float = 3.3
    cadence_spm: float = 170.0
    gct_ms: float = 240.0
    gct_cv_pct: float = 3.0
    step_cv_pct: float = 2.0
    asymmetry_pct: float = 0.0
    peak_force_bw: float = 2.5
    rearfoot: bool = True
    seed: int = 0


@dataclass(frozen=True)
class TrueStep:
    side: Side
    index: int
    ic_s: float
    to_s: float
    peak_force_n: float

    @property
    def gct_ms(self) -> float:
        return (self.to_s - self.ic_s) * 1000.0


@dataclass
class GaitSimulator:
    """Generates steps lazily and samples any signal at any times, vectorised."""

    profile: AthleteProfile
    start_s: float = 0.5
    _rng: np.random.Generator = field(init=False, repr=False)
    _steps: list[TrueStep] = field(init=False, default_factory=list)
    _next_ic_s: float = field(init=False)

    def __post_init__(self) -> None:
        self._rng = np.random.default_rng(self.profile.seed)
        self._next_ic_s = self.start_s

    @property
    def weight_n(self) -> float:
        return self.profile.body_mass_kg * G0_MPS2

    def steps_until(self, t_s: float) -> list[TrueStep]:
        """All true steps whose contact starts before ``t_s`` (generating as needed)."""
        p = self.profile
        step_s = 60.0 / p.cadence_spm
        while self._next_ic_s < t_s + 2.0:
            index = len(self._steps)
            side: Side = "left" if index % 2 == 0 else "right"
            gct_s = p.gct_ms / 1000.0 * (1.0 + self._rng.normal(0.0, p.gct_cv_pct / 100.0))
            if side == "left":
                gct_s *= 1.0 + p.asymmetry_pct / 100.0
            gct_s = float(np.clip(gct_s, 0.08, 0.95 * 2 * step_s))
            peak_n = self.weight_n * p.peak_force_bw * (1.0 + self._rng.normal(0.0, 0.03))
            ic = self._next_ic_s
            self._steps.append(TrueStep(side, index, ic, ic + gct_s, float(peak_n)))
            self._next_ic_s = ic + step_s * (1.0 + self._rng.normal(0.0, p.step_cv_pct / 100.0))
        return [s for s in self._steps if s.ic_s < t_s]

    def true_steps(self, side: Side | None = None, until_s: float = float("inf")) -> list[TrueStep]:
        """Steps generated so far (optionally one side, starting before ``until_s``)."""
        return [s for s in self._steps if (side is None or s.side == side) and s.ic_s < until_s]

    def insole(
        self, side: Side, t_s: npt.NDArray[np.float64]
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """Cell forces (n, 8) in N, acceleration (n, 3) m/s² and angular rate (n, 3) dps."""
        t_s = np.asarray(t_s, dtype=np.float64)
        self.steps_until(float(t_s.max(initial=0.0)) + 1.0)
        mine = [s for s in self._steps if s.side == side]
        ic = np.array([s.ic_s for s in mine])
        to = np.array([s.to_s for s in mine])
        peak = np.array([s.peak_force_n for s in mine])
        k = np.searchsorted(ic, t_s, side="right") - 1
        valid = k >= 0
        kk = np.where(valid, k, 0)
        in_contact = valid & (t_s < to[kk]) if len(mine) else np.zeros(t_s.shape, bool)
        phase = np.where(in_contact, (t_s - ic[kk]) / (to[kk] - ic[kk]), 0.0)
        total = np.where(in_contact, peak[kk] * np.sin(np.pi * phase), 0.0)
        if self.profile.rearfoot:
            impact = (
                0.25 * peak[kk] * np.exp(-(((phase - 0.1) / 0.04) ** 2)) * np.sin(np.pi * phase)
            )
            total = total + np.where(in_contact, impact, 0.0)
        # Centre of pressure rolls heel → toes; share the force among cells by distance.
        cop_x = 0.08 + 0.84 * phase if self.profile.rearfoot else 0.6 + 0.3 * phase
        d2 = (CELL_XY_FRACTION[None, :, 0] - cop_x[:, None]) ** 2
        w = np.exp(-d2 / (2 * 0.12**2))
        w /= w.sum(axis=1, keepdims=True)
        cells = total[:, None] * w
        # IMU: gravity in stance plus a swing oscillation, plausible but not used for events.
        swing = ~in_contact
        t_rel = np.where(valid, t_s - ic[kk], 0.0)
        acc = np.zeros((t_s.size, 3))
        acc[:, 2] = G0_MPS2 + np.where(in_contact, 3.0 * np.sin(np.pi * phase), 0.0)
        acc[:, 0] = np.where(swing, 15.0 * np.sin(2 * np.pi * 1.4 * t_rel), 0.0)
        gyr = np.zeros((t_s.size, 3))
        gyr[:, 1] = np.where(swing, 600.0 * np.sin(2 * np.pi * 1.4 * t_rel), -80.0 * phase)
        return cells, acc, gyr
