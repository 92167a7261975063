"""Validation: per-cell insole calibration (``calfload.bridge.calibration``).

1. Simulated DIY insoles with known per-cell gains and zeros, loaded by the
   hardware.md protocol (feet lifted, one foot, both feet, +10 kg): the fit must
   recover every gain within 1 %.
2. The real Moticon OpenGo walking export (``moticon_opengo_walking``): its total
   force is the vendor's own combination of its 16 cells' pressures, so fitting
   per-cell gains (the cells' effective areas) against it, with swing samples as
   the unloaded trial, must reproduce it within 0.5 % of the peak load.

Method: linear least squares (Lawson CL, Hanson RJ, 1974, *Solving Least Squares
Problems*, Prentice-Hall), see the module under test.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from calfload.bridge.calibration import CalibrationTrial, fit_cell_calibration
from calfload.bridge.virtual.moticon_udp_sender import samples_from_text_export
from calfload.processing.validation import Section

ORDER = 60
SIM_GAIN_TOL_PCT = 1.0
REAL_RMS_TOL_PCT_OF_PEAK = 0.5
N_CELLS = 8
G0 = 9.80665


def _signals(
    rng: np.random.Generator, gain: np.ndarray, zero: np.ndarray, loads: np.ndarray
) -> np.ndarray:
    share = rng.dirichlet(np.full(len(gain), 0.6), size=len(loads))
    noise = rng.normal(0.0, 0.05, (len(loads), len(gain)))
    out: np.ndarray = zero + share * loads[:, None] / gain + noise
    return out


def simulated_gain_error_pct(seed: int = 3, body_mass_kg: float = 72.0) -> float:
    """Largest relative gain error (%) over both simulated insoles."""
    rng = np.random.default_rng(seed)
    sides = ("left", "right")
    gains = {s: rng.uniform(0.3, 3.0, N_CELLS) for s in sides}
    zeros = {s: rng.uniform(0.0, 40.0, N_CELLS) for s in sides}
    bw = body_mass_kg * G0
    trials = []
    for side, other in (("left", "right"), ("right", "left")):
        trials.append(
            CalibrationTrial(
                f"{side} lifted",
                0.0,
                {side: _signals(rng, gains[side], zeros[side], np.zeros(400))},
            )
        )
        trials.append(
            CalibrationTrial(
                f"on {other}",
                bw,
                {other: _signals(rng, gains[other], zeros[other], np.full(400, bw))},
            )
        )
        heavy = bw + 10.0 * G0
        trials.append(
            CalibrationTrial(
                f"on {other} + 10 kg",
                heavy,
                {other: _signals(rng, gains[other], zeros[other], np.full(300, heavy))},
            )
        )
    split = rng.uniform(0.3, 0.7, 600)
    trials.append(
        CalibrationTrial(
            "both feet",
            bw,
            {
                "left": _signals(rng, gains["left"], zeros["left"], bw * split),
                "right": _signals(rng, gains["right"], zeros["right"], bw * (1 - split)),
            },
        )
    )
    fits = fit_cell_calibration(trials)
    return float(max(np.max(np.abs(fits[s].gain_n_per_unit / gains[s] - 1.0)) * 100 for s in sides))


def moticon_total_force_rms(data_dir: Path) -> dict[str, float]:
    """Fit the Moticon export's cells to its total force; RMS error per side and the peak."""
    samples = samples_from_text_export(data_dir / "moticon_opengo_walking" / "230927_102114.txt.gz")
    out: dict[str, float] = {}
    peak = 0.0
    for side in ("left", "right"):
        rows = [
            (s.feet[side].pressure_ncm2, s.feet[side].total_force_n)
            for s in samples
            if s.feet[side].pressure_ncm2 is not None and s.feet[side].total_force_n is not None
        ]
        cells = np.array([r[0] for r in rows], dtype=np.float64)
        force = np.array([r[1] for r in rows], dtype=np.float64)
        fit = fit_cell_calibration(
            [
                CalibrationTrial("swing", 0.0, {side: cells[force == 0]}),
                CalibrationTrial("stance", force[force > 0], {side: cells[force > 0]}),
            ]
        )[side]
        error = fit.force_n(cells).sum(axis=1) - force
        out[f"{side}_rms_n"] = float(np.sqrt(np.mean(error**2)))
        out[f"{side}_samples"] = float(len(force))
        peak = max(peak, float(force.max()))
    out["peak_n"] = peak
    return out


def run(data_dir: Path) -> Section:
    sim_pct = simulated_gain_error_pct()
    real = moticon_total_force_rms(data_dir)
    worst_pct = 100 * max(real["left_rms_n"], real["right_rms_n"]) / real["peak_n"]
    passed = sim_pct < SIM_GAIN_TOL_PCT and worst_pct < REAL_RMS_TOL_PCT_OF_PEAK
    markdown = (
        f"Simulated DIY insoles (8 cells each, hardware.md protocol): largest per-cell gain error "
        f"**{sim_pct:.2f} %** (target < {SIM_GAIN_TOL_PCT:g} %).\n\n"
        "Real Moticon OpenGo walking export, 16 cells per insole fitted to the vendor's total "
        f"force "
        f"({real['left_samples']:.0f} left / {real['right_samples']:.0f} right samples, peak "
        f"{real['peak_n']:.0f} N): RMS error left **{real['left_rms_n']:.2f} N**, right "
        f"**{real['right_rms_n']:.2f} N** = {worst_pct:.3f} % of peak "
        f"(target < {REAL_RMS_TOL_PCT_OF_PEAK:g} %).\n\n"
        "Not covered: a physical DIY insole (FSR non-linearity, creep, loads above one body "
        "weight)."
    )
    return Section(
        title="Insole per-cell calibration",
        markdown=markdown,
        metrics={"sim_gain_err_pct": sim_pct, "real_rms_pct_of_peak": worst_pct, **real},
        passed=passed,
    )
