"""Per-cell force calibration of a DIY insole from trials with known loads.

Model, per cell ``i`` of one insole::

    force_i = gain_i * (signal_i - zero_i)

``signal`` is what the insole reports for the cell before calibration (the
reference firmware sends each force-sensing resistor's conductance in µS, which
is roughly proportional to force: Interlink Electronics, *FSR Integration Guide*).
``zero_i`` is the cell's reading with the foot in the air (insoles are pre-loaded
by the shoe); ``gain_i`` converts the rest to newtons.

Trials are recordings with a known total vertical load on the insoles they list,
for example: each foot lifted (load 0), standing on one foot (body weight),
standing on both feet (body weight across the two insoles — the split need not be
known), and optionally holding a known extra mass. The zeros are the per-cell
medians of the unloaded trials; the gains solve the linear least-squares problem
``sum_i gain_i * (signal_i - zero_i) = load`` over every loaded sample (Lawson CL,
Hanson RJ, 1974, *Solving Least Squares Problems*, Prentice-Hall). Weight shifts
within a trial (heel, forefoot, outer edge, toes) are what make the cells separable.

Why calibrate at all: uncalibrated pressure insoles give impulse errors of 30–50 %
(walking insole comparison, PMC6453056, in ``reference/science.md`` §5).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

#: A loaded cell must rise this many times its no-load noise (or 1 % of the
#: largest rise of any cell) above its zero in some loaded sample to be fitted.
MIN_RISE_FACTOR = 5.0
MIN_ROWS_PER_UNKNOWN = 3
MAX_CONDITION = 1e8


class CalibrationError(ValueError):
    """Trials that cannot give a calibration; the message says what to record."""


@dataclass(frozen=True)
class CalibrationTrial:
    """One recording with a known load.

    ``cells`` maps an insole name (e.g. ``"left"``) to its uncalibrated cell signals,
    shape ``(n_samples, n_cells)``; ``load_n`` is the total vertical load in N on all
    insoles listed, either one number for the whole trial or one per sample.
    """

    label: str
    load_n: float | FloatArray
    cells: Mapping[str, FloatArray] = field(default_factory=dict)


@dataclass(frozen=True)
class CellCalibration:
    """Fitted calibration of one insole."""

    insole: str
    gain_n_per_unit: FloatArray  # (n_cells,)
    zero: FloatArray  # (n_cells,), in the signal's unit
    residual_rms_n: float  # of the loaded trials' total load, all insoles together
    n_samples: int

    def force_n(self, signal: npt.ArrayLike) -> FloatArray:
        """Calibrated cell forces (N, never negative) for signals ``(n, n_cells)``."""
        s = np.asarray(signal, dtype=np.float64)
        return np.maximum(self.gain_n_per_unit * (s - self.zero), 0.0)


def _as_samples(trial: CalibrationTrial, insole: str) -> FloatArray:
    a = np.asarray(trial.cells[insole], dtype=np.float64)
    if a.ndim == 1:
        a = a[:, None]
    if a.ndim != 2 or a.shape[0] == 0 or a.shape[1] == 0:
        raise CalibrationError(
            f"trial {trial.label!r}: insole {insole!r} needs a (samples, cells) array, "
            f"got shape {a.shape}"
        )
    if not np.all(np.isfinite(a)):
        raise CalibrationError(
            f"trial {trial.label!r}: insole {insole!r} has missing or non-finite readings; "
            "cut them out before fitting"
        )
    return a


def _loads(trial: CalibrationTrial, n: int) -> FloatArray:
    load = np.broadcast_to(np.asarray(trial.load_n, dtype=np.float64), (n,)).copy()
    if load.shape != (n,) or not np.all(np.isfinite(load)) or np.any(load < 0):
        raise CalibrationError(
            f"trial {trial.label!r}: the known load must be a finite number of newtons ≥ 0"
        )
    return load


def _check_trials(trials: Sequence[CalibrationTrial]) -> dict[str, int]:
    """Validate shapes; return the cell count of each insole."""
    if not trials:
        raise CalibrationError("no calibration trials given")
    n_cells: dict[str, int] = {}
    for trial in trials:
        if not trial.cells:
            raise CalibrationError(f"trial {trial.label!r} lists no insole")
        lengths = set()
        for insole in trial.cells:
            a = _as_samples(trial, insole)
            lengths.add(a.shape[0])
            if n_cells.setdefault(insole, a.shape[1]) != a.shape[1]:
                raise CalibrationError(
                    f"trial {trial.label!r}: insole {insole!r} has {a.shape[1]} cells, "
                    f"other trials have {n_cells[insole]}"
                )
        if len(lengths) != 1:
            raise CalibrationError(
                f"trial {trial.label!r}: the insoles have different sample counts {sorted(lengths)}"
            )
        _loads(trial, lengths.pop())
    return n_cells


def fit_cell_calibration(trials: Sequence[CalibrationTrial]) -> dict[str, CellCalibration]:
    """Fit every insole's per-cell gain and zero; raise :class:`CalibrationError` if unusable."""
    n_cells = _check_trials(trials)
    insoles = sorted(n_cells)

    zero: dict[str, FloatArray] = {}
    noise: dict[str, FloatArray] = {}
    for insole in insoles:
        unloaded = [
            _as_samples(t, insole)[_loads(t, len(_as_samples(t, insole))) == 0]
            for t in trials
            if insole in t.cells
        ]
        rest = np.concatenate(unloaded) if unloaded else np.empty((0, n_cells[insole]))
        if len(rest) < 2:
            raise CalibrationError(
                f"insole {insole!r} has no unloaded trial: record a few seconds with that foot "
                "lifted off the ground (load 0 N)"
            )
        zero[insole] = np.median(rest, axis=0)
        noise[insole] = rest.std(axis=0)

    offsets = np.cumsum([0] + [n_cells[s] for s in insoles])
    column = {s: int(offsets[k]) for k, s in enumerate(insoles)}
    rows: list[FloatArray] = []
    targets: list[FloatArray] = []
    present: dict[str, list[npt.NDArray[np.bool_]]] = {s: [] for s in insoles}
    for trial in trials:
        n = len(_as_samples(trial, next(iter(trial.cells))))
        load = _loads(trial, n)
        keep = load > 0
        if not keep.any():
            continue
        x = np.zeros((int(keep.sum()), int(offsets[-1])))
        for insole in trial.cells:
            c0 = column[insole]
            x[:, c0 : c0 + n_cells[insole]] = _as_samples(trial, insole)[keep] - zero[insole]
        rows.append(x)
        targets.append(load[keep])
        for insole in insoles:
            present[insole].append(np.full(len(x), insole in trial.cells))
    if not rows:
        raise CalibrationError(
            "no loaded trial: stand on the insole(s) with a known load (e.g. body weight)"
        )
    x_all = np.concatenate(rows)
    y_all = np.concatenate(targets)
    n_unknowns = x_all.shape[1]
    if len(y_all) < MIN_ROWS_PER_UNKNOWN * n_unknowns:
        raise CalibrationError(
            f"{len(y_all)} loaded samples for {n_unknowns} cells: record longer trials "
            f"(at least {MIN_ROWS_PER_UNKNOWN * n_unknowns} samples)"
        )

    # A cell's rise above its zero, over the loaded samples of trials that include its insole.
    rise = np.zeros(n_unknowns)
    for insole in insoles:
        mask = np.concatenate(present[insole])
        c0 = column[insole]
        if mask.any():
            block = x_all[mask, c0 : c0 + n_cells[insole]]
            rise[c0 : c0 + n_cells[insole]] = np.percentile(block, 99, axis=0)
    floor = max(1e-12, 0.01 * float(rise.max()))
    for insole in insoles:
        for i in range(n_cells[insole]):
            needed = max(MIN_RISE_FACTOR * float(noise[insole][i]), floor)
            if rise[column[insole] + i] <= needed:
                raise CalibrationError(
                    f"cell {i} of insole {insole!r} was never loaded in the loaded trials; "
                    "add a trial that shifts weight onto it (heel, outer edge, forefoot, toes)"
                )

    scale = np.abs(x_all).max(axis=0)
    solution, _, rank, singular = np.linalg.lstsq(x_all / scale, y_all, rcond=None)
    if rank < n_unknowns or singular[0] > MAX_CONDITION * singular[-1]:
        raise CalibrationError(
            "the trials load the cells together, so they cannot be told apart: add trials "
            "that shift the weight (heel only, forefoot only, outer edge, toes)"
        )
    gains = solution / scale
    residual_rms_n = float(np.sqrt(np.mean((x_all @ gains - y_all) ** 2)))

    result: dict[str, CellCalibration] = {}
    for insole in insoles:
        g = gains[column[insole] : column[insole] + n_cells[insole]]
        bad = np.flatnonzero(g <= 0)
        if bad.size:
            raise CalibrationError(
                f"cell {int(bad[0])} of insole {insole!r} got a non-positive gain: its load was "
                "not separable from its neighbours'; add a trial that loads it on its own"
            )
        result[insole] = CellCalibration(insole, g, zero[insole], residual_rms_n, len(y_all))
    return result


def c_header(cal: CellCalibration) -> str:
    """The firmware's ``calibration.h`` body for one insole (see firmware/open_insole)."""
    gains = ", ".join(f"{v:.6g}" for v in cal.gain_n_per_unit)
    zeros = ", ".join(f"{v:.6g}" for v in cal.zero)
    return (
        f"/* calibration of insole {cal.insole!r}: residual {cal.residual_rms_n:.2f} N RMS */\n"
        "#ifndef INSOLE_CALIBRATION_H\n#define INSOLE_CALIBRATION_H\n\n"
        f"#define INSOLE_CAL_GAIN_N_PER_US {{{gains}}}\n"
        f"#define INSOLE_CAL_ZERO_US {{{zeros}}}\n\n"
        "#endif /* INSOLE_CALIBRATION_H */\n"
    )
