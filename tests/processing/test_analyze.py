"""``calfload analyze``: same steps as the live pipeline, files in and out, CLI behaviour."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import msgspec
import numpy as np
import pytest

from calfload.bridge.messages import SCHEMA, RawBatch
from calfload.bridge.simulator import AthleteProfile
from calfload.cli.main import main
from calfload.processing.analyze import analyze
from calfload.processing.io.calfload_csv import write_recording
from calfload.processing.io.recording import Recording, SideSignals
from calfload.processing.messages import StepMessage
from calfload.processing.pipeline import AthletePipeline, SampleBlock
from calfload.processing.validation.simulated_insole import simulated_recording

MOTICON = Path("moticon_opengo_walking") / "230927_102114.txt.gz"
SAME = ("sensor_id", "athlete")  # differ by construction between the two paths


def _recording(seed: int = 4) -> tuple[Recording, list]:  # type: ignore[type-arg]
    prof = AthleteProfile("a1", "A", body_mass_kg=72.0, asymmetry_pct=6.0, seed=seed)
    rec, truth = simulated_recording(prof, 0.015, seed, run_s=20.0)
    rec.sides["left"].force_n[900:903] = np.nan  # lost samples (mid-run)
    rec.sides["right"].force_n[1500:1501] = np.nan
    return rec, truth


def _live(rec: Recording, seed: int) -> list[StepMessage]:
    """Feed the recording as the bridge would: random batch sizes, sides interleaved."""
    rng = np.random.default_rng(seed)
    batches = []
    for side, sig in rec.sides.items():
        f = sig.force_n
        k, seq, lost = 0, 0, 0
        while k < f.size:
            n = int(rng.integers(1, 30))
            chunk = f[k : k + n]
            good = np.isfinite(chunk)
            if not good.all():  # split at the hole; the bridge reports it as gap_samples
                first_bad = int(np.flatnonzero(~good)[0])
                n = (
                    first_bad
                    if first_bad > 0
                    else int(np.flatnonzero(good)[0])
                    if good.any()
                    else n
                )
                if first_bad == 0:
                    lost += n
                    k += n
                    continue
                chunk = f[k : k + n]
            batches.append(
                RawBatch(
                    schema=SCHEMA,
                    sensor_id=f"s-{side}",
                    athlete="a1",
                    side=side,
                    placement="insole",
                    family="open-insole",
                    seq=seq,
                    t0_s=float(rec.time_s[k]),
                    fs_hz=rec.fs_hz,
                    n=n,
                    gap_samples=lost,
                    force_n=chunk.tolist(),
                    cell_force_n=None
                    if sig.cell_force_n is None
                    else sig.cell_force_n[k : k + n].tolist(),
                )
            )
            k, seq, lost = k + n, seq + 1, 0
    batches.sort(key=lambda b: b.t0_s + b.n / b.fs_hz)  # arrival order: last sample first
    pipeline = AthletePipeline("a1", rec.body_mass_kg)
    steps: list[StepMessage] = []
    for b in batches:
        steps += pipeline.on_batch(b)
    steps += pipeline.flush()
    return steps


def _fields(s: StepMessage) -> dict[str, object]:
    return {k: v for k, v in msgspec.structs.asdict(s).items() if k not in SAME}


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_live_batches_and_offline_analysis_give_identical_steps(seed: int) -> None:
    rec, truth = _recording(seed)
    offline = analyze(rec).steps
    live = _live(rec, seed)
    assert len(offline) >= len(truth) - 2  # the steps over the two holes may be dropped
    key = lambda s: (s.side, s.step_index)  # noqa: E731
    assert [_fields(s) for s in sorted(live, key=key)] == [
        _fields(s) for s in sorted(offline, key=key)
    ]


def test_chunk_size_of_the_analysis_does_not_change_the_steps() -> None:
    rec, _ = _recording(5)
    a = analyze(rec, chunk_samples=7).steps
    b = analyze(rec, chunk_samples=100).steps
    assert [_fields(s) for s in a] == [_fields(s) for s in b]


def test_analyze_moticon_export(shared_data: Path) -> None:
    from calfload.processing.analyze import read_any

    result = analyze(read_any(shared_data / MOTICON), body_mass_kg=80.0)
    assert result.summary["steps"] == 14
    assert result.summary["left"]["steps"] == result.summary["right"]["steps"] == 7
    assert result.summary["gait"] == {"running": 0, "walking": 14}
    assert all(s.flight_ms is not None and s.flight_ms < 0 for s in result.steps[1:])
    assert 1.0 < result.summary["left"]["peak_force_bw_mean"] < 1.6


def test_cli_round_trip_of_a_simulated_recording(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    prof = AthleteProfile("a2", "B", body_mass_kg=68.0, seed=8)
    rec, truth = simulated_recording(prof, 0.01, 8, run_s=15.0)
    path = tmp_path / "run.csv"
    write_recording(path, rec)
    out = tmp_path / "steps.csv"
    assert main(["analyze", str(path), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert f"steps {len(truth)} (running {len(truth)}" in text and "body mass 68.0 kg" in text
    with out.open() as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0])[:4] == ["side", "ic_s", "to_s", "gct_ms"]
    assert {"flight_ms", "quality", "quality_reason", "gait", "peak_force_bw"} <= set(rows[0])
    assert len(rows) == len(truth)
    for row, t in zip(rows, sorted(truth, key=lambda s: s.ic_s), strict=True):
        assert row["side"] == t.side
        assert abs(float(row["ic_s"]) - t.ic_s) < 0.01 and abs(float(row["to_s"]) - t.to_s) < 0.01


def test_cli_json_and_body_mass_override(shared_data: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["analyze", str(shared_data / MOTICON), "--json", "--body-mass-kg", "81"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["body_mass_kg"] == 81.0 and summary["steps"] == 14
    assert summary["source_format"] == "moticon"


def test_cli_progress_bar_on_request(shared_data: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["analyze", str(shared_data / MOTICON), "--progress"]) == 0
    assert "100%" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("content", "expect"),
    [
        (
            "time_s,left_force_n\n0,1\n0.01,abc\n",
            ":3: column 'left_force_n': 'abc' is not a number",
        ),
        ("hello\nworld\n", ":1: unknown format"),
        ("# format_version: 9\ntime_s,left_force_n\n0,1\n", "format_version 9 is not supported"),
    ],
)
def test_cli_bad_files_exit_2_with_one_line(
    tmp_path: Path, capsys, content: str, expect: str
) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "bad.csv"
    path.write_text(content, encoding="utf-8")
    assert main(["analyze", str(path)]) == 2
    err = capsys.readouterr().err
    assert expect in err and err.count("\n") == 1 and err.startswith("calfload analyze: ")


def test_cli_missing_file_and_bad_options(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["analyze", str(tmp_path / "nope.csv")]) == 2
    assert "cannot read the file" in capsys.readouterr().err
    assert main(["analyze", str(tmp_path / "nope.csv"), "--out", "steps.xlsx"]) == 2
    assert "--out must end in .csv or .parquet" in capsys.readouterr().err
    assert main(["analyze", str(tmp_path / "x.csv"), "--body-mass-kg", "-3"]) == 2


def test_cli_parquet_output(tmp_path: Path, shared_data: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "steps.parquet"
    code = main(["analyze", str(shared_data / MOTICON), "--out", str(out)])
    try:
        import pyarrow.parquet as pq
    except ImportError:
        assert code == 2 and "needs pyarrow" in capsys.readouterr().err
        return
    assert code == 0
    table = pq.read_table(out)
    assert table.num_rows == 14 and table.column_names[:4] == ["side", "ic_s", "to_s", "gct_ms"]


@pytest.mark.parametrize(
    ("cadence", "gct_ms", "peak_bw"), [(170.0, 240.0, 2.5), (110.0, 650.0, 1.2)]
)
def test_holding_for_the_other_foot_does_not_delay_steps(
    cadence: float, gct_ms: float, peak_bw: float
) -> None:
    """Fed in 5-sample batches, both feet in step, each step leaves with the batch that holds
    the samples just after its toe-off (data time, not wall-clock time)."""
    prof = AthleteProfile(
        "a", "A", body_mass_kg=70.0, cadence_spm=cadence, gct_ms=gct_ms, peak_force_bw=peak_bw
    )
    rec, truth = simulated_recording(prof, 0.01, 1, 20.0)
    pipeline = AthletePipeline("a", 70.0)
    delays = []
    for k in range(0, rec.time_s.size, 5):
        for side in ("left", "right"):
            f = rec.sides[side].force_n[k : k + 5]  # type: ignore[index]
            block = SampleBlock(side, "s", float(rec.time_s[k]), 100.0, f)  # type: ignore[arg-type]
            for s in pipeline.on_samples(block):
                delays.append(rec.time_s[k] + f.size / 100.0 - s.to_s)
    assert len(delays) == len(truth)
    # One batch (50 ms) plus the sample after the toe-off.
    assert max(delays) <= 0.05 + 0.011


def test_weight_shifting_while_standing_is_never_a_step() -> None:
    """Standing 20 s: the left foot unloads and reloads every 0.8 s (shuffling, 0.4 s loaded),
    the right keeps standing; then a real run. Only the run's steps count."""
    prof = AthleteProfile("a", "A", body_mass_kg=70.0, seed=2)
    run, truth = simulated_recording(prof, 0.01, 2, 10.0)
    fs = run.fs_hz
    n_stand = int(20 * fs)
    weight = 70.0 * 9.80665
    t = np.arange(n_stand) / fs
    left = np.where((t % 0.8) < 0.4, weight * 0.5, 10.0)
    right = np.full(n_stand, weight * 0.5) + np.where((t % 0.8) < 0.4, 0.0, weight * 0.45)
    rng = np.random.default_rng(0)
    sides = {}
    for side, stand in (("left", left), ("right", right)):
        sig = run.sides[side]  # type: ignore[index]
        force = np.concatenate((stand + rng.normal(0, 5.0, n_stand), sig.force_n))
        sides[side] = SideSignals(force_n=force)
    rec = Recording(np.arange(n_stand + run.time_s.size) / fs, fs, sides, dict(run.meta))  # type: ignore[arg-type]
    result = analyze(rec)
    assert len(result.steps) == len(truth)
    assert min(s.ic_s for s in result.steps) > 20.0
    assert result.summary["weight_shifts_dropped"] >= 20  # one per 0.8 s shuffle


def test_one_foot_at_50_hz_and_an_empty_file(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    t = np.arange(0.0, 20.0, 0.02)
    phase = (t % 0.7) / 0.25
    force = np.where(phase < 1.0, 1200.0 * np.sin(np.pi * np.minimum(phase, 1.0)), 0.0)
    path = tmp_path / "one.csv"
    lines = ["# fs_hz: 50", "time_s,left_force_n"] + [
        f"{a:.2f},{b:.2f}" for a, b in zip(t, force, strict=True)
    ]
    path.write_text("\n".join(lines) + "\n")
    assert main(["analyze", str(path), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    complete = int((20.0 - 0.25) // 0.7) + 1  # contacts at 0, 0.7, … ending before 20 s
    assert summary["left"]["steps"] == complete and summary["right"]["steps"] == 0
    assert summary["left"]["gct_ms_mean"] == pytest.approx(250.0, abs=10.0)
    assert summary["cadence_spm"] == pytest.approx(120.0 / 0.7, rel=0.01)  # from strides
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    assert main(["analyze", str(empty)]) == 2
    assert "the file is empty" in capsys.readouterr().err


def test_streamed_file_gives_the_same_steps_and_late_errors_name_their_line(
    tmp_path: Path,
) -> None:
    from calfload.processing.analyze import analyze_pieces
    from calfload.processing.io.calfload_csv import iter_recording, read_recording
    from calfload.processing.io.recording import RecordingError

    rec, _ = _recording(6)
    path = tmp_path / "run.csv.gz"
    write_recording(path, rec)
    pieces = list(iter_recording(path, chunk_rows=137))
    assert len(pieces) > 10 and all(p.time_s.size <= 137 for p in pieces)
    whole = analyze(read_recording(path)).steps
    streamed = analyze_pieces(iter_recording(path, chunk_rows=137)).steps
    assert [_fields(s) for s in streamed] == [_fields(s) for s in whole]
    lines = path.with_suffix("").with_suffix(".csv")
    write_recording(lines, rec)
    text = lines.read_text().splitlines()
    header = sum(1 for ln in text if ln.startswith("#")) + 1
    bad_line = header + 1500  # a data row far beyond the first chunk
    fields = text[bad_line - 1].split(",")
    fields[1] = "oops"
    text[bad_line - 1] = ",".join(fields)
    lines.write_text("\n".join(text) + "\n")
    with pytest.raises(RecordingError, match=rf":{bad_line}: column 'left_force_n': 'oops'"):
        analyze_pieces(iter_recording(lines, chunk_rows=200))


def test_body_mass_arriving_late_restarts_the_loaded_level() -> None:
    pipeline = AthletePipeline("a", None)
    block = SampleBlock("left", "s", 0.0, 100.0, np.zeros(10))
    pipeline.on_samples(block)
    assert pipeline.streams["left"].detector.loaded_level_n == 700.0  # the default
    pipeline.body_mass_kg = 80.0  # as the worker does when AthleteInfo arrives
    pipeline.on_samples(SampleBlock("left", "s", 0.1, 100.0, np.zeros(10)))
    assert pipeline.streams["left"].detector.loaded_level_n == pytest.approx(80.0 * 9.80665)
