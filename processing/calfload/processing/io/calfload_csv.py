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
import itertools
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, TextIO

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


def read_recording(path: Path) -> Recording:
    """Read a whole calfload recording (plain or gzip-compressed CSV)."""
    return concat(list(iter_recording(path)))


def iter_recording(
    path: Path, *, chunk_rows: int = 6000, progress: Callable[[float], None] | None = None
) -> Iterator[Recording]:
    """Read a calfload recording in pieces of ``chunk_rows`` rows, each a :class:`Recording`
    with the file's metadata, so memory does not grow with the file's length.

    ``progress`` is called with the fraction of the file's bytes read so far.
    """
    name = str(path)
    try:
        raw = path.open("rb")
        size = max(1, path.stat().st_size)
    except OSError as exc:
        raise RecordingError(name, None, None, f"cannot read the file ({exc.strerror})") from exc
    with raw:
        magic = raw.read(2)
        raw.seek(0)
        binary: IO[bytes] = (
            gzip.GzipFile(fileobj=raw) if magic == b"\x1f\x8b" else raw  # type: ignore[assignment]
        )
        text = io.TextIOWrapper(binary, encoding="utf-8", newline=None)
        try:
            yield from _chunks(name, text, chunk_rows, lambda: raw.tell() / size, progress)
        except UnicodeDecodeError as exc:
            raise RecordingError(name, None, None, "not a UTF-8 text file") from exc
        except (OSError, EOFError) as exc:
            raise RecordingError(name, None, None, f"cannot read the file ({exc})") from exc


def _chunks(
    name: str,
    text: TextIO,
    chunk_rows: int,
    position: Callable[[], float],
    progress: Callable[[float], None] | None,
) -> Iterator[Recording]:
    meta: dict[str, str] = {}
    lineno = 0
    column_line = ""
    for line in text:
        lineno += 1
        if line.startswith("#") or not line.strip():
            body = line.lstrip("#").strip()
            if body:
                key, sep, value = body.partition(":")
                if not sep:
                    raise RecordingError(
                        name, lineno, None, "header lines must read '# key: value'"
                    )
                meta[key.strip()] = value.strip()
            continue
        column_line = line
        break
    if not column_line:
        raise RecordingError(name, lineno or 1, None, "no column-name line (expected 'time_s,…')")
    version = meta.get("format_version", str(FORMAT_VERSION))
    if version != str(FORMAT_VERSION):
        raise RecordingError(name, None, None, f"format_version {version} is not supported (1)")
    names = [c.strip() for c in column_line.split(",")]
    header_line = lineno
    if names[0] != "time_s":
        raise RecordingError(name, header_line, names[0], "the first column must be 'time_s'")
    if len(set(names)) != len(names):
        dup = next(c for c in names if names.count(c) > 1)
        raise RecordingError(name, header_line, dup, "column named twice")
    fs_hz: float | None = None
    last_t = -np.inf
    first = lineno + 1
    any_rows = False
    while True:
        batch = list(itertools.islice(text, chunk_rows))
        if not batch:
            break
        data = _parse(name, batch, first, names)
        line0 = first
        first += len(batch)
        if data.shape[0] == 0:
            continue
        any_rows = True
        time_s = data[:, 0]
        if np.isnan(time_s).any():
            r = int(np.flatnonzero(np.isnan(time_s))[0])
            raise RecordingError(name, line0 + r, "time_s", "empty time")
        steps = np.diff(np.r_[last_t, time_s])
        if np.any(steps <= 0):
            r = int(np.flatnonzero(steps <= 0)[0])
            raise RecordingError(name, line0 + r, "time_s", "time does not increase")
        last_t = float(time_s[-1])
        if fs_hz is None:
            fs_hz = _fs(name, meta, time_s)
            meta["fs_hz"] = f"{fs_hz:g}"
        yield _build(name, header_line, names, data, fs_hz, meta)
        if progress is not None:
            progress(position())
    if not any_rows:
        raise RecordingError(name, header_line, None, "no data rows")


def _build(
    name: str, header_line: int, names: list[str], data: F64, fs_hz: float, meta: dict[str, str]
) -> Recording:
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
    return Recording(data[:, 0].copy(), fs_hz, sides, dict(meta), "calfload")


def concat(chunks: list[Recording]) -> Recording:
    """Join consecutive pieces of one recording."""
    if len(chunks) == 1:
        return chunks[0]
    first = chunks[0]
    sides: dict[Side, SideSignals] = {}
    for side in first.sides:
        parts = [c.sides[side] for c in chunks]

        def joined(field: str, parts: list[SideSignals] = parts) -> F64 | None:
            arrays = [getattr(p, field) for p in parts]
            return None if arrays[0] is None else np.concatenate(arrays)

        force = joined("force_n")
        assert force is not None
        sides[side] = SideSignals(
            force_n=force,
            cell_force_n=joined("cell_force_n"),
            cell_pressure_kpa=joined("cell_pressure_kpa"),
            cop_x_m=joined("cop_x_m"),
            cop_y_m=joined("cop_y_m"),
            cop_norm=joined("cop_norm"),
            acc_mps2=joined("acc_mps2"),
            gyr_dps=joined("gyr_dps"),
        )
    time_s = np.concatenate([c.time_s for c in chunks])
    return Recording(time_s, first.fs_hz, sides, dict(first.meta), first.source, first.events)


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


def _parse(name: str, body: list[str], first_line: int, names: list[str]) -> F64:
    """Rows of ``body`` (file lines from ``first_line``) as a float array; NaN = empty field."""
    try:  # fast path: every field present and numeric
        data = np.loadtxt(io.StringIO("".join(body)), delimiter=",", ndmin=2, dtype=np.float64)
        if data.shape[1] == len(names) or data.size == 0:
            return data.reshape(-1, len(names)) if data.size == 0 else data
    except ValueError:
        pass
    rows: list[list[float]] = []
    for r, line in enumerate(body):
        if not line.strip():
            continue
        fields = line.rstrip("\r\n").split(",")
        if len(fields) != len(names):
            raise RecordingError(
                name, first_line + r, None, f"{len(fields)} fields, the header names {len(names)}"
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
                    name, first_line + r, names[c], f"'{text[:20]}' is not a number"
                ) from None
        rows.append(row)
    return np.asarray(rows, dtype=np.float64).reshape(-1, len(names))


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
    fmt = ["%.10g"] + ["%.6g"] * (len(cols) - 1)
    for a in range(0, table.shape[0], chunk_rows):
        buf = io.StringIO()
        # time_s with 10 digits: %.6g would round the times of sessions longer than ~17 min
        np.savetxt(buf, table[a : a + chunk_rows], delimiter=",", fmt=fmt)
        fh.write(re.sub(r"(?<![\w.])nan(?![\w.])", "", buf.getvalue()))
