"""Export → analyze round trip on sessions recorded by ``calfload demo`` (virtual insoles through
bleak, the bridge's time base, the worker and the recorder): live steps vs ``calfload analyze`` of
the exported CSV, per athlete.

Run: .venv/bin/python benchmarks/roundtrip_demo.py [--seconds 40]
"""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from calfload.processing.analyze import analyze
from calfload.processing.recorder import store
from calfload.processing.recorder.export import export_session


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--seconds", type=float, default=40.0)
    p.add_argument("--athletes", type=int, default=2)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        subprocess.run(
            [sys.executable, "-m", "calfload.cli", "demo", "--no-browser",
             "--duration", str(args.seconds), "--athletes", str(args.athletes),
             "--mqtt-port", str(free_port()), "--http-port", str(free_port()),
             "--data-dir", str(data)],
            check=True, stdout=subprocess.DEVNULL,
        )  # fmt: skip
        rows, _ = store.list_sessions(store.recordings_folder(data))
        for row in sorted(rows, key=lambda r: r.athlete):
            rec = export_session(Path(row.path), data / f"{row.session_id}.csv", "csv")
            t0 = float(rec.meta["session_clock_t0_s"])
            with store.open_session(Path(row.path)) as conn:
                live = store.steps(conn)
            offline = analyze(rec).steps
            d_ic, d_gct, unmatched = [], [], 0
            for s in live:
                shift = float(rec.meta[f"{s['side']}_time_offset_ms"]) / 1000.0
                match = [
                    o
                    for o in offline
                    if o.side == s["side"] and abs(o.ic_s + t0 + shift - s["ic_s"]) < 0.05
                ]
                if not match:
                    unmatched += 1
                    continue
                d_ic.append(abs(match[0].ic_s + t0 + shift - s["ic_s"]) * 1000.0)
                d_gct.append(abs(match[0].gct_ms - s["gct_ms"]))
            ic, gct = np.array(d_ic), np.array(d_gct)
            print(
                f"{row.athlete}: live {len(live)} steps, analyze {len(offline)}, unmatched "
                f"{unmatched}; |Δ initial contact| p95 {np.percentile(ic, 95):.2f} ms, max "
                f"{ic.max():.2f} ms; |Δ GCT| p95 {np.percentile(gct, 95):.2f} ms, max "
                f"{gct.max():.2f} ms (per-foot offsets {rec.meta['left_time_offset_ms']} / "
                f"{rec.meta['right_time_offset_ms']} ms)"
            )


if __name__ == "__main__":
    main()
