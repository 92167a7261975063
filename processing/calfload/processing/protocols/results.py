"""The scored result of a protocol: msgspec structs, JSON-serialisable, schema 1.

``ProtocolResult`` is what :func:`calfload.processing.protocols.scoring.score` returns,
what the runner publishes on ``<base>/protocol/<athlete>/result`` and prints with
``--json``, and what a report generator reads. Each stage carries the block of its task
(``run``, ``heel_rise``, ``hops``, ``heel_drop``); the others are ``None``. Units are in
the field names; times are seconds on the session clock.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from calfload.bridge.messages import AthleteId, Message, Side

RepSource = Literal["insole", "imu", "insole+imu"]
StopReason = Literal["height", "pace", "support", "end", "target"]


def _d(text: str) -> Meta:
    return Meta(description=text)


Times = Annotated[float, _d("Session clock (s).")]
Lsi = Annotated[
    dict[str, float | None],
    _d(
        "Limb symmetry indices, involved / uninvolved × 100 (left / right × 100 without an"
        " involved side), e.g. `heel_rise_reps_lsi_pct`."
    ),
]


class RunSide(msgspec.Struct, frozen=True, kw_only=True):
    """Means over one side's steps inside the steady-state window (``None``: not measured).

    Loading fields as in the step message (``docs/load.md``)."""

    steps: int
    gct_ms: float | None = None
    gct_ms_sd: Annotated[float | None, _d("Standard deviation of `gct_ms`.")] = None
    flight_ms: float | None = None
    peak_force_bw: float | None = None
    push_off_impulse_ns: float | None = None
    forefoot_peak_n: float | None = None
    achilles_force_bw: float | None = None
    achilles_impulse_ns: float | None = None


class RunMetrics(msgspec.Struct, frozen=True, kw_only=True):
    """A ``run`` stage over its steady-state window, the stage's last ``steady_last_s``.

    Counts the steps whose initial contact lies in ``[window_start_s, window_end_s]``."""

    speed_mps: Annotated[float | None, _d("The stage's treadmill speed (m/s).")]
    slope_deg: Annotated[float, _d("The stage's treadmill slope (°).")]
    window_start_s: Times
    window_end_s: Times
    steps: int
    cadence_spm: Annotated[
        float | None, _d("60 / the median interval between initial contacts (steps/min).")
    ]
    left: RunSide
    right: RunSide
    symmetry_pct: Annotated[
        dict[str, float | None],
        _d("Per metric, 100 × (L − R) / (0.5 × (L + R)) (Robinson 1987; positive: left larger)."),
    ] = msgspec.field(default_factory=dict)


class Rep(msgspec.Struct, frozen=True, kw_only=True):
    """One heel rise (or heel drop): when, how high, and whether it counted."""

    start_s: Annotated[float, _d("The repetition starts (session clock, s).")]
    top_s: Annotated[
        float, _d("Its turning point: the heel highest, or lowest in a heel drop (s).")
    ]
    end_s: Annotated[float, _d("It ends (session clock, s).")]
    height_m: Annotated[float | None, _d("Heel height: 0.70 × foot length × sin(`angle_deg`).")] = (
        None
    )
    angle_deg: Annotated[float | None, _d("Peak heel-lift angle (IMU).")] = None
    mean_force_bw: Annotated[float | None, _d("Mean insole force during the rep (BW).")] = None
    counted: bool = True
    fault: Annotated[
        str, _d("Why it was not counted: `pace`, `height` or `support`; empty when counted.")
    ] = ""


class HeelRiseMetrics(msgspec.Struct, frozen=True, kw_only=True):
    """Single-leg heel-rise endurance (or a set of heel rises) on one side.

    Methods and stop rules: ``docs/protocols.md``, "Heel rises"."""

    side: Side
    source: Annotated[RepSource, _d("Which sensor's repetitions were scored.")]
    reps: Annotated[int, _d("Counted repetitions.")]
    reps_insole: Annotated[int | None, _d("Repetitions the insole saw.")] = None
    reps_imu: Annotated[int | None, _d("Repetitions the IMU saw.")] = None
    stop_reason: Annotated[
        StopReason,
        _d(
            "Why the test ended: a stop rule (`height`, `pace`, `support`), the stage's `end`,"
            " or its `target` reached."
        ),
    ] = "end"
    stopped_s: Annotated[
        float | None, _d("When a stop rule or the target ended it (session clock, s).")
    ] = None
    rep_period_s: Annotated[float | None, _d("The paced repetition period (s).")] = None
    peak_height_m: float | None = None
    mean_height_m: float | None = None
    total_height_m: Annotated[float | None, _d("Sum of the counted heights.")] = None
    total_work_j: Annotated[
        float | None, _d("(body mass + added load) × g × `total_height_m`.")
    ] = None
    height_decline_pct: Annotated[
        float | None, _d("1 − mean(last three heights) / mean(first three), in %.")
    ] = None
    rep_list: list[Rep] = msgspec.field(default_factory=list)


class Hop(msgspec.Struct, frozen=True, kw_only=True):
    """One hop: contact from the insole force crossing 40 N."""

    ic_s: Times
    to_s: Times
    contact_ms: float
    flight_ms: Annotated[float | None, _d("Flight from this toe-off to the next landing (ms).")] = (
        None
    )
    height_m: Annotated[float | None, _d("Jump height g × t_f² / 8 (Bosco 1983).")] = None
    rsi: Annotated[float | None, _d("Reactive strength index, height ÷ contact time.")] = None


class HopMetrics(msgspec.Struct, frozen=True, kw_only=True):
    """Repeated hopping or drop jumps on one side (means over the scored hops)."""

    side: Side
    task: Literal["hop", "drop-jump"]
    hops: Annotated[int, _d("Hops scored.")]
    contact_ms: float | None = None
    flight_ms: float | None = None
    height_m: float | None = None
    rsi: float | None = None
    hop_list: list[Hop] = msgspec.field(default_factory=list)


class HeelDropSet(msgspec.Struct, frozen=True, kw_only=True):
    """One set of eccentric heel drops (or loaded heel rises) counted by the sensors."""

    side: Side
    reps: int
    target_reps: Annotated[int | None, _d("The set's target.")]
    complete: Annotated[bool, _d("The target was reached (true without a target).")]
    knee: Annotated[str | None, _d("`straight` or `bent`, as logged.")] = None
    added_load_kg: Annotated[float, _d("Backpack load.")] = 0.0
    mean_drop_deg: Annotated[float | None, _d("Mean drop angle (IMU).")] = None


class StageResult(msgspec.Struct, frozen=True, kw_only=True):
    """One stage; the block of its task is set (``run``, ``heel_rise``, ``hops``,
    ``heel_drop``), the others are ``None``."""

    index: Annotated[int, _d("The stage's index, from 0.")]
    name: str
    task: str
    start_s: Times
    end_s: Times
    run: RunMetrics | None = None
    heel_rise: HeelRiseMetrics | None = None
    hops: HopMetrics | None = None
    heel_drop: HeelDropSet | None = None
    note: Annotated[str, _d("Why a block is missing, e.g. `no left sensor data`.")] = ""


class Norm(msgspec.Struct, frozen=True, kw_only=True):
    """A score against a published norm (``source`` names it)."""

    metric: str
    value: float
    norm: Annotated[float, _d("The published reference value.")]
    pct_of_norm: Annotated[float, _d("100 × value / norm.")]
    band: Annotated[str, _d("`within`, `below` or `above` the norm's limits.")]
    source: str
    side: Side | None = None
    note: str = ""


class ProtocolResult(Message, frozen=True, kw_only=True):
    """The scored protocol (retained; ``docs/protocols.md``, "Result").

    The same structure ``calfload protocol run --json`` prints and
    ``calfload.processing.protocols.scoring.score`` returns."""

    protocol: str
    title: str
    athlete: AthleteId
    started_s: Times
    ended_s: Times
    stages: list[StageResult]
    symmetry: Lsi = msgspec.field(default_factory=dict)
    norms: Annotated[list[Norm], _d("Comparisons with published norms.")] = msgspec.field(
        default_factory=list
    )
    complete: Annotated[bool, _d("Every stage ran.")] = True
    notes: list[str] = msgspec.field(default_factory=list)
