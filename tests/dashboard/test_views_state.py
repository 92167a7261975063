"""The live state's alert windows, events, backfill and slim messages; the stores of
thresholds and notes; the backfill hook after a real broker restart."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import connect

from calfload.bridge.messages import SCHEMA, SensorAvailability, SensorQuality, Side, encode
from calfload.bridge.mqtt import BrokerUrl
from calfload.dashboard.alerts import Thresholds
from calfload.dashboard.app import DashboardSettings
from calfload.dashboard.athletestore import NOTES_FILE, THRESHOLDS_FILE, AthleteStore, TimelineEvent
from calfload.dashboard.scope import for_athlete, without_columns
from calfload.dashboard.state import COLUMNS, LiveState, parse
from calfload.processing.messages import StepMessage
from tests.conftest import Mosquitto
from tests.dashboard.conftest import Publisher, session_headers
from tests.dashboard.test_dashboard_app import recv, serving, wait_health

T0 = 1_700_000_000.0


def step(
    side: Side, i: int, gct_ms: float = 240.0, achilles_bw: float = 6.0, athlete: str = "a1"
) -> StepMessage:
    ic_s = T0 + 0.7 * i + (0.35 if side == "right" else 0.0)
    return StepMessage(
        schema=SCHEMA, athlete=athlete, side=side, sensor_id=f"{athlete}-{side}", step_index=i,
        ic_s=ic_s, to_s=ic_s + gct_ms / 1000, gct_ms=gct_ms, achilles_force_bw=achilles_bw,
    )  # fmt: skip


def feed(state: LiveState, topic: str, payload: bytes) -> None:
    item = parse("calfload", topic, payload)
    assert item is not None
    state.apply(item)


def feed_step(state: LiveState, s: StepMessage) -> None:
    feed(state, f"calfload/steps/{s.athlete}/{s.side}", encode(s))


def test_watch_reports_asymmetry_drift_and_a_lost_sensor() -> None:
    state = LiveState()
    for i in range(1, 200):  # 140 s: the first 120 s at 240 ms, then 270 ms on the left
        late = i * 0.7 > 125
        feed_step(state, step("left", i, 270.0 if late else 240.0))
        feed_step(state, step("right", i, 240.0))
    update = state.flush()
    assert update is not None
    watch = update["athletes"]["a1"]["watch"]
    assert watch["baseline"]["left"]["gct_ms"] == pytest.approx(240.0)
    assert watch["recent"]["left"]["gct_ms"] == pytest.approx(270.0)
    assert [a["kind"] for a in watch["alerts"]] == ["asymmetry", "gct_drift"]
    assert watch["symmetry_pct"]["gct_ms"] == pytest.approx(100 * 30 / 255, abs=0.1)
    assert watch["severity"] == 1

    # Nothing new: no watch in the next update either
    assert state.flush() is None
    # A sensor goes offline: only the watch changes, and it is an alarm now
    lost = SensorAvailability(
        schema=SCHEMA, state="offline", sensor_id="a1-left", athlete="a1", side="left",
        family="open-insole", t_s=T0, reason="link lost",
    )  # fmt: skip
    feed(state, "calfload/sensor/a1-left/availability", encode(lost))
    update = state.flush()
    assert update is not None
    assert update["athletes"]["a1"]["watch"]["severity"] == 2
    assert update["athletes"]["a1"]["watch"]["alerts"][0]["kind"] == "sensor_lost"

    # Thresholds loosened: the page learns the new limits and the alerts go
    state.set_thresholds("a1", Thresholds(asymmetry_pct=50.0, gct_drift_ms=60.0))
    update = state.flush()
    assert update is not None
    watch = update["athletes"]["a1"]["watch"]
    assert [a["kind"] for a in watch["alerts"]] == ["sensor_lost"]
    assert watch["thresholds"]["asymmetry_pct"] == 50.0


def test_quality_and_events_reach_the_right_pages_only() -> None:
    state = LiveState()
    feed_step(state, step("left", 1))
    feed_step(state, step("left", 1, athlete="b2"))
    q = SensorQuality(
        schema=SCHEMA, sensor_id="a1-left", athlete="a1", side="left", t_s=T0, packets_ok=10,
        packets_bad=0, samples_ok=50, samples_lost=5, loss_pct=9.1, effective_fs_hz=90.0,
        longest_gap_s=0.05,
    )  # fmt: skip
    feed(state, "calfload/sensor/a1-left/quality", encode(q))
    stage = TimelineEvent(schema=1, athlete="a1", t_s=T0 + 5, kind="stage", text="stage 1")
    feed(state, "calfload/event/a1", encode(stage))
    update = state.flush()
    assert update is not None
    assert update["quality"]["a1-left"]["loss_pct"] == 9.1
    assert update["athletes"]["a1"]["events"][0]["text"] == "stage 1"
    assert update["athletes"]["a1"]["watch"]["alerts"] == []  # loss alerts need availability
    for_b2 = for_athlete(update, "b2", state.sensor_owner)
    assert for_b2 is not None
    assert "quality" not in for_b2 and set(for_b2["athletes"]) == {"b2"}
    snap = for_athlete(state.snapshot(), "b2", state.sensor_owner)
    assert snap is not None and snap["quality"] == {}
    assert state.snapshot()["athletes"]["a1"]["events"][0]["kind"] == "stage"
    # an event for a topic of another athlete is refused
    assert parse("calfload", "calfload/event/b2", encode(stage)).__class__.__name__ == "Rejected"


def test_without_columns_keeps_the_newest_step_only() -> None:
    state = LiveState()
    for i in (1, 2, 3):
        feed_step(state, step("left", i))
    full = state.flush()
    assert full is not None
    slim = without_columns(full)
    block = slim["athletes"]["a1"]["steps"]["left"]
    assert set(block) == {"last", "received"}
    assert block["last"]["step_index"] == 3 and block["received"] == 3
    assert full["athletes"]["a1"]["steps"]["left"]["ic_s"]  # the original is untouched
    assert set(COLUMNS) <= set(full["athletes"]["a1"]["steps"]["left"])
    assert len(json.dumps(slim)) < len(json.dumps(full))


def test_backfill_inserts_missed_steps_in_order_once() -> None:
    state = LiveState()
    for i in (1, 2, 6):
        feed_step(state, step("left", i))
    state.flush()
    missed = [step("left", i) for i in (5, 3, 4)] + [step("left", 2)]
    assert state.backfill(missed) == 3
    assert state.backfill(missed) == 0
    snap = state.snapshot()["athletes"]["a1"]["steps"]["left"]
    assert snap["ic_s"] == sorted(snap["ic_s"])
    assert len(snap["ic_s"]) == 6
    assert snap["last"]["step_index"] == 6  # the newest stays the newest
    update = state.flush()
    assert update is not None
    assert len(update["athletes"]["a1"]["steps"]["left"]["ic_s"]) == 3


def test_store_keeps_thresholds_and_notes_and_survives_damage(tmp_path: Path) -> None:
    store = AthleteStore(tmp_path)
    assert store.all_thresholds() == {}
    store.set_thresholds("a1", Thresholds(asymmetry_pct=7.0, gct_drift_ms=None))
    store.set_thresholds("b2", Thresholds(loss_pct=2.0))
    again = AthleteStore(tmp_path).all_thresholds()
    assert again["a1"] == Thresholds(asymmetry_pct=7.0, gct_drift_ms=None)
    assert again["b2"].loss_pct == 2.0
    note = TimelineEvent(schema=1, athlete="a1", t_s=T0, text="<b>hi</b>", author="thera")
    store.add_note(note)
    with (tmp_path / NOTES_FILE).open("a") as f:
        f.write("{broken\n")
    store.add_note(TimelineEvent(schema=1, athlete="b2", t_s=T0 + 1, text="two"))
    assert [n.text for n in AthleteStore(tmp_path).notes()] == ["<b>hi</b>", "two"]
    (tmp_path / THRESHOLDS_FILE).write_text("[not an object]")
    assert AthleteStore(tmp_path).all_thresholds() == {}


class FakeHistory:
    """A recording that holds every step (what the recorder will offer)."""

    def __init__(self) -> None:
        self.steps: list[StepMessage] = []
        self.asked: list[tuple[str, Side, float]] = []

    async def steps_after(
        self, athlete: str, side: Side, after_ic_s: float
    ) -> Sequence[StepMessage]:
        self.asked.append((athlete, side, after_ic_s))
        return [
            s for s in self.steps if s.athlete == athlete and s.side == side and s.ic_s > after_ic_s
        ]


@pytest.mark.broker
async def test_steps_missed_during_a_broker_restart_are_backfilled_from_history(
    mosquitto: Mosquitto,
) -> None:
    history = FakeHistory()
    settings = DashboardSettings(broker=BrokerUrl.parse(mosquitto.url), history=history)
    t0 = time.time() - 30

    def live(i: int, side: Side) -> StepMessage:
        s = step(side, i)
        return StepMessage(**{**{f: getattr(s, f) for f in s.__struct_fields__}, "ic_s": t0 + i})

    async def left_steps(addr: str) -> int:
        async with connect(f"ws://{addr}/ws", additional_headers=session_headers()) as ws:
            snap: dict[str, Any] = await recv(ws)
        return len(snap["athletes"].get("a1", {}).get("steps", {}).get("left", {}).get("ic_s", []))

    async def until(addr: str, n: int) -> None:
        deadline = time.monotonic() + 15
        while (got := await left_steps(addr)) != n:
            assert time.monotonic() < deadline, f"the dashboard holds {got} left steps, not {n}"
            await asyncio.sleep(0.2)

    async with serving(settings) as addr:
        await wait_health(addr, "the broker", lambda h: h["broker_connected"])
        pub = await asyncio.to_thread(Publisher, mosquitto.port)
        for i in (1, 2):
            history.steps.append(live(i, "left"))
            await asyncio.to_thread(pub.step, live(i, "left"))
        await asyncio.to_thread(pub.close)
        await until(addr, 2)
        await asyncio.to_thread(mosquitto.stop)
        await wait_health(addr, "the broker to go", lambda h: not h["broker_connected"])
        history.steps += [live(i, "left") for i in (3, 4, 5)]  # recorded, never heard
        await asyncio.to_thread(mosquitto.start)
        await wait_health(addr, "the broker again", lambda h: h["broker_connected"], 30)
        await until(addr, 5)
    assert history.asked == [("a1", "left", t0 + 2)]


def test_a_therapists_one_athlete_page_keeps_the_installation_state() -> None:
    from calfload.dashboard.app import Hub

    async def main() -> None:
        state = LiveState()
        feed_step(state, step("left", 1))
        feed_step(state, step("left", 1, athlete="b2"))
        hub = Hub(state)
        therapist = hub.connect("a1", columns=False)
        link = hub.connect("a1", link_id="L1", columns=False)
        for sub in (therapist, link):
            snap = json.loads(sub.queue.get_nowait())  # type: ignore[arg-type]
            assert set(snap["athletes"]) == {"a1"}
            assert ("bridge" in snap) is (sub is therapist)
        feed(
            state, "calfload/worker/state", b'{"schema":1,"state":"online","worker_id":"w","t_s":1}'
        )
        assert hub.tick()
        got = json.loads(therapist.queue.get_nowait())  # type: ignore[arg-type]
        assert got["worker"]["worker_id"] == "w"
        assert link.queue.empty()  # nothing for the link: the worker is not about its athlete

    asyncio.run(main())
