"""Store-and-forward: a broker that goes away mid-run, and a bridge killed with SIGKILL.

Real parts: mosquitto, the real BleakClient path to virtual insoles, the on-disk
spool. The subscriber holds a persistent MQTT session (as a worker on a real
deployment should), so messages the broker accepts while it is away are queued
for it; what this test checks is the bridge's side: nothing is lost, order holds.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from tests.helpers import wait_until

from calfload.bridge.bridge import MAX_OUTSTANDING, Bridge
from calfload.bridge.mqtt import BrokerUrl
from calfload.bridge.spool import SPOOL_FILE, Spool
from calfload.bridge.virtual.bleak_backend import BumbleBleakClient
from calfload.bridge.virtual.fleet import demo_profiles, start_fleet
from calfload.processing.worker import Worker

REPO = Path(__file__).resolve().parents[2]


class RawSubscriber:
    """A persistent-session QoS 1 subscriber to every raw batch; keeps (sensor, seq) in
    arrival order."""

    def __init__(self, port: int, client_id: str) -> None:
        self.port = port
        self.arrivals: list[tuple[str, int]] = []
        self.lock = threading.Lock()
        self.subscribed = threading.Event()
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            clean_session=False,
            protocol=mqtt.MQTTv311,
        )
        self.client.on_connect = lambda c, *a: c.subscribe("calfload/raw/#", qos=1)
        self.client.on_subscribe = lambda *a: self.subscribed.set()
        self.client.on_message = self._on_message
        self.client.reconnect_delay_set(min_delay=1, max_delay=2)

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        batch = json.loads(msg.payload)
        with self.lock:
            self.arrivals.append((batch["sensor_id"], batch["seq"]))

    def start(self) -> None:
        self.client.connect_async("127.0.0.1", self.port)
        self.client.loop_start()
        assert self.subscribed.wait(10), "could not subscribe"

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def by_sensor(self) -> dict[str, list[int]]:
        out: dict[str, list[int]] = defaultdict(list)
        with self.lock:
            for sensor, seq in self.arrivals:
                out[sensor].append(seq)
        return out

    def unique(self) -> int:
        with self.lock:
            return len(set(self.arrivals))


def check_complete_and_ordered(seqs: dict[str, list[int]], expected: dict[str, int]) -> int:
    """Every seq 0..n-1 of each sensor arrived, first arrivals in order; return repeats."""
    repeats = 0
    for sensor, n in expected.items():
        got = seqs.get(sensor, [])
        first: list[int] = []
        seen: set[int] = set()
        for q in got:
            if q in seen:
                repeats += 1
            else:
                seen.add(q)
                first.append(q)
        assert seen == set(range(n)), f"{sensor}: missing {sorted(set(range(n)) - seen)[:10]}"
        assert first == sorted(first), f"{sensor}: batches arrived out of order"
    return repeats


@pytest.mark.broker
async def test_broker_down_mid_run_loses_nothing(mosquitto, tmp_path: Path) -> None:
    mosquitto.persistence = True
    mosquitto.restart()
    sub = RawSubscriber(mosquitto.port, "calfload-test-raw")
    await asyncio.to_thread(sub.start)
    worker = Worker(BrokerUrl.parse(mosquitto.url))
    worker.start()
    assert await asyncio.to_thread(worker.connected.wait, 10)
    fleet = await start_fleet(demo_profiles(1))
    spool = Spool(tmp_path / SPOOL_FILE)
    bridge = Bridge(
        BrokerUrl.parse(mosquitto.url),
        fleet.specs,
        fleet.infos,
        backend=BumbleBleakClient,
        spool=spool,
    )
    stop = asyncio.Event()
    task = asyncio.create_task(bridge.run(stop))
    try:
        for link in bridge.links:
            await asyncio.wait_for(link.connected.wait(), 20)
        await asyncio.to_thread(wait_until, lambda: sub.unique() >= 40, 20, "live batches")
        await asyncio.to_thread(mosquitto.stop)
        down_at = bridge.batches_recorded
        # The run goes on without a broker: the spool takes every batch.
        await asyncio.to_thread(
            wait_until,
            lambda: bridge.batches_recorded >= down_at + 120,
            30,
            "three seconds of batches recorded while the broker is down",
        )
        assert spool.backlog() >= 100
        await asyncio.to_thread(mosquitto.start)
        await asyncio.to_thread(
            wait_until,
            lambda: bridge.batches_published >= down_at + 120,
            30,
            "the backlog to be forwarded after the broker returned",
        )
    finally:
        stop.set()
        await task
        await fleet.stop()
    recorded = bridge.batches_recorded
    expected = {lk.spec.sensor_id: lk._seq for lk in bridge.links}
    assert sum(expected.values()) == recorded
    await asyncio.to_thread(
        wait_until, lambda: sub.unique() == recorded, 30, "every batch at the subscriber"
    )
    sub.stop()
    # The worker (a persistent session, so the broker queued for it while it was away)
    # processed every batch exactly once: repeats of the at-least-once path are dropped.
    await asyncio.to_thread(
        wait_until,
        lambda: worker.stats.batches_ok == recorded,
        30,
        f"every batch at the worker ({recorded})",
    )
    worker.stop()
    seen = {k: v[1] for k, v in worker._recent_seq.items()}
    assert {k: len(v) for k, v in seen.items()} == expected  # every batch, none twice
    assert worker.stats.batches_ok == recorded
    assert worker.stats.batches_rejected == 0
    repeats = check_complete_and_ordered(sub.by_sensor(), expected)
    print(f"{recorded} batches, {recorded - down_at} after the outage began, {repeats} repeats")
    # At least once: only batches in flight when the broker died may come twice.
    assert repeats <= MAX_OUTSTANDING
    assert bridge.batches_published >= recorded
    assert Spool(tmp_path / SPOOL_FILE).backlog() == 0  # the spool emptied itself


CHILD = """
import asyncio, sys
from pathlib import Path
from calfload.bridge.bridge import Bridge
from calfload.bridge.mqtt import BrokerUrl
from calfload.bridge.spool import Spool
from calfload.bridge.virtual.bleak_backend import BumbleBleakClient
from calfload.processing.worker import Worker
from calfload.bridge.virtual.fleet import demo_profiles, start_fleet

async def main() -> None:
    fleet = await start_fleet(demo_profiles(1))
    bridge = Bridge(BrokerUrl.parse(sys.argv[2]), fleet.specs, fleet.infos,
                    backend=BumbleBleakClient, spool=Spool(Path(sys.argv[1])))
    stop = asyncio.Event()
    task = asyncio.create_task(bridge.run(stop))
    while True:
        await asyncio.sleep(0.05)
        seqs = ",".join(f"{lk.spec.sensor_id}={lk._seq}" for lk in bridge.links)
        print(f"recorded {bridge.batches_recorded} {seqs}", flush=True)

asyncio.run(main())
"""


@pytest.mark.broker
def test_killed_bridge_forwards_its_spool_on_the_next_start(mosquitto, tmp_path) -> None:
    """SIGKILL during a run with no network loses at most the last second of batches."""
    spool_path = tmp_path / SPOOL_FILE
    closed_port = mosquitto.port
    mosquitto.stop()  # no broker while the runner is out
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    child = subprocess.Popen(
        [sys.executable, str(script), str(spool_path), f"mqtt://127.0.0.1:{closed_port}"],
        stdout=subprocess.PIPE,
        env=env,
        text=True,
    )
    last: dict[str, int] = {}
    try:
        assert child.stdout is not None
        for line in child.stdout:  # progress lines, 20 a second
            fields = line.split()
            if fields[0] != "recorded":
                continue
            last = {k: int(v) for k, v in (f.split("=") for f in fields[2].split(","))}
            if int(fields[1]) >= 160:  # four seconds of two insoles
                break
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    assert child.returncode == -signal.SIGKILL
    # On disk now: everything but at most the last second (20 batches per insole).
    stored = Spool(spool_path)
    assert stored.recovered >= sum(last.values()) - 2 * 20
    mosquitto.start()
    sub = RawSubscriber(mosquitto.port, "calfload-test-after-kill")
    sub.start()

    async def restart_bridge() -> None:
        bridge = Bridge(BrokerUrl.parse(mosquitto.url), [], [], spool=stored)
        stop = asyncio.Event()
        task = asyncio.create_task(bridge.run(stop))
        try:
            await asyncio.to_thread(
                wait_until, lambda: sub.unique() >= stored.recovered, 30, "the spool forwarded"
            )
        finally:
            stop.set()
            await task

    asyncio.run(restart_bridge())
    sub.stop()
    seqs = sub.by_sensor()
    # Each insole's batches from 0 up to what reached the disk, none missing, in order.
    expected = {sensor: max(q) + 1 for sensor, q in seqs.items()}
    assert set(expected) == set(last)
    for sensor, n in expected.items():
        assert n >= last[sensor] - 20, sensor
    check_complete_and_ordered(seqs, expected)
    assert sum(expected.values()) == stored.recovered
    assert Spool(spool_path).backlog() == 0


class CompressedRun:
    """A bridge source that replays ``minutes`` of two insoles as fast as the bridge
    takes them, through the real decoder and time base (``SensorLink.process``)."""

    def __init__(self, minutes: float) -> None:
        from bleak.backends.device import BLEDevice

        from calfload.bridge.link import SensorLink, SensorSpec

        self.minutes = minutes
        self.links = [
            SensorLink(
                SensorSpec(
                    f"a1-{side}-insole",
                    "a1",
                    side,  # type: ignore[arg-type]
                    "insole",
                    "open-insole",
                    BLEDevice(f"AA:00:00:00:00:0{k}", side, None),
                ),
                lambda b: None,
                lambda *a: None,
            )
            for k, side in enumerate(("left", "right"))
        ]
        self.memory_mb: list[float] = []
        self._stop = False

    def attach(self, on_batch) -> None:  # type: ignore[no-untyped-def]
        for link in self.links:
            link.on_batch = on_batch

    async def run(self) -> None:
        import resource

        import numpy as np

        from calfload.bridge.devices import open_insole

        rng = np.random.default_rng(5)
        cells = np.full((5, 8), 100.0)
        imu = np.zeros((5, 3))
        packets = int(self.minutes * 60 * 20)
        t_start = time.time() - self.minutes * 60
        page_mb = resource.getpagesize() / 1e6
        for i in range(packets):
            for k, link in enumerate(self.links):
                payload = open_insole.encode(
                    seq=i & 0xFFFF,
                    t0_us=(k * 1_000_000 + i * 50_000) & 0xFFFFFFFF,
                    dt_us=10_000,
                    cell_force_n=cells,
                    acc_mps2=imu,
                    gyr_dps=imu,
                )
                arrival = t_start + i * 0.05 + 0.04 + rng.exponential(0.01)
                for batch in link.process(arrival, payload):
                    link.on_batch(batch)
            if i % 20 == 0:
                await asyncio.sleep(0.002)  # let the forwarder and paho run
            if i % (packets // 10) == 0:  # resident set size, from /proc
                rss_pages = int(Path("/proc/self/statm").read_text().split()[1])  # noqa: ASYNC240
                self.memory_mb.append(rss_pages * page_mb)
            if self._stop:
                return

    def stop(self) -> None:
        self._stop = True

    def quality(self) -> list[Any]:
        return []


@pytest.mark.broker
async def test_thirty_minute_compressed_run_loses_nothing_in_bounded_memory(
    mosquitto, tmp_path: Path
) -> None:
    sub = RawSubscriber(mosquitto.port, "calfload-test-compressed")
    await asyncio.to_thread(sub.start)
    source = CompressedRun(minutes=30)
    spool = Spool(tmp_path / SPOOL_FILE)
    bridge = Bridge(BrokerUrl.parse(mosquitto.url), [], [], sources=[source], spool=spool)
    stop = asyncio.Event()
    task = asyncio.create_task(bridge.run(stop))
    expected = 2 * 30 * 60 * 20
    try:
        await asyncio.to_thread(
            wait_until, lambda: sub.unique() >= expected, 150, "36 000 batches per insole"
        )
    finally:
        stop.set()
        await task
        sub.stop()
    check_complete_and_ordered(
        sub.by_sensor(), {"a1-left-insole": expected // 2, "a1-right-insole": expected // 2}
    )
    assert all(lk.stats.gaps.samples_lost == 0 for lk in source.links)
    mem = source.memory_mb
    print(f"resident memory over the run (MB): {[round(m, 1) for m in mem]}")
    # The bridge's own state is bounded by construction: what paho holds unacknowledged,
    # the spool's in-memory rows (at most one flush period), the clock's window of bins.
    assert len(bridge._mid_rows) <= MAX_OUTSTANDING
    assert all(len(lk.clock._bins) <= lk.clock.window_s / lk.clock.bin_s + 1 for lk in source.links)
    # Resident memory also holds this test's subscriber (every arrival kept, ~7 MB) and
    # allocator slack; a bridge that kept its batches would add ~60 MB (800 B × 72 000).
    assert mem[-1] < mem[1] + 30.0
