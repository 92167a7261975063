"""Per-stage running metrics over a steady-state window. Pure.

The steady-state window of a stage is its last ``steady_last_s`` seconds (default the
second half): after a speed change, contact time and cadence settle within a few
strides, and validation studies analyse a fixed late part of each trial (Fukuchi 2017:
30 s trials; Blades 2023: 50 s analysed per trial; science.md §5.4). Steps whose
initial contact falls inside the window are used. Cadence is 60 / the median interval
between consecutive initial contacts of either foot; per-side means of the step
metrics; symmetry index of Robinson RO, Herzog W, Nigg BM (1987) *J Manipulative
Physiol Ther* 10(4):172–176 (:func:`calfload.processing.session.symmetry_pct`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import numpy as np

from calfload.processing.messages import StepMessage
from calfload.processing.protocols.results import RunMetrics, RunSide
from calfload.processing.session import symmetry_pct

SIDE_METRICS: Final = (
    "gct_ms",
    "flight_ms",
    "peak_force_bw",
    "push_off_impulse_ns",
    "forefoot_peak_n",
    "achilles_force_bw",
    "achilles_impulse_ns",
)


def _side(steps: Sequence[StepMessage]) -> RunSide:
    def mean(name: str) -> float | None:
        vals = [v for s in steps if (v := getattr(s, name)) is not None]
        return round(float(np.mean(vals)), 3) if vals else None

    gct = [s.gct_ms for s in steps]
    return RunSide(
        steps=len(steps),
        gct_ms_sd=round(float(np.std(gct, ddof=1)), 3) if len(gct) > 1 else None,
        **{name: mean(name) for name in SIDE_METRICS},
    )


def score_run(
    steps: Sequence[StepMessage],
    *,
    window_start_s: float,
    window_end_s: float,
    speed_mps: float | None,
    slope_deg: float = 0.0,
) -> RunMetrics:
    """Metrics of the steps whose initial contact lies in ``[window_start_s, window_end_s)``."""
    inside = sorted(
        (s for s in steps if window_start_s <= s.ic_s < window_end_s), key=lambda s: s.ic_s
    )
    ic = np.array([s.ic_s for s in inside])
    cadence = None
    if ic.size >= 3:
        d = np.diff(ic)
        d = d[(d > 0) & (d <= 2.0)]
        if d.size:
            cadence = round(60.0 / float(np.median(d)), 2)
    left = _side([s for s in inside if s.side == "left"])
    right = _side([s for s in inside if s.side == "right"])
    sym = {}
    for name in SIDE_METRICS:
        v = symmetry_pct(getattr(left, name), getattr(right, name))
        sym[name] = None if v is None else round(v, 2)
    return RunMetrics(
        speed_mps=speed_mps,
        slope_deg=slope_deg,
        window_start_s=round(window_start_s, 4),
        window_end_s=round(window_end_s, 4),
        steps=len(inside),
        cadence_spm=cadence,
        left=left,
        right=right,
        symmetry_pct=sym,
    )
