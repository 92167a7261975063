"""The live worker compares a session with the athlete's recorded sessions (data folder)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from tests.conftest import Mosquitto
from tests.helpers import Collector, wait_until

from calfload.bridge import topics
from calfload.bridge.messages import SCHEMA, AthleteInfo, RawBatch, encode
from calfload.bridge.mqtt import BrokerUrl
from calfload.bridge.simulator import AthleteProfile, GaitSimulator
from calfload.processing.recorder.store import SessionWriter, recordings_folder
from calfload.processing.worker import Worker

FS_HZ = 100.0
DAY_S = 86400.0


def _past(data: Path, sid: str, athlete: str, started_s: float, impulse_bws: float) -> None:
    w = SessionWriter.create(recordings_folder(data), sid, athlete, sid, started_s)
    load = {"schema": 1, "steps": 100, "achilles_impulse_ns": 1.0, "weighted_load_bw": 1.0,
            "achilles_impulse_bws": impulse_bws}  # fmt: skip
    w.add_summary(started_s + 60, json.dumps({"schema": 1, "athlete": athlete, "load": load}))
    w.close(started_s + 600, "stopped")


@pytest.mark.broker
def test_worker_summary_carries_the_history_comparison(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    now = time.time()
    _past(tmp_path, "p1", "a1", now - 2 * DAY_S, 1.5)
    _past(tmp_path, "p2", "a1", now - 9 * DAY_S, 2.0)  # the 30-day maximum
    _past(tmp_path, "p3", "a1", now - 45 * DAY_S, 50.0)  # outside the window
    worker = Worker(BrokerUrl.parse(mosquitto.url), data_dir=tmp_path)
    worker.start()
    collector = Collector("127.0.0.1", mosquitto.port, ["calfload/summary/#"])
    collector.start()
    pub = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
    pub.connect("127.0.0.1", mosquitto.port)
    pub.loop_start()
    try:
        wait_until(worker.connected.is_set, 10, "the worker to connect")
        info = AthleteInfo(schema=SCHEMA, athlete="a1", name="A", body_mass_kg=70.0, sensors=[])
        pub.publish(topics.athlete_info("calfload", "a1"), encode(info), qos=1, retain=True)
        wait_until(lambda: "a1" in worker.settings, 10, "the worker to read the athlete info")
        sim = GaitSimulator(AthleteProfile("a1", "A", body_mass_kg=70.0, seed=3))
        t = np.arange(0.0, 6.0, 1.0 / FS_HZ)
        cells = sim.insole("left", t)[0]
        n = 0
        for k in range(0, t.size, 10):
            c = cells[k : k + 10]
            batch = RawBatch(
                schema=SCHEMA, sensor_id="a1-left", athlete="a1", side="left",
                placement="insole", family="open-insole", seq=k // 10, t0_s=1000.0 + float(t[k]),
                fs_hz=FS_HZ, n=len(c), force_n=c.sum(axis=1).tolist(), cell_force_n=c.tolist(),
            )  # fmt: skip
            pub.publish(topics.raw("calfload", "a1", "left", "a1-left"), encode(batch), qos=1)
            n += 1
        wait_until(lambda: worker.stats.batches_ok == n, 20, "every batch processed")

        def history() -> dict[str, object] | None:
            for s in reversed(collector.payloads("calfload/summary/")):
                load = s.get("load") or {}
                if load.get("history"):
                    return {**load["history"], "current": load["achilles_impulse_bws"]}
            return None

        wait_until(lambda: history() is not None, 10, "a summary with the history")
        h = history()
        assert h is not None
        assert h["max_30d"] == 2.0 and h["sessions_30d"] == 2
        assert isinstance(h["current"], float) and h["current"] > 0
        assert h["ratio_to_max_30d"] == pytest.approx(h["current"] / 2.0, abs=2e-3)
        assert h["band"] in ("within", "spike-10-30", "spike-30-100", "spike-over-100")
        assert h["extrapolated"] is True
    finally:
        pub.loop_stop()
        pub.disconnect()
        collector.stop()
        worker.stop()
