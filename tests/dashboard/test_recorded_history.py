"""Backfill source: steps missed during a broker outage come from the recorder's files."""

from __future__ import annotations

import json
from pathlib import Path

from calfload.bridge.messages import encode
from calfload.dashboard.recorded_history import RecordedHistory
from calfload.processing.messages import StepMessage
from calfload.processing.recorder.store import SessionWriter, recordings_folder


def _step(athlete: str, side: str, k: int, ic_s: float) -> StepMessage:
    return StepMessage(
        schema=1,
        athlete=athlete,
        side=side,  # type: ignore[arg-type]
        sensor_id=f"{athlete}-{side}",
        step_index=k,
        ic_s=ic_s,
        to_s=ic_s + 0.25,
        gct_ms=250.0,
    )


def test_steps_after_a_time_come_back_in_order_for_that_athlete_and_foot(tmp_path: Path) -> None:
    folder = recordings_folder(tmp_path)
    t0 = 1_764_000_000.0
    for athlete in ("a1", "b2"):
        w = SessionWriter.create(folder, f"s-{athlete}", athlete, "run", t0)
        for k in range(1, 11):
            for side in ("left", "right"):
                s = _step(athlete, side, k, t0 + k * 0.7 + (0.35 if side == "right" else 0.0))
                raw = encode(s).decode()
                w.add_step(json.loads(raw), raw)
        w.commit()
        w.close(t0 + 10.0, "stopped")
    (folder / "broken.sqlite3").write_text("not a database")  # skipped, not fatal
    history = RecordedHistory(folder)
    got = history.read_steps_after("a1", "left", t0 + 4 * 0.7)
    assert [s.step_index for s in got] == [5, 6, 7, 8, 9, 10]
    assert all(s.athlete == "a1" and s.side == "left" for s in got)
    assert history.read_steps_after("zz", "left", t0) == []
    assert history.read_steps_after("a1", "right", t0 + 100.0) == []
