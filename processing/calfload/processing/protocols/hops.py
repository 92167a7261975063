"""Repeated hopping and drop jumps from one insole: contact and flight time, jump height
and reactive strength index. Pure numpy.

* Contacts: the project's insole contact detector (:mod:`calfload.processing.events`,
  Blades et al. 2023 threshold family, 40 N reference), split at data gaps.
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

from typing import Final, Literal

import numpy as np
import numpy.typing as npt

from calfload.bridge.messages import Side
from calfload.processing.events import Contact, ContactParams, InsoleContactDetector
from calfload.processing.protocols.results import Hop, HopMetrics
from calfload.processing.protocols.samples import SideSamples, segments

F64 = npt.NDArray[np.float64]
G0_MPS2: Final = 9.80665
MIN_FLIGHT_S: Final = 0.05
MAX_FLIGHT_S: Final = 1.2
MAX_HOP_CONTACT_S: Final = 0.8
HOP_PARAMS: Final = ContactParams(min_contact_ms=60.0, max_contact_ms=1500.0)


def jump_height_m(flight_s: float) -> float:
    """Bosco et al. (1983): h = g t² / 8."""
    return G0_MPS2 * flight_s * flight_s / 8.0


def contacts(s: SideSamples) -> list[Contact]:
    """All contacts (steps and standing) in the samples, never across a gap."""
    if s.force_n is None:
        return []
    out: list[Contact] = []
    for seg in segments(s.t_s, s.fs_hz):
        det = InsoleContactDetector(HOP_PARAMS)
        out.extend(det.feed(float(s.t_s[seg][0]), s.fs_hz, s.force_n[seg]))
    return out


def landings(s: SideSamples) -> F64:
    """Times where the force rises through the detector's ``off_n`` level (interpolated):
    every initial contact, also of a contact still open when the data end."""
    if s.force_n is None:
        return np.zeros(0)
    level = HOP_PARAMS.off_n
    out = []
    for seg in segments(s.t_s, s.fs_hz):
        t, f = s.t_s[seg], s.force_n[seg]
        i = np.flatnonzero((f[:-1] < level) & (f[1:] >= level)) + 1
        frac = (level - f[i - 1]) / (f[i] - f[i - 1])
        out.append(t[i - 1] + frac * (t[i] - t[i - 1]))
    return np.concatenate(out) if out else np.zeros(0)


def score_hops(s: SideSamples, side: Side, task: Literal["hop", "drop-jump"]) -> HopMetrics:
    cs = contacts(s)
    ups = landings(s)
    hops: list[Hop] = []
    for c in cs:
        later = ups[ups > c.to_s]
        if later.size == 0:
            continue
        flight = float(later[0]) - c.to_s
        if c.kind != "step" or (c.to_s - c.ic_s) > MAX_HOP_CONTACT_S:
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
