"""Raw batches → one side's sample arrays for a time window. Pure numpy.

Batches may arrive out of order or overlap (QoS 1 redelivery); samples are sorted by
time and duplicates dropped. Where the sensor lost samples, the arrays simply have a
hole: :func:`segments` splits them there so no detector bridges a gap.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from calfload.bridge.messages import RawBatch, Side

F64 = npt.NDArray[np.float64]


@dataclass(frozen=True)
class SideSamples:
    """Samples of one foot's insole (and its IMU, when the insole carries one).

    ``cells_n`` is ``(n, cells)``, ``gyr_dps`` and ``acc_mps2`` are ``(n, 3)`` in the
    insole frame (x heel → toe, y to the athlete's left, z up; ``hardware.md``), or
    ``None`` when the sensor does not send them.
    """

    t_s: F64
    fs_hz: float
    force_n: F64 | None
    cells_n: F64 | None
    gyr_dps: F64 | None
    acc_mps2: F64 | None

    @property
    def n(self) -> int:
        return int(self.t_s.size)

    def window(self, start_s: float, end_s: float) -> SideSamples:
        sel = (self.t_s >= start_s) & (self.t_s < end_s)
        return SideSamples(
            self.t_s[sel],
            self.fs_hz,
            None if self.force_n is None else self.force_n[sel],
            None if self.cells_n is None else self.cells_n[sel],
            None if self.gyr_dps is None else self.gyr_dps[sel],
            None if self.acc_mps2 is None else self.acc_mps2[sel],
        )


def side_samples(batches: Iterable[RawBatch], side: Side) -> SideSamples | None:
    """Join the insole batches of ``side`` (foot IMUs on the same side fill ``gyr``/``acc``
    when the insole has none). ``None`` when there is no batch for that side."""
    mine = [b for b in batches if b.side == side and b.n > 0]
    insoles = [b for b in mine if b.force_n is not None]
    imus = [b for b in mine if b.force_n is None and b.gyr_dps is not None]
    base = insoles or imus
    if not base:
        return None
    fs_hz = float(np.median([b.fs_hz for b in base]))
    t = np.concatenate([b.t0_s + np.arange(b.n) / b.fs_hz for b in base])
    order = np.argsort(t, kind="stable")
    t = t[order]
    keep = np.concatenate(([True], np.diff(t) > 0.25 / fs_hz))
    idx = order[keep]
    t = t[keep]

    def stack(name: str, width: int | None) -> F64 | None:
        parts = [getattr(b, name) for b in base]
        if any(p is None for p in parts):
            return None
        arr = np.concatenate([np.asarray(p, dtype=np.float64) for p in parts])
        if width is not None and (arr.ndim != 2 or arr.shape[1] != width):
            return None
        return arr[idx]

    force = stack("force_n", None) if insoles else None
    cells = None
    if insoles and all(b.cell_force_n is not None for b in insoles):
        widths = {len(b.cell_force_n[0]) for b in insoles if b.cell_force_n}
        if len(widths) == 1:
            cells = stack("cell_force_n", widths.pop())
    gyr = stack("gyr_dps", 3)
    acc = stack("acc_mps2", 3)
    if gyr is None and insoles and imus:
        imu = side_samples(imus, side)
        if imu is not None and imu.gyr_dps is not None:
            gyr = np.column_stack([np.interp(t, imu.t_s, imu.gyr_dps[:, k]) for k in range(3)])
    return SideSamples(t, fs_hz, force, cells, gyr, acc)


def segments(t_s: F64, fs_hz: float) -> list[slice]:
    """Runs of consecutive samples (a gap is more than 1.5 sample periods)."""
    if t_s.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(t_s) > 1.5 / fs_hz) + 1
    edges = [0, *breaks.tolist(), int(t_s.size)]
    return [slice(a, b) for a, b in itertools.pairwise(edges)]
