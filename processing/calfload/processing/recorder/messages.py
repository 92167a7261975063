"""Messages and topics the recorder owns (contract v1, ``docs/contract.md``).

::

    <base>/session/<athlete>/control   QoS 1, not retained   SessionControl (start/stop/name/note)
    <base>/session/<athlete>/state     QoS 1, retained       SessionState (recording or stopped)
    <base>/marker/<athlete>            QoS 1, not retained   Marker (lab sync marker)
    <base>/protocol/<athlete>/event    QoS 1, not retained   any JSON object with schema, t_s, kind
    <base>/recorder/state              QoS 1, retained       RecorderState (also its Last Will)
"""

from __future__ import annotations

from typing import Literal

from calfload.bridge.messages import Message, State
from calfload.bridge.topics import check_id

Action = Literal["start", "stop", "name", "note"]
SessionStatus = Literal["recording", "stopped"]


class SessionControl(Message, frozen=True, kw_only=True):
    """Start, stop or name an athlete's session, or add a note to the open one.

    ``name`` names the session (start, name); ``text`` is the note; ``by`` who asked
    (a dashboard user, a script); ``t_s`` when (session clock; the recorder's time if
    absent)."""

    athlete: str
    action: Action
    name: str = ""
    text: str = ""
    by: str = ""
    t_s: float | None = None


class SessionState(Message, frozen=True, kw_only=True):
    athlete: str
    state: SessionStatus
    session_id: str
    name: str
    started_s: float
    stopped_s: float | None = None
    t_s: float


class Marker(Message, frozen=True, kw_only=True):
    """A sync marker a lab system triggers (force plate, motion capture, a button).

    ``t_s`` is on the session clock; absent, the recorder stamps the arrival time."""

    athlete: str
    label: str = "marker"
    source: str = ""
    t_s: float | None = None


class RecorderState(Message, frozen=True, kw_only=True):
    state: State
    recorder_id: str
    t_s: float
    sessions_open: int = 0
    messages_ok: int = 0
    messages_rejected: int = 0
    last_error: str = ""


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
