"""Protocol runs appear on the athlete's timeline: stage starts become stage events."""

from __future__ import annotations

from calfload.bridge.messages import encode
from calfload.dashboard.athletestore import TimelineEvent
from calfload.dashboard.state import Received, Rejected, parse, subscriptions
from calfload.processing.protocols.messages import ProtocolEvent, events_topic

BASE = "calfload"


def _event(kind: str, athlete: str = "a1") -> bytes:
    return encode(
        ProtocolEvent(
            schema=1,
            athlete=athlete,
            protocol="treadmill-fukuchi",
            run_id="r1",
            kind=kind,  # type: ignore[arg-type]
            t_s=1764091620.0,
            stage_index=1,
            stage="3.5 m/s",
            cue="speed up to 3.5 m/s",
        )
    )


def test_stage_start_becomes_a_stage_event_and_other_kinds_are_not_drawn() -> None:
    topic = events_topic(BASE, "a1")
    assert "calfload/protocol/+/events" in subscriptions(BASE)
    got = parse(BASE, topic, _event("stage-start"))
    assert isinstance(got, Received) and got.route.kind == "event" and got.route.key == "a1"
    assert isinstance(got.message, TimelineEvent)
    assert got.message.kind == "stage" and got.message.t_s == 1764091620.0
    assert "3.5 m/s" in got.message.text and "treadmill-fukuchi" in got.message.text
    assert parse(BASE, topic, _event("progress")) is None
    wrong = parse(BASE, topic, _event("stage-start", athlete="b2"))
    assert isinstance(wrong, Rejected)
    assert isinstance(parse(BASE, topic, b"not json"), Rejected)
