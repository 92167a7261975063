"""Athlete settings over MQTT reach the live worker, and its steps carry the load fields."""

from __future__ import annotations

import json

import numpy as np
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from tests.helpers import Collector, wait_until

from calfload.bridge import topics
from calfload.bridge.messages import SCHEMA, AthleteInfo, RawBatch, encode
from calfload.bridge.mqtt import BrokerUrl
from calfload.bridge.simulator import AthleteProfile, GaitSimulator
from calfload.processing.worker import Worker

FS_HZ = 100.0


@pytest.mark.broker
def test_worker_uses_the_athlete_info_settings(mosquitto) -> None:
    worker = Worker(BrokerUrl.parse(mosquitto.url))
    worker.start()
    collector = Collector("127.0.0.1", mosquitto.port, ["calfload/steps/#", "calfload/summary/#"])
    collector.start()
    pub = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
    pub.connect("127.0.0.1", mosquitto.port)
    pub.loop_start()
    try:
        wait_until(worker.connected.is_set, 10, "the worker to connect")
        info = AthleteInfo(
            schema=SCHEMA, athlete="a1", name="A", body_mass_kg=70.0, sensors=["a1-left"],
            foot_length_m=0.27, achilles_moment_arm_m=0.05, load_budget_bw_s=500.0,
        )  # fmt: skip
        pub.publish(topics.athlete_info("calfload", "a1"), encode(info), qos=1, retain=True)
        wait_until(lambda: "a1" in worker.settings, 10, "the worker to read the athlete info")

        sim = GaitSimulator(AthleteProfile("a1", "A", body_mass_kg=70.0, seed=3))
        t = np.arange(0.0, 8.0, 1.0 / FS_HZ)
        cells = sim.insole("left", t)[0]
        n_batches = 0
        for k in range(0, t.size, 5):
            c = cells[k : k + 5]
            batch = RawBatch(
                schema=SCHEMA, sensor_id="a1-left", athlete="a1", side="left",
                placement="insole", family="open-insole", seq=k // 5, t0_s=1000.0 + float(t[k]),
                fs_hz=FS_HZ, n=len(c), force_n=c.sum(axis=1).tolist(), cell_force_n=c.tolist(),
            )  # fmt: skip
            pub.publish(topics.raw("calfload", "a1", "left", "a1-left"), encode(batch), qos=1)
            n_batches += 1
        wait_until(lambda: worker.stats.batches_ok == n_batches, 20, "every batch processed")
        truth = [s for s in sim.true_steps("left") if s.to_s < 7.99]
        wait_until(
            lambda: len(collector.payloads("calfload/steps/")) == len(truth), 10, "every step"
        )
        steps = collector.payloads("calfload/steps/")
        for s in steps:
            assert s["load_model"] == "insole-cop"
            assert s["achilles_force_n"] == pytest.approx(s["pf_moment_nm"] / 0.05, rel=1e-3)
            assert 4.0 < s["achilles_force_bw"] < 12.0

        def last_summary() -> dict[str, object]:
            return collector.payloads("calfload/summary/")[-1]

        wait_until(
            lambda: (
                bool(collector.payloads("calfload/summary/"))
                and (last_summary().get("load") or {}).get("steps") == len(steps)
            ),
            10,
            "a summary with the load totals",
        )
        load = last_summary()["load"]
        assert isinstance(load, dict)
        total = sum(s["achilles_impulse_ns"] for s in steps)
        assert load["achilles_impulse_ns"] == pytest.approx(total, rel=1e-3)
        assert load["budget_used_pct"] == pytest.approx(
            100 * load["achilles_impulse_bws"] / 500.0, rel=1e-2
        )

        # An impossible setting is refused, counted and named; the worker carries on.
        bad = json.loads(encode(info))
        bad["achilles_moment_arm_m"] = 0.5
        pub.publish(topics.athlete_info("calfload", "a1"), json.dumps(bad), qos=1, retain=True)
        wait_until(lambda: worker.stats.batches_rejected == 1, 10, "the bad info to be counted")
        assert "achilles_moment_arm_m" in worker.stats.last_error
        assert worker.settings["a1"].achilles_moment_arm_m == 0.05
    finally:
        pub.loop_stop()
        pub.disconnect()
        collector.stop()
        worker.stop()
