"""Protocol definitions as data: TOML (or JSON) files, validated with errors that name the field.

A protocol is an ordered list of *stages*; each stage has a *task* that says how it is
scored (``run``, ``heel-rise``, ``hop``, ``drop-jump``, ``heel-drop``, ``rest``). The
file format is documented in ``docs/protocols.md``; the built-in templates live in
``templates/`` beside this module. A lab adds its own protocol by writing such a file
and passing ``--protocol FILE``: no code.

Pure: text or a path in, a frozen :class:`Protocol` out, or a :class:`ProtocolError`
whose one-line message names the file, the stage and the field.
"""

from __future__ import annotations

import json
import math
import re
import tomllib
from importlib import resources
from pathlib import Path
from typing import Final, Literal

import msgspec

PROTOCOL_SCHEMA: Final = 1
Task = Literal["run", "heel-rise", "hop", "drop-jump", "heel-drop", "rest"]
Kind = Literal["treadmill", "heel-rise", "hops", "heel-drop", "pain-monitored", "custom"]
StageSide = Literal["left", "right", "both"]
Knee = Literal["straight", "bent"]
REP_TASKS: Final = frozenset({"heel-rise", "heel-drop"})
SIDED_TASKS: Final = frozenset({"heel-rise", "hop", "drop-jump", "heel-drop"})


class ProtocolError(ValueError):
    """A protocol file that cannot be used; the message names the field."""


class HeelRiseRules(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Stop rules of the heel-rise endurance test (science.md §5.1; defaults in
    ``docs/protocols.md``). A repetition that breaks a rule is not counted and is a
    *prompt*; ``prompts_to_stop`` consecutive prompts end the test."""

    min_height_fraction: float = 0.5
    """Height lost: a rep lower than this share of the best of the first three reps."""
    pace_tolerance: float = 0.5
    """Pace lost: a rep starting later than (1 + tolerance) rep periods after the last."""
    min_support_bw: float = 0.8
    """Support: mean insole force during the rep below this share of body weight
    means the hands or the other foot carried the rest."""
    prompts_to_stop: int = 2
    incline_deg: float = 10.0


class Stage(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One stage of a protocol (see ``docs/protocols.md`` for every field)."""

    name: str
    task: Task
    duration_s: float
    cue: str = ""
    side: StageSide | None = None
    speed_mps: float | None = None
    slope_deg: float = 0.0
    steady_last_s: float | None = None
    metronome_bpm: float | None = None
    reps: int | None = None
    knee: Knee | None = None
    drop_height_m: float | None = None
    added_load_kg: float = 0.0
    stop_on_fail: bool = True

    @property
    def steady_s(self) -> float:
        """Steady-state window of a ``run`` stage: its last ``steady_last_s`` seconds
        (default: the second half of the stage)."""
        return self.steady_last_s if self.steady_last_s is not None else 0.5 * self.duration_s

    @property
    def rep_period_s(self) -> float | None:
        """Seconds per repetition at the metronome: one beat up, one beat down."""
        return 120.0 / self.metronome_bpm if self.metronome_bpm else None


class Protocol(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A lab protocol: what to guide, in which order, and how to score it."""

    schema: int = PROTOCOL_SCHEMA
    name: str
    title: str
    kind: Kind = "custom"
    description: str = ""
    sources: list[str] = msgspec.field(default_factory=list)
    stages: list[Stage] = msgspec.field(name="stage", default_factory=list)
    heel_rise: HeelRiseRules = msgspec.field(default_factory=HeelRiseRules)

    @property
    def duration_s(self) -> float:
        return sum(s.duration_s for s in self.stages)


def _positive(where: str, field: str, value: float | None, *, allow_zero: bool = False) -> None:
    if value is None:
        return
    ok = math.isfinite(value) and (value >= 0 if allow_zero else value > 0)
    if not ok:
        bound = "≥ 0" if allow_zero else "> 0"
        raise ProtocolError(f"{where}: {field} must be a number {bound}, got {value!r}")


def validate(protocol: Protocol, origin: str = "protocol") -> Protocol:
    """Check the values a type check cannot; raise :class:`ProtocolError` naming the field."""
    if protocol.schema != PROTOCOL_SCHEMA:
        raise ProtocolError(
            f"{origin}: schema {protocol.schema} is not readable; this version reads "
            f"schema {PROTOCOL_SCHEMA}"
        )
    if not protocol.name or not all(c.isalnum() or c in "-_." for c in protocol.name):
        raise ProtocolError(
            f"{origin}: name {protocol.name!r} must be letters, digits, '-', '_' or '.'"
        )
    if not protocol.stages:
        raise ProtocolError(f"{origin}: a protocol needs at least one [[stage]]")
    rules = protocol.heel_rise
    if not 0.0 < rules.min_height_fraction < 1.0:
        raise ProtocolError(f"{origin}: heel_rise.min_height_fraction must be between 0 and 1")
    _positive(f"{origin}", "heel_rise.pace_tolerance", rules.pace_tolerance)
    if not 0.0 <= rules.min_support_bw <= 1.5:
        raise ProtocolError(f"{origin}: heel_rise.min_support_bw must be between 0 and 1.5")
    if rules.prompts_to_stop < 1:
        raise ProtocolError(f"{origin}: heel_rise.prompts_to_stop must be at least 1")
    for i, stage in enumerate(protocol.stages):
        where = f"{origin}: stage {i + 1} ({stage.name!r})"
        if not stage.name.strip():
            raise ProtocolError(f"{origin}: stage {i + 1}: name must not be empty")
        _positive(where, "duration_s", stage.duration_s)
        _positive(where, "speed_mps", stage.speed_mps)
        _positive(where, "steady_last_s", stage.steady_last_s)
        _positive(where, "metronome_bpm", stage.metronome_bpm)
        _positive(where, "drop_height_m", stage.drop_height_m)
        _positive(where, "added_load_kg", stage.added_load_kg, allow_zero=True)
        if stage.reps is not None and stage.reps < 1:
            raise ProtocolError(f"{where}: reps must be at least 1, got {stage.reps}")
        if not -30.0 <= stage.slope_deg <= 30.0:
            raise ProtocolError(f"{where}: slope_deg must be between -30 and 30")
        if stage.steady_last_s is not None and stage.steady_last_s > stage.duration_s:
            raise ProtocolError(f"{where}: steady_last_s is longer than duration_s")
        if stage.task in SIDED_TASKS and stage.side not in ("left", "right"):
            raise ProtocolError(f"{where}: task {stage.task!r} needs side = 'left' or 'right'")
        if stage.task == "run" and stage.speed_mps is None:
            raise ProtocolError(f"{where}: task 'run' needs speed_mps")
    return protocol


def parse(
    text: str, origin: str = "protocol", *, fmt: Literal["toml", "json"] = "toml"
) -> Protocol:
    """A protocol from TOML (or JSON) text; ``origin`` names it in error messages."""
    try:
        raw = tomllib.loads(text) if fmt == "toml" else json.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise ProtocolError(f"{origin}: not valid {fmt.upper()}: {exc}") from None
    try:
        protocol = msgspec.convert(raw, Protocol)
    except msgspec.ValidationError as exc:
        raise ProtocolError(f"{origin}: {_where(str(exc))}") from None
    return validate(protocol, origin)


def _where(message: str) -> str:
    """msgspec's ``... - at `$.stage[0].speed_mps``` → ``... (at stage[1].speed_mps)``."""
    text, sep, path = message.partition(" - at `$")
    if not sep:
        return text
    path = path.rstrip("`").lstrip(".")
    # msgspec counts from 0; people count stages from 1

    path = re.sub(r"\[(\d+)\]", lambda m: f"[{int(m.group(1)) + 1}]", path)
    return f"{text} (at {path})"


def load(path: str | Path) -> Protocol:
    """A protocol from a ``.toml`` or ``.json`` file."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ProtocolError(f"cannot read protocol file {p}: {exc.strerror or exc}") from None
    return parse(text, str(p), fmt="json" if p.suffix.lower() == ".json" else "toml")


def builtin() -> dict[str, Protocol]:
    """The templates shipped with calfload, by name."""
    out: dict[str, Protocol] = {}
    folder = resources.files(__package__ or "calfload.processing.protocols") / "templates"
    for item in sorted(folder.iterdir(), key=lambda i: i.name):
        if item.name.endswith(".toml"):
            protocol = parse(item.read_text(encoding="utf-8"), f"template {item.name}")
            out[protocol.name] = protocol
    return out


def resolve(name_or_file: str) -> Protocol:
    """A built-in template by name, else a protocol file by path."""
    templates = builtin()
    if name_or_file in templates:
        return templates[name_or_file]
    if Path(name_or_file).suffix.lower() in (".toml", ".json") or Path(name_or_file).exists():
        return load(name_or_file)
    raise ProtocolError(
        f"no protocol named {name_or_file!r}; built-in: {', '.join(sorted(templates))} "
        "(or pass a .toml/.json file)"
    )


def to_dict(protocol: Protocol) -> dict[str, object]:
    """JSON-ready form (as in the file, with defaults filled in)."""
    out = msgspec.to_builtins(protocol)
    assert isinstance(out, dict)
    return out
