"""Decode cost of the Movesense and Polar decoders: µs per notification and the share
of one core that one sensor streaming at 208 Hz costs (decode only).

Run: .venv/bin/python benchmarks/bench_imu_decoders.py
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from calfload.bridge.devices import movesense as ms
from calfload.bridge.devices import polar_pmd as pmd

RATE_HZ = 208
SECONDS = 60


def _signal(n: int) -> tuple[np.ndarray, np.ndarray]:  # type: ignore[type-arg]
    t = np.arange(n) / RATE_HZ
    acc = np.stack([15 * np.sin(8.8 * t), 2 * np.cos(3 * t), 9.8 + 3 * np.sin(11 * t)], axis=1)
    gyr = np.stack([50 * np.sin(5 * t), 600 * np.sin(8.8 * t), 20 * np.cos(2 * t)], axis=1)
    return acc, gyr


def movesense_packets() -> list[bytes]:
    acc, gyr = _signal(RATE_HZ * SECONDS)
    out: list[bytes] = []
    for k in range(0, len(acc), 8):
        out += ms.encode_imu6(
            reference=99,
            timestamp_ms=round(k * 1000 / RATE_HZ),
            acc_mps2=acc[k : k + 8],
            gyr_dps=gyr[k : k + 8],
        )
    return out


def polar_packets() -> list[bytes]:
    acc, gyr = _signal(RATE_HZ * SECONDS)
    acc_f, gyr_f = 16000 / 32768, 2000 / 32768
    out: list[bytes] = []
    for k in range(0, len(acc), 18):
        ts = round((k + 17) * 1e9 / RATE_HZ) + 10**18
        out.append(pmd.encode_delta(pmd.ACC, ts, acc[k : k + 18] / 9.80665 * 1000 / acc_f))
        out.append(pmd.encode_delta(pmd.GYRO, ts, gyr[k : k + 18] / gyr_f))
    return out


def bench(name: str, packets: list[bytes], make: Callable[[], object]) -> None:
    best = float("inf")
    for _ in range(3):
        decoder = make()
        t0 = time.perf_counter()
        n = sum(b.n for p in packets for b in decoder.feed(p))  # type: ignore[attr-defined]
        best = min(best, time.perf_counter() - t0)
    per_note_us = best / len(packets) * 1e6
    print(
        f"{name}: {len(packets)} notifications, {n} samples in {best * 1e3:.0f} ms; "
        f"{per_note_us:.1f} µs per notification; {100 * best / SECONDS:.3f} % of one core "
        f"per sensor at {RATE_HZ} Hz"
    )


if __name__ == "__main__":
    bench(
        "movesense IMU6 (8 samples, split in 2)",
        movesense_packets(),
        lambda: ms.MovesenseDecoder(RATE_HZ),
    )
    bench(
        "polar Verity ACC+GYRO delta (18 samples)",
        polar_packets(),
        lambda: pmd.PolarDecoder(RATE_HZ, 16000 / 32768, 2000 / 32768, gyro=True),
    )
