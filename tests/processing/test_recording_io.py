"""Readers and writer: the real Moticon export, the calfload format round trip, bad files."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from calfload.bridge.simulator import AthleteProfile
from calfload.processing.io.calfload_csv import read_recording, write_recording
from calfload.processing.io.moticon import read_moticon
from calfload.processing.io.recording import RecordingError, runs
from calfload.processing.validation.simulated_insole import simulated_recording

MOTICON = Path("moticon_opengo_walking") / "230927_102114.txt.gz"


def test_moticon_export_is_read_with_units_gaps_and_events(shared_data: Path) -> None:
    rec = read_moticon(shared_data / MOTICON)
    assert rec.source == "moticon" and rec.fs_hz == 100.0
    assert rec.time_s.size == 1750
    assert rec.meta["sensor_insoles"] == "Left SN5968, Right SN9171"
    left, right = rec.sides["left"], rec.sides["right"]
    # Empty cells are missing samples (data README: left 3.6 %, right 0.7 %).
    assert np.isnan(left.force_n).mean() * 100 == pytest.approx(3.6, abs=0.1)
    assert np.isnan(right.force_n).mean() * 100 == pytest.approx(0.7, abs=0.1)
    assert np.isnan(left.force_n[:50]).all()
    assert left.cell_pressure_kpa is not None and left.cell_pressure_kpa.shape == (1750, 16)
    # 24–32 N/cm² peaks = 240–320 kPa; acceleration up to ~5.4 g in m/s².
    assert 240 <= np.nanmax(left.cell_pressure_kpa) <= 330
    assert left.acc_mps2 is not None and 40 < np.nanmax(np.abs(left.acc_mps2)) < 60
    assert np.nanmax(left.force_n) == pytest.approx(1008, abs=5)
    kinds = [(e.side, e.kind) for e in rec.events]
    assert kinds.count(("left", "ic")) == 7 and kinds.count(("right", "to")) == 7
    assert rec.events[0].t_s == pytest.approx(3.0)
    # The one missing time step (16.45 s) splits the time axis.
    assert len(runs(rec.time_s, np.ones(rec.time_s.size, bool), rec.fs_hz)) == 2


def test_moticon_bad_cell_names_line_and_column(shared_data: Path, tmp_path: Path) -> None:
    lines = gzip.decompress((shared_data / MOTICON).read_bytes()).decode().splitlines()
    fields = lines[20].split("\t")
    fields[23] = "1o5"
    lines[20] = "\t".join(fields)
    bad = tmp_path / "bad.txt"
    bad.write_text("\n".join(lines), encoding="utf-8")
    with pytest.raises(RecordingError) as err:
        read_moticon(bad)
    assert str(err.value) == f"{bad}:21: column 'left total force[N]': '1o5' is not a number"


def _sim(seconds: float = 5.0):  # type: ignore[no-untyped-def]
    return simulated_recording(AthleteProfile("a9", "Nine", body_mass_kg=64.5), 0.01, 3, seconds)


def test_calfload_format_round_trip_keeps_every_channel(tmp_path: Path) -> None:
    rec, _ = _sim()
    left = rec.sides["left"]
    assert left.cell_force_n is not None
    left.force_n[100:103] = np.nan  # missing samples survive as empty cells
    path = tmp_path / "run.csv"
    write_recording(path, rec)
    text = path.read_text()
    assert text.startswith("# format: calfload-recording\n# format_version: 1\n# fs_hz: 100\n")
    assert "\n# body_mass_kg: 64.5\n" in text and ",," in text
    back = read_recording(path)
    assert back.body_mass_kg == 64.5 and back.fs_hz == 100.0
    assert back.meta["axis_frame"] == rec.meta["axis_frame"]
    np.testing.assert_allclose(back.time_s, rec.time_s, atol=1e-6)
    for side in ("left", "right"):
        a, b = rec.sides[side], back.sides[side]  # type: ignore[index]
        np.testing.assert_allclose(b.force_n, a.force_n, rtol=1e-5, atol=1e-3, equal_nan=True)
        assert a.cell_force_n is not None and b.cell_force_n is not None
        np.testing.assert_allclose(b.cell_force_n, a.cell_force_n, rtol=1e-5, atol=1e-3)
        assert a.acc_mps2 is not None and b.acc_mps2 is not None
        np.testing.assert_allclose(b.acc_mps2, a.acc_mps2, rtol=1e-5, atol=1e-4)
        assert b.gyr_dps is not None
    gz = tmp_path / "run.csv.gz"
    write_recording(gz, rec)
    np.testing.assert_array_equal(read_recording(gz).time_s, back.time_s)


BAD_FILES = [
    ("# format_version: 2\ntime_s,left_force_n\n0,1\n", "format_version 2 is not supported"),
    ("# fs_hz: 100\nt,left_force_n\n0,1\n", ":2: column 't': the first column must be 'time_s'"),
    ("time_s,left_force_n\n0,1\n0.01,x\n", ":3: column 'left_force_n': 'x' is not a number"),
    ("time_s,left_force_n\n0,1\n0.01,1,2\n", ":3: 3 fields, the header names 2"),
    ("time_s,left_force_n\n0,1\n0,2\n", ":3: column 'time_s': time does not increase"),
    ("time_s,left_acc_x_mps2\n0,1\n0.01,1\n", ":1: no force column"),
    ("# fs_hz: 100\n", "no column-name line"),
    ("time_s,left_force_n\n", "no data rows"),
    ("# fs_hz: fast\ntime_s,left_force_n\n0,1\n", "header fs_hz 'fast' is not a positive number"),
]


@pytest.mark.parametrize(("text", "message"), BAD_FILES)
def test_bad_calfload_files_get_one_line_errors(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(RecordingError) as err:
        read_recording(path)
    assert message in str(err.value)
    assert "\n" not in str(err.value) and str(err.value).startswith(str(path))
