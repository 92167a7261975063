"""Recorder write cost and storage: simulated insoles (100 Hz, 5-sample batches, 8 cells +
6-axis IMU, as the open insole sends them) through the recorder's writer exactly as MQTT
delivers them (JSON payload → decode → per-second buffers → SQLite WAL, a commit every
0.5 s of data time), plus a force-only variant. Reports CPU time per sensor-hour and bytes
per sensor-hour (the session file after the recorder closed it).

Run: .venv/bin/python benchmarks/bench_recorder.py [--minutes 10] [--athletes 2]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from calfload.bridge.messages import SCHEMA, RawBatch, encode
from calfload.bridge.mqtt import BrokerUrl
from calfload.bridge.simulator import AthleteProfile, GaitSimulator
from calfload.processing.recorder import store
from calfload.processing.recorder.recorder import Recorder

FS_HZ = 100.0
BATCH = 5


def payloads(athletes: int, seconds: float, full: bool) -> list[tuple[str, bytes]]:
    out: list[tuple[float, str, bytes]] = []
    t = np.arange(0.0, seconds, 1.0 / FS_HZ)
    t0 = time.time() - seconds
    for a in range(athletes):
        athlete = f"b{a}"
        sim = GaitSimulator(AthleteProfile(athlete, athlete, body_mass_kg=70.0, seed=a))
        for side in ("left", "right"):
            cells, acc, gyr = sim.insole(side, t)  # type: ignore[arg-type]
            force = cells.sum(axis=1)
            for seq, k in enumerate(range(0, t.size, BATCH)):
                sl = slice(k, k + BATCH)
                b = RawBatch(
                    schema=SCHEMA,
                    sensor_id=f"{athlete}-{side}",
                    athlete=athlete,
                    side=side,  # type: ignore[arg-type]
                    placement="insole",
                    family="open-insole",
                    seq=seq,
                    t0_s=t0 + float(t[k]),
                    fs_hz=FS_HZ,
                    n=force[sl].size,
                    force_n=np.round(force[sl], 2).tolist(),
                    cell_force_n=np.round(cells[sl], 2).tolist() if full else None,
                    acc_mps2=np.round(acc[sl], 3).tolist() if full else None,
                    gyr_dps=np.round(gyr[sl], 2).tolist() if full else None,
                )
                out.append((b.t0_s, f"calfload/raw/{athlete}/{side}/{b.sensor_id}", encode(b)))
    out.sort(key=lambda x: x[0])
    return [(topic, p) for _, topic, p in out]


def run(athletes: int, minutes: float, full: bool) -> None:
    seconds = minutes * 60.0
    messages = payloads(athletes, seconds, full)
    sensors = 2 * athletes
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        rec = Recorder(BrokerUrl("127.0.0.1", 1), folder, idle_timeout_s=1e9)
        per_commit = int(len(messages) / (seconds / 0.5))
        cpu0, wall0 = time.process_time(), time.perf_counter()
        for i, (topic, payload) in enumerate(messages):
            rec.handle(topic, payload)
            if i % per_commit == per_commit - 1:
                rec._commit_all()
        for athlete in list(rec.sessions):
            rec._close(athlete, "benchmark")
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        size = sum(p.stat().st_size for p in folder.iterdir())
        rows, _ = store.list_sessions(folder)
        samples = sum(r.samples for r in rows)
    hours = seconds / 3600.0
    assert samples == sensors * int(seconds * FS_HZ), samples
    kind = "8 cells + IMU" if full else "force only"
    print(
        f"{kind:14} {sensors} sensors × {minutes:g} min: {len(messages)} batches, "
        f"CPU {cpu:.2f} s (wall {wall:.2f} s) = {cpu / (sensors * hours):.1f} CPU-s per "
        f"sensor-hour ({100 * cpu / (sensors * hours) / 3600:.3f} % of a core per sensor), "
        f"{cpu / len(messages) * 1e6:.0f} µs per batch; "
        f"{size / (sensors * hours) / 1e6:.1f} MB per sensor-hour "
        f"({size / samples:.1f} B per sample)"
    )


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--minutes", type=float, default=10.0)
    p.add_argument("--athletes", type=int, default=2)
    args = p.parse_args()
    for full in (True, False):
        run(args.athletes, args.minutes, full)


if __name__ == "__main__":
    main()
