"""A dropped link through the real BleakClient path: the bridge reconnects, keeps its
time base, and reports the outage in the quality message. No broker needed: the run
records into the spool."""

from __future__ import annotations

import asyncio
import itertools
import math
from collections import defaultdict

from tests.conftest import free_port

from calfload.bridge.bridge import Bridge
from calfload.bridge.messages import RawBatch, decode
from calfload.bridge.mqtt import BrokerUrl
from calfload.bridge.virtual.bleak_backend import BumbleBleakClient
from calfload.bridge.virtual.fleet import demo_profiles, start_fleet


async def wait_for(predicate, timeout_s: float, what: str) -> None:  # type: ignore[no-untyped-def]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def test_dropped_link_reconnects_and_is_reported() -> None:
    fleet = await start_fleet(demo_profiles(1))
    no_broker = BrokerUrl("127.0.0.1", free_port())  # the run goes on offline
    bridge = Bridge(no_broker, fleet.specs, fleet.infos, backend=BumbleBleakClient)
    left, right = bridge.links
    stop = asyncio.Event()
    task = asyncio.create_task(bridge.run(stop))
    try:
        await wait_for(lambda: left.stats.gaps.samples_ok >= 300, 30, "three seconds of data")
        await fleet.twins[left.spec.sensor_id].drop_link()
        await wait_for(lambda: left.stats.connects >= 2, 30, "the link to come back")
        mark = left.stats.gaps.samples_ok
        await wait_for(lambda: left.stats.gaps.samples_ok >= mark + 200, 30, "data after it")
        quality = bridge.quality(left)
        batches = [decode(r.payload, RawBatch) for r in bridge.spool.take(0, 100_000)]
    finally:
        stop.set()
        await task
        await fleet.stop()
    assert quality.reconnects == 1
    assert quality.offline_s > 0
    assert left.stats.disconnects == 1 and right.stats.disconnects == 0
    assert quality.sync_error_ms is not None and math.isfinite(quality.sync_error_ms)
    assert quality.time_uncertainty_ms is not None
    assert quality.clock_drift_ppm is not None and abs(quality.clock_drift_ppm) < 5000
    # The clock survived the reconnect (no restart of the fit) and time never ran back.
    assert left.clock.resets == 0
    by_sensor: dict[str, list[RawBatch]] = defaultdict(list)
    for b in batches:
        by_sensor[b.sensor_id].append(b)
    for sensor, mine in by_sensor.items():
        assert [b.seq for b in mine] == list(range(len(mine))), sensor
        for prev, nxt in itertools.pairwise(mine):
            assert nxt.t0_s >= prev.t0_s + (prev.n - 1) / prev.fs_hz, sensor
