"""A recorder killed with SIGKILL mid-session leaves a readable recording that lacks at
most what arrived after its last commit (it commits every 0.5 s, the current partial
second included)."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from calfload.bridge import topics
from calfload.bridge.messages import encode
from calfload.processing.analyze import analyze
from calfload.processing.recorder import messages as rm
from calfload.processing.recorder import store
from calfload.processing.recorder.export import export_session
from calfload.processing.recorder.recorder import COMMIT_PERIOD_S
from tests.helpers import Collector, wait_until
from tests.recorder.sim import session

BASE = topics.DEFAULT_BASE


@pytest.mark.broker
def test_sigkill_mid_session_leaves_a_readable_recording(mosquitto, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    sim = session("k1", t0_s=time.time() - 20.0, jumps=False)
    fs = sim.batches[0].fs_hz
    data = tmp_path / "data"
    state = Collector("127.0.0.1", mosquitto.port, [rm.recorder_state(BASE)]).start()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "calfload.cli",
            "record",
            "--broker",
            mosquitto.url,
            "--data-dir",
            str(data),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    pub = Collector("127.0.0.1", mosquitto.port, [f"{BASE}/none"]).start()
    try:
        wait_until(
            lambda: any(p["state"] == "online" for p in state.payloads(BASE)), 30, "the recorder"
        )
        t_cut = sim.batches[0].t0_s + 6.0
        first = [b for b in sim.batches if b.t0_s < t_cut]
        last_second = [b for b in sim.batches if t_cut <= b.t0_s < t_cut + 0.5]
        for b in first:
            pub.client.publish(topics.raw(BASE, "k1", b.side, b.sensor_id), encode(b), qos=1)
        folder = store.recordings_folder(data)

        def committed() -> int:
            files = list(folder.glob("*.sqlite3"))
            return store.describe(files[0]).samples if files else 0

        # no stop and no new second needed: the timer commits the partial second too
        wait_until(lambda: committed() == sum(b.n for b in first), 30, "the first part on disk")
        for b in last_second:
            pub.client.publish(topics.raw(BASE, "k1", b.side, b.sensor_id), encode(b), qos=1)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(10)
        pub.stop()
        state.stop()
    assert proc.returncode == -signal.SIGKILL
    (path,) = store.recordings_folder(data).glob("*.sqlite3")
    with sqlite3.connect(path) as conn:  # recovers the WAL like any SQLite reader
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    row = store.describe(path, now_s=time.time() + store.ALIVE_S + 1)
    assert row.state == "interrupted"
    kept = row.samples
    lost = sum(b.n for b in first) + sum(b.n for b in last_second) - kept
    assert 0 <= lost <= sum(b.n for b in last_second)  # at most the last (half) second
    assert lost / fs / 2 <= 1.0  # per sensor, in seconds of data
    assert row.duration_s >= 5.9
    rec = export_session(path, tmp_path / "after-crash.csv", "csv")
    assert analyze(rec).steps  # the surviving recording is analysable
    assert COMMIT_PERIOD_S <= 1.0
