"""Virtual athletes performing lab protocols, with known truth: treadmill stages, heel
rises (and heel drops), repeated hops and drop jumps.

Both simulators are :class:`~calfload.bridge.simulator.GaitSimulator` subclasses, so the
virtual insole twins (:class:`~calfload.bridge.devices.open_insole_twin.OpenInsoleTwin`)
stream them through the real BLE path unchanged. They can follow a protocol's cues while
running: :meth:`StagedGaitSimulator.set_speed` and :meth:`CalfTaskSimulator.add` may be
called from another thread.

Models (deliberately simple and fully known):

* Running: the base simulator's half-sine steps; contact time and cadence follow speed
  as ``gct_ms = gct_ref × (v_ref / v)^0.7`` and ``cadence = cad_ref + 8 × (v − v_ref)``
  (own approximation of the published trends: contact time falls and cadence rises with
  speed, Fukuchi 2017 data; only the simulator uses it, and tests compare with the
  simulator's own true steps).
* Hops: vertical force a half-sine over each contact with the spring–mass peak
  F_max = m g (π/2)(t_f / t_c + 1) (Morin et al. 2005), zero in flight, centre of
  pressure under the forefoot.
* Heel rises: the foot pitches about the metatarsal heads by θ(t): per repetition a
  half-cosine up and a half-cosine down (``up_share`` of the movement rising) over
  ``move_share`` (80 %) of the repetition period; amplitudes decline linearly with
  fatigue; after the good repetitions come failing attempts (too low, off the pace, or
  with hand support). The sagittal gyro is dθ/dt plus a bias and noise; the insole's
  heel cells unload as θ passes 3°. Heel height = :data:`MTP_FRACTION` × foot length ×
  sin θ. Heel drops are the same with θ going below the start position.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field
from typing import Final, Literal

import numpy as np
import numpy.typing as npt

from calfload.bridge.simulator import G0_MPS2, GaitSimulator, TrueStep
from calfload.bridge.topics import Side

F64 = npt.NDArray[np.float64]
MTP_FRACTION: Final = 0.70
HEEL_UNLOAD_DEG: Final = 3.0
#: Cell shares standing flat and on the toes (sum to 1; cells as in hardware.md).
W_FLAT: Final = np.array([0.25, 0.25, 0.10, 0.10, 0.10, 0.10, 0.05, 0.05])
W_TOES: Final = np.array([0.0, 0.0, 0.02, 0.26, 0.26, 0.26, 0.10, 0.10])


def _cells(total: F64, toes: F64) -> F64:
    """Cell forces (n, 8) for total force and the on-toes share ``toes`` in [0, 1]."""
    w = (1.0 - toes)[:, None] * W_FLAT[None, :] + toes[:, None] * W_TOES[None, :]
    out: F64 = total[:, None] * w
    return out


# -- treadmill stages --------------------------------------------------------------------


@dataclass
class StagedGaitSimulator(GaitSimulator):
    """Running whose speed changes at given times (``set_speed``), with true steps."""

    speeds: list[tuple[float, float]] = field(default_factory=list)
    """(from simulator time, speed m/s), in time order."""
    _lock: threading.Lock = field(init=False, repr=False, default_factory=threading.Lock)

    def set_speed(self, t_s: float, speed_mps: float) -> None:
        with self._lock:
            self.speeds.append((t_s, speed_mps))
            self.speeds.sort()

    def speed_at(self, t_s: float) -> float:
        with self._lock:
            speed = self.profile.speed_mps
            for start, v in self.speeds:
                if start <= t_s:
                    speed = v
            return speed

    def gait_at(self, t_s: float) -> tuple[float, float]:
        """(contact time ms, cadence steps/min) at ``t_s``."""
        p = self.profile
        v = self.speed_at(t_s)
        return p.gct_ms * (p.speed_mps / v) ** 0.7, p.cadence_spm + 8.0 * (v - p.speed_mps)

    def steps_until(self, t_s: float) -> list[TrueStep]:
        # Generate only up to t_s (no look-ahead), so a speed change applies at once.
        p = self.profile
        while self._next_ic_s < t_s:
            index = len(self._steps)
            side: Side = "left" if index % 2 == 0 else "right"
            gct_ms, cadence = self.gait_at(self._next_ic_s)
            step_s = 60.0 / cadence
            gct_s = gct_ms / 1000.0 * (1.0 + self._rng.normal(0.0, p.gct_cv_pct / 100.0))
            if side == "left":
                gct_s *= 1.0 + p.asymmetry_pct / 100.0
            gct_s = float(np.clip(gct_s, 0.08, 0.95 * 2 * step_s))
            peak_n = self.weight_n * p.peak_force_bw * (1.0 + self._rng.normal(0.0, 0.03))
            ic = self._next_ic_s
            self._steps.append(TrueStep(side, index, ic, ic + gct_s, float(peak_n)))
            self._next_ic_s = ic + step_s * (1.0 + self._rng.normal(0.0, p.step_cv_pct / 100.0))
        return [s for s in self._steps if s.ic_s < t_s]


# -- heel rises, heel drops, hops --------------------------------------------------------


FailMode = Literal["height", "pace", "support"]


@dataclass(frozen=True)
class HeelRiseBout:
    """``reps`` good heel rises on ``side`` from ``start_s``, then ``failed`` attempts."""

    side: Side
    start_s: float
    reps: int
    period_s: float = 2.0
    angle_deg: float = 30.0
    decline: float = 0.2
    """Share of the first amplitude lost by the last good repetition (fatigue)."""
    failed: int = 2
    fail_mode: FailMode = "height"
    fail_fraction: float = 0.3
    drop: bool = False
    """Heel drops: the angle dips below the start position instead of rising."""
    up_share: float = 0.5
    """Share of the movement spent rising (0.5: symmetric; 0.3: quick up, slow down)."""
    move_share: float = 0.8
    """Share of the repetition period spent moving (the rest: flat on the board)."""

    def rep_times(self) -> list[tuple[float, float, bool]]:
        """(start, amplitude in degrees, good?) for every repetition and attempt."""
        out = []
        for k in range(self.reps):
            frac = k / (self.reps - 1) if self.reps > 1 else 0.0
            out.append(
                (self.start_s + k * self.period_s, self.angle_deg * (1 - self.decline * frac), True)
            )
        t = self.start_s + self.reps * self.period_s
        for _ in range(self.failed):
            if self.fail_mode == "pace":
                t += 1.2 * self.period_s  # late: beyond the 50 % pace tolerance
                amp = self.angle_deg * (1 - self.decline)
            else:
                amp = self.angle_deg * (
                    self.fail_fraction if self.fail_mode == "height" else (1 - self.decline)
                )
            out.append((t, amp, False))
            t += self.period_s
        return out

    @property
    def end_s(self) -> float:
        reps = self.rep_times()
        return reps[-1][0] + self.period_s if reps else self.start_s


@dataclass(frozen=True)
class HopBout:
    """``hops`` single-leg hops (contact then flight) on ``side`` from ``start_s``; with
    ``drop_height_m`` a drop jump: a fall from the box, one contact and one rebound."""

    side: Side
    start_s: float
    hops: int
    contact_s: float = 0.18
    flight_s: float = 0.30
    drop_height_m: float | None = None

    def contacts(self) -> list[tuple[float, float, float]]:
        """(initial contact, toe-off, flight after) of each scored contact."""
        t = self.start_s + (
            math.sqrt(2.0 * self.drop_height_m / G0_MPS2) if self.drop_height_m else self.flight_s
        )
        out = []
        for _ in range(1 if self.drop_height_m else self.hops):
            out.append((t, t + self.contact_s, self.flight_s))
            t += self.contact_s + self.flight_s
        return out

    @property
    def end_s(self) -> float:
        """When the final landing begins (the athlete stands from then on)."""
        c = self.contacts()
        return c[-1][1] + c[-1][2]


Bout = HeelRiseBout | HopBout


@dataclass
class CalfTaskSimulator(GaitSimulator):
    """Standing still on both feet, except during bouts of heel rises or hops.

    During a bout the test foot carries the whole body weight (the other foot is off
    the ground); in a heel-rise bout's ``support`` failures the insole carries only 60 %.
    """

    foot_length_m: float = 0.26
    gyro_bias_dps: float = 0.4
    gyro_noise_dps: float = 0.5
    bouts: list[Bout] = field(default_factory=list)
    _lock: threading.Lock = field(init=False, repr=False, default_factory=threading.Lock)

    def add(self, bout: Bout) -> None:
        with self._lock:
            self.bouts.append(bout)

    def _bouts(self) -> list[Bout]:
        with self._lock:
            return list(self.bouts)

    def true_heights_m(self, bout: HeelRiseBout) -> list[float]:
        lever = MTP_FRACTION * self.foot_length_m
        return [lever * math.sin(math.radians(a)) for _, a, good in bout.rep_times() if good]

    def insole(self, side: Side, t_s: npt.NDArray[np.float64]) -> tuple[F64, F64, F64]:
        t = np.asarray(t_s, dtype=np.float64)
        w = self.weight_n
        total = np.full(t.size, 0.5 * w)
        theta = np.zeros(t.size)
        dtheta = np.zeros(t.size)
        forefoot = np.zeros(t.size)
        for bout in self._bouts():
            if isinstance(bout, HeelRiseBout):
                self._heel_rise(bout, side, t, total, theta, dtheta)
            else:
                self._hops(bout, side, t, total, forefoot)
        toes = np.clip(np.abs(theta) / HEEL_UNLOAD_DEG, 0.0, 1.0)
        toes = np.maximum(toes, forefoot)
        # heel drops: the heel hangs over the step edge, the forefoot carries the load
        cells = _cells(total, toes)
        rng = np.random.default_rng(
            abs(hash((self.profile.seed, side, float(t[0]) if t.size else 0))) % 2**32
        )
        gyr = np.zeros((t.size, 3))
        gyr[:, 1] = dtheta + self.gyro_bias_dps + rng.normal(0.0, self.gyro_noise_dps, t.size)
        rad = np.radians(theta)
        acc = np.zeros((t.size, 3))
        acc[:, 0] = -G0_MPS2 * np.sin(rad)
        acc[:, 2] = G0_MPS2 * np.cos(rad)
        return cells, acc, gyr

    def foot_imu(self, side: Side, t_s: npt.NDArray[np.float64]) -> tuple[F64, F64]:
        """Acceleration (n, 3) m/s² and angular rate (n, 3) °/s of a foot-top IMU, which
        pitches with the foot: the same signals as the insole's own IMU."""
        _, acc, gyr = self.insole(side, t_s)
        return acc, gyr

    def _heel_rise(
        self, bout: HeelRiseBout, side: Side, t: F64, total: F64, theta: F64, dtheta: F64
    ) -> None:
        inside = (t >= bout.start_s) & (t < bout.end_s)
        if not np.any(inside):
            return
        w = self.weight_n
        total[inside] = w if side == bout.side else 0.0
        if side != bout.side:
            return
        sign = -1.0 if bout.drop else 1.0
        move_s = bout.move_share * bout.period_s
        up_s = bout.up_share * move_s
        down_s = move_s - up_s
        for start, amp, good in bout.rep_times():
            # a half-cosine up over up_s, a half-cosine down over down_s
            u = (t - start) / up_s
            sel = (u >= 0.0) & (u < 1.0)
            theta[sel] += sign * amp * 0.5 * (1.0 - np.cos(np.pi * u[sel]))
            dtheta[sel] += sign * amp * 0.5 * np.pi / up_s * np.sin(np.pi * u[sel])
            d = (t - start - up_s) / down_s
            sel = (d >= 0.0) & (d < 1.0)
            theta[sel] += sign * amp * 0.5 * (1.0 + np.cos(np.pi * d[sel]))
            dtheta[sel] -= sign * amp * 0.5 * np.pi / down_s * np.sin(np.pi * d[sel])
            if not good and bout.fail_mode == "support":
                rep = (t >= start) & (t < start + bout.period_s)
                total[rep] = 0.6 * w

    def _hops(self, bout: HopBout, side: Side, t: F64, total: F64, forefoot: F64) -> None:
        inside = (t >= bout.start_s) & (t < bout.end_s)
        if not np.any(inside):
            return
        w = self.weight_n
        total[inside] = 0.0  # the other foot is off the ground; the test foot in the air
        if side != bout.side:
            return
        before = (t >= bout.start_s - 1.0) & (t < bout.start_s)
        total[before] = w  # standing on the test leg (or on the box) before take-off
        forefoot[inside] = 1.0
        for ic, to, flight in bout.contacts():
            c = (t >= ic) & (t < to)
            peak = w * (math.pi / 2.0) * (flight / (to - ic) + 1.0)
            total[c] = peak * np.sin(np.pi * (t[c] - ic) / (to - ic))
        after = (t >= bout.end_s) & (t < bout.end_s + 1.0)
        total[after] = w
