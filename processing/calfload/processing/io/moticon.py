"""Reader for Moticon OpenGo text exports (``.txt``, tab-separated, ``# `` header lines).

Layout (``reference/sensors.md`` §7.2; vendor reader ``moticon_opengo/txt_export.py`` of PyPI
``moticon-opengo`` 1.0.3): ``# key: value`` header lines, then one ``# `` line of tab-separated
channel names with units in brackets, then one tab-separated row per 10 ms. An empty field is a
missing sample of that side (kept as NaN, never interpolated). Units are converted to SI:
pressure N/cm² → kPa (× 10), acceleration g → m/s², angular rate stays in deg/s. Step event
columns (``left steps[]`` / ``right steps[]``) hold codes 11/15 (left heel strike / toe-off)
and 21/25 (right).
"""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import numpy as np

from calfload.bridge.messages import Side
from calfload.processing.io.recording import (
    SIDES,
    Recording,
    RecordingError,
    SideSignals,
    VendorEvent,
)

G0_MPS2 = 9.80665
EVENT_CODES: dict[int, tuple[Side, str]] = {
    11: ("left", "ic"),
    15: ("left", "to"),
    21: ("right", "ic"),
    25: ("right", "to"),
}
_UNIT = re.compile(r"\[[^\]]*\]$")


def looks_like_moticon(head: str) -> bool:
    """True when the first lines of a file look like a Moticon text export."""
    return head.startswith("# Start time:") or "left total force[N]" in head


def _open_text(path: Path) -> list[str]:
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


def read_moticon(path: Path) -> Recording:
    """Read a Moticon OpenGo text export (plain or gzip-compressed)."""
    name = str(path)
    lines = _open_text(path)
    meta: dict[str, str] = {}
    header_end = 0
    names: list[str] | None = None
    for k, line in enumerate(lines):
        if not line.startswith("#"):
            break
        header_end = k + 1
        body = line[1:].strip()
        if "\t" in body:
            names = body.split("\t")
        elif ":" in body:
            key, _, value = body.partition(":")
            meta[key.strip().lower().replace(" ", "_")] = value.strip()
    if names is None:
        raise RecordingError(name, header_end or 1, None, "no '# time<TAB>…' column-name line")
    names = [n.strip() for n in names]
    if names[0] != "time":
        raise RecordingError(name, header_end, names[0], "the first column must be 'time'")
    keys = [_UNIT.sub("", n).strip() for n in names]
    rows = []
    for k in range(header_end, len(lines)):
        line = lines[k]
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) != len(names):
            raise RecordingError(
                name, k + 1, None, f"{len(fields)} fields, the header names {len(names)}"
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
                    name, k + 1, names[c], f"'{text[:20]}' is not a number"
                ) from None
        rows.append(row)
    if not rows:
        raise RecordingError(name, header_end, None, "no data rows")
    data = np.asarray(rows, dtype=np.float64)
    time_s = data[:, 0]
    if np.isnan(time_s).any():
        k = int(np.flatnonzero(np.isnan(time_s))[0])
        raise RecordingError(name, header_end + k + 1, "time", "empty time")
    if np.any(np.diff(time_s) <= 0):
        k = int(np.flatnonzero(np.diff(time_s) <= 0)[0]) + 1
        raise RecordingError(name, header_end + k + 1, "time", "time does not increase")
    col = {key: i for i, key in enumerate(keys)}
    sides: dict[Side, SideSignals] = {}
    for side in SIDES:
        fkey = f"{side} total force"
        if fkey not in col:
            continue
        cells = [f"{side} pressure {i}" for i in range(1, 17)]
        have_cells = [c for c in cells if c in col]
        pressure = data[:, [col[c] for c in have_cells]] * 10.0 if have_cells else None
        acc = _group(data, col, f"{side} acceleration", G0_MPS2)
        gyr = _group(data, col, f"{side} angular", 1.0)
        cop = None
        if f"{side} center of pressure X" in col and f"{side} center of pressure Y" in col:
            cop = data[
                :, [col[f"{side} center of pressure X"], col[f"{side} center of pressure Y"]]
            ]
        sides[side] = SideSignals(
            force_n=data[:, col[fkey]],
            cell_pressure_kpa=pressure,
            cop_norm=cop,
            acc_mps2=acc,
            gyr_dps=gyr,
        )
    if not sides:
        raise RecordingError(name, header_end, None, "no 'left/right total force[N]' column")
    events = []
    for side in SIDES:
        key = f"{side} steps"
        if key not in col:
            continue
        values = data[:, col[key]]
        for k in np.flatnonzero(np.isfinite(values)).tolist():
            code = int(values[k])
            if code in EVENT_CODES:
                ev_side, kind = EVENT_CODES[code]
                events.append(
                    VendorEvent(ev_side, "ic" if kind == "ic" else "to", float(time_s[k]))
                )
    events.sort(key=lambda e: (e.t_s, e.side))
    steps = np.diff(time_s)
    fs_hz = float(round(1.0 / float(np.median(steps)), 6)) if steps.size else 100.0
    meta.setdefault("placement", "insole")
    meta["fs_hz"] = f"{fs_hz:g}"
    return Recording(time_s, fs_hz, sides, meta, "moticon", tuple(events))


def _group(data: np.ndarray, col: dict[str, int], prefix: str, scale: float) -> np.ndarray | None:
    keys = [f"{prefix} {a}" for a in "XYZ"]
    if not all(k in col for k in keys):
        return None
    return data[:, [col[k] for k in keys]] * scale
