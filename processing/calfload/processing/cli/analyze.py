"""``calfload analyze FILE``: steps table and session summary of a recording, offline."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, TextIO

COMMAND = "analyze"
PROGRESS_MIN_BYTES = 5_000_000  # about 10 minutes of two-foot insole data


COMMAND = "analyze"


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "analyze",
        help="steps table and session summary of a recording (calfload CSV or Moticon export)",
        description="Run the live step pipeline over a recording file.",
    )
    p.add_argument("file", type=Path, help="recording (.csv / .txt, optionally .gz)")
    p.add_argument("--format", choices=("auto", "calfload", "moticon", "parquet"), default="auto")
    p.add_argument("--out", type=Path, metavar="STEPS", help="write steps to .csv or .parquet")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.add_argument("--body-mass-kg", type=float, metavar="KG", help="overrides the file header")
    p.add_argument("--progress", action="store_true", help="progress bar even without a TTY")
    p.add_argument("--data-dir", type=Path, metavar="DIR", help="data folder with past sessions")
    p.add_argument("--athlete", metavar="ID", help="compare with this athlete's past sessions")


class _Bar:
    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.last = -1

    def __call__(self, fraction: float) -> None:
        pct = int(100 * min(1.0, max(0.0, fraction)))
        if pct == self.last:
            return
        self.last = pct
        filled = pct * 30 // 100
        self.stream.write(f"\ranalyze [{'#' * filled}{'.' * (30 - filled)}] {pct:3d}%")
        if pct == 100:
            self.stream.write("\n")
        self.stream.flush()


def run(args: argparse.Namespace) -> int:
    from calfload.processing.analyze import analyze_pieces, format_summary, iter_any, write_steps
    from calfload.processing.io.recording import RecordingError

    if args.body_mass_kg is not None and not args.body_mass_kg > 0:
        print("calfload analyze: --body-mass-kg must be positive", file=sys.stderr)
        return 2
    if args.out is not None and args.out.suffix not in (".csv", ".parquet"):
        print("calfload analyze: --out must end in .csv or .parquet", file=sys.stderr)
        return 2
    try:
        big = args.file.stat().st_size >= PROGRESS_MIN_BYTES
    except OSError:
        big = False
    show = args.progress or (sys.stderr.isatty() and big)
    try:
        pieces = iter_any(args.file, args.format, progress=_Bar(sys.stderr) if show else None)
        result = analyze_pieces(pieces, body_mass_kg=args.body_mass_kg)
    except (RecordingError, ValueError) as exc:
        print(f"calfload analyze: {exc}", file=sys.stderr)
        return 2
    if args.out is not None:
        try:
            write_steps(args.out, result.steps)
        except (OSError, RuntimeError) as exc:
            print(f"calfload analyze: cannot write {args.out}: {exc}", file=sys.stderr)
            return 2
    if args.data_dir is not None and args.athlete:
        from calfload.processing.history import history_for_steps

        result.summary["history"] = history_for_steps(
            args.data_dir, args.athlete, result.steps, result.summary["body_mass_kg"]
        )
    if args.json:
        print(json.dumps(result.summary, indent=2))
    else:
        print(format_summary(result.summary))
        if args.out is not None:
            print(f"steps written to {args.out}")
    return 0
