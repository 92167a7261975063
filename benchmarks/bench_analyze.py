"""Offline analysis speed: one simulated hour of two-foot insole data (100 Hz, 8 cells + IMU)
through ``calfload analyze``'s pipeline, the calfload CSV reader on the same hour, and the whole
``calfload analyze FILE`` command (streamed) on one and two hours, each in its own process
(peak memory of that process).

Run: .venv/bin/python benchmarks/bench_analyze.py
"""

from __future__ import annotations

import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from calfload.bridge.simulator import AthleteProfile, GaitSimulator
from calfload.processing.analyze import analyze
from calfload.processing.io.calfload_csv import read_recording, write_recording
from calfload.processing.io.recording import Recording, SideSignals

FS_HZ = 100.0
SECONDS = 3600.0
# The command in a fresh interpreter that reports its own peak RSS (VmHWM, kB) on stderr
# (getrusage's maxrss would include the forking parent's memory on Linux).
CHILD = (
    "import sys; from calfload.cli.main import main; "
    "main(['analyze', sys.argv[1], '--json']); "
    "hwm = [ln for ln in open('/proc/self/status') if ln.startswith('VmHWM')][0]; "
    "print(hwm.split()[1], file=sys.stderr)"
)


def hour(seconds: float = SECONDS) -> Recording:
    sim = GaitSimulator(AthleteProfile("bench", "Bench", body_mass_kg=70.0, seed=7))
    t = np.arange(0.0, seconds, 1.0 / FS_HZ)
    rng = np.random.default_rng(7)
    sides = {}
    for side in ("left", "right"):
        parts = [sim.insole(side, t[k : k + 100_000]) for k in range(0, t.size, 100_000)]  # type: ignore[arg-type]
        cells = np.concatenate([p[0] for p in parts]) + rng.normal(0, 2.0, (t.size, 8))
        sides[side] = SideSignals(
            force_n=cells.sum(axis=1),
            cell_force_n=cells,
            acc_mps2=np.concatenate([p[1] for p in parts]),
            gyr_dps=np.concatenate([p[2] for p in parts]),
        )
    return Recording(t, FS_HZ, sides, {"body_mass_kg": "70"})  # type: ignore[arg-type]


def main() -> None:
    rec = hour()
    t0 = time.perf_counter()
    result = analyze(rec)
    t_pipe = time.perf_counter() - t0
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "hour.csv"
        t0 = time.perf_counter()
        write_recording(path, rec)
        t_write = time.perf_counter() - t0
        size_mb = path.stat().st_size / 1e6
        t0 = time.perf_counter()
        read_recording(path)
        t_read = time.perf_counter() - t0
        for hours in (1, 2):
            if hours == 2:
                write_recording(path, hour(2 * SECONDS))
            t0 = time.perf_counter()
            done = subprocess.run(
                [sys.executable, "-c", CHILD, str(path)], check=True, capture_output=True, text=True
            )
            t_cli = time.perf_counter() - t0
            rss = float(done.stderr.strip().splitlines()[-1]) / 1024
            print(
                f"calfload analyze FILE, {hours} h     : {t_cli:6.2f} s = "
                f"{hours * SECONDS / t_cli:8.0f} x real time, peak RSS {rss:.0f} MB"
            )
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"1 h, two feet, {FS_HZ:.0f} Hz, 8 cells + 6-axis IMU; {len(result.steps)} steps")
    print(f"pipeline (analyze, 1 s blocks): {t_pipe:6.2f} s = {SECONDS / t_pipe:8.0f} x real time")
    print(f"write CSV ({size_mb:.0f} MB)        : {t_write:6.2f} s")
    print(f"read CSV                       : {t_read:6.2f} s = {SECONDS / t_read:8.0f} x real time")
    print(f"peak RSS of the process        : {peak_mb:6.0f} MB")


if __name__ == "__main__":
    main()
