"""Contact detector speed: offline (one chunk), live (5-sample chunks) and a naive
per-sample Python loop, side by side on the same simulated hour at 100 Hz.

Run: .venv/bin/python benchmarks/bench_detector.py
"""

from __future__ import annotations

import time

import numpy as np

from calfload.bridge.simulator import AthleteProfile, GaitSimulator
from calfload.processing.events import ContactParams, InsoleContactDetector, detect_contacts

FS_HZ = 100.0
SECONDS = 3600.0


def naive(force: np.ndarray, fs_hz: float, p: ContactParams, on_n: float, off_n: float) -> int:
    """Per-sample fixed-level hysteresis state machine: the obvious baseline."""
    n, inside, start = 0, False, 0
    for i, f in enumerate(force.tolist()):
        if not inside and f >= on_n:
            inside, start = True, i
        elif inside and f < off_n:
            inside = False
            if (i - start) * 1000.0 / fs_hz >= p.min_contact_ms:
                n += 1
    return n


def main() -> None:
    sim = GaitSimulator(AthleteProfile("bench", "Bench", seed=7))
    t = np.arange(0.0, SECONDS, 1.0 / FS_HZ)
    force = np.concatenate(
        [sim.insole("left", t[k : k + 100_000])[0].sum(axis=1) for k in range(0, t.size, 100_000)]
    )
    t0 = time.perf_counter()
    whole = detect_contacts(force, fs_hz=FS_HZ)
    t_whole = time.perf_counter() - t0

    t0 = time.perf_counter()
    detector = InsoleContactDetector()
    live = []
    for k in range(0, force.size, 5):
        live += detector.feed(k / FS_HZ, FS_HZ, force[k : k + 5])
    t_live = time.perf_counter() - t0

    t0 = time.perf_counter()
    n_naive = naive(force, FS_HZ, ContactParams(), 175.0, 84.0)
    t_naive = time.perf_counter() - t0

    assert len(live) == len(whole)
    print(
        f"signal: {SECONDS / 3600:.1f} h at {FS_HZ:.0f} Hz, {force.size} samples, "
        f"{len(whole)} contacts"
    )
    print(f"offline, one chunk : {t_whole * 1000:8.1f} ms  = {SECONDS / t_whole:10.0f} x real time")
    print(f"live, 5-sample feed: {t_live * 1000:8.1f} ms  = {SECONDS / t_live:10.0f} x real time")
    print(
        f"naive Python loop  : {t_naive * 1000:8.1f} ms  = {SECONDS / t_naive:10.0f} x real time"
        f"  ({n_naive} contacts)"
    )
    print(
        f"ratio naive / offline: {t_naive / t_whole:.1f}x; live / offline: {t_live / t_whole:.1f}x"
    )


if __name__ == "__main__":
    main()
