"""Foot-IMU contact detector speed: offline (one chunk) and live (20 ms packets) on the same
simulated hour of 200 Hz foot IMU (running, 3.5 m/s).

Run: .venv/bin/python benchmarks/bench_imu.py
"""

from __future__ import annotations

import time
import tracemalloc

import numpy as np

from calfload.bridge.simulator import AthleteProfile, GaitSimulator
from calfload.processing.imu_events import ImuContactDetector, detect_imu_contacts

FS_HZ = 200.0
SECONDS = 3600.0
BLOCK = 200_000


def main() -> None:
    sim = GaitSimulator(
        AthleteProfile("bench", "Bench", speed_mps=3.5, cadence_spm=172.0, gct_ms=230.0, seed=7)
    )
    t = np.arange(0.0, SECONDS, 1.0 / FS_HZ)
    parts = [sim.foot_imu("left", t[k : k + BLOCK]) for k in range(0, t.size, BLOCK)]
    acc = np.vstack([p[0] for p in parts])
    gyr = np.vstack([p[1] for p in parts])

    t0 = time.perf_counter()
    whole = detect_imu_contacts(acc, gyr, fs_hz=FS_HZ)
    t_whole = time.perf_counter() - t0

    t0 = time.perf_counter()
    det = ImuContactDetector()
    live = []
    most = 0
    for k in range(0, t.size, 4):
        live += det.feed(k / FS_HZ, FS_HZ, acc[k : k + 4], gyr[k : k + 4])
        most = max(most, det.buffered_samples)
    t_live = time.perf_counter() - t0

    # Memory of the live path (traced separately: tracing slows Python down several-fold).
    tracemalloc.start()
    det = ImuContactDetector()
    for k in range(0, 120_000, 4):  # the first 10 minutes
        det.feed(k / FS_HZ, FS_HZ, acc[k : k + 4], gyr[k : k + 4])
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    assert len(live) == len(whole)
    print(
        f"signal: {SECONDS / 3600:.1f} h at {FS_HZ:.0f} Hz, {t.size} samples, {len(whole)} contacts"
    )
    print(f"offline, one chunk  : {t_whole * 1000:8.1f} ms = {SECONDS / t_whole:9.0f} x real time")
    calls = t.size // 4
    print(
        f"live, 4-sample feed : {t_live * 1000:8.1f} ms = {SECONDS / t_live:9.0f} x real time"
        f"  ({t_live / calls * 1e6:.1f} us per 20 ms packet)"
    )
    print(f"live buffer: at most {most} samples ({most / FS_HZ:.2f} s) over the hour")
    print(f"live peak traced memory over 10 min: {peak / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
