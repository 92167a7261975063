"""An athlete's recent session load from the recorder's data folder, and the comparison.

Reads the session files of one athlete (``<data folder>/recordings``, see
:mod:`calfload.processing.recorder.store`) once, turns each into a
:class:`~calfload.processing.session.PastSession` (start time, distance, cumulative
Achilles impulse in BW·s) and compares the current session with the largest of the
previous 30 days by :func:`~calfload.processing.session.compare_with_history` — the
single-session spike comparison of the Garmin-RUNSAFE cohort (*Br J Sports Med* 2025,
5205 runners, as summarised in ``reference/science.md``'s key-numbers table). Applied to
Achilles load it is an extrapolation and labelled so (``docs/load.md``).

A session's totals come from its last stored ``SessionSummary.load``; a session without
one (e.g. an interrupted recording) sums its stored steps' ``achilles_impulse_ns`` and
divides by body weight from its athlete-info messages. Unreadable files are skipped and
reported, never fatal.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from calfload.processing.messages import StepMessage
from calfload.processing.recorder import store
from calfload.processing.session import (
    HISTORY_WINDOW_S,
    HistoryComparison,
    PastSession,
    compare_with_history,
)

G0_MPS2: Final = 9.80665
METRIC: Final = "achilles_impulse_bws"


@dataclass(frozen=True)
class History:
    """Past sessions of one athlete read from a data folder, and unreadable files."""

    athlete: str
    sessions: tuple[PastSession, ...]
    errors: tuple[str, ...] = ()


def _finite(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and value == value else None


def past_session(path: Path) -> tuple[str, PastSession]:
    """(athlete, totals) of one stored session (raises SessionFileError, sqlite3.Error)."""
    with store.open_session(path) as conn:
        meta = store.read_meta(conn, path)
        started = float(meta.get("started_s") or 0.0)
        athlete = meta.get("athlete", "")
        load: dict[str, Any] | None = None
        # Newest first, one row at a time: usually only the last summary is decoded.
        for (raw,) in conn.execute("SELECT message FROM summaries ORDER BY t_s DESC"):
            summary = json.loads(raw)
            if isinstance(summary, dict) and isinstance(summary.get("load"), dict):
                load = summary["load"]
                break
        if load is not None:
            return athlete, PastSession(
                started, _finite(load.get("distance_m")), _finite(load.get("achilles_impulse_bws"))
            )
        mass = None
        for info in store.athlete_infos(conn):
            mass = _finite(info.get("body_mass_kg")) or mass
        impulse = [_finite(s.get("achilles_impulse_ns")) for s in store.steps(conn)]
        known = [v for v in impulse if v is not None]
        bws = sum(known) / (mass * G0_MPS2) if known and mass else None
        return athlete, PastSession(started, None, bws)


def read_history(data_folder: Path, athlete: str, before_s: float | None = None) -> History:
    """The athlete's stored sessions that started within 30 days before ``before_s``."""
    folder = store.recordings_folder(data_folder)
    sessions: list[PastSession] = []
    errors: list[str] = []
    if folder.is_dir():
        for path in sorted(folder.glob(f"*{store.SUFFIX}")):
            try:
                who, past = past_session(path)
            except (store.SessionFileError, sqlite3.Error, ValueError) as exc:
                errors.append(f"{path.name}: {exc}")
                continue
            if who != athlete:
                continue
            if before_s is None or before_s - HISTORY_WINDOW_S <= past.t_s < before_s:
                sessions.append(past)
    return History(athlete, tuple(sorted(sessions, key=lambda p: p.t_s)), tuple(errors))


def compare(history: History, t_s: float, achilles_impulse_bws: float) -> HistoryComparison:
    """The current session's cumulative Achilles load against the 30-day maximum."""
    return compare_with_history(t_s, achilles_impulse_bws, history.sessions, metric=METRIC)


def compact(c: HistoryComparison) -> dict[str, Any]:
    """The comparison as plain JSON values (``--json`` output and ``LoadSummary.history``)."""
    ratio = c.current / c.reference_max if c.reference_max else None
    return {
        "metric": c.metric,
        "ratio_to_max_30d": None if ratio is None else round(ratio, 3),
        "max_30d": None if c.reference_max is None else round(c.reference_max, 3),
        "sessions_30d": c.sessions_in_window,
        "band": c.band,
        "hazard_ratio": c.hazard_ratio,
        "extrapolated": c.extrapolated,
    }


def history_for_steps(
    data_folder: Path,
    athlete: str,
    steps: Sequence[StepMessage],
    body_mass_kg: float | None,
    t_s: float | None = None,
) -> dict[str, Any]:
    """The comparison for an offline analysis (``calfload analyze --data-dir --athlete``).

    The session is placed at ``t_s`` (default: now), so the window is the 30 days before
    it; its load is the sum of the steps' Achilles impulse ÷ body weight. Without a body
    mass there is no load: the result says so in ``error``.
    """
    now = time.time() if t_s is None else t_s
    history = read_history(data_folder, athlete, now)
    out: dict[str, Any]
    if not body_mass_kg:
        out = {"error": "no body mass (give --body-mass-kg): no load to compare"}
    else:
        impulse = sum(s.achilles_impulse_ns or 0.0 for s in steps)
        current = impulse / (body_mass_kg * G0_MPS2)
        out = {"achilles_impulse_bws": round(current, 3), **compact(compare(history, now, current))}
    if history.errors:
        out["unreadable"] = list(history.errors)
    return out
