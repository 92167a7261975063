"""Repeated hopping and drop jumps from one insole: contact and flight time, jump height
and reactive strength index. Pure numpy.

* Contacts: the insole force crossing :data:`CONTACT_LEVEL_N` (40 N, the force-plate
  reference of Blades et al. (2023) "Evaluation of different pressure-based foot contact
  event detection algorithms across different slopes and speeds", *Sensors* 23(5):2736),
  interpolated between samples; contacts shorter than 60 ms are dropped as ripple; never
  across a data gap. A fixed level rather than the running detector: a hop test is
  standing, hopping and landing, not the gait the running detector is tuned for.
* Jump height from flight time, h = g t_f² / 8 (Bosco C, Luhtanen P, Komi PV (1983) "A
  simple method for measurement of mechanical power in jumping", *Eur J Appl Physiol*
  50:273–282); assumes take-off and landing in the same posture.
* Reactive strength index RSI = jump height / contact time (m/s) (Young W (1995)
  "Laboratory strength assessment of athletes", *New Studies in Athletics* 10:89–96;
  Flanagan EP, Comyns TM (2008) *Strength Cond J* 30(5):32–38).
* A scored hop is a contact of at most :data:`MAX_HOP_CONTACT_S` followed by a flight
  of :data:`MIN_FLIGHT_S`–:data:`MAX_FLIGHT_S`. In repeated hopping every such contact
  counts; in a drop jump, the landing contact after the drop and its rebound.
* Symmetry: the limb symmetry index of the hop-test batteries (science.md §5.3).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

import numpy as np
import numpy.typing as npt

from calfload.bridge.messages import Side
from calfload.processing.protocols.results import Hop, HopMetrics
from calfload.processing.protocols.samples import SideSamples, segments

F64 = npt.NDArray[np.float64]
G0_MPS2: Final = 9.80665
MIN_FLIGHT_S: Final = 0.05
MAX_FLIGHT_S: Final = 1.2
MAX_HOP_CONTACT_S: Final = 0.8
CONTACT_LEVEL_N: Final = 40.0
MIN_CONTACT_S: Final = 0.06


def jump_height_m(flight_s: float) -> float:
    """Bosco et al. (1983): h = g t² / 8."""
    return G0_MPS2 * flight_s * flight_s / 8.0


@dataclass(frozen=True, slots=True)
class HopContact:
    """One foot contact of the hop test (seconds on the session clock)."""

    ic_s: float
    to_s: float


def _crossings(s: SideSamples, rising: bool) -> list[F64]:
    """Per data segment, the interpolated times where the force crosses
    :data:`CONTACT_LEVEL_N` upwards (``rising``) or downwards."""
    out: list[F64] = []
    if s.force_n is None:
        return out
    level = CONTACT_LEVEL_N
    for seg in segments(s.t_s, s.fs_hz):
        t, f = s.t_s[seg], s.force_n[seg]
        if rising:
            i = np.flatnonzero((f[:-1] < level) & (f[1:] >= level)) + 1
        else:
            i = np.flatnonzero((f[:-1] >= level) & (f[1:] < level)) + 1
        frac = (level - f[i - 1]) / (f[i] - f[i - 1])
        out.append(t[i - 1] + frac * (t[i] - t[i - 1]))
    return out


def landings(s: SideSamples) -> F64:
    """Every initial contact: of the closed contacts, and of a contact still open when its
    data segment ends (a final landing into standing); ripple blips are not landings."""
    out = [c.ic_s for c in contacts(s)]
    for ups, downs in zip(_crossings(s, True), _crossings(s, False), strict=True):
        if ups.size and (downs.size == 0 or ups[-1] > downs[-1]):
            out.append(float(ups[-1]))
    return np.sort(np.asarray(out, dtype=np.float64))


def contacts(s: SideSamples) -> list[HopContact]:
    """Closed contacts: an upward crossing and the next downward one in the same data
    segment, at least :data:`MIN_CONTACT_S` long (shorter blips are ripple)."""
    out: dict[float, HopContact] = {}
    for ups, downs in zip(_crossings(s, True), _crossings(s, False), strict=True):
        for ic in ups:
            later = downs[downs > ic]
            if later.size and later[0] - ic >= MIN_CONTACT_S:
                # a ripple just after touchdown adds a second upward crossing: keep the first
                out.setdefault(float(later[0]), HopContact(float(ic), float(later[0])))
    return sorted(out.values(), key=lambda c: c.ic_s)


def score_hops(s: SideSamples, side: Side, task: Literal["hop", "drop-jump"]) -> HopMetrics:
    cs = contacts(s)
    ups = landings(s)  # recomputes the contacts: cheap next to the I/O around it
    hops: list[Hop] = []
    for c in cs:
        later = ups[ups > c.to_s]
        if later.size == 0:
            continue
        flight = float(later[0]) - c.to_s
        if (c.to_s - c.ic_s) > MAX_HOP_CONTACT_S:
            continue
        if not MIN_FLIGHT_S <= flight <= MAX_FLIGHT_S:
            continue
        contact_s = c.to_s - c.ic_s
        h = jump_height_m(flight)
        hops.append(
            Hop(
                ic_s=round(c.ic_s, 4),
                to_s=round(c.to_s, 4),
                contact_ms=round(1000.0 * contact_s, 2),
                flight_ms=round(1000.0 * flight, 2),
                height_m=round(h, 4),
                rsi=round(h / contact_s, 3),
            )
        )

    def mean(name: str) -> float | None:
        vals = [getattr(h, name) for h in hops if getattr(h, name) is not None]
        return round(float(np.mean(vals)), 4) if vals else None

    return HopMetrics(
        side=side,
        task=task,
        hops=len(hops),
        contact_ms=mean("contact_ms"),
        flight_ms=mean("flight_ms"),
        height_m=mean("height_m"),
        rsi=mean("rsi"),
        hop_list=hops,
    )
