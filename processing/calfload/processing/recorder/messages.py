"""Messages and topics the recorder owns (contract v1, ``docs/contract.md``).

::

    <base>/session/<athlete>/control   QoS 1, not retained   SessionControl (start/stop/name/note)
    <base>/session/<athlete>/state     QoS 1, retained       SessionState (recording or stopped)
    <base>/marker/<athlete>            QoS 1, not retained   Marker (lab sync marker)
    <base>/protocol/<athlete>/event    QoS 1, not retained   any JSON object with schema, t_s, kind
    <base>/recorder/state              QoS 1, retained       RecorderState (also its Last Will)
"""

from __future__ import annotations

from typing import Annotated, Literal

from msgspec import Meta

from calfload.bridge.messages import AthleteId, ClockS, LastError, Message, SentS, State
from calfload.bridge.topics import check_id

Action = Literal["start", "stop", "name", "note"]
SessionStatus = Literal["recording", "stopped"]
OptionalClockS = Annotated[
    float | None,
    Meta(description="When (session clock, s); absent, the recorder stamps the arrival time."),
]


class SessionControl(Message, frozen=True, kw_only=True):
    """Start, stop or name an athlete's session, or add a note to the open one.

    Published by the dashboard's sessions page and by scripts (not retained).
    """

    athlete: AthleteId
    action: Action
    name: Annotated[str, Meta(description="The session's name (`start`, `name`).")] = ""
    text: Annotated[str, Meta(description="The note (`note`).")] = ""
    by: Annotated[str, Meta(description="Who asked: a dashboard user, a script.")] = ""
    t_s: OptionalClockS = None


class SessionState(Message, frozen=True, kw_only=True):
    """An athlete's recording session (retained; sent when it opens, is named or stops).

    A session opens when raw data arrives for an athlete without an open session, or on
    a ``start``; it closes on a ``stop`` or after 30 s without raw data. After a ``stop``,
    data does not reopen a session for that athlete until a ``start``, or until its data
    has paused for 30 s. Storage: ``docs/formats.md``.
    """

    athlete: AthleteId
    state: SessionStatus
    session_id: Annotated[str, Meta(description="Names the session's file for good.")]
    name: str
    started_s: Annotated[ClockS, Meta(description="When it opened (session clock, s).")]
    stopped_s: Annotated[
        float | None,
        Meta(description="When it stopped (session clock, s); `null` while recording."),
    ] = None
    t_s: SentS


class Marker(Message, frozen=True, kw_only=True):
    """A sync marker a lab system triggers (force plate, motion capture, a button).

    The dashboard's ``POST /sessions/marker`` publishes the same message. The recorder
    also detects two-footed sync jumps in the insole data and records them as events of
    kind ``jump``.
    """

    athlete: AthleteId
    label: Annotated[str, Meta(description="What happened, e.g. `forceplate-trigger`.")] = "marker"
    source: Annotated[str, Meta(description="The system that sent it, e.g. `vicon`.")] = ""
    t_s: Annotated[
        OptionalClockS,
        Meta(
            description="When (Unix seconds on a host synchronised with the bridge, e.g. by"
            " NTP); absent, the recorder stamps the arrival time."
        ),
    ] = None


class RecorderState(Message, frozen=True, kw_only=True):
    """The recorder's state (retained; also its Last Will, `offline`)."""

    state: State
    recorder_id: str
    t_s: SentS
    sessions_open: Annotated[int, Meta(description="Sessions being recorded now.")] = 0
    messages_ok: Annotated[int, Meta(description="Messages stored.")] = 0
    messages_rejected: Annotated[
        int, Meta(description="Messages refused as unreadable (see `last_error`).")
    ] = 0
    last_error: LastError = ""


def control(base: str, athlete: str) -> str:
    return f"{base}/session/{check_id(athlete, 'athlete id')}/control"


def state(base: str, athlete: str) -> str:
    return f"{base}/session/{check_id(athlete, 'athlete id')}/state"


def marker(base: str, athlete: str) -> str:
    return f"{base}/marker/{check_id(athlete, 'athlete id')}"


def protocol_event(base: str, athlete: str) -> str:
    return f"{base}/protocol/{check_id(athlete, 'athlete id')}/event"


def recorder_state(base: str) -> str:
    return f"{base}/recorder/state"


def filters(base: str) -> list[str]:
    """Everything the recorder subscribes to."""
    return [
        f"{base}/raw/+/+/+",
        f"{base}/steps/+/+",
        f"{base}/summary/+",
        f"{base}/athlete/+/info",
        f"{base}/sensor/+/quality",
        f"{base}/sensor/+/availability",
        f"{base}/session/+/control",
        f"{base}/marker/+",
        f"{base}/protocol/+/events",  # the protocol runner's topic
        f"{base}/protocol/+/event",
    ]
