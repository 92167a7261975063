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
from calfload.bridge.devices.open_insole_twin import TwinFaults
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


async def test_drifting_sensor_clocks_are_corrected_through_the_ble_path() -> None:
    """Twins whose clocks run 800 ppm slow (exaggerated tenfold so a 20 s run shows it;
    slow, because a minimum-delay offset alone would follow a fast clock but not a slow one):
    the bridge measures the drift and its batch times follow the true sample times."""
    drift_ppm = -800.0
    fleet = await start_fleet(demo_profiles(1), faults=TwinFaults(clock_drift_ppm=drift_ppm))
    bridge = Bridge(
        BrokerUrl("127.0.0.1", free_port()), fleet.specs, fleet.infos, backend=BumbleBleakClient
    )
    stop = asyncio.Event()
    task = asyncio.create_task(bridge.run(stop))
    try:
        await wait_for(
            lambda: all(lk.stats.gaps.samples_ok >= 2000 for lk in bridge.links),
            60,
            "twenty seconds of data from both insoles",
        )
        qualities = [bridge.quality(lk) for lk in bridge.links]
        batches = [decode(r.payload, RawBatch) for r in bridge.spool.take(0, 100_000)]
    finally:
        stop.set()
        await task
        await fleet.stop()
    for q in qualities:
        # session = sensor + alpha + beta·t with beta ≈ −drift.
        assert q.clock_drift_ppm is not None
        assert abs(q.clock_drift_ppm + drift_ppm) < 150, q
    for sensor in {b.sensor_id for b in batches}:
        mine = sorted((b for b in batches if b.sensor_id == sensor), key=lambda b: b.seq)
        assert all(b.gap_samples == 0 for b in mine)
        # The twin samples on the host's time grid (exactly fs_hz) and stamps with its
        # drifting clock, so true batch starts are n / fs_hz apart in host time.
        true_step_s = mine[0].n / mine[0].fs_hz
        residual = [b.t0_s - mine[0].t0_s - i * true_step_s for i, b in enumerate(mine)]
        late = residual[len(residual) // 2 :]
        # Uncorrected, these would slide by 800 ppm × 10 s = 8 ms over the second half.
        assert max(late) - min(late) < 0.004, sensor
