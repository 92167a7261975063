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
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from calfload.bridge.messages import Side
from calfload.processing.io.calfload_csv import columns, write_recording
from calfload.processing.io.recording import Recording, SideSignals
from calfload.processing.recorder import store
from calfload.processing.recorder.blobs import Samples

F64 = npt.NDArray[np.float64]
FORMATS: Final = ("csv", "parquet", "c3d")
_UNITS: Final = {"_n": "N", "_mps2": "m/s^2", "_dps": "deg/s", "_m": "m"}


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
            steps = store.steps(conn) if fmt == "c3d" else []
            events = store.events(conn) if fmt == "c3d" else []
    except sqlite3.DatabaseError as exc:
        raise ExportError(f"{path}: cannot read the session: {exc}") from None
    if fmt == "csv":
        write_recording(out, rec)
    elif fmt == "parquet":
        write_parquet(out, rec)
    else:
        write_c3d(out, rec, steps, events)
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


def c3d_events(
    rec: Recording, steps: list[dict[str, Any]], events: list[dict[str, Any]]
) -> list[tuple[str, str, float, str]]:
    """(label, context, seconds from the first frame, description) for the C3D EVENT group:
    every recorded step's initial contact ("Foot Strike") and toe-off ("Foot Off") per side,
    and the session's markers, sync jumps, notes and protocol events ("General")."""
    t0 = float(rec.meta["session_clock_t0_s"])
    out: list[tuple[str, str, float, str]] = []
    for step in steps:
        context = "Left" if step["side"] == "left" else "Right"
        out.append(("Foot Strike", context, step["ic_s"] - t0, f"step {step['step_index']}"))
        out.append(("Foot Off", context, step["to_s"] - t0, f"step {step['step_index']}"))
    for e in events:
        if e["kind"] in ("marker", "jump", "note", "protocol"):
            out.append((e["kind"], "General", e["t_s"] - t0, str(e["label"])[:200]))
    return sorted((x for x in out if x[2] >= 0.0), key=lambda x: x[2])


def write_c3d(
    out: Path, rec: Recording, steps: list[dict[str, Any]], events: list[dict[str, Any]]
) -> None:
    """The recording's channels as C3D analog channels (no 3D points; missing samples are
    NaN, float format) at the insoles' rate, with steps and session events in the EVENT group
    (times as minutes + seconds so they keep their precision). Uses ezc3d (Michaud B., Begon
    M., 2021, "ezc3d: An easy C3D file I/O cross-platform solution for C++, Python and
    MATLAB", Journal of Open Source Software 6(58):2911)."""
    try:
        import ezc3d
    except ImportError:
        raise ExportError("C3D export needs ezc3d: pip install 'calfload[c3d]'") from None
    cols = columns(rec)[1:]  # everything but time_s
    n = rec.time_s.size
    c = ezc3d.c3d()
    c["parameters"]["POINT"]["RATE"]["value"] = [rec.fs_hz]
    c["parameters"]["ANALOG"]["RATE"]["value"] = [rec.fs_hz]
    c["parameters"]["ANALOG"]["LABELS"]["value"] = [name for name, _ in cols]
    c["parameters"]["ANALOG"]["UNITS"]["value"] = [_unit(name) for name, _ in cols]
    c["data"]["points"] = np.zeros((4, 0, n))
    analogs = np.empty((1, len(cols), n))
    for i, (_, values) in enumerate(cols):
        analogs[0, i, :] = values
    c["data"]["analogs"] = analogs
    ev = c3d_events(rec, steps, events)
    if ev:
        t = np.array([x[2] for x in ev])
        minutes = np.floor(t / 60.0)
        c.add_parameter("EVENT", "USED", [len(ev)])
        c.add_parameter("EVENT", "LABELS", [x[0] for x in ev])
        c.add_parameter("EVENT", "CONTEXTS", [x[1] for x in ev])
        c.add_parameter("EVENT", "TIMES", np.vstack([minutes, t - 60.0 * minutes]))
        c.add_parameter("EVENT", "DESCRIPTIONS", [x[3] or " " for x in ev])
    for key in ("session_id", "athlete", "session_clock_t0_s", "body_mass_kg"):
        if rec.meta.get(key):
            c.add_parameter("CALFLOAD", key.upper(), [rec.meta[key]])
    c.write(str(out))


def _unit(name: str) -> str:
    for suffix, unit in _UNITS.items():
        if name.endswith(suffix):
            return unit
    return ""
