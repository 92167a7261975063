"""Messages the processing worker publishes (contract v1)."""

from __future__ import annotations

from typing import Literal

from calfload.bridge.messages import Message, Side, State

Quality = Literal["ok", "suspect"]
Source = Literal["insole", "imu", "fused"]
GaitMode = Literal["running", "walking"]


class StepMessage(Message, frozen=True, kw_only=True):
    """One ground contact of one foot.

    ``ic_s`` / ``to_s`` are initial contact and toe-off on the session clock
    (seconds since the Unix epoch for live data, seconds from the file's start
    offline). ``flight_ms`` is the time from the other foot's previous toe-off to
    this initial contact, ``None`` when that toe-off is unknown. ``gait`` tells running
    (a flight phase) from walking (double support); ``quality_reason`` says why a step is
    ``suspect`` (comma-separated codes, empty when ``ok``).
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
    gait: GaitMode | None = None
    quality_reason: str = ""


class SideSummary(Message, frozen=True, kw_only=True):
    steps: int
    gct_ms_mean: float | None
    gct_ms_last: float | None
    peak_force_bw_mean: float | None


class SessionSummary(Message, frozen=True, kw_only=True):
    """Latest totals for one athlete; retained so a late dashboard is filled at once."""

    athlete: str
    t_s: float
    steps: int
    cadence_spm: float | None
    left: SideSummary
    right: SideSummary
    gct_symmetry_pct: float | None


class WorkerState(Message, frozen=True, kw_only=True):
    state: State
    worker_id: str
    t_s: float
    batches_ok: int = 0
    batches_rejected: int = 0
    last_error: str = ""
