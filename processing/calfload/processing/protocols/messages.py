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
from typing import Annotated, Literal

from msgspec import Meta

from calfload.bridge.messages import AthleteId, ClockS, Message, Side
from calfload.bridge.topics import check_id
from calfload.processing.protocols.scoring import StageMark

EventKind = Literal["start", "stage-start", "progress", "stage-end", "end", "abort"]


def _stage(meaning: str) -> Meta:
    return Meta(description=f"{meaning} Set on `stage-start`, `progress` and `stage-end`.")


class ProtocolEvent(Message, frozen=True, kw_only=True):
    """One announcement of a running protocol (definitions: ``docs/protocols.md``).

    A run sends ``start``, then for each stage ``stage-start`` (with the cue and the
    stage's settings), ``progress`` about once a second during heel-rise, heel-drop and
    hop stages, ``stage-end``, and finally ``end`` (or ``abort``). A recorder can rebuild
    the stage boundaries from ``stage-start`` / ``stage-end`` (:func:`marks_from_events`).
    """

    athlete: AthleteId
    protocol: Annotated[str, Meta(description="The protocol's name, e.g. `heel-rise-endurance`.")]
    run_id: Annotated[str, Meta(description="Ties the events of one run together.")]
    kind: EventKind
    t_s: Annotated[ClockS, Meta(description="When (session clock, s).")]
    stages: Annotated[int | None, Meta(description="Number of stages (on `start`).")] = None
    stage_index: Annotated[int | None, _stage("The stage's index, from 0.")] = None
    stage: Annotated[str | None, _stage("The stage's name.")] = None
    task: Annotated[
        str | None, _stage("`run`, `heel-rise`, `heel-drop`, `hop`, `drop-jump` or `rest`.")
    ] = None
    cue: Annotated[
        str, Meta(description="What to tell the athlete (stage); the title (on `start`).")
    ] = ""
    duration_s: Annotated[float | None, _stage("The stage's planned length (s).")] = None
    side: Annotated[Side | None, _stage("The working side of a one-legged stage.")] = None
    speed_mps: Annotated[float | None, _stage("Treadmill speed of a `run` stage (m/s).")] = None
    slope_deg: Annotated[float | None, _stage("Treadmill slope of a `run` stage (°).")] = None
    metronome_bpm: Annotated[float | None, _stage("Metronome rate (beats per minute).")] = None
    target_reps: Annotated[int | None, _stage("Repetitions the stage asks for.")] = None
    reps: Annotated[
        int | None,
        Meta(
            description="Repetitions so far (heel rises, heel drops or hops), on `progress` and"
            " `stage-end`."
        ),
    ] = None
    reason: Annotated[
        str,
        Meta(
            description="Why a stage or the run ended early: `stop rule: height`, `target"
            " reached`, `stopped by user`, …; empty otherwise."
        ),
    ] = ""


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
