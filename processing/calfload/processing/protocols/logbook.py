"""A programme's session logs in one JSON file (a list of
:class:`~calfload.processing.protocols.programme.SessionLog`), for ``calfload protocol log``
and ``calfload protocol advise``. :func:`upsert` is pure; :func:`read` / :func:`write` do the
file I/O (written to a temporary file and renamed, so a crash never leaves half a file).
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Sequence
from pathlib import Path

import msgspec

from calfload.processing.protocols.programme import SessionLog, log_from_result, session_verdict
from calfload.processing.protocols.results import ProtocolResult


class LogbookError(ValueError):
    """A log file or entry that cannot be used (message says why)."""


def read(path: Path) -> list[SessionLog]:
    if not path.exists():
        return []
    try:
        return msgspec.json.decode(path.read_bytes(), type=list[SessionLog])
    except (msgspec.DecodeError, OSError) as exc:
        raise LogbookError(f"cannot read the session log {path}: {exc}") from None


def write(path: Path, logs: Sequence[SessionLog]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(msgspec.json.format(msgspec.json.encode(list(logs)), indent=1) + b"\n")
    os.replace(tmp, path)


def upsert(
    logs: Sequence[SessionLog],
    *,
    date: str,
    result: ProtocolResult | None = None,
    pain_before: int | None = None,
    pain_during: int | None = None,
    pain_next_morning: int | None = None,
) -> tuple[list[SessionLog], SessionLog]:
    """Add the session of ``date`` (from ``result``) or update the pain scores of the one
    already logged for that date. Returns the new list (sorted by date) and the entry."""
    try:
        dt.date.fromisoformat(date)
    except ValueError:
        raise LogbookError(f"date {date!r} must be YYYY-MM-DD") from None
    existing = [log for log in logs if log.date == date]
    if existing:
        entry = existing[0]
    elif result is None:
        raise LogbookError(f"no session logged for {date}: give the scored result (--result)")
    else:
        entry = log_from_result(result, date=date)
    changes = {
        k: v
        for k, v in (
            ("pain_before", pain_before),
            ("pain_during", pain_during),
            ("pain_next_morning", pain_next_morning),
        )
        if v is not None
    }
    entry = msgspec.structs.replace(entry, **changes)
    try:
        session_verdict(entry)
    except ValueError as exc:
        raise LogbookError(str(exc)) from None
    out = [log for log in logs if log.date != date] + [entry]
    return sorted(out, key=lambda log: log.date), entry
