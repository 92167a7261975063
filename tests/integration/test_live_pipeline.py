"""Virtual athletes → bridge (real BleakClient) → mosquitto → worker → step messages."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from tests.helpers import Collector, wait_until

from calfload.bridge.bridge import Bridge
from calfload.bridge.devices.open_insole_twin import TwinFaults
from calfload.bridge.mqtt import BrokerUrl
from calfload.bridge.virtual.bleak_backend import BumbleBleakClient
from calfload.bridge.virtual.fleet import demo_profiles, start_fleet
from calfload.processing.worker import Worker

RUN_S = 10.0
FS_HZ = 100.0


@pytest.mark.broker
async def test_every_step_arrives_once_with_true_gct(mosquitto) -> None:
    broker = BrokerUrl.parse(mosquitto.url)
    collector = Collector("127.0.0.1", mosquitto.port, ["calfload/steps/#", "calfload/raw/#"])
    await asyncio.to_thread(collector.start)
    worker = Worker(broker)
    worker.start()
    # Garbage notifications between good ones: counted by the bridge, no data lost.
    fleet = await start_fleet(demo_profiles(2), faults=TwinFaults(garbage_every=7))
    bridge = Bridge(broker, fleet.specs, fleet.infos, backend=BumbleBleakClient)
    stop = asyncio.Event()
    task = asyncio.create_task(bridge.run(stop))
    try:
        for link in bridge.links:
            await asyncio.wait_for(link.connected.wait(), 20)
        await asyncio.sleep(RUN_S)  # the run itself: ten seconds of virtual running
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

    # Malformed packets were counted, none crashed the link, and no good packet was lost.
    for link in bridge.links:
        twin = fleet.twins[link.spec.sensor_id]
        assert twin.garbage_sent > 5
        assert link.stats.packets_bad == twin.garbage_sent
        assert set(link.stats.bad_by_reason) == {"short", "version", "length"}
        assert link.stats.gaps.samples_lost == 0
        quality = bridge.quality(link)
        assert quality.loss_pct == 0.0
        # Measured from host arrival times, so a twin streaming at 100 Hz shows ~100 Hz.
        assert quality.effective_fs_hz == pytest.approx(FS_HZ, rel=0.05)
    assert worker.stats.batches_rejected == 0

    steps = collector.payloads("calfload/steps/")
    raws = collector.payloads("calfload/raw/")
    gct_errors = []
    for spec in fleet.specs:
        mine = sorted(
            (s for s in steps if s["athlete"] == spec.athlete and s["side"] == spec.side),
            key=lambda s: s["ic_s"],
        )
        batches = [r for r in raws if r["sensor_id"] == spec.sensor_id]
        start = min(r["t0_s"] for r in batches)
        end = max(r["t0_s"] + r["n"] / r["fs_hz"] for r in batches)
        truth = fleet.simulators[spec.athlete].true_steps(spec.side)
        # Session time = sensor time + the bridge's offset; sensor time = the twin's
        # clock offset + simulator time. Residual error is the bridge's bounded slew.
        link = next(lk for lk in bridge.links if lk.spec.sensor_id == spec.sensor_id)
        assert link.stats.gaps.samples_ok > 0 and link.clock.offset_s is not None
        c = link.clock.offset_s + fleet.twins[spec.sensor_id].clock_offset_us / 1e6
        # Every detected step is a true step (matched by initial contact), none twice.
        matched = []
        for s in mine:
            t = min(truth, key=lambda t: abs(s["ic_s"] - c - t.ic_s))
            # Alignment tolerates the bridge's clock settling; duration is strict.
            assert abs(s["ic_s"] - c - t.ic_s) < 0.03, (spec.sensor_id, s["ic_s"])
            assert abs(s["gct_ms"] - t.gct_ms) < 1000 / FS_HZ
            gct_errors.append(s["gct_ms"] - t.gct_ms)
            matched.append(t.index)
        assert len(matched) == len(set(matched)), spec.sensor_id
        # None missing: every true step well inside the streamed span was detected.
        inside = {t.index for t in truth if t.ic_s + c > start + 0.3 and t.to_s + c < end - 0.3}
        assert inside <= set(matched), spec.sensor_id
        assert len(inside) >= 10
        assert [s["step_index"] for s in mine] == list(range(1, len(mine) + 1))
    errors = np.array(gct_errors)
    print(
        f"GCT error vs truth: n={errors.size} bias={errors.mean():+.2f} ms SD={errors.std():.2f} ms"
    )
