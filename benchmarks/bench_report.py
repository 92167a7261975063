"""Cost of a session report: an 8-minute heel-rise endurance test (two 180 s single-leg
stages of 85 repetitions, 2 min rest; both insoles at 100 Hz with 8 cells and an IMU)
recorded by the recorder with its protocol events, then ``gather`` (read the recording,
re-score the test), ``render_html`` and the PDF through headless Chromium.

Run: .venv/bin/python benchmarks/bench_report.py
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.protocols.simdata import raw_batches

from calfload.bridge.messages import SCHEMA, encode
from calfload.bridge.mqtt import BrokerUrl
from calfload.bridge.sim_protocols import CalfTaskSimulator, HeelRiseBout
from calfload.bridge.simulator import AthleteProfile
from calfload.dashboard.reports.data import gather
from calfload.dashboard.reports.pdf import html_to_pdf
from calfload.dashboard.reports.render import render_html
from calfload.processing.protocols.messages import ProtocolEvent
from calfload.processing.recorder.recorder import Recorder

STAGE_S = 180.0
T0 = 1_000.0


def main() -> None:
    sim = CalfTaskSimulator(AthleteProfile("b", "Bench", body_mass_kg=70.0), foot_length_m=0.26)
    sim.add(HeelRiseBout("left", T0 + 1.0, reps=85, period_s=2.0, failed=2))
    sim.add(HeelRiseBout("right", T0 + STAGE_S + 121.0, reps=85, period_s=2.0, failed=2))
    total_s = 2 * STAGE_S + 120.0
    raw = raw_batches(sim, "b", T0, T0 + total_s)
    bounds = [(0.0, STAGE_S), (STAGE_S, STAGE_S + 120.0), (STAGE_S + 120.0, total_s)]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "recordings"
        r = Recorder(BrokerUrl("127.0.0.1", 1), folder)
        for b in raw:
            r.handle(f"calfload/raw/b/{b.side}/{b.sensor_id}", encode(b))
        for i, (a, e) in enumerate(bounds):
            for kind, t in (("stage-start", a), ("stage-end", e)):
                event = ProtocolEvent(
                    schema=SCHEMA,
                    athlete="b",
                    protocol="heel-rise-endurance",
                    run_id="r",
                    kind=kind,  # type: ignore[arg-type]
                    t_s=T0 + t,
                    stage_index=i,
                )
                r.handle("calfload/protocol/b/events", encode(event))
        path = r.sessions["b"].writer.path
        r._commit_all()
        r._close("b", "bench")
        t0 = time.perf_counter()
        data = gather(path, folder, sex="female")
        t1 = time.perf_counter()
        html = render_html(data)
        t2 = time.perf_counter()
        html_to_pdf(html, Path(tmp) / "report.pdf")
        t3 = time.perf_counter()
        reps = [
            s.heel_rise.reps
            for run in data.protocols
            if run.result is not None
            for s in run.result.stages
            if s.heel_rise is not None
        ]
        print(f"{len(raw)} batches ({total_s:.0f} s, both insoles); reps re-scored {reps}")
        print(f"gather (read + re-score): {1000 * (t1 - t0):.0f} ms")
        print(f"render_html: {1000 * (t2 - t1):.0f} ms ({len(html) / 1000:.0f} kB)")
        print(f"PDF (Chromium start + print): {1000 * (t3 - t2):.0f} ms")


if __name__ == "__main__":
    main()
