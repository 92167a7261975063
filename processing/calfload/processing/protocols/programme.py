"""Loading programmes across sessions: set logs from the sensors, pain scores and
progression. Pure functions over a list of past session logs.

Sources (science.md §5.2):

* Alfredson H, Pietilä T, Jonsson P, Lorentzon R (1998) "Heavy-load eccentric calf
  muscle training for the treatment of chronic Achilles tendinosis", *Am J Sports Med*
  26(3):360 — 3 × 15 heel drops with the knee straight and 3 × 15 with it bent, twice
  daily, 7 days a week; load added once the exercise is pain-free. The +5 kg per week up
  to 60 kg increment is the protocol table of PMC6356409 (not necessarily Alfredson's).
* Silbernagel KG, Thomeé R, Eriksson BI, Karlsson J (2007) "Continued sports activity,
  using a pain-monitoring model, during rehabilitation in patients with Achilles
  tendinopathy", *Am J Sports Med* 35(6):897–906 — pain during activity may reach 5/10
  and must have settled by the next morning; zones 0–3 "safe", 4–5 "acceptable",
  > 5 "too high" (one summary's labels).

Rules applied (the combination is this module's own, documented in docs/protocols.md):
a session whose pain exceeded 5/10, or whose pain had not settled by the next morning
(morning pain above the pre-session baseline), calls for *reduce* (one load step back);
pain 4–5 or an incomplete programme calls for *hold*; pain ≤ 3 that settled with all
sets complete allows *progress*. Load goes up one step only when every session of the
last :data:`PROGRESS_WINDOW_DAYS` days allowed progress and none went up in that time.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Final, Literal

import msgspec

from calfload.processing.protocols.results import HeelDropSet, ProtocolResult

PAIN_ALLOWED_MAX: Final = 5
PAIN_SAFE_MAX: Final = 3
LOAD_STEP_KG: Final = 5.0
LOAD_MAX_KG: Final = 60.0
PROGRESS_WINDOW_DAYS: Final = 7
Verdict = Literal["progress", "hold", "reduce", "pending"]
PainZone = Literal["safe", "acceptable", "too-high"]


class SessionLog(msgspec.Struct, frozen=True, kw_only=True):
    """One training session of a programme (JSON-serialisable).

    Pain scores are 0–10 (0 = none, 10 = worst imaginable); ``pain_before`` is the
    morning score before the session (the baseline), ``pain_next_morning`` the next
    morning's (``None`` until it is entered).
    """

    date: str
    protocol: str
    sets: list[HeelDropSet] = msgspec.field(default_factory=list)
    added_load_kg: float = 0.0
    pain_before: int | None = None
    pain_during: int | None = None
    pain_next_morning: int | None = None

    @property
    def day(self) -> dt.date:
        return dt.date.fromisoformat(self.date[:10])


class SessionVerdict(msgspec.Struct, frozen=True, kw_only=True):
    date: str
    verdict: Verdict
    reasons: list[str]


class Advice(msgspec.Struct, frozen=True, kw_only=True):
    """What the next session should do, and why."""

    verdict: Verdict
    next_load_kg: float
    reasons: list[str]
    sessions: list[SessionVerdict]


def check_pain(value: int | None, field: str) -> None:
    if value is not None and not (isinstance(value, int) and 0 <= value <= 10):
        raise ValueError(f"{field} must be a whole number from 0 to 10, got {value!r}")


def pain_zone(pain: int) -> PainZone:
    """Silbernagel (2007) pain-monitoring zones."""
    check_pain(pain, "pain")
    if pain <= PAIN_SAFE_MAX:
        return "safe"
    return "acceptable" if pain <= PAIN_ALLOWED_MAX else "too-high"


def session_verdict(log: SessionLog) -> SessionVerdict:
    for name in ("pain_before", "pain_during", "pain_next_morning"):
        check_pain(getattr(log, name), name)
    reasons: list[str] = []
    verdict: Verdict = "progress"
    if log.pain_during is not None and log.pain_during > PAIN_ALLOWED_MAX:
        reasons.append(f"pain during was {log.pain_during}/10, above the allowed 5")
        verdict = "reduce"
    baseline = log.pain_before if log.pain_before is not None else 0
    if log.pain_next_morning is not None and log.pain_next_morning > baseline:
        reasons.append(
            f"pain had not settled by the next morning ({log.pain_next_morning}/10 vs "
            f"{baseline}/10 before)"
        )
        verdict = "reduce"
    if verdict == "reduce":
        return SessionVerdict(date=log.date, verdict=verdict, reasons=reasons)
    incomplete = [s for s in log.sets if not s.complete]
    if incomplete:
        reasons.append(f"{len(incomplete)} of {len(log.sets)} sets incomplete")
        verdict = "hold"
    if log.pain_during is not None and log.pain_during > PAIN_SAFE_MAX:
        reasons.append(f"pain during was {log.pain_during}/10 (acceptable, not safe)")
        verdict = "hold"
    if log.pain_during is None or log.pain_next_morning is None:
        missing = "pain during" if log.pain_during is None else "next-morning pain"
        reasons.append(f"{missing} not entered yet")
        return SessionVerdict(date=log.date, verdict="pending", reasons=reasons)
    if verdict == "progress":
        reasons.append("pain within the safe zone, settled by the morning, all sets done")
    return SessionVerdict(date=log.date, verdict=verdict, reasons=reasons)


def advise(
    logs: Sequence[SessionLog],
    *,
    step_kg: float = LOAD_STEP_KG,
    max_kg: float = LOAD_MAX_KG,
    window_days: int = PROGRESS_WINDOW_DAYS,
) -> Advice:
    """Load for the next session from the past sessions (any order)."""
    if not logs:
        return Advice(verdict="hold", next_load_kg=0.0, reasons=["no sessions yet"], sessions=[])
    ordered = sorted(logs, key=lambda log: log.date)
    verdicts = [session_verdict(log) for log in ordered]
    last, last_v = ordered[-1], verdicts[-1]
    load = last.added_load_kg
    judged = [(log, v) for log, v in zip(ordered, verdicts, strict=True) if v.verdict != "pending"]
    if not judged:
        return Advice(
            verdict="pending", next_load_kg=load, reasons=last_v.reasons, sessions=verdicts
        )
    log_j, v_j = judged[-1]
    if v_j.verdict == "reduce":
        return Advice(
            verdict="reduce",
            next_load_kg=max(0.0, log_j.added_load_kg - step_kg),
            reasons=v_j.reasons,
            sessions=verdicts,
        )
    since = log_j.day - dt.timedelta(days=window_days - 1)
    window = [(log, v) for log, v in judged if log.day >= since]
    span_days = (log_j.day - window[0][0].day).days + 1
    same_load = all(log.added_load_kg == log_j.added_load_kg for log, _ in window)
    if (
        all(v.verdict == "progress" for _, v in window)
        and span_days >= window_days
        and same_load
        and log_j.added_load_kg < max_kg
    ):
        return Advice(
            verdict="progress",
            next_load_kg=min(max_kg, log_j.added_load_kg + step_kg),
            reasons=[f"{len(window)} sessions over {window_days} days within the safe zone"],
            sessions=verdicts,
        )
    reasons = list(v_j.reasons)
    if v_j.verdict == "progress":
        reasons.append(f"keep this load for {window_days} days of safe sessions before adding")
    return Advice(
        verdict="hold", next_load_kg=log_j.added_load_kg, reasons=reasons, sessions=verdicts
    )


def log_from_result(
    result: ProtocolResult,
    *,
    date: str,
    pain_before: int | None = None,
    pain_during: int | None = None,
    pain_next_morning: int | None = None,
) -> SessionLog:
    """A session log from a scored heel-drop or heel-rise programme session."""
    sets: list[HeelDropSet] = []
    load = 0.0
    for stage in result.stages:
        if stage.heel_drop is not None:
            sets.append(stage.heel_drop)
            load = max(load, stage.heel_drop.added_load_kg)
    log = SessionLog(
        date=date,
        protocol=result.protocol,
        sets=sets,
        added_load_kg=load,
        pain_before=pain_before,
        pain_during=pain_during,
        pain_next_morning=pain_next_morning,
    )
    session_verdict(log)  # validates the pain scores
    return log
