"""Regenerate docs/schemas/*.schema.json from the message structs (or check them).

Usage: .venv/bin/python scripts/make_schemas.py [--check] [--out docs/schemas]

With --check nothing is written; the exit code is 1, and each stale, missing or left-over
file is named, when the checked-in schemas do not match the structs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Final

from calfload.bridge import messages as bridge
from calfload.bridge.messages import Message
from calfload.bridge.schemas import differences, schema_files
from calfload.dashboard.athletestore import TimelineEvent
from calfload.processing import messages as processing
from calfload.processing.protocols import messages as protocols
from calfload.processing.protocols import results
from calfload.processing.recorder import messages as recorder

REPO: Final = Path(__file__).resolve().parent.parent

# Every message published on MQTT, grouped by the part that owns it (docs/contract.md).
MESSAGES: Final[tuple[type[Message], ...]] = (
    bridge.BridgeState,
    bridge.AthleteInfo,
    bridge.SensorAvailability,
    bridge.SensorQuality,
    bridge.RawBatch,
    processing.WorkerState,
    processing.StepMessage,
    processing.SessionSummary,
    recorder.SessionControl,
    recorder.SessionState,
    recorder.Marker,
    recorder.RecorderState,
    protocols.ProtocolEvent,
    results.ProtocolResult,
    TimelineEvent,
)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--check", action="store_true", help="write nothing; fail on a difference")
    p.add_argument("--out", type=Path, default=REPO / "docs" / "schemas")
    args = p.parse_args(argv)
    files = schema_files(MESSAGES)
    if args.check:
        problems = differences(args.out, files)
        for line in problems:
            print(f"make_schemas: {line}", file=sys.stderr)
        if problems:
            print("make_schemas: run scripts/make_schemas.py to regenerate", file=sys.stderr)
        return 1 if problems else 0
    args.out.mkdir(parents=True, exist_ok=True)
    for path in sorted(args.out.glob("*.schema.json")):
        if path.name not in files:
            path.unlink()
    for name, text in files.items():
        (args.out / name).write_text(text, encoding="utf-8")
    print(f"make_schemas: wrote {len(files)} schemas to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
