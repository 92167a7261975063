"""LiveState and message parsing: pure, no broker, no browser."""

from __future__ import annotations

import json

import pytest

from calfload.bridge.messages import SCHEMA, BridgeState, SensorAvailability, encode
from calfload.dashboard.state import (
    COLUMNS,
    Cleared,
    LiveState,
    Received,
    Rejected,
    Route,
    parse,
    route,
    subscriptions,
)
from calfload.processing.messages import SessionSummary, SideSummary, WorkerState
from tests.dashboard.conftest import info, step

T0 = 1_700_000_000.0


def feed(state: LiveState, topic: str, payload: bytes) -> None:
    item = parse("calfload", topic, payload)
    assert item is not None, topic
    state.apply(item)


def feed_step(state: LiveState, athlete: str, side: str, index: int, gct: float = 240.0) -> None:
    msg = step(athlete, side, index, T0, gct)  # type: ignore[arg-type]
    feed(state, f"calfload/steps/{athlete}/{side}", encode(msg))


def summary(athlete: str, steps: int) -> SessionSummary:
    side = SideSummary(
        schema=SCHEMA, steps=steps, gct_ms_mean=240.0, gct_ms_last=241.0, peak_force_bw_mean=2.4
    )
    return SessionSummary(
        schema=SCHEMA,
        athlete=athlete,
        t_s=T0,
        steps=2 * steps,
        cadence_spm=171.0,
        left=side,
        right=side,
        gct_symmetry_pct=0.5,
    )


def availability(sensor_id: str, athlete: str, state: str = "online") -> SensorAvailability:
    return SensorAvailability(
        schema=SCHEMA,
        state=state,  # type: ignore[arg-type]
        sensor_id=sensor_id,
        athlete=athlete,
        side="left",
        family="open_insole",
        t_s=T0,
    )


# -- routing and parsing ------------------------------------------------------------------


def test_routes_every_subscribed_topic_and_nothing_else() -> None:
    assert route("calfload", "calfload/steps/a1/left") == Route("step", "a1", "left")
    assert route("calfload", "calfload/summary/a1") == Route("summary", "a1")
    assert route("calfload", "calfload/athlete/a1/info") == Route("info", "a1")
    assert route("calfload", "calfload/sensor/s1/availability") == Route("availability", "s1")
    assert route("calfload", "calfload/sensor/s1/quality") == Route("quality", "s1")
    assert route("calfload", "calfload/event/a1") == Route("event", "a1")
    assert route("calfload", "calfload/protocol/a1/events") == Route("event", "a1", protocol=True)
    assert route("calfload", "calfload/bridge/state") == Route("bridge")
    assert route("calfload", "calfload/worker/state") == Route("worker")
    assert route("lab/x", "lab/x/steps/a1/right") == Route("step", "a1", "right")
    for other in [
        "calfload/steps/a1/middle",
        "calfload/steps/a1",
        "calfload/sensor/s1/battery",
        "calfload/event/a1/x",
        "calfload/raw/a1/left/s1",
        "other/steps/a1/left",
        "calfloadX/bridge/state",
    ]:
        assert route("calfload", other) is None, other
    assert len(subscriptions("calfload")) == 9


def test_parse_accepts_valid_and_rejects_bad_payloads_with_readable_reasons() -> None:
    good = parse("calfload", "calfload/steps/a1/left", encode(step("a1", "left", 1, T0)))
    assert isinstance(good, Received)
    assert good.route == Route("step", "a1", "left")

    not_json = parse("calfload", "calfload/steps/a1/left", b"{not json")
    assert isinstance(not_json, Rejected)
    assert not_json.kind == "step"
    assert "StepMessage" in not_json.reason

    missing = parse("calfload", "calfload/athlete/a1/info", b'{"schema": 1, "athlete": "a1"}')
    assert isinstance(missing, Rejected)
    assert "AthleteInfo" in missing.reason

    future = json.loads(encode(step("a1", "left", 1, T0)))
    future["schema"] = 2
    newer = parse("calfload", "calfload/steps/a1/left", json.dumps(future).encode())
    assert isinstance(newer, Rejected)
    assert "schema 2" in newer.reason

    wrong_topic = parse("calfload", "calfload/steps/a2/left", encode(step("a1", "left", 1, T0)))
    assert isinstance(wrong_topic, Rejected)
    assert "'a2'" in wrong_topic.reason
    assert "'a1'" in wrong_topic.reason

    wrong_side = parse("calfload", "calfload/steps/a1/right", encode(step("a1", "left", 1, T0)))
    assert isinstance(wrong_side, Rejected)

    empty_step = parse("calfload", "calfload/steps/a1/left", b"")
    assert isinstance(empty_step, Rejected)
    assert parse("calfload", "calfload/athlete/a1/info", b"") == Cleared(Route("info", "a1"))
    assert parse("calfload", "calfload/sensor/s1/battery", b"{}") is None
    assert isinstance(parse("calfload", "calfload/sensor/s1/quality", b"{}"), Rejected)


# -- LiveState ------------------------------------------------------------------------------


def test_snapshot_holds_everything_known_and_is_json() -> None:
    state = LiveState(history_steps=100)
    state.set_broker_connected(True)
    feed(state, "calfload/athlete/a1/info", encode(info("a1", "Ana")))
    feed(state, "calfload/summary/a1", encode(summary("a1", 2)))
    feed(state, "calfload/sensor/a1-L/availability", encode(availability("a1-L", "a1")))
    feed(state, "calfload/sensor/b1-L/availability", encode(availability("b1-L", "b1")))
    bridge = BridgeState(schema=SCHEMA, state="online", bridge_id="br", t_s=T0)
    feed(state, "calfload/bridge/state", encode(bridge))
    worker = WorkerState(schema=SCHEMA, state="online", worker_id="wk", t_s=T0)
    feed(state, "calfload/worker/state", encode(worker))
    for i in (1, 2):
        feed_step(state, "a1", "left", i, 240.0 + i)
        feed_step(state, "a1", "right", i, 250.0 + i)

    snap = json.loads(json.dumps(state.snapshot()))
    assert snap["type"] == "snapshot"
    assert snap["broker_connected"] is True
    assert snap["history_steps"] == 100
    assert snap["rejected"] == 0
    assert snap["bridge"]["bridge_id"] == "br"
    assert snap["worker"]["worker_id"] == "wk"
    assert set(snap["sensors"]) == {"a1-L", "b1-L"}
    assert set(snap["athletes"]) == {"a1", "b1"}  # b1 known only from its sensor so far
    a1 = snap["athletes"]["a1"]
    assert a1["info"]["name"] == "Ana"
    assert a1["summary"]["steps"] == 4
    assert a1["steps"]["left"]["gct_ms"] == [241.0, 242.0]
    assert a1["steps"]["right"]["gct_ms"] == [251.0, 252.0]
    assert a1["steps"]["right"]["ic_s"] == [T0 + 0.7 + 0.35, T0 + 1.4 + 0.35]
    assert a1["steps"]["left"]["last"]["step_index"] == 2
    assert a1["steps"]["left"]["received"] == 2
    b1 = snap["athletes"]["b1"]
    assert b1["info"] is None
    assert b1["steps"]["left"] == {
        **{column: [] for column in COLUMNS},
        "last": None,
        "received": 0,
    }
    assert a1["steps"]["left"]["cadence_spm"] == [171.4, 171.4]
    assert a1["steps"]["left"]["flight_ms"] == [None, None]  # the steps do not carry it
    assert a1["watch"]["severity"] == 0
    assert a1["events"] == []


def test_flush_carries_only_what_is_new() -> None:
    state = LiveState()
    feed(state, "calfload/athlete/a1/info", encode(info("a1", "Ana")))
    feed_step(state, "a1", "left", 1)
    first = state.flush()
    assert first is not None
    assert first["athletes"]["a1"]["info"]["name"] == "Ana"
    assert first["athletes"]["a1"]["steps"]["left"]["ic_s"] == [T0 + 0.7]
    assert state.flush() is None  # nothing changed since

    feed_step(state, "a1", "right", 1, 260.0)
    update = state.flush()
    assert update is not None
    assert set(update) == {"type", "athletes"}
    assert set(update["athletes"]) == {"a1"}
    assert set(update["athletes"]["a1"]) <= {"steps", "watch"}
    assert update["athletes"]["a1"]["steps"] == {
        "right": {
            **{c: update["athletes"]["a1"]["steps"]["right"][c] for c in COLUMNS},
            "last": update["athletes"]["a1"]["steps"]["right"]["last"],
            "received": 1,
        }
    }
    assert update["athletes"]["a1"]["steps"]["right"]["ic_s"] == [T0 + 0.7 + 0.35]
    assert update["athletes"]["a1"]["steps"]["right"]["gct_ms"] == [260.0]
    assert update["athletes"]["a1"]["steps"]["right"]["last"]["gct_ms"] == 260.0

    feed(state, "calfload/summary/a1", encode(summary("a1", 1)))
    update = state.flush()
    assert update is not None
    assert set(update["athletes"]["a1"]) == {"summary"}

    state.set_broker_connected(True)
    state.set_broker_connected(True)  # no change, no news
    assert state.flush() == {"type": "update", "broker_connected": True}
    state.set_broker_connected(False)
    assert state.flush() == {"type": "update", "broker_connected": False}

    # The snapshot is not affected by flushing: it still has all steps.
    snap = state.snapshot()
    assert snap["athletes"]["a1"]["steps"]["left"]["received"] == 1
    assert snap["athletes"]["a1"]["steps"]["right"]["gct_ms"] == [260.0]


def test_history_is_bounded_per_athlete_and_side() -> None:
    state = LiveState(history_steps=5)
    for i in range(1, 13):
        feed_step(state, "a1", "left", i, 200.0 + i)
    feed_step(state, "a1", "right", 1)
    snap = state.snapshot()["athletes"]["a1"]["steps"]
    assert snap["left"]["gct_ms"] == [208.0, 209.0, 210.0, 211.0, 212.0]
    assert snap["left"]["received"] == 12
    assert snap["left"]["last"]["step_index"] == 12
    assert len(snap["right"]["gct_ms"]) == 1
    # What waits for the next push is bounded too.
    update = state.flush()
    assert update is not None
    assert update["athletes"]["a1"]["steps"]["left"]["gct_ms"] == snap["left"]["gct_ms"]
    with pytest.raises(ValueError, match="history_steps"):
        LiveState(history_steps=0)


def test_malformed_messages_are_counted_and_flagged_once_per_kind() -> None:
    state = LiveState()
    bad_step = parse("calfload", "calfload/steps/a1/left", b"garbage")
    bad_info = parse("calfload", "calfload/athlete/a1/info", b"[]")
    assert isinstance(bad_step, Rejected)
    assert isinstance(bad_info, Rejected)
    assert state.apply(bad_step) is True  # first of its kind: the caller logs it
    assert state.apply(bad_step) is False
    assert state.apply(bad_info) is True
    assert state.rejected == 3
    assert state.rejected_by_kind == {"step": 2, "info": 1}
    assert state.athletes == {}  # nothing half-applied
    assert state.flush() == {"type": "update", "rejected": 3}
    assert state.snapshot()["rejected"] == 3


def test_redelivered_steps_are_shown_once() -> None:
    state = LiveState()
    for _ in range(3):  # QoS 1 may deliver a message more than once
        feed_step(state, "a1", "left", 1)
    feed_step(state, "a1", "left", 2)
    assert state.duplicates == 2
    update = state.flush()
    assert update is not None
    assert update["athletes"]["a1"]["steps"]["left"]["received"] == 2
    assert len(update["athletes"]["a1"]["steps"]["left"]["ic_s"]) == 2


def test_cleared_retained_messages_are_withdrawn() -> None:
    state = LiveState()
    feed(state, "calfload/athlete/a1/info", encode(info("a1", "Ana")))
    feed(state, "calfload/sensor/s1/availability", encode(availability("s1", "a1")))
    feed(
        state,
        "calfload/bridge/state",
        encode(BridgeState(schema=1, state="online", bridge_id="b", t_s=T0)),
    )
    state.flush()
    feed(state, "calfload/athlete/a1/info", b"")
    feed(state, "calfload/sensor/s1/availability", b"")
    feed(state, "calfload/bridge/state", b"")
    assert state.flush() == {
        "type": "update",
        "bridge": None,
        "sensors": {"s1": None},
        "athletes": {"a1": {"info": None}},
    }
    assert state.rejected == 0
    snap = state.snapshot()
    assert snap["sensors"] == {}
    assert snap["bridge"] is None
    assert snap["athletes"]["a1"]["info"] is None
