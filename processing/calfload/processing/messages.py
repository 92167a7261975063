"""Messages the processing worker publishes (contract v1)."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from calfload.bridge.messages import (
    AthleteId,
    ClockS,
    LastError,
    Message,
    SensorId,
    SentS,
    Side,
    State,
)

Quality = Literal["ok", "suspect"]
Source = Literal["insole", "imu", "fused"]
LoadModel = Literal["insole-cop", "spring-mass"]
GaitMode = Literal["running", "walking"]


def _load(meaning: str) -> Meta:
    return Meta(description=f"{meaning} Absent when the sensors cannot support it (docs/load.md).")


class StepMessage(Message, frozen=True, kw_only=True):
    """One ground contact of one foot.

    A step is published once the other foot's data has reached its toe-off (at most 2 s
    later), so that ``flight_ms`` and ``step_time_ms`` are the same live and offline.
    Standing is never a step: contacts over 1.5 s, and contacts during which the other
    foot never left the ground, are dropped. Loading fields (``forefoot_peak_n`` …
    ``achilles_impulse_ns``) are present when the sensors and the athlete's body mass
    allow them; definitions, formulas and uncertainty: ``docs/load.md``.
    """

    athlete: AthleteId
    side: Side
    sensor_id: Annotated[SensorId, Meta(description="The sensor the contact was detected on.")]
    step_index: Annotated[int, Meta(description="Counts this foot's steps, from 1.")]
    ic_s: Annotated[ClockS, Meta(description="Initial contact (session clock, s).")]
    to_s: Annotated[ClockS, Meta(description="Toe-off (session clock, s).")]
    gct_ms: Annotated[float, Meta(description="Ground contact time, `to_s − ic_s` (ms).")]
    flight_ms: Annotated[
        float | None,
        Meta(
            description="From the other foot's previous toe-off to this initial contact (ms);"
            " negative means double support, as in walking; `null` when that toe-off is unknown."
        ),
    ] = None
    step_time_ms: Annotated[
        float | None,
        Meta(description="From the previous initial contact of either foot (ms)."),
    ] = None
    cadence_spm: Annotated[
        float | None, Meta(description="60000 / `step_time_ms` (steps per minute).")
    ] = None
    peak_force_n: Annotated[
        float | None,
        Meta(
            description="Peak vertical force of the contact (N); with `load_model`"
            " `spring-mass` the model's estimate, not measured."
        ),
    ] = None
    peak_force_bw: Annotated[
        float | None,
        Meta(description="`peak_force_n` in body weights; needs the athlete's body mass."),
    ] = None
    impulse_ns: Annotated[
        float | None, Meta(description="Vertical force integrated over the contact (N·s).")
    ] = None
    quality: Annotated[
        Quality, Meta(description="`suspect` when `quality_reason` names a cause.")
    ] = "ok"
    source: Annotated[
        Source,
        Meta(
            description="What detected the contact: `insole` (force), `imu` (a foot or shank"
            " IMU alone) or `fused` (an insole contact checked against a foot IMU;"
            " calfload.processing.fusion)."
        ),
    ] = "insole"
    forefoot_peak_n: Annotated[
        float | None, _load("Peak forefoot force (N; cells at x ≥ 0.60 × insole length).")
    ] = None
    push_off_impulse_ns: Annotated[
        float | None, _load("Forefoot force integrated over the second half of the contact (N·s).")
    ] = None
    loading_rate_bw_s: Annotated[
        float | None, _load("Average vertical loading rate of the first force peak (BW/s).")
    ] = None
    pf_moment_nm: Annotated[
        float | None, _load("Peak plantar-flexor moment about the ankle (N·m).")
    ] = None
    pf_moment_nm_kg: Annotated[
        float | None, _load("`pf_moment_nm` per kg of body mass (N·m/kg).")
    ] = None
    achilles_force_n: Annotated[
        float | None, _load("Peak Achilles tendon force: moment ÷ moment arm (N).")
    ] = None
    achilles_force_bw: Annotated[float | None, _load("`achilles_force_n` in body weights.")] = None
    achilles_impulse_ns: Annotated[
        float | None, _load("Achilles force integrated over the contact (N·s).")
    ] = None
    load_model: Annotated[
        LoadModel | None,
        Meta(
            description="How the Achilles estimate was made: `insole-cop` (insole force ×"
            " centre-of-pressure lever about the ankle ÷ the athlete's moment arm) or"
            " `spring-mass` (foot IMUs only: peak force from contact and flight time; lower"
            " confidence, no forefoot or loading-rate fields)."
        ),
    ] = None
    gait: Annotated[
        GaitMode | None,
        Meta(
            description="`running` (a flight phase: contact shorter than half the stride) or"
            " `walking`."
        ),
    ] = None
    quality_reason: Annotated[
        str,
        Meta(
            description="Why the step is `suspect`, comma-separated: `no_swing_before`,"
            " `short_swing`, `low_peak`, `long_contact`, `gap_in_contact`; empty when `ok`."
        ),
    ] = ""


RecentMean = Annotated[
    float | None, Meta(description="Mean over this side's last 20 steps; `null` before any.")
]


class SideSummary(Message, frozen=True, kw_only=True):
    """One foot's part of a session summary."""

    steps: Annotated[int, Meta(description="Steps of this foot in the session.")]
    gct_ms_mean: RecentMean
    gct_ms_last: Annotated[float | None, Meta(description="The latest step's `gct_ms`.")]
    peak_force_bw_mean: RecentMean


class LoadHistory(msgspec.Struct, frozen=True, kw_only=True):
    """This session's cumulative Achilles load against the largest of the last 30 days.

    Needs a worker with a data folder (read once, at the athlete's first batch); without
    one the summary's ``history`` is ``null``.
    """

    metric: Annotated[str, Meta(description="The compared total, `achilles_impulse_bws`.")]
    ratio_to_max_30d: Annotated[
        float | None,
        Meta(
            description="This session's total ÷ the largest of the athlete's recorded sessions"
            " of the previous 30 days; `null` without history."
        ),
    ] = None
    max_30d: Annotated[float | None, Meta(description="That 30-day maximum.")] = None
    sessions_30d: Annotated[int, Meta(description="Recorded sessions in those 30 days.")] = 0
    band: Annotated[
        str,
        Meta(
            description="Single-session spike band (docs/load.md): `no-history`, `within`,"
            " `spike-10-30`, `spike-30-100` or `spike-over-100`."
        ),
    ]
    hazard_ratio: Annotated[
        float | None, Meta(description="The band's published hazard ratio.")
    ] = None
    extrapolated: Annotated[
        bool,
        Meta(description="True: the bands were published for distance, not tendon load."),
    ] = True


SideMeans = Annotated[
    dict[str, float], Meta(description="Session mean of each step metric on this foot.")
]


class LoadSummary(Message, frozen=True, kw_only=True):
    """Session load totals of one athlete (both feet); see ``docs/load.md``."""

    steps: Annotated[int, Meta(description="Steps counted in these totals (both feet).")]
    achilles_impulse_ns: Annotated[
        float, Meta(description="Cumulative Achilles impulse of the session (N·s).")
    ]
    achilles_impulse_bws: Annotated[
        float, Meta(description="The same in body-weight seconds (BW·s).")
    ]
    weighted_load_bw: Annotated[
        float,
        Meta(
            description="Magnitude-weighted load (Σ peak⁴)^(1/4) over the steps' peak Achilles"
            " force in BW."
        ),
    ]
    distance_m: Annotated[
        float | None,
        Meta(description="Distance from the footpod, or from the athlete's `speed_mps`."),
    ] = None
    achilles_impulse_bws_per_km: Annotated[
        float | None, Meta(description="`achilles_impulse_bws` per km of `distance_m`.")
    ] = None
    budget_used_pct: Annotated[
        float | None, Meta(description="Share of the athlete's `load_budget_bw_s` used (%).")
    ] = None
    symmetry_pct: Annotated[
        dict[str, float | None],
        Meta(
            description="Per step metric, the symmetry index 100 × (L − R) / (0.5 × (L + R))"
            " of the session's per-side means (positive: left larger)."
        ),
    ] = msgspec.field(default_factory=dict)
    left_mean: SideMeans = msgspec.field(default_factory=dict)
    right_mean: SideMeans = msgspec.field(default_factory=dict)
    history: LoadHistory | None = None


class SessionSummary(Message, frozen=True, kw_only=True):
    """Latest totals for one athlete; retained so a late dashboard is filled at once.

    Published on each step and at least every second.
    """

    athlete: AthleteId
    t_s: SentS
    steps: Annotated[int, Meta(description="Steps of both feet in the session.")]
    cadence_spm: Annotated[
        float | None,
        Meta(
            description="60 / the median step time over the last 40 contacts of both feet"
            " (steps per minute)."
        ),
    ]
    left: SideSummary
    right: SideSummary
    gct_symmetry_pct: Annotated[
        float | None,
        Meta(description="200 × (left − right) / (left + right) of the sides' `gct_ms_mean`."),
    ]
    load: Annotated[
        LoadSummary | None, Meta(description="Session load totals, when steps carry them.")
    ] = None


class WorkerState(Message, frozen=True, kw_only=True):
    """The processing worker's state (retained; also its Last Will, `offline`)."""

    state: State
    worker_id: str
    t_s: SentS
    batches_ok: Annotated[int, Meta(description="Raw batches processed.")] = 0
    batches_rejected: Annotated[
        int, Meta(description="Messages refused as unreadable or impossible (see `last_error`).")
    ] = 0
    last_error: LastError = ""
