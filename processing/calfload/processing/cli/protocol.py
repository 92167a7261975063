"""``calfload protocol``: list, show and run lab test protocols.

calfload protocol list [--json]
calfload protocol show NAME|FILE
calfload protocol run NAME --athlete ID [--broker URL] [--json] [--sex female --age 42 ...]
calfload protocol run --protocol FILE --athlete ID ...
calfload protocol log LOGS.json --date 2026-11-25 --result result.json --pain-during 3
calfload protocol log LOGS.json --date 2026-11-25 --pain-next-morning 1
calfload protocol advise LOGS.json

``run`` prints each stage's cue and the repetition count as it goes, then the scored
result (with ``--json``: the cues go to stderr and the result JSON alone to stdout).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, TextIO

import msgspec

from calfload.bridge import topics
from calfload.bridge.mqtt import BrokerUrl
from calfload.processing.protocols import logbook
from calfload.processing.protocols.definition import ProtocolError, builtin, resolve, to_dict
from calfload.processing.protocols.logbook import LogbookError
from calfload.processing.protocols.messages import ProtocolEvent
from calfload.processing.protocols.programme import advise, session_verdict
from calfload.processing.protocols.results import ProtocolResult, StageResult
from calfload.processing.protocols.scoring import AthleteContext

COMMAND = "protocol"


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(COMMAND, help="lab test protocols: list, show, run and score")
    sub = p.add_subparsers(dest="protocol_command", required=True)
    listing = sub.add_parser("list", help="the built-in protocol templates")
    listing.add_argument("--json", action="store_true", help="machine-readable")
    show = sub.add_parser("show", help="print a protocol (template name or file) as JSON")
    show.add_argument("name", metavar="NAME|FILE")
    run = sub.add_parser("run", help="guide and score a protocol for one athlete, live")
    run.add_argument("name", nargs="?", metavar="NAME", help="a built-in template")
    run.add_argument("--protocol", metavar="FILE", help="a protocol file (.toml or .json)")
    run.add_argument("--athlete", required=True, metavar="ID")
    run.add_argument("--broker", default="mqtt://127.0.0.1:1883", metavar="URL")
    run.add_argument("--base-topic", default=topics.DEFAULT_BASE, metavar="TOPIC")
    run.add_argument("--json", action="store_true", help="print the result as JSON only")
    run.add_argument("--body-mass", type=float, metavar="KG", help="default: athlete info")
    run.add_argument("--foot-length", type=float, metavar="M", help="default: athlete info")
    run.add_argument("--sex", choices=("female", "male"), help="for the heel-rise norms")
    run.add_argument("--age", type=float, metavar="YEARS")
    run.add_argument("--involved", choices=("left", "right"), help="side for the LSI")
    log = sub.add_parser(
        "log", help="log a programme session (from a --json result) and its pain scores 0-10"
    )
    log.add_argument("logbook", metavar="LOGS.json", help="the athlete's session log file")
    log.add_argument("--date", required=True, metavar="YYYY-MM-DD")
    log.add_argument("--result", metavar="RESULT.json", help="`protocol run --json` output")
    log.add_argument("--pain-before", type=int, metavar="N", help="morning pain before")
    log.add_argument("--pain-during", type=int, metavar="N", help="highest pain during")
    log.add_argument("--pain-next-morning", type=int, metavar="N", help="the next morning")
    advise = sub.add_parser("advise", help="next session's load from the session log")
    advise.add_argument("logbook", metavar="LOGS.json")
    advise.add_argument("--json", action="store_true", help="machine-readable")


def run(args: argparse.Namespace) -> int:
    try:
        if args.protocol_command == "list":
            return _list(args.json)
        if args.protocol_command == "show":
            print(msgspec.json.encode(to_dict(resolve(args.name))).decode())
            return 0
        if args.protocol_command == "log":
            return _log(args)
        if args.protocol_command == "advise":
            return _advise(args)
        return _run(args)
    except (ProtocolError, LogbookError) as exc:
        print(f"calfload protocol: {exc}", file=sys.stderr)
        return 2


def _list(as_json: bool) -> int:
    templates = builtin()
    if as_json:
        rows = [
            {
                "name": p.name,
                "title": p.title,
                "kind": p.kind,
                "stages": len(p.stages),
                "duration_s": p.duration_s,
            }
            for p in templates.values()
        ]
        print(msgspec.json.encode(rows).decode())
        return 0
    for p in templates.values():
        minutes = p.duration_s / 60.0
        print(f"{p.name:24} {p.kind:15} {len(p.stages):2} stages, ≤ {minutes:4.1f} min  {p.title}")
    return 0


def _run(args: argparse.Namespace) -> int:
    from calfload.processing.protocols.runner import ProtocolRunner, RunnerError

    if bool(args.name) == bool(args.protocol):
        raise ProtocolError("give either a template NAME or --protocol FILE")
    protocol = resolve(args.protocol or args.name)
    out: TextIO = sys.stderr if args.json else sys.stdout
    athlete = AthleteContext(
        athlete=args.athlete,
        body_mass_kg=args.body_mass,
        foot_length_m=args.foot_length,
        sex=args.sex,
        age_y=args.age,
        involved=args.involved,
    )
    runner = ProtocolRunner(
        BrokerUrl.parse(args.broker),
        protocol,
        athlete,
        base=topics.check_base(args.base_topic),
        on_event=lambda e: print(describe_event(e), file=out, flush=True),
    )
    try:
        result = runner.run()
    except KeyboardInterrupt:
        runner.stop_requested.set()
        return 130
    except RunnerError as exc:
        print(f"calfload protocol: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(msgspec.json.encode(result).decode(), flush=True)
    else:
        print(describe_result(result), flush=True)
    return 0


def _log(args: argparse.Namespace) -> int:
    path = Path(args.logbook)
    result = None
    if args.result:
        try:
            result = msgspec.json.decode(Path(args.result).read_bytes(), type=ProtocolResult)
        except (OSError, msgspec.DecodeError) as exc:
            raise LogbookError(f"cannot read the result {args.result}: {exc}") from None
    logs, entry = logbook.upsert(
        logbook.read(path),
        date=args.date,
        result=result,
        pain_before=args.pain_before,
        pain_during=args.pain_during,
        pain_next_morning=args.pain_next_morning,
    )
    logbook.write(path, logs)
    verdict = session_verdict(entry)
    sets = ", ".join(f"{s.reps}/{s.target_reps}" for s in entry.sets) or "no sets"
    reasons = "; ".join(verdict.reasons)
    print(f"{entry.date} {entry.protocol}: sets {sets}; {verdict.verdict}: {reasons}")
    return 0


def _advise(args: argparse.Namespace) -> int:
    advice = advise(logbook.read(Path(args.logbook)))
    if args.json:
        print(msgspec.json.encode(advice).decode())
    else:
        print(f"next session: {advice.verdict}, added load {advice.next_load_kg:g} kg")
        for reason in advice.reasons:
            print(f"  {reason}")
    return 0


def describe_event(e: ProtocolEvent) -> str:
    if e.kind == "start":
        return f"▶ {e.cue} ({e.stages} stages) for {e.athlete}"
    if e.kind == "stage-start":
        extra = []
        if e.speed_mps is not None:
            extra.append(f"{e.speed_mps:g} m/s")
        if e.metronome_bpm:
            extra.append(f"metronome {e.metronome_bpm:g}/min")
        if e.target_reps:
            extra.append(f"{e.target_reps} reps")
        head = f"[{(e.stage_index or 0) + 1}] {e.stage} — {e.duration_s:g} s"
        head += f" ({', '.join(extra)})" if extra else ""
        return f"{head}\n    {e.cue}" if e.cue else head
    if e.kind == "progress":
        return f"    reps: {_v(e.reps)}"
    if e.kind == "stage-end":
        parts = [f"    end of {e.stage}"]
        if e.reps is not None:
            parts.append(f"{e.reps} reps")
        if e.reason:
            parts.append(e.reason)
        return ", ".join(parts)
    return f"■ {e.kind}" + (f": {e.reason}" if e.reason else "")


def _v(value: object) -> str:
    """A value for people: ``–`` when it was not measured."""
    return "–" if value is None else str(value)


def _stage_line(s: StageResult) -> str:
    if s.run is not None:
        r = s.run
        return (
            f"{s.name}: {r.steps} steps, cadence {_v(r.cadence_spm)} spm, "
            f"GCT L {_v(r.left.gct_ms)} / R {_v(r.right.gct_ms)} ms, "
            f"Achilles L {_v(r.left.achilles_force_bw)} / R {_v(r.right.achilles_force_bw)} BW, "
            f"GCT symmetry {_v(r.symmetry_pct.get('gct_ms'))} %"
        )
    if s.heel_rise is not None:
        h = s.heel_rise
        return (
            f"{s.name}: {h.reps} reps (stop: {h.stop_reason}), "
            f"peak height {_v(h.peak_height_m)} m, total work {_v(h.total_work_j)} J, "
            f"height decline {_v(h.height_decline_pct)} %"
        )
    if s.hops is not None:
        j = s.hops
        return (
            f"{s.name}: {j.hops} hops, contact {_v(j.contact_ms)} ms, "
            f"flight {_v(j.flight_ms)} ms, height {_v(j.height_m)} m, RSI {_v(j.rsi)}"
        )
    if s.heel_drop is not None:
        d = s.heel_drop
        return f"{s.name}: {d.reps}/{_v(d.target_reps)} heel drops"
    return f"{s.name}: {s.note or s.task}"


def describe_result(r: ProtocolResult) -> str:
    lines = [f"Result of {r.title} for {r.athlete}" + ("" if r.complete else " (incomplete)")]
    lines += [f"  {_stage_line(s)}" for s in r.stages if s.task != "rest"]
    for k, v in r.symmetry.items():
        lines.append(f"  {k}: {v}")
    for n in r.norms:
        lines.append(
            f"  {n.side} {n.metric}: {n.value:g} vs norm {n.norm:g} ({n.pct_of_norm} %, "
            f"{n.band}) — {n.source}"
        )
    return "\n".join(lines)
