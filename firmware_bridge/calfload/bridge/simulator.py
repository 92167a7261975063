"""Gait simulator with known ground truth, feeding the virtual sensors.

The model is deliberately simple and fully known: steps alternate left/right at
the athlete's cadence with small random variability; each contact's vertical
force is a half-sine (Cavagna-style spring–mass approximation, as used by
Morin et al. 2005, "A simple method for measuring stiffness during running")
with an impact transient for rear-foot strikers, and the centre of pressure rolls
from the heel to the toes during stance. Force is exactly zero outside contact, so
the true initial contact and toe-off are the half-sine's start and end.

The foot IMU (the insole's own IMU, or a laces-mounted foot IMU) follows a
piecewise-cubic model of the sagittal angular velocity and a gravity + swing + impact
model of the acceleration, both tied to the same true contacts (see :meth:`GaitSimulator.foot_imu`).

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
    imu_noise_dps: float = 2.0
    imu_noise_mps2: float = 0.3


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
        acc, gyr = self.foot_imu(side, t_s)
        return cells, acc, gyr

    def foot_imu(
        self, side: Side, t_s: npt.NDArray[np.float64]
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """Foot IMU in calfload's foot frame (x toe, y left, z up): acc (n, 3) m/s², gyr (n, 3) dps.

        Sagittal rate ``gyr_y`` (positive = toes down) is a monotone piecewise-cubic curve
        (Fritsch FN, Carlson RE (1980) "Monotone piecewise cubic interpolation", *SIAM J Numer
        Anal* 17(2):238–246: extremes stay at the knots) through knots placed on the true
        events, shaped after the gaitmap walking recording and the Dorschky 2019 running mean
        cycle (``../shared/data``):

        - rear-foot strike: the late-swing rotation ends at **exactly IC** (zero crossing),
          the foot slaps flat (positive peak at 15 % of stance), flat stance, push-off peak at
          **exactly TO** (rounded over ±15 ms), a 35 ms reversal into swing, mid-swing
          extreme at 0.45 + 0.08·v of the swing (clipped to 50–78 %: about half-way in walking
          as in the gaitmap recording, ~75 % in running as in the Dorschky mean cycle);
        - fore-/mid-foot strike: no zero crossing at IC (the swing-sign rotation continues
          into the heel drop); IC is marked only by the impact.

        Amplitudes grow with ``speed_mps`` (swing 250 + 120·v dps, push-off 300 + 90·v,
        slap 150 + 60·v). Acceleration: gravity on z, a smooth swing acceleration, and an
        impact starting **at IC** (exponential decay, τ = 25 ms, 30 + 12·v m/s², 50 + 12·v for a
        rear-foot strike), within the open insole's ±16 g. Deterministic white-ish noise of
        ``imu_noise_dps`` / ``imu_noise_mps2`` (a hash of time, so any chunking of ``t``
        gives the same samples). The model fixes *where* the features sit relative to the
        truth; it tests detection mechanics (speed, strike, noise, chunking, counts), not
        the physiology that places the features.
        """
        t_s = np.asarray(t_s, dtype=np.float64)
        p = self.profile
        self.steps_until(float(t_s.max(initial=0.0)) + 3.0)
        mine = [s for s in self._steps if s.side == side]
        v = p.speed_mps
        a_swing, a_push, a_slap = 250.0 + 120.0 * v, 300.0 + 90.0 * v, 150.0 + 60.0 * v
        kt: list[float] = []
        kv: list[float] = []
        for k, s in enumerate(mine):
            gct = s.to_s - s.ic_s
            if k == 0:
                swing0 = max(0.15, 2 * 60.0 / p.cadence_spm - gct)
                kt += [s.ic_s - 0.55 * swing0, s.ic_s - 0.2 * swing0]
                kv += [-a_swing, -0.45 * a_swing]
            if p.rearfoot:
                kt += [s.ic_s, s.ic_s + 0.15 * gct, s.ic_s + 0.35 * gct]
                kv += [0.0, a_slap, 0.03 * a_slap]
            else:
                kt += [s.ic_s, s.ic_s + 0.12 * gct, s.ic_s + 0.35 * gct]
                kv += [-0.3 * a_swing, -0.35 * a_swing, -0.02 * a_swing]
            kt += [s.to_s - 0.35 * gct, s.to_s - 0.015, s.to_s, s.to_s + 0.012, s.to_s + 0.035]
            kv += [0.2 * a_push, 0.85 * a_push, a_push, 0.7 * a_push, 0.0]
            if k + 1 < len(mine):
                swing = mine[k + 1].ic_s - s.to_s
                f_mid = min(0.78, max(0.5, 0.45 + 0.08 * v))
                late = min(0.2, 0.6 * (1.0 - f_mid))
                kt += [s.to_s + f_mid * swing, mine[k + 1].ic_s - late * swing]
                kv += [-a_swing, -0.45 * a_swing if p.rearfoot else -0.5 * a_swing]
        knots_t = np.asarray(kt)
        t_clip = np.clip(t_s, knots_t[0], knots_t[-1])
        gyr = np.zeros((t_s.size, 3))
        gyr[:, 1] = _pchip(knots_t, np.asarray(kv), t_clip)
        # Acceleration: gravity, a smooth swing acceleration, and the impact at IC.
        ic = np.array([s.ic_s for s in mine])
        to = np.array([s.to_s for s in mine])
        j = np.searchsorted(ic, t_s, side="right") - 1
        valid = j >= 0
        kk = np.where(valid, j, 0)
        since_ic = np.where(valid, t_s - ic[kk], np.inf)
        in_swing = valid & (t_s >= to[kk])
        swing_len = np.where(kk + 1 < ic.size, ic[np.minimum(kk + 1, ic.size - 1)] - to[kk], 0.4)
        u = np.where(in_swing, (t_s - to[kk]) / np.maximum(swing_len, 1e-3), 0.0)
        acc = np.zeros((t_s.size, 3))
        acc[:, 2] = G0_MPS2
        acc[:, 0] = np.where(in_swing, (8.0 + 6.0 * v) * np.sin(2 * np.pi * u), 0.0)
        # Vertical: lift then lower the foot (zero net impulse over the swing), and pay
        # back the impact's upward impulse while the foot descends, so the vertical
        # specific force averages to g over a stride (the foot ends where it began).
        a_imp = (50.0 if p.rearfoot else 30.0) + 12.0 * v
        payback = a_imp * 0.025 / np.maximum(swing_len, 1e-3)
        acc[:, 2] += np.where(
            in_swing, (4.0 + 3.0 * v) * np.sin(2 * np.pi * u) - payback * 2.0 * u, 0.0
        )
        impact = np.where(since_ic >= 0.0, np.exp(-np.minimum(since_ic, 1.0) / 0.025), 0.0)
        acc[:, 2] += a_imp * impact
        acc[:, 0] += 0.4 * a_imp * impact
        phase = 1.7 if side == "left" else 4.3
        gyr += p.imu_noise_dps * _hash_noise(t_s, 3, phase + p.seed)
        acc += p.imu_noise_mps2 * _hash_noise(t_s, 3, phase + 10.0 + p.seed)
        return acc, gyr


def _hash_noise(t_s: npt.NDArray[np.float64], cols: int, phase: float) -> npt.NDArray[np.float64]:
    """Deterministic unit-variance noise as a function of time (uniform, hashed)."""
    out = np.empty((t_s.size, cols))
    for c in range(cols):
        x = np.sin(t_s * 12_989.8 + phase * 78.233 + c * 37.719) * 43_758.5453
        out[:, c] = (x - np.floor(x) - 0.5) * np.sqrt(12.0)
    return out


def _pchip(
    x: npt.NDArray[np.float64], y: npt.NDArray[np.float64], t: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    """Monotone piecewise-cubic Hermite interpolation (Fritsch & Carlson 1980) at ``t``."""
    h = np.diff(x)
    delta = np.diff(y) / h
    d = np.zeros_like(y)
    same = delta[:-1] * delta[1:] > 0.0
    w1 = 2.0 * h[1:] + h[:-1]
    w2 = h[1:] + 2.0 * h[:-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        hm = (w1 + w2) / (w1 / delta[:-1] + w2 / delta[1:])
    d[1:-1] = np.where(same, hm, 0.0)
    d[0], d[-1] = delta[0] if delta.size else 0.0, delta[-1] if delta.size else 0.0
    i = np.clip(np.searchsorted(x, t, side="right") - 1, 0, x.size - 2)
    u = (t - x[i]) / h[i]
    h00 = (1 + 2 * u) * (1 - u) ** 2
    h10 = u * (1 - u) ** 2
    h01 = u**2 * (3 - 2 * u)
    h11 = u**2 * (u - 1)
    out: npt.NDArray[np.float64] = (
        h00 * y[i] + h10 * h[i] * d[i] + h01 * y[i + 1] + h11 * h[i] * d[i + 1]
    )
    return out
