"""Virtual insoles streaming force *and* the simulated foot IMU over BLE → bridge → mosquitto →
worker, with the insole's own IMU checking every insole step (fused steps)."""

from __future__ import annotations

import asyncio

import pytest
from tests.helpers import Collector, wait_until

from calfload.bridge.bridge import Bridge
from calfload.bridge.mqtt import BrokerUrl
from calfload.bridge.virtual.bleak_backend import BumbleBleakClient
from calfload.bridge.virtual.fleet import demo_profiles, start_fleet
from calfload.processing.imu_source import ImuSource
from calfload.processing.pipeline import AthletePipeline
from calfload.processing.worker import Worker

RUN_S = 8.0
FS_HZ = 100.0


@pytest.mark.broker
async def test_insole_imu_checks_every_live_step(mosquitto) -> None:
    broker = BrokerUrl.parse(mosquitto.url)
    collector = Collector("127.0.0.1", mosquitto.port, ["calfload/steps/#", "calfload/raw/#"])
    await asyncio.to_thread(collector.start)
    worker = Worker(broker)
    profiles = demo_profiles(1)
    for p in profiles:  # opt in to the check before any batch arrives
        worker.pipelines[p.athlete] = AthletePipeline(
            p.athlete, p.body_mass_kg, imu=ImuSource(check_insole_imu=True)
        )
    worker.start()
    fleet = await start_fleet(profiles)
    bridge = Bridge(broker, fleet.specs, fleet.infos, backend=BumbleBleakClient)
    stop = asyncio.Event()
    task = asyncio.create_task(bridge.run(stop))
    try:
        for link in bridge.links:
            await asyncio.wait_for(link.connected.wait(), 20)
        await asyncio.sleep(RUN_S)
    finally:
        stop.set()
        await task
        await fleet.stop()
    await asyncio.to_thread(
        wait_until,
        lambda: worker.stats.batches_ok == bridge.batches_published,
        10,
        "the worker to process every raw batch",
    )
    await asyncio.to_thread(
        wait_until,
        lambda: len(collector.payloads("calfload/steps/")) == worker.stats.steps_published,
        10,
        "every published step to reach the subscriber",
    )
    worker.stop()
    collector.stop()
    assert worker.stats.batches_rejected == 0

    steps = collector.payloads("calfload/steps/")
    raws = collector.payloads("calfload/raw/")
    assert raws and all(r["acc_mps2"] and r["gyr_dps"] for r in raws)  # the IMU is streamed
    for spec in fleet.specs:
        mine = sorted((s for s in steps if s["side"] == spec.side), key=lambda s: s["ic_s"])
        fused = [s for s in mine if s["source"] == "fused"]
        # All but the first step (before the IMU's first mid-swing) are checked, and agree.
        assert len(fused) >= len(mine) - 1 >= 4, spec.sensor_id
        # The insole detector flags only the first contact (no swing seen before it).
        assert all(s["quality"] == "ok" for s in fused[1:])
        assert not any("imu_disagrees" in s["quality_reason"] for s in fused)
        truth = fleet.simulators[spec.athlete].true_steps(spec.side)
        # Session time = simulator time + twin clock offset + the bridge's offset (see the
        # insole live test); events come from the insole, so GCT is insole-accurate.
        link = next(lk for lk in bridge.links if lk.spec.sensor_id == spec.sensor_id)
        assert link.clock.offset_s is not None
        c = link.clock.offset_s + fleet.twins[spec.sensor_id].clock_offset_us / 1e6
        for s in fused:
            t = min(truth, key=lambda t: abs(s["ic_s"] - c - t.ic_s))
            assert abs(s["ic_s"] - c - t.ic_s) < 0.03
            assert abs(s["gct_ms"] - t.gct_ms) < 1000 / FS_HZ
