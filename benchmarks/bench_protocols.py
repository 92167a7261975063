"""Cost of scoring protocols: a whole heel-rise endurance test, and one live progress
update (what the runner recomputes about once a second during a stage).

A simulated 8-minute heel-rise test (two 180 s single-leg stages at 100 Hz, both insoles
with 8 cells and an IMU, 5-sample batches as the bridge publishes them) is scored with
``score``; the live update scores the running stage on everything received so far, the
worst case being the end of a 180 s stage. Batches are built before timing.

Run: .venv/bin/python benchmarks/bench_protocols.py
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.protocols.simdata import raw_batches

from calfload.bridge.sim_protocols import CalfTaskSimulator, HeelRiseBout
from calfload.bridge.simulator import AthleteProfile
from calfload.bridge.topics import SIDES
from calfload.processing.protocols.definition import builtin
from calfload.processing.protocols.samples import side_samples
from calfload.processing.protocols.scoring import (
    AthleteContext,
    StageMark,
    score,
    score_stage,
)

STAGE_S = 180.0


def main() -> None:
    protocol = builtin()["heel-rise-endurance"]
    sim = CalfTaskSimulator(AthleteProfile("b", "Bench", body_mass_kg=70.0), foot_length_m=0.26)
    left = HeelRiseBout("left", 1.0, reps=85, period_s=2.0, failed=2)
    right = HeelRiseBout("right", STAGE_S + 121.0, reps=85, period_s=2.0, failed=2)
    sim.add(left)
    sim.add(right)
    total_s = 2 * STAGE_S + 120.0
    raw = raw_batches(sim, "b", 0.0, total_s)
    marks = [
        StageMark(0, 0.0, STAGE_S),
        StageMark(1, STAGE_S, STAGE_S + 120.0),
        StageMark(2, STAGE_S + 120.0, total_s),
    ]
    ctx = AthleteContext("b", 70.0, 0.26, "female")
    times = []
    for _ in range(5):
        t0 = time.perf_counter()
        result = score(protocol, marks, ctx, raw=raw)
        times.append(time.perf_counter() - t0)
    reps = [s.heel_rise.reps for s in result.stages if s.heel_rise is not None]
    full = statistics.median(times)
    stage_raw = [b for b in raw if b.t0_s < STAGE_S]
    live = []
    for _ in range(5):
        t0 = time.perf_counter()
        samples = {side: side_samples(stage_raw, side) for side in SIDES}
        score_stage(protocol.stages[0], marks[0], protocol, ctx, [], samples)
        live.append(time.perf_counter() - t0)
    upd = statistics.median(live)
    print(f"batches: {len(raw)} ({total_s:.0f} s, both insoles); reps scored {reps}")
    print(f"score(): whole test {1000 * full:.0f} ms = {total_s / full:.0f}x real time")
    print(
        f"live update at the end of a {STAGE_S:.0f} s stage: {1000 * upd:.0f} ms "
        f"({100 * upd:.1f} % of the 1 s progress period)"
    )


if __name__ == "__main__":
    main()
