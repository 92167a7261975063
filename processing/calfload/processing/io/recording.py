"""In-memory form of a recording, shared by every reader and writer (pure data, no I/O).

Samples sit on one time axis ``time_s`` (seconds from the file's start); a NaN marks a
missing sample of that channel. Frames: the IMU frame of ``hardware.md`` (x heel → toe,
y to the athlete's left, z up) unless ``meta["axis_frame"]`` says otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt

from calfload.bridge.messages import Side

F64 = npt.NDArray[np.float64]
EventKind = Literal["ic", "to"]
SIDES: tuple[Side, Side] = ("left", "right")


class RecordingError(ValueError):
    """A file that cannot be read; ``str()`` is one line naming the file, line and column."""

    def __init__(self, path: str, line: int | None, column: str | None, problem: str) -> None:
        where = path if line is None else f"{path}:{line}"
        if column:
            where += f": column '{column}'"
        super().__init__(f"{where}: {problem}")
        self.path, self.line, self.column, self.problem = path, line, column, problem


@dataclass(frozen=True)
class SideSignals:
    """One foot's channels, one row per sample of the recording."""

    force_n: F64
    cell_force_n: F64 | None = None  # (n, cells)
    cell_pressure_kpa: F64 | None = None  # (n, cells), pressure insoles (Moticon)
    cop_x_m: F64 | None = None  # heel → toe, from the insole's heel edge
    cop_y_m: F64 | None = None  # to the athlete's left
    cop_norm: F64 | None = None  # (n, 2), vendor-normalised insole coordinates (Moticon)
    acc_mps2: F64 | None = None  # (n, 3)
    gyr_dps: F64 | None = None  # (n, 3)


@dataclass(frozen=True)
class VendorEvent:
    """A step event marked by the sensor vendor's software (e.g. Moticon heel strike)."""

    side: Side
    kind: EventKind
    t_s: float


@dataclass(frozen=True)
class Recording:
    """A whole recording: time axis, per-side channels and header metadata."""

    time_s: F64
    fs_hz: float
    sides: dict[Side, SideSignals]
    meta: dict[str, str] = field(default_factory=dict)
    source: str = "calfload"
    events: tuple[VendorEvent, ...] = ()

    @property
    def body_mass_kg(self) -> float | None:
        value = self.meta.get("body_mass_kg", "").strip()
        try:
            mass = float(value) if value else None
        except ValueError:
            return None
        return mass if mass is not None and mass > 0 else None

    @property
    def duration_s(self) -> float:
        return (
            float(self.time_s[-1] - self.time_s[0]) + 1.0 / self.fs_hz if self.time_s.size else 0.0
        )


def runs(time_s: F64, valid: npt.NDArray[np.bool_], fs_hz: float) -> list[tuple[int, int]]:
    """[start, end) index ranges of consecutive valid samples without a jump in time.

    A jump of more than 1.5 sample periods, or a NaN sample, ends a run: gaps are never
    bridged.
    """
    if time_s.size == 0:
        return []
    breaks = np.zeros(time_s.size, dtype=bool)
    breaks[1:] = np.diff(time_s) > 1.5 / fs_hz
    ok = valid.astype(np.int8)
    starts = np.flatnonzero(ok & (np.r_[1, 1 - ok[:-1]].astype(bool) | breaks))
    out = []
    for s in starts.tolist():
        e = s + 1
        bad = np.flatnonzero(~valid[e:] | breaks[e:])
        e = e + int(bad[0]) if bad.size else time_s.size
        out.append((s, e))
    return out
