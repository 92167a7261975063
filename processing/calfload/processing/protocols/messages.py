"""The protocol runner's MQTT messages and topics (contract v1, ``docs/contract.md``).

* ``<base>/protocol/<athlete>/events`` — :class:`ProtocolEvent`, QoS 1, not retained:
  ``start``, then per stage ``stage-start`` … ``progress`` … ``stage-end``, then ``end``
  (or ``abort``). A recorder stores them; :func:`marks_from_events` turns them back into
  the stage boundaries that :func:`~calfload.processing.protocols.scoring.score` takes.
* ``<base>/protocol/<athlete>/result`` —
  :class:`~calfload.processing.protocols.results.ProtocolResult`, QoS 1, retained.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from calfload.bridge.messages import Message, Side
from calfload.bridge.topics import check_id
from calfload.processing.protocols.scoring import StageMark

EventKind = Literal["start", "stage-start", "progress", "stage-end", "end", "abort"]


class ProtocolEvent(Message, frozen=True, kw_only=True):
    """One announcement of a running protocol. ``t_s`` is on the session clock.

    ``run_id`` ties the events of one run together. Stage fields are set on the
    ``stage-*`` and ``progress`` events; ``reps`` is the count so far (heel rises, heel
    drops or hops) on ``progress`` and ``stage-end``; ``reason`` says why a stage or the
    run ended early (``"stop rule: height"``, ``"target reached"``, ``"stopped by user"``).
    """

    athlete: str
    protocol: str
    run_id: str
    kind: EventKind
    t_s: float
    stages: int | None = None
    stage_index: int | None = None
    stage: str | None = None
    task: str | None = None
    cue: str = ""
    duration_s: float | None = None
    side: Side | None = None
    speed_mps: float | None = None
    slope_deg: float | None = None
    metronome_bpm: float | None = None
    target_reps: int | None = None
    reps: int | None = None
    reason: str = ""


def events_topic(base: str, athlete: str) -> str:
    return f"{base}/protocol/{check_id(athlete, 'athlete id')}/events"


def result_topic(base: str, athlete: str) -> str:
    return f"{base}/protocol/{check_id(athlete, 'athlete id')}/result"


def marks_from_events(
    events: Iterable[ProtocolEvent], run_id: str | None = None
) -> list[StageMark]:
    """Stage boundaries from recorded events (a stage without its end is left out)."""
    starts: dict[int, float] = {}
    marks: list[StageMark] = []
    for e in sorted(events, key=lambda e: e.t_s):
        if (run_id is not None and e.run_id != run_id) or e.stage_index is None:
            continue
        if e.kind == "stage-start":
            starts[e.stage_index] = e.t_s
        elif e.kind == "stage-end" and e.stage_index in starts:
            marks.append(StageMark(e.stage_index, starts.pop(e.stage_index), e.t_s))
    return marks
