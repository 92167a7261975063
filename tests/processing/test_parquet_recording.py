"""Parquet recordings: read back like the CSV form; foreign Parquet files get a clear error."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from calfload.processing.analyze import detect_format, read_any
from calfload.processing.io.recording import RecordingError


def test_a_foreign_parquet_file_is_refused_with_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "other.parquet"
    pq.write_table(pa.table({"x": pa.array([1.0, 2.0])}), path)
    assert detect_format(path) == "parquet"
    with pytest.raises(RecordingError, match="not a calfload recording"):
        read_any(path)


def test_a_calfload_parquet_table_reads_as_a_recording(tmp_path: Path) -> None:
    path = tmp_path / "rec.parquet"
    t = np.arange(200) / 100.0
    table = pa.table({"time_s": t, "left_force_n": np.where(t % 0.7 < 0.25, 900.0, 0.0)})
    meta = {b"format": b"calfload-recording", b"format_version": b"1", b"body_mass_kg": b"70"}
    pq.write_table(table.replace_schema_metadata(meta), path)
    rec = read_any(path)
    assert rec.fs_hz == pytest.approx(100.0)
    assert rec.body_mass_kg == pytest.approx(70.0)
    np.testing.assert_array_equal(rec.sides["left"].force_n, table.column("left_force_n"))
