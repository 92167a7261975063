"""The live worker (through a real broker) and ``calfload analyze`` give identical steps."""

from __future__ import annotations

import asyncio

import msgspec
import numpy as np
import pytest
from tests.helpers import Collector, wait_until

from calfload.bridge import topics
from calfload.bridge.messages import SCHEMA, AthleteInfo, RawBatch, encode
from calfload.bridge.mqtt import BrokerUrl
from calfload.bridge.simulator import AthleteProfile
from calfload.processing.analyze import analyze
from calfload.processing.validation.simulated_insole import simulated_recording
from calfload.processing.worker import Worker

SKIP = ("schema", "athlete", "sensor_id")


@pytest.mark.broker
async def test_worker_steps_equal_offline_analysis(mosquitto) -> None:  # type: ignore[no-untyped-def]
    prof = AthleteProfile("eq1", "Eq", body_mass_kg=66.0, asymmetry_pct=4.0, seed=11)
    rec, _ = simulated_recording(prof, 0.015, 11, run_s=12.0)
    offline = analyze(rec).steps
    rng = np.random.default_rng(11)
    batches = []
    for side, sig in rec.sides.items():
        k, seq = 0, 0
        while k < rec.time_s.size:
            n = int(rng.integers(3, 12))
            f = sig.force_n[k : k + n]
            batches.append(
                RawBatch(
                    schema=SCHEMA,
                    sensor_id=f"eq1-{side}",
                    athlete="eq1",
                    side=side,
                    placement="insole",
                    family="open-insole",
                    seq=seq,
                    t0_s=float(rec.time_s[k]),
                    fs_hz=rec.fs_hz,
                    n=f.size,
                    force_n=f.tolist(),
                    cell_force_n=None
                    if sig.cell_force_n is None
                    else sig.cell_force_n[k : k + n].tolist(),
                )
            )
            k, seq = k + n, seq + 1
    batches.sort(key=lambda b: b.t0_s + b.n / b.fs_hz)
    broker = BrokerUrl.parse(mosquitto.url)
    collector = Collector("127.0.0.1", mosquitto.port, ["calfload/steps/#"])
    await asyncio.to_thread(collector.start)
    worker = Worker(broker)
    worker.start()
    await asyncio.to_thread(worker.connected.wait, 10)
    publisher = Collector("127.0.0.1", mosquitto.port, ["calfload/none"])
    await asyncio.to_thread(publisher.start)
    try:
        info = AthleteInfo(
            schema=SCHEMA,
            athlete="eq1",
            name="Eq",
            body_mass_kg=66.0,
            sensors=["eq1-left", "eq1-right"],
        )
        publisher.client.publish(
            topics.athlete_info(topics.DEFAULT_BASE, "eq1"), encode(info), qos=1, retain=True
        )
        await asyncio.to_thread(
            wait_until, lambda: "eq1" in worker.body_mass_kg, 10, "the athlete's body mass"
        )
        for b in batches:
            publisher.client.publish(
                topics.raw(topics.DEFAULT_BASE, b.athlete, b.side, b.sensor_id), encode(b), qos=1
            )
        await asyncio.to_thread(
            wait_until, lambda: worker.stats.batches_ok == len(batches), 20, "every batch"
        )
        await asyncio.to_thread(
            wait_until,
            lambda: len(collector.payloads("calfload/steps/")) == worker.stats.steps_published,
            10,
            "every step",
        )
    finally:
        worker.stop()
        publisher.stop()
        collector.stop()
    live = collector.payloads("calfload/steps/")
    # The worker never flushes: at most the last step of each foot can still be held.
    assert len(offline) - 2 <= len(live) <= len(offline)
    want = {
        (s.side, s.step_index): {
            k: v for k, v in msgspec.structs.asdict(s).items() if k not in SKIP
        }
        for s in offline
    }
    for got in live:
        fields = {k: v for k, v in got.items() if k not in SKIP}
        assert fields == want[(got["side"], got["step_index"])]
