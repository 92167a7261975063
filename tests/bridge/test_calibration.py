"""Per-cell insole calibration: simulated cells with known gains, real Moticon data, bad data."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from calfload.bridge.calibration import (
    CalibrationError,
    CalibrationTrial,
    c_header,
    fit_cell_calibration,
)

N_CELLS = 8
BODY_MASS_KG = 72.0
G0 = 9.80665


def _simulated_insole(
    rng: np.random.Generator, gain: np.ndarray, zero: np.ndarray, loads_n: np.ndarray
) -> np.ndarray:
    """Cell signals for per-sample total loads, spread over the cells by a shifting weight."""
    n = len(loads_n)
    share = rng.dirichlet(np.full(N_CELLS, 0.6), size=n)  # where the weight sits, sample by sample
    force = share * loads_n[:, None]
    return zero + force / gain + rng.normal(0.0, 0.05, (n, N_CELLS))


def _protocol(rng: np.random.Generator, gains: dict[str, np.ndarray], zeros: dict[str, np.ndarray]):
    """hardware.md procedure: each foot lifted, each foot alone, both feet, a 10 kg pack."""
    bw = BODY_MASS_KG * G0
    trials = []
    for side in ("left", "right"):
        other = "right" if side == "left" else "left"
        n = 400
        trials.append(
            CalibrationTrial(
                f"{side} lifted",
                0.0,
                {side: _simulated_insole(rng, gains[side], zeros[side], np.zeros(n))},
            )
        )
        trials.append(
            CalibrationTrial(
                f"on {other} foot",
                bw,
                {other: _simulated_insole(rng, gains[other], zeros[other], np.full(n, bw))},
            )
        )
    n = 600
    split = rng.uniform(0.3, 0.7, n)  # the left/right split is unknown to the fit
    trials.append(
        CalibrationTrial(
            "both feet",
            bw,
            {
                "left": _simulated_insole(rng, gains["left"], zeros["left"], bw * split),
                "right": _simulated_insole(rng, gains["right"], zeros["right"], bw * (1 - split)),
            },
        )
    )
    pack = (BODY_MASS_KG + 10.0) * G0
    trials.append(
        CalibrationTrial(
            "left foot + 10 kg",
            pack,
            {"left": _simulated_insole(rng, gains["left"], zeros["left"], np.full(400, pack))},
        )
    )
    return trials


def test_recovers_known_gains_and_zeros_of_simulated_cells() -> None:
    rng = np.random.default_rng(3)
    gains = {s: rng.uniform(0.3, 3.0, N_CELLS) for s in ("left", "right")}  # N per µS
    zeros = {s: rng.uniform(0.0, 40.0, N_CELLS) for s in ("left", "right")}  # µS
    result = fit_cell_calibration(_protocol(rng, gains, zeros))
    assert set(result) == {"left", "right"}
    for side in ("left", "right"):
        np.testing.assert_allclose(result[side].gain_n_per_unit, gains[side], rtol=0.01)
        np.testing.assert_allclose(result[side].zero, zeros[side], atol=0.05)
    # applying the calibration gives back the body weight on one foot within 1 %
    bw = BODY_MASS_KG * G0
    signal = _simulated_insole(rng, gains["left"], zeros["left"], np.full(200, bw))
    total = result["left"].force_n(signal).sum(axis=1)
    assert abs(total.mean() - bw) < 0.01 * bw
    header = c_header(result["left"])
    assert "INSOLE_CAL_GAIN_N_PER_US {" in header and header.count(",") >= 2 * (N_CELLS - 1)


def test_real_moticon_cells_reproduce_the_vendor_total_force(shared_data: Path) -> None:
    """The export's total force is the vendor's own sum over its 16 cells; the fit must find it.

    Swing samples (total force 0) are the unloaded trial; the loaded samples carry the
    vendor's total force as a per-sample known load, once per foot and once for both feet
    together (as when standing on both insoles with a known body weight).
    """
    path = shared_data / "moticon_opengo_walking" / "230927_102114.txt.gz"
    with gzip.open(path, "rt", encoding="utf-8") as f:
        lines = f.read().splitlines()
    names = [ln for ln in lines if ln.startswith("#")][-1][2:].split("\t")
    data = np.genfromtxt([ln for ln in lines if not ln.startswith("#")], delimiter="\t")
    cells, force = {}, {}
    for side in ("left", "right"):
        cols = [i for i, c in enumerate(names) if c.startswith(f"{side} pressure ")]
        cells[side] = data[:, cols]
        force[side] = data[:, names.index(f"{side} total force[N]")]
    both = np.isfinite(force["left"]) & np.isfinite(force["right"])
    trials = [
        CalibrationTrial(f"{s} swing", 0.0, {s: cells[s][both & (force[s] == 0)]})
        for s in ("left", "right")
    ]
    for s in ("left", "right"):
        loaded = both & (force[s] > 0)
        trials.append(CalibrationTrial(f"{s} stance", force[s][loaded], {s: cells[s][loaded]}))
    standing = both & (force["left"] > 0) & (force["right"] > 0)
    trials.append(
        CalibrationTrial(
            "double support",
            force["left"][standing] + force["right"][standing],
            {s: cells[s][standing] for s in ("left", "right")},
        )
    )
    result = fit_cell_calibration(trials)
    peak = float(np.nanmax(force["left"]))
    assert peak > 500
    for side in ("left", "right"):
        cal = result[side]
        # The gains are the cells' effective areas in cm² (pressure in N/cm²): all plausible.
        assert np.all((cal.gain_n_per_unit > 2.0) & (cal.gain_n_per_unit < 40.0))
        ok = both & np.isfinite(cells[side]).all(axis=1)
        total = cal.force_n(cells[side][ok]).sum(axis=1)
        rms = float(np.sqrt(np.mean((total - force[side][ok]) ** 2)))
        assert rms < 0.005 * peak  # below 0.5 % of the peak load (measured: about 0.3 N of 1008 N)
    assert result["left"].residual_rms_n < 0.005 * peak


def _simple_trials(rng: np.random.Generator) -> list[CalibrationTrial]:
    gains = {"left": np.linspace(0.5, 2.0, N_CELLS), "right": np.ones(N_CELLS)}
    zeros = {"left": np.zeros(N_CELLS), "right": np.zeros(N_CELLS)}
    return _protocol(rng, gains, zeros)


def test_missing_unloaded_trial_is_a_clear_error() -> None:
    trials = [t for t in _simple_trials(np.random.default_rng(1)) if t.label != "left lifted"]
    with pytest.raises(CalibrationError, match="'left' has no unloaded trial"):
        fit_cell_calibration(trials)


def test_a_cell_that_was_never_loaded_is_named() -> None:
    rng = np.random.default_rng(2)
    trials = _simple_trials(rng)
    dead = []
    for t in trials:
        cells = {s: a.copy() for s, a in t.cells.items()}
        if "left" in cells:
            cells["left"][:, 6] = rng.normal(0.0, 0.05, len(cells["left"]))  # hallux never pressed
        dead.append(CalibrationTrial(t.label, t.load_n, cells))
    with pytest.raises(CalibrationError, match="cell 6 of insole 'left' was never loaded"):
        fit_cell_calibration(dead)


def test_cells_that_always_move_together_cannot_be_separated() -> None:
    rng = np.random.default_rng(4)
    bw = BODY_MASS_KG * G0
    share = np.full(N_CELLS, 1.0 / N_CELLS)  # the weight never shifts
    loaded = share * bw * rng.uniform(0.9, 1.1, (500, 1))
    trials = [
        CalibrationTrial("lifted", 0.0, {"left": rng.normal(0.0, 0.05, (300, N_CELLS))}),
        CalibrationTrial("standing", loaded.sum(axis=1), {"left": loaded}),
    ]
    with pytest.raises(CalibrationError, match="cannot be told apart"):
        fit_cell_calibration(trials)


@pytest.mark.parametrize(
    ("trials", "message"),
    [
        ([], "no calibration trials"),
        ([CalibrationTrial("x", 0.0, {})], "lists no insole"),
        ([CalibrationTrial("x", 0.0, {"left": np.full((5, 2), np.nan)})], "non-finite"),
        ([CalibrationTrial("x", -1.0, {"left": np.zeros((5, 2))})], "finite number of newtons"),
        (
            [
                CalibrationTrial("a", 0.0, {"left": np.zeros((5, 2))}),
                CalibrationTrial("b", 10.0, {"left": np.zeros((5, 3))}),
            ],
            "has 3 cells, other trials have 2",
        ),
        ([CalibrationTrial("lifted", 0.0, {"left": np.zeros((50, 2))})], "no loaded trial"),
        (
            [
                CalibrationTrial("lifted", 0.0, {"left": np.zeros((50, 2))}),
                CalibrationTrial("short", 700.0, {"left": np.ones((3, 2))}),
            ],
            "record longer trials",
        ),
    ],
)
def test_unusable_data_gives_one_clear_error(trials: list[CalibrationTrial], message: str) -> None:
    with pytest.raises(CalibrationError, match=message):
        fit_cell_calibration(trials)


def test_validation_check_meets_its_targets(shared_data: Path) -> None:
    """The docs/validation.md section: same code, same targets."""
    from calfload.processing.validation import insole_calibration

    section = insole_calibration.run(shared_data)
    assert section.passed, section.markdown
    assert section.metrics["sim_gain_err_pct"] < insole_calibration.SIM_GAIN_TOL_PCT
    assert section.metrics["real_rms_pct_of_peak"] < insole_calibration.REAL_RMS_TOL_PCT_OF_PEAK
    assert section.metrics["left_samples"] > 1500 and section.metrics["right_samples"] > 1500


def test_an_insole_with_few_loaded_samples_is_still_fitted() -> None:
    """Cells are judged on the trials of their own insole, not drowned by the other's samples."""
    rng = np.random.default_rng(8)
    gains = {"left": np.linspace(0.5, 2.0, N_CELLS), "right": np.linspace(2.0, 0.5, N_CELLS)}
    zeros = {s: np.zeros(N_CELLS) for s in gains}
    bw = BODY_MASS_KG * G0
    trials = [
        CalibrationTrial(
            f"{s} lifted", 0.0, {s: _simulated_insole(rng, gains[s], zeros[s], np.zeros(200))}
        )
        for s in gains
    ]
    trials.append(
        CalibrationTrial(
            "on left",
            bw,
            {"left": _simulated_insole(rng, gains["left"], zeros["left"], np.full(100, bw))},
        )
    )
    trials.append(
        CalibrationTrial(
            "on right",
            bw,
            {"right": _simulated_insole(rng, gains["right"], zeros["right"], np.full(20_000, bw))},
        )
    )
    result = fit_cell_calibration(trials)
    np.testing.assert_allclose(result["left"].gain_n_per_unit, gains["left"], rtol=0.02)
