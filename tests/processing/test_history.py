"""Past sessions from the recorder's store, and the comparison offline and live."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest

from calfload.bridge.messages import Side
from calfload.bridge.simulator import AthleteProfile, GaitSimulator
from calfload.cli.main import main
from calfload.processing.analyze import blocks
from calfload.processing.history import history_for_steps, read_history
from calfload.processing.io.calfload_csv import write_recording
from calfload.processing.io.recording import Recording, SideSignals
from calfload.processing.pipeline import AthletePipeline
from calfload.processing.recorder.store import SessionWriter, recordings_folder

DAY_S = 86400.0
NOW_S = 1_780_000_000.0
G0 = 9.80665


def _store(
    data: Path, sid: str, athlete: str, started_s: float, impulse_bws: float | None, **steps: float
) -> None:
    """One stored session; with a summary's load totals, or (``None``) only steps + mass."""
    w = SessionWriter.create(recordings_folder(data), sid, athlete, sid, started_s)
    if impulse_bws is not None:
        load = {"schema": 1, "steps": 10, "achilles_impulse_ns": 1.0, "weighted_load_bw": 1.0,
                "achilles_impulse_bws": impulse_bws, "distance_m": 5000.0}  # fmt: skip
        w.add_summary(started_s + 60, json.dumps({"schema": 1, "athlete": athlete, "load": {}}))
        w.add_summary(started_s + 120, json.dumps({"schema": 1, "athlete": athlete, "load": load}))
    else:
        w.add_info(started_s, json.dumps({"schema": 1, "athlete": athlete, "body_mass_kg": 70.0}))
        for k, ns in enumerate(steps.values()):
            t = started_s + k
            msg = {"side": "left", "step_index": k, "ic_s": t, "to_s": t + 0.3,
                   "gct_ms": 300.0, "achilles_impulse_ns": ns}  # fmt: skip
            w.add_step(msg, json.dumps(msg))
    w.close(started_s + 1800, "stopped")


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    _store(tmp_path, "s1", "a1", NOW_S - 3 * DAY_S, 200.0)
    _store(tmp_path, "s2", "a1", NOW_S - 10 * DAY_S, 250.0)  # the 30-day maximum
    _store(tmp_path, "s3", "a1", NOW_S - 40 * DAY_S, 900.0)  # older than 30 days
    _store(tmp_path, "s4", "b2", NOW_S - 1 * DAY_S, 999.0)  # another athlete
    _store(tmp_path, "s5", "a1", NOW_S - 5 * DAY_S, None, a=70 * G0 * 50, b=70 * G0 * 30)
    (recordings_folder(tmp_path) / "broken.sqlite3").write_text("not a database")
    return tmp_path


def test_history_reads_the_athletes_recent_sessions(data_dir: Path) -> None:
    h = read_history(data_dir, "a1", NOW_S)
    got = sorted((round((NOW_S - p.t_s) / DAY_S), p.achilles_impulse_bws) for p in h.sessions)
    assert got == [(3, 200.0), (5, pytest.approx(80.0)), (10, 250.0)]
    assert len(h.errors) == 1 and "broken.sqlite3" in h.errors[0]
    assert read_history(data_dir, "nobody", NOW_S).sessions == ()


def test_offline_comparison_bands_against_the_30_day_maximum(data_dir: Path) -> None:
    from calfload.processing.messages import StepMessage

    def steps(total_bws: float) -> list[StepMessage]:
        ns = total_bws * 70.0 * G0 / 4
        return [
            StepMessage(schema=1, athlete="a1", side="left", sensor_id="s", step_index=k,
                        ic_s=float(k), to_s=k + 0.2, gct_ms=200.0, achilles_impulse_ns=ns)
            for k in range(4)
        ]  # fmt: skip

    within = history_for_steps(data_dir, "a1", steps(260.0), 70.0, NOW_S)
    assert within["band"] == "within" and within["ratio_to_max_30d"] == pytest.approx(1.04)
    assert within["max_30d"] == 250.0 and within["sessions_30d"] == 3
    assert within["extrapolated"] is True
    spike = history_for_steps(data_dir, "a1", steps(600.0), 70.0, NOW_S)
    assert spike["band"] == "spike-over-100" and spike["hazard_ratio"] == 2.28
    none = history_for_steps(data_dir, "b2", steps(10.0), 70.0, NOW_S - 30 * DAY_S)
    assert none["band"] == "no-history" and none["ratio_to_max_30d"] is None
    assert "error" in history_for_steps(data_dir, "a1", steps(10.0), None, NOW_S)


def _recording(seconds: float = 12.0) -> Recording:
    sim = GaitSimulator(AthleteProfile("a1", "A", body_mass_kg=70.0, seed=2))
    t = np.arange(0.0, seconds, 0.01)
    sides: dict[Side, SideSignals] = {}
    for side in ("left", "right"):
        cells = sim.insole(side, t)[0]
        sides[side] = SideSignals(force_n=cells.sum(axis=1), cell_force_n=cells)
    return Recording(t, 100.0, sides, {"body_mass_kg": "70"})


def test_live_summary_carries_the_compact_comparison(data_dir: Path) -> None:
    p = AthletePipeline("a1", 70.0)
    p.load.history = read_history(data_dir, "a1", NOW_S)
    p.load.history_t_s = NOW_S
    for _, block in blocks(_recording(), 50):
        p.on_samples(block)
    load = p.summary(NOW_S).load
    assert load is not None and load.history is not None
    assert load.history.ratio_to_max_30d == pytest.approx(load.achilles_impulse_bws / 250.0, 1e-2)
    assert load.history.band == "within" and load.history.sessions_30d == 3
    plain = AthletePipeline("a1", 70.0)
    for _, block in blocks(_recording(4.0), 50):
        plain.on_samples(block)
    summary = plain.summary(NOW_S).load
    assert summary is not None and summary.history is None  # no data folder: no field


def test_analyze_json_reports_the_history(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    now = time.time()
    _store(data_dir, "recent", "a1", now - 2 * DAY_S, 0.5)
    path = tmp_path / "run.csv"
    write_recording(path, _recording())
    assert (
        main(["analyze", str(path), "--json", "--data-dir", str(data_dir), "--athlete", "a1"]) == 0
    )
    out = json.loads(capsys.readouterr().out)
    hist = out["history"]
    assert hist["sessions_30d"] == 1 and hist["max_30d"] == 0.5  # only the recent one is < 30 d
    assert hist["ratio_to_max_30d"] == pytest.approx(hist["achilles_impulse_bws"] / 0.5, 1e-2)
    assert hist["band"] == "spike-over-100"
    assert main(["analyze", str(path), "--json"]) == 0
    assert "history" not in json.loads(capsys.readouterr().out)


def test_contract_example_history_is_consistent() -> None:
    from calfload.bridge.messages import decode
    from calfload.processing.messages import SessionSummary

    path = Path(__file__).resolve().parents[2] / "docs/schemas/examples/SessionSummary.load.json"
    load = decode(path.read_bytes(), SessionSummary).load
    assert load is not None and load.history is not None
    h = load.history
    assert h.max_30d and h.ratio_to_max_30d == round(load.achilles_impulse_bws / h.max_30d, 3)
    assert (h.band, h.hazard_ratio) == ("within", 1.0)
