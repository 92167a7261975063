"""Cost of reading an athlete's history once (worker, first batch; ``analyze --data-dir``).

A data folder with 30 recorded sessions of the athlete in the last 30 days (plus 30 of another
athlete), each holding 3 hours of one-per-second ``SessionSummary`` rows (10,800 each, the
worker's summary period): time :func:`calfload.processing.history.read_history`.

Run: .venv/bin/python benchmarks/bench_history.py
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

from calfload.processing.history import read_history
from calfload.processing.recorder.store import SessionWriter, recordings_folder

SESSIONS = 30
SUMMARIES = 3 * 3600
NOW_S = 1_780_000_000.0


def build(data: Path) -> None:
    for athlete in ("a1", "b2"):
        for k in range(SESSIONS):
            started = NOW_S - (k + 1) * 86400.0 * 0.9
            w = SessionWriter.create(
                recordings_folder(data), f"{athlete}-{k}", athlete, "", started
            )
            for i in range(SUMMARIES):
                load = {"schema": 1, "steps": i, "achilles_impulse_ns": 1.0 * i,
                        "weighted_load_bw": 1.0, "achilles_impulse_bws": i / 1000}  # fmt: skip
                w.add_summary(
                    started + i, json.dumps({"schema": 1, "athlete": athlete, "load": load})
                )
            w.close(started + SUMMARIES, "stopped")


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        build(data)
        best = float("inf")
        for _ in range(3):
            t0 = time.perf_counter()
            h = read_history(data, "a1", NOW_S)
            best = min(best, time.perf_counter() - t0)
        assert len(h.sessions) == SESSIONS
        print(
            f"read_history: {SESSIONS} sessions of the athlete (+{SESSIONS} others), "
            f"{SUMMARIES} summaries each: {best * 1000:.1f} ms (best of 3)"
        )


if __name__ == "__main__":
    main()
