"""What a therapist sets or writes per athlete, kept in the data folder.

* alert thresholds: ``<data>/alert-thresholds.json`` (``{athlete: Thresholds}``),
  rewritten atomically on each change;
* notes: ``<data>/notes.jsonl``, one :class:`TimelineEvent` per line, appended.

Protocol stage events published on the bus (``<base>/event/<athlete>``) are the same
:class:`TimelineEvent` type with ``kind`` set by their publisher; the dashboard shows them
next to the notes but does not store them (the recorder does).

A damaged file is reported once in the log and read as far as it is readable: a
broken line of notes is skipped, a broken thresholds file means the defaults.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from pathlib import Path
from typing import Annotated, Final

import msgspec
from msgspec import Meta

from calfload.bridge.messages import AthleteId, ClockS, Message
from calfload.dashboard.alerts import ThresholdError, Thresholds

log = logging.getLogger(__name__)

THRESHOLDS_FILE: Final = "alert-thresholds.json"
NOTES_FILE: Final = "notes.jsonl"
MAX_NOTE_CHARS: Final = 500


class TimelineEvent(Message, frozen=True, kw_only=True):
    """An event on an athlete's timeline: a protocol stage or another event a tool publishes.

    Topic ``<base>/event/<athlete>`` (QoS 1, not retained). The dashboard draws it on the
    athlete's charts and lists it next to the therapist's notes, which have the same shape
    with ``kind`` ``note`` and are stored by the dashboard, not published."""

    athlete: AthleteId
    t_s: Annotated[ClockS, Meta(description="When (session clock, s).")]
    kind: Annotated[
        str,
        Meta(description="One word: `stage` (a protocol stage starts), `note`, or another."),
    ] = "note"
    text: Annotated[str, Meta(description="What to show, e.g. `stage 2: 3.5 m/s`.")]
    author: Annotated[str, Meta(description="Who wrote a note.")] = ""


class AthleteStore:
    """Thresholds and notes of every athlete. Thread-safe (one lock around the files)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.thresholds_path = folder / THRESHOLDS_FILE
        self.notes_path = folder / NOTES_FILE
        self._lock = threading.Lock()

    # -- thresholds --

    def all_thresholds(self) -> dict[str, Thresholds]:
        with self._lock:
            return self._read_thresholds()

    def _read_thresholds(self) -> dict[str, Thresholds]:
        try:
            data = json.loads(self.thresholds_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            log.warning(
                "could not read %s (%s); using default alert thresholds", self.thresholds_path, exc
            )
            return {}
        if not isinstance(data, dict):
            log.warning(
                "%s is not a JSON object; using default alert thresholds", self.thresholds_path
            )
            return {}
        out: dict[str, Thresholds] = {}
        for athlete, values in data.items():
            try:
                out[str(athlete)] = Thresholds.from_json(values if isinstance(values, dict) else {})
            except ThresholdError as exc:
                log.warning(
                    "alert thresholds of %r in %s: %s; using defaults",
                    athlete,
                    self.thresholds_path,
                    exc,
                )
        return out

    def set_thresholds(self, athlete: str, thresholds: Thresholds) -> None:
        with self._lock:
            current = self._read_thresholds()
            current[athlete] = thresholds
            text = json.dumps({k: v.to_json() for k, v in sorted(current.items())}, indent=1)
            self.folder.mkdir(parents=True, exist_ok=True)
            tmp = self.thresholds_path.with_suffix(".json.tmp")
            tmp.write_text(text + "\n", encoding="utf-8")
            os.replace(tmp, self.thresholds_path)

    # -- notes --

    def add_note(self, marker: TimelineEvent) -> None:
        with self._lock:
            self.folder.mkdir(parents=True, exist_ok=True)
            with self.notes_path.open("ab") as f:
                f.write(msgspec.json.encode(marker) + b"\n")

    def notes(self) -> list[TimelineEvent]:
        """Every note, oldest first."""
        with self._lock:
            try:
                lines = self.notes_path.read_bytes().splitlines()
            except FileNotFoundError:
                return []
        out: list[TimelineEvent] = []
        bad = 0
        for line in lines:
            if not line.strip():
                continue
            try:
                out.append(msgspec.json.decode(line, type=TimelineEvent))
            except msgspec.DecodeError:
                bad += 1
        if bad:
            log.warning("skipped %d unreadable line(s) of %s", bad, self.notes_path)
        return out
