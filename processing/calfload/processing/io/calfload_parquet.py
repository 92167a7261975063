"""The calfload recording format as one Parquet table (written by ``calfload export``).

Same columns as the CSV form (``docs/formats.md``); the header keys are the table's
schema metadata. Needs pyarrow (the ``parquet`` extra).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from calfload.processing.io.calfload_csv import FORMAT_VERSION, _build, _fs
from calfload.processing.io.recording import Recording, RecordingError

MAGIC = b"PAR1"


def looks_like_parquet(head: bytes) -> bool:
    return head[:4] == MAGIC


def read_parquet_recording(path: Path) -> Recording:
    """Read a recording exported as Parquet; a :class:`RecordingError` when it is not one."""
    name = str(path)
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise RecordingError(
            name, None, None, "reading Parquet needs pyarrow: pip install 'calfload[parquet]'"
        ) from None
    try:
        table = pq.read_table(path)
    except (OSError, ValueError) as exc:
        raise RecordingError(name, None, None, f"not a readable Parquet file ({exc})") from None
    raw_meta = table.schema.metadata or {}
    meta = {k.decode(): v.decode() for k, v in raw_meta.items() if not k.startswith(b"ARROW")}
    if meta.get("format") != "calfload-recording":
        raise RecordingError(name, None, None, "a Parquet file, but not a calfload recording")
    if meta.get("format_version", str(FORMAT_VERSION)) != str(FORMAT_VERSION):
        raise RecordingError(
            name, None, None, f"format_version {meta['format_version']} is not supported (1)"
        )
    names = list(table.column_names)
    if not names or names[0] != "time_s":
        raise RecordingError(
            name, None, names[0] if names else None, "the first column must be 'time_s'"
        )
    try:
        data = np.column_stack(
            [table.column(c).to_numpy(zero_copy_only=False).astype(np.float64) for c in names]
        )
    except (TypeError, ValueError) as exc:
        raise RecordingError(name, None, None, f"a column is not numeric ({exc})") from None
    if data.shape[0] == 0:
        raise RecordingError(name, None, None, "no data rows")
    time_s = data[:, 0]
    if np.isnan(time_s).any() or np.any(np.diff(time_s) <= 0):
        raise RecordingError(name, None, "time_s", "time is empty or does not increase")
    fs_hz = _fs(name, meta, time_s)
    meta["fs_hz"] = f"{fs_hz:g}"
    return _build(name, 0, names, data, fs_hz, meta)
