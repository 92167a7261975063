"""The calfload recording format (CSV, ``docs/formats.md``): reader and writer.

Layout::

    # format: calfload-recording
    # format_version: 1
    # fs_hz: 100
    # body_mass_kg: 70.5
    time_s,left_force_n,right_force_n,left_cell_01_force_n,...,left_acc_x_mps2,...

``# key: value`` header lines (metadata), one line of comma-separated column names, then one
row per sample. Empty fields (or ``nan``) are missing samples. Columns per side
(``left_`` / ``right_``): ``force_n``, ``cell_NN_force_n`` (NN from 01), ``cop_x_m``,
``cop_y_m``, ``acc_{x,y,z}_mps2``, ``gyr_{x,y,z}_dps``. Unknown columns are ignored.
"""

from __future__ import annotations

import gzip
import io
import re
from pathlib import Path
from typing import TextIO

import numpy as np

from calfload.bridge.messages import Side
from calfload.processing.io.recording import F64, SIDES, Recording, RecordingError, SideSignals

FORMAT_NAME = "calfload-recording"
FORMAT_VERSION = 1
_CELL = re.compile(r"^(left|right)_cell_(\d+)_force_n$")


def looks_like_calfload(head: str) -> bool:
    """True when the first lines of a file look like a calfload recording."""
    if f"format: {FORMAT_NAME}" in head:
        return True
    for line in head.splitlines():
        if not line.startswith("#"):
            return line.startswith("time_s,")
    return False


def _lines(path: Path) -> list[str]:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise RecordingError(
            str(path), None, None, f"cannot read the file ({exc.strerror})"
        ) from exc
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    try:
        return raw.decode("utf-8").splitlines()
    except UnicodeDecodeError as exc:
        raise RecordingError(str(path), None, None, "not a UTF-8 text file") from exc


def read_recording(path: Path) -> Recording:
    """Read a calfload recording (plain or gzip-compressed CSV)."""
    name = str(path)
    lines = _lines(path)
    meta: dict[str, str] = {}
    k = 0
    while k < len(lines) and (lines[k].startswith("#") or not lines[k].strip()):
        body = lines[k].lstrip("#").strip()
        if body:
            key, sep, value = body.partition(":")
            if not sep:
                raise RecordingError(name, k + 1, None, "header lines must read '# key: value'")
            meta[key.strip()] = value.strip()
        k += 1
    if k >= len(lines):
        raise RecordingError(name, k or 1, None, "no column-name line (expected 'time_s,…')")
    version = meta.get("format_version", str(FORMAT_VERSION))
    if version != str(FORMAT_VERSION):
        raise RecordingError(name, None, None, f"format_version {version} is not supported (1)")
    names = [c.strip() for c in lines[k].split(",")]
    header_line = k + 1
    if names[0] != "time_s":
        raise RecordingError(name, header_line, names[0], "the first column must be 'time_s'")
    if len(set(names)) != len(names):
        dup = next(c for c in names if names.count(c) > 1)
        raise RecordingError(name, header_line, dup, "column named twice")
    data = _parse(name, lines, header_line, names)
    time_s = data[:, 0]
    if np.isnan(time_s).any():
        r = int(np.flatnonzero(np.isnan(time_s))[0])
        raise RecordingError(name, header_line + r + 1, "time_s", "empty time")
    if np.any(np.diff(time_s) <= 0):
        r = int(np.flatnonzero(np.diff(time_s) <= 0)[0]) + 1
        raise RecordingError(name, header_line + r + 1, "time_s", "time does not increase")
    fs_hz = _fs(name, meta, time_s)
    col = {c: i for i, c in enumerate(names)}
    sides: dict[Side, SideSignals] = {}
    for side in SIDES:
        cells = sorted(
            (int(m.group(2)), c) for c in names if (m := _CELL.match(c)) and m.group(1) == side
        )
        cell = data[:, [col[c] for _, c in cells]] if cells else None
        if f"{side}_force_n" in col:
            force = data[:, col[f"{side}_force_n"]]
        elif cell is not None:
            force = cell.sum(axis=1)
        else:
            continue
        sides[side] = SideSignals(
            force_n=force,
            cell_force_n=cell,
            cop_x_m=_one(data, col, f"{side}_cop_x_m"),
            cop_y_m=_one(data, col, f"{side}_cop_y_m"),
            acc_mps2=_three(data, col, side, "acc", "mps2"),
            gyr_dps=_three(data, col, side, "gyr", "dps"),
        )
    if not sides:
        raise RecordingError(
            name, header_line, None, "no force column (left_force_n, right_force_n or cells)"
        )
    meta["fs_hz"] = f"{fs_hz:g}"
    return Recording(time_s, fs_hz, sides, meta, "calfload")


def _fs(name: str, meta: dict[str, str], time_s: F64) -> float:
    text = meta.get("fs_hz", "")
    if text:
        try:
            fs = float(text)
        except ValueError:
            fs = 0.0
        if not fs > 0:
            raise RecordingError(
                name, None, None, f"header fs_hz '{text}' is not a positive number"
            )
        return fs
    if time_s.size < 2:
        raise RecordingError(name, None, None, "cannot tell the sample rate (add '# fs_hz: …')")
    return float(1.0 / np.median(np.diff(time_s)))


def _parse(name: str, lines: list[str], header_line: int, names: list[str]) -> F64:
    body = [ln for ln in lines[header_line:]]
    if not any(ln.strip() for ln in body):
        raise RecordingError(name, header_line, None, "no data rows")
    try:  # fast path: every field present and numeric
        data = np.loadtxt(io.StringIO("\n".join(body)), delimiter=",", ndmin=2, dtype=np.float64)
        if data.shape[1] == len(names):
            return data
    except ValueError:
        pass
    rows: list[list[float]] = []
    for r, line in enumerate(body):
        if not line.strip():
            continue
        fields = line.split(",")
        if len(fields) != len(names):
            raise RecordingError(
                name,
                header_line + r + 1,
                None,
                f"{len(fields)} fields, the header names {len(names)}",
            )
        row = []
        for c, text in enumerate(fields):
            text = text.strip()
            if not text:
                row.append(np.nan)
                continue
            try:
                row.append(float(text))
            except ValueError:
                raise RecordingError(
                    name, header_line + r + 1, names[c], f"'{text[:20]}' is not a number"
                ) from None
        rows.append(row)
    return np.asarray(rows, dtype=np.float64)


def _one(data: F64, col: dict[str, int], key: str) -> F64 | None:
    return data[:, col[key]] if key in col else None


def _three(data: F64, col: dict[str, int], side: str, what: str, unit: str) -> F64 | None:
    keys = [f"{side}_{what}_{a}_{unit}" for a in "xyz"]
    if not all(k in col for k in keys):
        return None
    return data[:, [col[k] for k in keys]]


def columns(rec: Recording) -> list[tuple[str, F64]]:
    """The recording as (column name, values) pairs in the documented order."""
    out: list[tuple[str, F64]] = [("time_s", rec.time_s)]
    for side in SIDES:
        s = rec.sides.get(side)
        if s is None:
            continue
        out.append((f"{side}_force_n", s.force_n))
        if s.cell_force_n is not None:
            out += [
                (f"{side}_cell_{i + 1:02d}_force_n", s.cell_force_n[:, i])
                for i in range(s.cell_force_n.shape[1])
            ]
        if s.cop_x_m is not None:
            out.append((f"{side}_cop_x_m", s.cop_x_m))
        if s.cop_y_m is not None:
            out.append((f"{side}_cop_y_m", s.cop_y_m))
        for what, unit, arr in (("acc", "mps2", s.acc_mps2), ("gyr", "dps", s.gyr_dps)):
            if arr is not None:
                out += [(f"{side}_{what}_{a}_{unit}", arr[:, i]) for i, a in enumerate("xyz")]
    return out


def write_recording(path: Path, rec: Recording, *, chunk_rows: int = 10_000) -> None:
    """Write ``rec`` in the calfload format (gzip-compressed when ``path`` ends in ``.gz``)."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wt", encoding="utf-8", newline="\n") as fh:
        write_to(fh, rec, chunk_rows=chunk_rows)


def write_to(fh: TextIO, rec: Recording, *, chunk_rows: int = 10_000) -> None:
    meta = {"format": FORMAT_NAME, "format_version": str(FORMAT_VERSION), "fs_hz": f"{rec.fs_hz:g}"}
    meta.update({k: v for k, v in rec.meta.items() if k not in meta and k != "format"})
    for key, value in meta.items():
        fh.write(f"# {key}: {' '.join(str(value).split())}\n")
    cols = columns(rec)
    fh.write(",".join(c for c, _ in cols) + "\n")
    table = np.column_stack([v for _, v in cols])
    for a in range(0, table.shape[0], chunk_rows):
        buf = io.StringIO()
        np.savetxt(buf, table[a : a + chunk_rows], delimiter=",", fmt="%.6g")
        fh.write(re.sub(r"(?<![\w.])nan(?![\w.])", "", buf.getvalue()))
