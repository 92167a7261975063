"""``calfload sessions``: the recorded sessions in the data folder (``--json`` for machines)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

COMMAND = "sessions"


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser("sessions", help="list recorded sessions (newest first)")
    p.add_argument("--data-dir", metavar="DIR", help="data folder (sessions in DIR/recordings)")
    p.add_argument("--athlete", metavar="ID", help="only this athlete's sessions")
    p.add_argument("--json", action="store_true", help="one JSON array for machines")


def _duration(seconds: float) -> str:
    m, s = divmod(round(seconds), 60)
    h, m = divmod(m, 60)
    return f"{h}:{m:02d}:{s:02d}"


def run(args: argparse.Namespace) -> int:
    from calfload.bridge.datadir import data_dir
    from calfload.processing.recorder.store import list_sessions, recordings_folder

    rows, errors = list_sessions(recordings_folder(data_dir(args.data_dir)))
    if args.athlete:
        rows = [r for r in rows if r.athlete == args.athlete]
    for error in errors:
        print(f"calfload sessions: skipped {error}", file=sys.stderr)
    if args.json:
        print(json.dumps([r.as_json() for r in rows], indent=1))
        return 0
    if not rows:
        print("no recorded sessions")
        return 0
    print(
        f"{'session':34} {'athlete':12} {'name':20} {'started (UTC)':19} {'duration':>9} "
        f"{'steps':>6}  state"
    )
    for r in rows:
        started = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(r.started_s))
        print(
            f"{r.session_id:34} {r.athlete:12} {r.name[:20]:20} {started:19} "
            f"{_duration(r.duration_s):>9} {r.steps:>6}  {r.state}"
        )
    return 0
