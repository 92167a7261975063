"""A recorded session as the calfload recording format (``docs/formats.md``).

The recording format has one time axis for both feet; live sensors each have their own
sample times on the session clock (the two insoles are not sampled at the same instants,
and each drifts a little). The export lays both feet on one grid at the insoles' rate,
starting at the session's first insole sample, and puts every sample into its nearest grid
slot, unchanged (no interpolation: interpolating smooths the contact edges and moved GCT
by up to 7 ms in a test, while a slot keeps every value and every within-foot interval
exact). A foot sampled between the grid's instants is therefore shifted by a constant less
than half a sample period; the header keys ``left_time_offset_ms`` / ``right_time_offset_ms``
give each foot's mean offset (true time − grid time). Empty slots (lost samples) stay empty:
missing, never filled. ``time_s`` is seconds from the grid's first point, and the header key
``session_clock_t0_s`` is that point on the session clock.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt

from calfload.bridge.messages import Side
from calfload.processing.io.calfload_csv import columns, write_recording
from calfload.processing.io.recording import Recording, SideSignals
from calfload.processing.recorder import store
from calfload.processing.recorder.blobs import Samples

F64 = npt.NDArray[np.float64]
FORMATS: Final = ("csv", "parquet")


class ExportError(ValueError):
    """A session that cannot be exported (one line for the user)."""


def to_grid(
    samples: Samples, t_first_s: float, fs_hz: float, n: int
) -> tuple[dict[str, F64], float]:
    """Each channel on the grid ``t_first_s + k / fs_hz`` (k < ``n``), every sample in its
    nearest slot (by the foot's median phase; the first of two samples in one slot wins);
    NaN where no sample fell. Also the mean offset, true time − slot time (seconds)."""
    pos = (samples.t_s - t_first_s) * fs_hz
    # round relative to the foot's own sampling phase, so that a foot sampled exactly half
    # a period off the grid does not alternate between two slots on floating-point noise
    phase = float(np.median(pos - np.floor(pos))) if pos.size else 0.0
    slot = (np.rint(pos - phase) + np.rint(phase)).astype(np.int64)
    ok = (slot >= 0) & (slot < n)
    slot, idx = slot[ok], np.flatnonzero(ok)
    _, first = np.unique(slot, return_index=True)
    slot, idx = slot[first], idx[first]
    out: dict[str, F64] = {}
    for name, v in samples.channels.items():
        grid = np.full((n, v.shape[1]), np.nan)
        grid[slot] = v[idx]
        out[name] = grid
    offset = float(np.mean(pos[idx] - slot)) / fs_hz if idx.size else 0.0
    return out, offset


def session_recording(conn: sqlite3.Connection, path: Path) -> Recording:
    """The session's insole data (both feet) as a :class:`Recording`."""
    meta = store.read_meta(conn, path)
    insoles: dict[Side, tuple[store.SensorMeta, Samples]] = {}
    for sensor in store.sensors(conn):
        if sensor.placement != "insole" or sensor.side not in ("left", "right"):
            continue
        samples = store.read_samples(conn, sensor.sensor_id)
        if samples is None or "force_n" not in samples.channels:
            continue
        side: Side = "left" if sensor.side == "left" else "right"
        if side in insoles and len(insoles[side][1]) >= len(samples):
            continue  # two insoles on one foot: keep the one with more data
        insoles[side] = (sensor, samples)
    if not insoles:
        raise ExportError(f"{path}: the session has no insole samples to export")
    fs_hz = max(s.fs_hz for s, _ in insoles.values())
    t_first = min(float(x.t_s[0]) for _, x in insoles.values())
    t_last = max(float(x.t_s[-1]) for _, x in insoles.values())
    n = int(np.rint((t_last - t_first) * fs_hz)) + 1
    grid = t_first + np.arange(n) / fs_hz
    sides: dict[Side, SideSignals] = {}
    offsets: dict[str, str] = {}
    for side, (_, samples) in insoles.items():
        ch, offset_s = to_grid(samples, t_first, fs_hz, n)
        offsets[f"{side}_time_offset_ms"] = f"{offset_s * 1000.0:.3f}"
        sides[side] = SideSignals(
            force_n=ch["force_n"][:, 0],
            cell_force_n=ch.get("cell_force_n"),
            acc_mps2=ch.get("acc_mps2"),
            gyr_dps=ch.get("gyr_dps"),
        )
    out_meta = {
        "athlete": meta.get("athlete", ""),
        "placement": "insole",
        "session_id": meta.get("session_id", path.stem),
        "session_name": meta.get("name", ""),
        "session_clock_t0_s": repr(t_first),
        "sensor_left": insoles["left"][0].sensor_id if "left" in insoles else "",
        "sensor_right": insoles["right"][0].sensor_id if "right" in insoles else "",
        "time_alignment": "nearest-slot",
        **offsets,
    }
    infos = store.athlete_infos(conn)
    if infos:
        out_meta["body_mass_kg"] = f"{infos[-1]['body_mass_kg']:g}"
    return Recording(
        time_s=grid - t_first,
        fs_hz=fs_hz,
        sides=sides,
        meta={k: v for k, v in out_meta.items() if v},
    )


def export_session(path: Path, out: Path, fmt: str) -> Recording:
    """Write the session at ``path`` to ``out`` as ``csv`` (``.gz`` compresses) or ``parquet``."""
    if fmt not in FORMATS:
        raise ExportError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    try:
        with store.open_session(path) as conn:
            rec = session_recording(conn, path)
    except sqlite3.DatabaseError as exc:
        raise ExportError(f"{path}: cannot read the session: {exc}") from None
    if fmt == "csv":
        write_recording(out, rec)
    else:
        write_parquet(out, rec)
    return rec


def write_parquet(out: Path, rec: Recording) -> None:
    """The CSV format's columns in one Parquet table; header keys as schema metadata."""
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise ExportError("Parquet export needs pyarrow: pip install 'calfload[parquet]'") from None
    cols = columns(rec)
    meta = {"format": "calfload-recording", "format_version": "1", "fs_hz": f"{rec.fs_hz:g}"}
    meta.update(rec.meta)
    table = pa.table({name: pa.array(values, type=pa.float64()) for name, values in cols})
    table = table.replace_schema_metadata({k.encode(): v.encode() for k, v in meta.items()})
    pq.write_table(table, out)
