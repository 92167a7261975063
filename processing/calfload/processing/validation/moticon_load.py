"""Plantar-flexor moment and Achilles force from the centre of pressure (no cell map).

Two checks of the CoP lever path (``docs/load.md``, *Centre of pressure instead of cells*):

1. Simulated truth: the same simulated run analysed once with the open insole's 8 cell forces
   and once with only the summed force and the CoP computed from those cells. The quasi-static
   insole moment M = F × (x_CoP − x_ankle) (Hullfish TJ, Baxter JR (2019) "Novel instrumented
   insole algorithm accurately approximates plantar flexor loading", bioRxiv
   doi:10.1101/2019.12.20.885228) must come out the same on both paths.
2. Real Moticon OpenGo walking (``../shared/data/moticon_opengo_walking``; 16 pressure cells, so
   no cell map: the normalised CoP is the lever). No force plate or inverse dynamics exist for this
   file, so the check is plausibility against published walking magnitudes (science.md §4.3):
   peak ankle torque 1.72 N·m/kg at 1.34 m/s (shear-wave tensiometry study, PMC11096059) and
   peak Achilles force 2.7–3.95 BW (Demangeot Y et al. (2023) *Scand J Med Sci Sports*
   33(2):110–126, review; moment-arm methods varied).
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

import numpy as np

from calfload.bridge.simulator import CELL_XY_FRACTION, AthleteProfile, GaitSimulator
from calfload.processing.analyze import analyze
from calfload.processing.athlete import DEFAULT_FOOT_LENGTH_M
from calfload.processing.io.moticon import read_moticon
from calfload.processing.io.recording import Recording, SideSignals
from calfload.processing.load import cop_x_from_cells
from calfload.processing.validation import Section

ORDER: Final = 41
FILE: Final = Path("moticon_opengo_walking") / "230927_102114.txt.gz"
STANDING_FORCE_N: Final = 810.0  # summed force while standing (data README) → body mass
#: Plausible walking ranges: ±35 % around the published values (no per-subject truth here).
MOMENT_NM_KG_RANGE: Final = (1.72 * 0.65, 1.72 * 1.35)
ACHILLES_BW_RANGE: Final = (2.7 * 0.8, 3.95 * 1.35)
#: CoP-only vs cells on the same samples: only the output rounding may differ.
EQUAL_REL: Final = 1e-3


def simulated_pair(seconds: float = 30.0) -> tuple[Recording, Recording]:
    """One simulated run with the 8 cells, and the same with only force + CoP."""
    sim = GaitSimulator(AthleteProfile("v", "V", body_mass_kg=70.0, seed=11))
    t = np.arange(0.0, seconds, 0.01)
    x_m = CELL_XY_FRACTION[:, 0] * DEFAULT_FOOT_LENGTH_M
    cells_sides: dict[str, SideSignals] = {}
    cop_sides: dict[str, SideSignals] = {}
    for side in ("left", "right"):
        cells = sim.insole(side, t)[0]
        force = cells.sum(axis=1)
        cells_sides[side] = SideSignals(force_n=force, cell_force_n=cells)
        cop_sides[side] = SideSignals(force_n=force, cop_x_m=cop_x_from_cells(cells, x_m))
    meta = {"body_mass_kg": "70"}
    return (
        Recording(t, 100.0, cells_sides, meta),  # type: ignore[arg-type]
        Recording(t, 100.0, cop_sides, meta),  # type: ignore[arg-type]
    )


def run(data_dir: Path) -> Section:
    rec_cells, rec_cop = simulated_pair()
    a = {(s.side, s.step_index): s.pf_moment_nm for s in analyze(rec_cells).steps}
    b = {(s.side, s.step_index): s.pf_moment_nm for s in analyze(rec_cop).steps}
    rel = [abs((b[k] or 0.0) - v) / v for k, v in a.items() if v and k in b and b[k] is not None]
    sim_ok = len(rel) == len(a) == len(b) > 0 and max(rel) <= EQUAL_REL
    rec = read_moticon(data_dir / FILE)
    mass = STANDING_FORCE_N / 9.80665
    steps = analyze(rec, body_mass_kg=mass).steps
    m = np.array([s.pf_moment_nm_kg for s in steps if s.pf_moment_nm_kg is not None])
    at = np.array([s.achilles_force_bw for s in steps if s.achilles_force_bw is not None])
    real_ok = (
        len(m) == len(at) == len(steps) > 0
        and MOMENT_NM_KG_RANGE[0] < float(np.median(m)) < MOMENT_NM_KG_RANGE[1]
        and ACHILLES_BW_RANGE[0] < float(np.median(at)) < ACHILLES_BW_RANGE[1]
    )
    md = f"""Target: on simulated data, the CoP-only path gives the cell path's peak moment on
every step (relative difference ≤ {EQUAL_REL:g}, the output rounding); on the real Moticon
walking file every step gets a moment and Achilles force, with medians within ±35 % of the
published walking values (1.72 N·m/kg; 2.7–3.95 BW, upper end +35 % for the default 4 cm
moment arm).

| check | result |
|---|---|
| simulated steps (cells / CoP only) | {len(a)} / {len(b)} |
| largest relative moment difference | {max(rel) if rel else float("nan"):.2e} |
| Moticon steps with a moment / all | {len(m)} / {len(steps)} |
| peak PF moment, N·m/kg: median (range) | {np.median(m):.2f} ({m.min():.2f}–{m.max():.2f}) |
| peak Achilles force, BW: median (range) | {np.median(at):.2f} ({at.min():.2f}–{at.max():.2f}) |

Body mass {mass:.1f} kg from the standing force, insole = default foot length
{DEFAULT_FOOT_LENGTH_M:.3f} m (Moticon's `Size` header is not mapped), moment arm
4 cm × foot / 0.263 m. The moment is close to the published walking torque; the Achilles
force sits at the high end of the review's walking range, as expected from a fixed 4 cm
moment arm (a ±1 cm arm changes it by ~25 %, science.md §4.3). Without inverse dynamics on
this file this bounds plausibility, not accuracy."""
    return Section(
        "Load from the centre of pressure (simulated; Moticon walking)",
        md,
        {
            "sim_max_rel_diff": max(rel) if rel else float("nan"),
            "moticon_moment_nm_kg_median": float(np.median(m)) if m.size else float("nan"),
            "moticon_achilles_bw_median": float(np.median(at)) if at.size else float("nan"),
        },
        passed=sim_ok and real_ok,
    )
