"""Cost of the load estimates: per contact, and added to the streaming pipeline.

Ten simulated minutes of two-foot 100 Hz insole data (8 cells) go through
``AthletePipeline`` in 5-sample batches (as the worker receives them) twice: with the
load tracker switched off (detection only) and with athlete settings (samples
buffered, every contact gets its load fields). Batches are built before timing;
memory is traced in a separate pass (tracemalloc slows Python down).

Run: .venv/bin/python benchmarks/bench_load.py
"""

from __future__ import annotations

import time
import tracemalloc

import numpy as np

from calfload.bridge.messages import SCHEMA, RawBatch, Side
from calfload.bridge.simulator import CELL_XY_FRACTION, AthleteProfile, GaitSimulator
from calfload.processing.athlete import AthleteSettings
from calfload.processing.load import contact_load
from calfload.processing.pipeline import AthletePipeline

FS_HZ = 100.0
SECONDS = 600.0
CHUNK = 5


def batches() -> list[RawBatch]:
    sim = GaitSimulator(AthleteProfile("bench", "Bench", seed=7))
    t = np.arange(0.0, SECONDS, 1.0 / FS_HZ)
    out = []
    cells = {s: sim.insole(s, t)[0] for s in ("left", "right")}
    for k in range(0, t.size, CHUNK):
        for side in ("left", "right"):
            side_t: Side = side
            c = cells[side][k : k + CHUNK]
            out.append(
                RawBatch(
                    schema=SCHEMA,
                    sensor_id=f"b-{side}",
                    athlete="bench",
                    side=side_t,
                    placement="insole",
                    family="open-insole",
                    seq=k,
                    t0_s=float(t[k]),
                    fs_hz=FS_HZ,
                    n=len(c),
                    force_n=c.sum(axis=1).tolist(),
                    cell_force_n=c.tolist(),
                )
            )
    return out


def run(
    all_batches: list[RawBatch], settings: AthleteSettings | None, *, trace: bool = False
) -> tuple[float, int, int]:
    p = AthletePipeline("bench", settings.body_mass_kg if settings else None)
    if settings:
        p.load.set_settings(settings)
    else:  # detection only: the load tracker does nothing
        p.load.on_samples = lambda *a, **k: None  # type: ignore[method-assign]
        p.load.contact_fields = lambda *a: {}  # type: ignore[method-assign]
    n, peak = 0, 0
    if trace:
        tracemalloc.start()
    t0 = time.perf_counter()
    for b in all_batches:
        n += len(p.on_batch(b))
    elapsed = time.perf_counter() - t0
    if trace:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return elapsed, n, peak


def main() -> None:
    all_batches = batches()
    settings = AthleteSettings(body_mass_kg=70.0)
    base, n0, _ = run(all_batches, None)
    with_load, n1, _ = run(all_batches, settings)
    _, _, mem0 = run(all_batches[: len(all_batches) // 10], None, trace=True)
    _, _, mem1 = run(all_batches[: len(all_batches) // 10], settings, trace=True)
    _, _, mem_full = run(all_batches, settings, trace=True)
    assert n0 == n1
    print(f"{SECONDS / 60:.0f} simulated minutes, 2 feet, {len(all_batches)} batches, {n1} steps")
    print(f"pipeline, detection only:     {base:.2f} s ({SECONDS / base:,.0f}× real time)")
    print(
        f"pipeline with load fields:    {with_load:.2f} s ({SECONDS / with_load:,.0f}× real time)"
    )
    print(f"added by load: {(with_load - base) / len(all_batches) * 1e6:.0f} µs per batch")
    print(
        f"peak traced memory over 1 min: {mem0 / 1e6:.2f} MB detection only, "
        f"{mem1 / 1e6:.2f} MB with load; over 10 min with load: {mem_full / 1e6:.2f} MB"
    )
    sim = GaitSimulator(AthleteProfile("bench", "Bench", seed=1))
    t = np.arange(0.5, 0.74, 1.0 / FS_HZ)
    cells = sim.insole("left", t)[0]
    f = cells.sum(axis=1)
    reps = 2000
    t0 = time.perf_counter()
    for _ in range(reps):
        contact_load(t, f, settings, cell_force_n=cells, cell_x_fraction=CELL_XY_FRACTION[:, 0])
    per = (time.perf_counter() - t0) / reps
    print(f"contact_load on one 24-sample contact: {per * 1e6:.0f} µs")


if __name__ == "__main__":
    main()
