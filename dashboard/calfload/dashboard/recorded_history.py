"""Backfill steps from the recorder's session files (a :class:`HistorySource`).

After a broker outage the dashboard asks, per athlete and foot, for the steps after the
newest one it holds. The recorder kept receiving them (it has its own persistent session,
or it ran beside the bridge), so they are in the athlete's session files in the data
folder. Reading is done in a worker thread; unreadable files are skipped and logged.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Sequence
from pathlib import Path

from calfload.bridge.messages import MessageError, decode
from calfload.bridge.topics import Side
from calfload.processing.messages import StepMessage
from calfload.processing.recorder.store import SUFFIX, SessionFileError, open_session, read_meta

log = logging.getLogger(__name__)


class RecordedHistory:
    """Steps from the session files under ``recordings`` (``<data folder>/recordings``)."""

    def __init__(self, recordings: Path) -> None:
        self.recordings = recordings

    async def steps_after(
        self, athlete: str, side: Side, after_ic_s: float
    ) -> Sequence[StepMessage]:
        return await asyncio.to_thread(self.read_steps_after, athlete, side, after_ic_s)

    def read_steps_after(self, athlete: str, side: Side, after_ic_s: float) -> list[StepMessage]:
        """The recorded steps of one foot with ``ic_s > after_ic_s``, oldest first.

        Opens each session file once and reads only its metadata and the matching steps
        (not the whole-session counts that ``calfload sessions`` shows)."""
        out: list[StepMessage] = []
        for path in sorted(self.recordings.glob(f"*{SUFFIX}")):
            try:
                with open_session(path) as conn:
                    if read_meta(conn, path).get("athlete") != athlete:
                        continue
                    raws = conn.execute(
                        "SELECT message FROM steps WHERE side=? AND ic_s>? ORDER BY ic_s",
                        (side, after_ic_s),
                    ).fetchall()
            except (SessionFileError, sqlite3.Error) as exc:
                log.warning("backfill: skipping %s: %s", path, exc)
                continue
            for (raw,) in raws:
                try:
                    out.append(decode(raw, StepMessage))
                except MessageError as exc:
                    log.warning("backfill: a stored step in %s is unreadable: %s", path, exc)
        out.sort(key=lambda s: s.ic_s)
        return out
