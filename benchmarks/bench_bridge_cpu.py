"""The bridge's CPU per sensor, with the virtual twins' own cost taken out; and the
cost of the store-and-forward spool.

Two runs of the same length with the same virtual insoles (bumble peripherals on an
in-process radio, streaming 100 Hz in 5-sample notifications):

1. *baseline*: a plain ``BleakClient`` per twin subscribes and starts the stream with
   a callback that only keeps the bytes. This is the twins' and the radio's cost
   (on real hardware: the sensors and BlueZ), plus bleak's callback dispatch.
2. *bridge*: the real ``Bridge`` on the same twins: decode, time base, gap
   tracking, JSON encoding, spool on disk (SQLite WAL, ``synchronous=FULL``, flushed
   every 0.5 s), forwarding over paho to a local mosquitto, quality messages.

CPU is process CPU time (all threads, so paho's network thread counts), not wall
time, so other load on the machine changes it little. Bridge CPU per sensor =
(bridge − baseline) / sensors / seconds.

The machine is shared, so the pair is repeated and the median reported.

Run: .venv/bin/python benchmarks/bench_bridge_cpu.py [--seconds 30] [--athletes 1] [--repeats 3]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
from bleak import BleakClient

from calfload.bridge.bridge import Bridge
from calfload.bridge.devices import open_insole
from calfload.bridge.messages import SCHEMA, RawBatch, encode
from calfload.bridge.mqtt import BrokerUrl
from calfload.bridge.spool import Spool
from calfload.bridge.virtual.bleak_backend import BumbleBleakClient
from calfload.bridge.virtual.fleet import Fleet, demo_profiles, start_fleet


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def baseline(fleet: Fleet, seconds: float) -> tuple[float, int]:
    received = 0

    def keep(_char: object, data: bytearray) -> None:
        nonlocal received
        received += 1

    clients = []
    for spec in fleet.specs:
        client = BleakClient(spec.device, backend=BumbleBleakClient)
        await client.connect()
        await client.start_notify(open_insole.DATA_CHAR_UUID, keep)
        await client.write_gatt_char(open_insole.CONTROL_CHAR_UUID, b"\x01", response=True)
        clients.append(client)
    await asyncio.sleep(2.0)  # settle
    received = 0
    cpu0 = time.process_time()
    await asyncio.sleep(seconds)
    cpu = time.process_time() - cpu0
    n = received
    for client in clients:
        await client.disconnect()
    return cpu, n


async def with_bridge(
    fleet: Fleet, seconds: float, broker: BrokerUrl, spool: Path
) -> tuple[float, int]:
    bridge = Bridge(broker, fleet.specs, fleet.infos, backend=BumbleBleakClient, spool=Spool(spool))
    stop = asyncio.Event()
    task = asyncio.create_task(bridge.run(stop))
    for link in bridge.links:
        await asyncio.wait_for(link.connected.wait(), 30)
    await asyncio.sleep(2.0)
    before = bridge.batches_published
    cpu0 = time.process_time()
    await asyncio.sleep(seconds)
    cpu = time.process_time() - cpu0
    n = bridge.batches_published - before
    stop.set()
    await task
    return cpu, n


async def measure(
    seconds: float, athletes: int, repeats: int, broker: BrokerUrl, folder: Path
) -> None:
    fleet = await start_fleet(demo_profiles(athletes))
    n_sensors = len(fleet.specs)
    print(f"{n_sensors} insoles at 100 Hz, {seconds:g} s per run, {repeats} baseline/bridge pairs")
    per_sensor = []
    try:
        for k in range(repeats):
            base_cpu, base_n = await baseline(fleet, seconds)
            spool = folder / f"spool-{k}.sqlite3"
            bridge_cpu, bridge_n = await with_bridge(fleet, seconds, broker, spool)
            share = (bridge_cpu - base_cpu) / n_sensors / seconds
            per_sensor.append(share)
            print(
                f"  pair {k + 1}: baseline {100 * base_cpu / seconds:4.1f} % ({base_n} notif.),"
                f" bridge {100 * bridge_cpu / seconds:4.1f} % ({bridge_n} batches acked)"
                f" -> {100 * share:.2f} % per sensor"
            )
    finally:
        await fleet.stop()
    median = float(np.median(per_sensor))
    print(f"  bridge per sensor: median {100 * median:.2f} % (max {100 * max(per_sensor):.2f})")
    print(f"  two feet and a footpod (3 x median): {300 * median:.2f} % of a core (budget 5 %)")


def spool_cost(folder: Path) -> None:
    """Append + flush cost for realistic insole batches (5 samples, 8 cells, IMU)."""
    rng = np.random.default_rng(1)
    batch = RawBatch(
        schema=SCHEMA,
        sensor_id="a1-left-insole",
        athlete="a1",
        side="left",
        placement="insole",
        family="open-insole",
        seq=1,
        t0_s=1764091580.12,
        fs_hz=100.0,
        n=5,
        force_n=rng.uniform(0, 900, 5).round(2).tolist(),
        cell_force_n=rng.uniform(0, 300, (5, 8)).round(2).tolist(),
        acc_mps2=rng.normal(0, 9, (5, 3)).round(3).tolist(),
        gyr_dps=rng.normal(0, 200, (5, 3)).round(2).tolist(),
    )
    payload = encode(batch)
    spool = Spool(folder / "cost.sqlite3")
    per_flush = 30  # 0.5 s of two insoles and a footpod
    rounds = 200
    t_append = t_flush = 0.0
    for _ in range(rounds):
        t0 = time.perf_counter()
        for _ in range(per_flush):
            spool.append("calfload/raw/a1/left/a1-left-insole", payload)
        t1 = time.perf_counter()
        spool.flush()
        t2 = time.perf_counter()
        t_append += t1 - t0
        t_flush += t2 - t1
    print(f"spool: batch payload {len(payload)} B")
    print(f"  append {1e6 * t_append / (rounds * per_flush):.1f} µs per batch")
    print(
        f"  flush of {per_flush} batches (one fsync'd commit): {1e3 * t_flush / rounds:.2f} ms wall"
    )
    spool.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--athletes", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    # bumble warns once per teardown about a handle it already closed; harmless here.
    logging.getLogger("bumble.controller").setLevel(logging.ERROR)
    exe = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        port = free_port()
        conf = folder / "mosquitto.conf"
        conf.write_text(
            f"listener {port} 127.0.0.1\nallow_anonymous true\nmax_queued_messages 100000\n"
        )
        broker = subprocess.Popen([exe, "-c", str(conf)], stderr=subprocess.DEVNULL)
        try:
            time.sleep(0.5)
            spool_cost(folder)
            asyncio.run(
                measure(
                    args.seconds, args.athletes, args.repeats, BrokerUrl("127.0.0.1", port), folder
                )
            )
        finally:
            broker.terminate()
            broker.wait()


if __name__ == "__main__":
    main()
