"""Sync jumps: both feet leave the ground, then land together with a large peak.

A lab asks the athlete to jump (two feet) at the start and the end of a recording; the
landing is a sharp, simultaneous rise of both insoles that a force plate or motion
capture sees too, so the two recordings can be lined up (and their clock drift read from
the two jumps). The rule follows the flight-time method of jump analysis (Linthorne N.P.,
2001, "Analysis of standing vertical jumps using a force platform", American Journal of
Physics 69(11):1198–1204): take-off and landing are the instants the vertical force leaves
and regains the unloaded level. Here, per foot, force below :data:`UNLOADED_BW` of body
weight is "off", above :data:`LOADED_BW` "on" (hysteresis); a jump is

* both feet off together for at least :data:`MIN_FLIGHT_S` (running flight is shorter, and
  in running only one foot lands),
* both feet landing within :data:`MAX_LANDING_SPREAD_S` of each other, and
* the two feet's peaks within :data:`PEAK_WINDOW_S` after landing adding up to at least
  :data:`MIN_PEAK_BW` body weights.

Pure: fed samples, returns :class:`Jump` s. Times are those of the samples (session clock).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Final

import numpy as np
import numpy.typing as npt

UNLOADED_BW: Final = 0.05
LOADED_BW: Final = 0.15
MIN_FLIGHT_S: Final = 0.2
MAX_FLIGHT_S: Final = 1.5
MAX_LANDING_SPREAD_S: Final = 0.08
PEAK_WINDOW_S: Final = 0.3
MIN_PEAK_BW: Final = 1.5
DEFAULT_WEIGHT_N: Final = 700.0


@dataclass(frozen=True)
class Jump:
    landing_s: float
    """The first foot's landing: the sync instant."""
    takeoff_s: float
    """The last foot's take-off."""
    flight_ms: float
    peak_bw: float
    landing_left_s: float
    landing_right_s: float


@dataclass
class _Landing:
    takeoff_s: float
    land_s: float
    peak_n: float
    used: bool = False


@dataclass
class _Foot:
    on: bool | None = None
    takeoff_s: float | None = None
    pending: _Landing | None = None
    landings: deque[_Landing] = field(default_factory=lambda: deque(maxlen=4))
    last_t_s: float = -np.inf


@dataclass
class JumpDetector:
    """Streams both feet's insole force; :meth:`feed` returns jumps as they complete."""

    weight_n: float = DEFAULT_WEIGHT_N
    feet: dict[str, _Foot] = field(default_factory=lambda: {"left": _Foot(), "right": _Foot()})

    def feed(
        self, side: str, t_s: npt.NDArray[np.float64], force_n: npt.NDArray[np.float64]
    ) -> list[Jump]:
        foot = self.feet.get(side)
        if foot is None:
            return []
        off_n, on_n = UNLOADED_BW * self.weight_n, LOADED_BW * self.weight_n
        out: list[Jump] = []
        for t, f in zip(t_s.tolist(), force_n.tolist(), strict=True):
            if t <= foot.last_t_s or not np.isfinite(f):
                continue
            if t - foot.last_t_s > 0.1:  # a gap: forget the state, never bridge it
                foot.on, foot.takeoff_s, foot.pending = None, None, None
            foot.last_t_s = t
            p = foot.pending
            if p is not None:
                if t - p.land_s <= PEAK_WINDOW_S:
                    p.peak_n = max(p.peak_n, f)
                else:
                    foot.pending = None
                    foot.landings.append(p)
                    out += self._pair(side, p)
            if foot.on is None:
                foot.on = f > on_n if (f > on_n or f < off_n) else None
                continue
            if foot.on and f < off_n:
                foot.on, foot.takeoff_s = False, t
            elif not foot.on and f > on_n:
                foot.on = True
                if foot.takeoff_s is not None and t - foot.takeoff_s <= MAX_FLIGHT_S:
                    foot.pending = _Landing(foot.takeoff_s, t, f)
        return out

    def _pair(self, side: str, mine: _Landing) -> list[Jump]:
        other = self.feet["right" if side == "left" else "left"]
        for theirs in other.landings:
            if theirs.used or abs(theirs.land_s - mine.land_s) > MAX_LANDING_SPREAD_S:
                continue
            takeoff = max(theirs.takeoff_s, mine.takeoff_s)
            landing = min(theirs.land_s, mine.land_s)
            peak_bw = (theirs.peak_n + mine.peak_n) / self.weight_n
            if landing - takeoff < MIN_FLIGHT_S or peak_bw < MIN_PEAK_BW:
                continue
            theirs.used = mine.used = True
            left, right = (mine, theirs) if side == "left" else (theirs, mine)
            return [
                Jump(
                    landing_s=landing,
                    takeoff_s=takeoff,
                    flight_ms=round((landing - takeoff) * 1000.0, 1),
                    peak_bw=round(peak_bw, 3),
                    landing_left_s=left.land_s,
                    landing_right_s=right.land_s,
                )
            ]
        return []
