"""``calfload export SESSION --format csv|parquet --out FILE``: a session as a recording file."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

COMMAND = "export"


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "export",
        help="write a recorded session in the calfload recording format (for calfload analyze)",
    )
    p.add_argument("session", help="session id (see `calfload sessions`) or its .sqlite3 file")
    p.add_argument("--format", choices=("csv", "parquet", "c3d"), default="csv")
    p.add_argument("--out", type=Path, required=True, metavar="FILE")
    p.add_argument("--data-dir", metavar="DIR", help="data folder (sessions in DIR/recordings)")


def run(args: argparse.Namespace) -> int:
    from calfload.bridge.datadir import data_dir
    from calfload.processing.recorder.export import export_session
    from calfload.processing.recorder.store import recordings_folder, session_path

    path = session_path(recordings_folder(data_dir(args.data_dir)), args.session)
    rec = export_session(path, args.out, args.format)
    print(
        f"wrote {args.out}: {rec.time_s.size} samples at {rec.fs_hz:g} Hz "
        f"({', '.join(rec.sides)}), {rec.duration_s:.1f} s"
    )
    return 0
