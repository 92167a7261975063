"""The scored result of a protocol: msgspec structs, JSON-serialisable, schema 1.

``ProtocolResult`` is what :func:`calfload.processing.protocols.scoring.score` returns,
what the runner publishes on ``<base>/protocol/<athlete>/result`` and prints with
``--json``, and what a report generator reads. Each stage carries the block of its task
(``run``, ``heel_rise``, ``hops``, ``heel_drop``); the others are ``None``. Units are in
the field names; times are seconds on the session clock.
"""

from __future__ import annotations

from typing import Literal

import msgspec

from calfload.bridge.messages import Message, Side

RepSource = Literal["insole", "imu", "insole+imu"]
StopReason = Literal["height", "pace", "support", "end", "target"]


class RunSide(msgspec.Struct, frozen=True, kw_only=True):
    """Means over one side's steps inside the steady-state window (``None``: not measured)."""

    steps: int
    gct_ms: float | None = None
    gct_ms_sd: float | None = None
    flight_ms: float | None = None
    peak_force_bw: float | None = None
    push_off_impulse_ns: float | None = None
    forefoot_peak_n: float | None = None
    achilles_force_bw: float | None = None
    achilles_impulse_ns: float | None = None


class RunMetrics(msgspec.Struct, frozen=True, kw_only=True):
    """A ``run`` stage over its steady-state window ``[window_start_s, window_end_s]``."""

    speed_mps: float | None
    slope_deg: float
    window_start_s: float
    window_end_s: float
    steps: int
    cadence_spm: float | None
    left: RunSide
    right: RunSide
    symmetry_pct: dict[str, float | None] = msgspec.field(default_factory=dict)


class Rep(msgspec.Struct, frozen=True, kw_only=True):
    """One heel rise (or heel drop): when, how high, and whether it counted."""

    start_s: float
    top_s: float
    end_s: float
    height_m: float | None = None
    angle_deg: float | None = None
    mean_force_bw: float | None = None
    counted: bool = True
    fault: str = ""


class HeelRiseMetrics(msgspec.Struct, frozen=True, kw_only=True):
    """Single-leg heel-rise endurance (or a set of heel rises) on one side."""

    side: Side
    source: RepSource
    reps: int
    reps_insole: int | None = None
    reps_imu: int | None = None
    stop_reason: StopReason = "end"
    stopped_s: float | None = None
    rep_period_s: float | None = None
    peak_height_m: float | None = None
    mean_height_m: float | None = None
    total_height_m: float | None = None
    total_work_j: float | None = None
    height_decline_pct: float | None = None
    rep_list: list[Rep] = msgspec.field(default_factory=list)


class Hop(msgspec.Struct, frozen=True, kw_only=True):
    ic_s: float
    to_s: float
    contact_ms: float
    flight_ms: float | None = None
    height_m: float | None = None
    rsi: float | None = None


class HopMetrics(msgspec.Struct, frozen=True, kw_only=True):
    """Repeated hopping or drop jumps on one side (means over the scored hops)."""

    side: Side
    task: Literal["hop", "drop-jump"]
    hops: int
    contact_ms: float | None = None
    flight_ms: float | None = None
    height_m: float | None = None
    rsi: float | None = None
    hop_list: list[Hop] = msgspec.field(default_factory=list)


class HeelDropSet(msgspec.Struct, frozen=True, kw_only=True):
    """One set of eccentric heel drops (or loaded heel rises) counted by the sensors."""

    side: Side
    reps: int
    target_reps: int | None
    complete: bool
    knee: str | None = None
    added_load_kg: float = 0.0
    mean_drop_deg: float | None = None


class StageResult(msgspec.Struct, frozen=True, kw_only=True):
    index: int
    name: str
    task: str
    start_s: float
    end_s: float
    run: RunMetrics | None = None
    heel_rise: HeelRiseMetrics | None = None
    hops: HopMetrics | None = None
    heel_drop: HeelDropSet | None = None
    note: str = ""


class Norm(msgspec.Struct, frozen=True, kw_only=True):
    """A score against a published norm (``source`` names it)."""

    metric: str
    value: float
    norm: float
    pct_of_norm: float
    band: str
    source: str
    side: Side | None = None
    note: str = ""


class ProtocolResult(Message, frozen=True, kw_only=True):
    """The scored protocol (see ``docs/protocols.md``, "Result")."""

    protocol: str
    title: str
    athlete: str
    started_s: float
    ended_s: float
    stages: list[StageResult]
    symmetry: dict[str, float | None] = msgspec.field(default_factory=dict)
    """Limb symmetry indices over the protocol, e.g. ``heel_rise_reps_lsi_pct``."""
    norms: list[Norm] = msgspec.field(default_factory=list)
    complete: bool = True
    notes: list[str] = msgspec.field(default_factory=list)
