"""Messages the processing worker publishes (contract v1)."""

from __future__ import annotations

from typing import Literal

import msgspec

from calfload.bridge.messages import Message, Side, State

Quality = Literal["ok", "suspect"]
Source = Literal["insole", "imu", "fused"]
LoadModel = Literal["insole-cop", "spring-mass"]
GaitMode = Literal["running", "walking"]


class StepMessage(Message, frozen=True, kw_only=True):
    """One ground contact of one foot.

    ``ic_s`` / ``to_s`` are initial contact and toe-off on the session clock
    (seconds since the Unix epoch for live data, seconds from the file's start
    offline). ``flight_ms`` is the time from the other foot's previous toe-off to
    this initial contact, ``None`` when that toe-off is unknown. ``gait`` tells running
    (a flight phase) from walking (double support); ``quality_reason`` says why a step is
    ``suspect`` (comma-separated codes, empty when ``ok``).

    Loading fields (``forefoot_peak_n`` … ``achilles_impulse_ns``) are present when
    the sensors and the athlete's body mass allow them; ``load_model`` names the
    model behind the Achilles estimate: ``"insole-cop"`` (insole force × centre-of-
    pressure lever) or ``"spring-mass"`` (IMU-only, lower confidence). Definitions:
    ``docs/load.md``.
    """

    athlete: str
    side: Side
    sensor_id: str
    step_index: int
    ic_s: float
    to_s: float
    gct_ms: float
    flight_ms: float | None = None
    step_time_ms: float | None = None
    cadence_spm: float | None = None
    peak_force_n: float | None = None
    peak_force_bw: float | None = None
    impulse_ns: float | None = None
    quality: Quality = "ok"
    source: Source = "insole"
    forefoot_peak_n: float | None = None
    push_off_impulse_ns: float | None = None
    loading_rate_bw_s: float | None = None
    pf_moment_nm: float | None = None
    pf_moment_nm_kg: float | None = None
    achilles_force_n: float | None = None
    achilles_force_bw: float | None = None
    achilles_impulse_ns: float | None = None
    load_model: LoadModel | None = None
    gait: GaitMode | None = None
    quality_reason: str = ""


class SideSummary(Message, frozen=True, kw_only=True):
    steps: int
    gct_ms_mean: float | None
    gct_ms_last: float | None
    peak_force_bw_mean: float | None


class LoadHistory(msgspec.Struct, frozen=True, kw_only=True):
    """This session's cumulative Achilles load against the largest of the last 30 days.

    ``ratio_to_max_30d`` = current / 30-day maximum (``None`` without history); ``band``
    and ``hazard_ratio`` follow the single-session spike bands (``docs/load.md``);
    ``extrapolated`` is true because the bands were published for distance, not load.
    """

    metric: str
    ratio_to_max_30d: float | None = None
    max_30d: float | None = None
    sessions_30d: int = 0
    band: str
    hazard_ratio: float | None = None
    extrapolated: bool = True


class LoadSummary(Message, frozen=True, kw_only=True):
    """Session load totals of one athlete (both feet); see ``docs/load.md``.

    ``symmetry_pct`` maps a step metric to its symmetry index
    100 × (L − R) / (0.5 × (L + R)) over the session's per-side means;
    ``left_mean`` / ``right_mean`` hold those means.
    """

    steps: int
    achilles_impulse_ns: float
    achilles_impulse_bws: float
    weighted_load_bw: float
    distance_m: float | None = None
    achilles_impulse_bws_per_km: float | None = None
    budget_used_pct: float | None = None
    symmetry_pct: dict[str, float | None] = msgspec.field(default_factory=dict)
    left_mean: dict[str, float] = msgspec.field(default_factory=dict)
    right_mean: dict[str, float] = msgspec.field(default_factory=dict)
    history: LoadHistory | None = None


class SessionSummary(Message, frozen=True, kw_only=True):
    """Latest totals for one athlete; retained so a late dashboard is filled at once."""

    athlete: str
    t_s: float
    steps: int
    cadence_spm: float | None
    left: SideSummary
    right: SideSummary
    gct_symmetry_pct: float | None
    load: LoadSummary | None = None


class WorkerState(Message, frozen=True, kw_only=True):
    state: State
    worker_id: str
    t_s: float
    batches_ok: int = 0
    batches_rejected: int = 0
    last_error: str = ""
