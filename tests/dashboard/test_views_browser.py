"""The three views (grid, athlete detail, runner) and their alerts, in real Chromium,
fed through a real mosquitto with published steps, summaries and sensor states."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from calfload.bridge import topics
from calfload.bridge.messages import SCHEMA, AthleteInfo, SensorAvailability, SensorQuality, Side
from calfload.bridge.topics import SIDES
from calfload.dashboard.athletestore import THRESHOLDS_FILE, TimelineEvent
from calfload.processing.messages import LoadSummary, SessionSummary, SideSummary, StepMessage
from tests.conftest import Mosquitto
from tests.dashboard.conftest import (
    BASE,
    Publisher,
    RunningDashboard,
    Watched,
    athlete_link,
    login_url,
)

WAIT_MS = 20_000
EVIL = "<script>alert(1)</script>"
LAPTOP = {"width": 1366, "height": 768}
PHONE = {"width": 390, "height": 844}


def rich_step(
    athlete: str,
    side: Side,
    index: int,
    t0_s: float,
    *,
    gct_ms: float = 240.0,
    achilles_bw: float = 6.0,
    cadence_spm: float = 172.0,
) -> StepMessage:
    """Step ``index`` of one foot with loading fields: left at ``t0 + 0.7 i``, right
    0.35 s later."""
    ic_s = t0_s + 0.7 * index + (0.35 if side == "right" else 0.0)
    return StepMessage(
        schema=SCHEMA,
        athlete=athlete,
        side=side,
        sensor_id=f"{athlete}-{side[0].upper()}",
        step_index=index,
        ic_s=round(ic_s, 6),
        to_s=round(ic_s + gct_ms / 1000.0, 6),
        gct_ms=gct_ms,
        flight_ms=110.0,
        step_time_ms=350.0,
        cadence_spm=cadence_spm,
        peak_force_bw=2.4,
        push_off_impulse_ns=108.0,
        achilles_force_bw=achilles_bw,
        achilles_impulse_ns=510.0,
        load_model="insole-cop",
    )


def run(
    pub: Publisher,
    athlete: str,
    first: int,
    last: int,
    t0_s: float,
    *,
    gct_ms: tuple[float, float] = (240.0, 240.0),
    achilles_bw: tuple[float, float] = (6.0, 6.0),
    cadence_spm: float = 172.0,
) -> None:
    for i in range(first, last + 1):
        for k, side in enumerate(SIDES):
            pub.step(
                rich_step(
                    athlete,
                    side,
                    i,
                    t0_s,
                    gct_ms=gct_ms[k],
                    achilles_bw=achilles_bw[k],
                    cadence_spm=cadence_spm,
                )
            )


def athlete_info(athlete: str, name: str, budget_bws: float | None = 500.0) -> AthleteInfo:
    return AthleteInfo(
        schema=SCHEMA,
        athlete=athlete,
        name=name,
        body_mass_kg=70.0,
        sensors=[f"{athlete}-L", f"{athlete}-R"],
        load_budget_bw_s=budget_bws,
    )


def summary(athlete: str, steps_per_side: int, budget_pct: float, t_s: float) -> SessionSummary:
    side = SideSummary(
        schema=SCHEMA, steps=steps_per_side, gct_ms_mean=240.0, gct_ms_last=240.0,
        peak_force_bw_mean=2.4,
    )  # fmt: skip
    return SessionSummary(
        schema=SCHEMA,
        athlete=athlete,
        t_s=t_s,
        steps=2 * steps_per_side,
        cadence_spm=172.0,
        left=side,
        right=side,
        gct_symmetry_pct=0.0,
        load=LoadSummary(
            schema=SCHEMA,
            steps=2 * steps_per_side,
            achilles_impulse_ns=1000.0,
            achilles_impulse_bws=5.0 * budget_pct,
            weighted_load_bw=20.0,
            budget_used_pct=budget_pct,
        ),
    )


def sensor(athlete: str, side: Side, state: str = "online") -> SensorAvailability:
    return SensorAvailability(
        schema=SCHEMA,
        state=state,  # type: ignore[arg-type]
        sensor_id=f"{athlete}-{side[0].upper()}",
        athlete=athlete,
        side=side,
        family="open-insole",
        t_s=time.time(),
        reason="" if state == "online" else "link lost",
    )


def quality(athlete: str, side: Side, loss_pct: float) -> SensorQuality:
    return SensorQuality(
        schema=SCHEMA,
        sensor_id=f"{athlete}-{side[0].upper()}",
        athlete=athlete,
        side=side,
        t_s=time.time(),
        packets_ok=1000,
        packets_bad=0,
        samples_ok=5000,
        samples_lost=int(loss_pct * 50),
        loss_pct=loss_pct,
        effective_fs_hz=99.5,
        longest_gap_s=0.05,
    )


def publish_state(pub: Publisher, athlete: str, *, loss_pct: float = 0.2) -> None:
    for side in SIDES:
        s = sensor(athlete, side)
        pub.message(topics.sensor_availability(BASE, s.sensor_id), s, retain=True)
        q = quality(athlete, side, loss_pct)
        pub.message(topics.sensor_quality(BASE, q.sensor_id), q, retain=True)


def publish_summary(pub: Publisher, message: SessionSummary) -> None:
    pub.message(topics.summary(BASE, message.athlete), message, retain=True)


def open_as_therapist(browser: Browser, dashboard: RunningDashboard, watched: Watched,
                      path: str = "/", viewport: dict[str, int] = LAPTOP) -> Page:  # fmt: skip
    page = watched.attach(browser.new_page(viewport=viewport))  # type: ignore[arg-type]
    page.goto(login_url(dashboard.url, dashboard.data_dir))
    if path != "/":
        page.goto(dashboard.url + path)
    expect(page.get_by_test_id("status")).to_have_attribute("data-state", "live", timeout=WAIT_MS)
    return page


def tile_order(page: Page) -> list[str]:
    return page.locator("#athletes [data-athlete]").evaluate_all(
        "els => els.map(e => e.dataset.athlete)"
    )


def save_screenshot(page: Page, artifacts_dir: Path, name: str, *, full_page: bool = False) -> None:
    page.screenshot(path=str(artifacts_dir / name), full_page=full_page)


# -- the grid ------------------------------------------------------------------------------


@pytest.mark.browser
@pytest.mark.broker
def test_grid_of_twelve_updates_live_alerts_and_resorts(
    dashboard: RunningDashboard, publisher: Publisher, browser: Browser, artifacts_dir: Path
) -> None:
    watched = Watched()
    t0 = time.time() - 30.0
    names = ["Ana", "Ben", "Cyd", "Dee", "Eli", "Fay", "Gus", "Hal", "Ida", "Jo", "Kai", EVIL]
    ids = [f"{chr(ord('a') + i)}{i:02d}" for i in range(12)]
    for i, (athlete, name) in enumerate(zip(ids, names, strict=True)):
        publisher.info(athlete_info(athlete, name))
        publish_state(publisher, athlete)
        publish_summary(publisher, summary(athlete, 4, 10.0 + 5 * i, t0 + 3))
    page = open_as_therapist(browser, dashboard, watched)
    for athlete in ids:
        run(publisher, athlete, 1, 4, t0)
    for athlete in ids:
        expect(
            page.locator(f'[data-athlete="{athlete}"] [data-testid="steps-right"]')
        ).to_have_text("4", timeout=WAIT_MS)

    # Twelve tiles fit a 1366 x 768 laptop screen without scrolling, readable (>= 11 px text).
    for athlete in ids:
        box = page.locator(f'[data-athlete="{athlete}"]').bounding_box()
        assert box is not None
        assert box["x"] >= 0 and box["x"] + box["width"] <= LAPTOP["width"], (athlete, box)
        assert box["y"] + box["height"] <= LAPTOP["height"], (athlete, box)
    sizes = page.locator("#athletes [data-testid]").evaluate_all(
        "els => els.filter(e => e.offsetParent).map(e => parseFloat(getComputedStyle(e).fontSize))"
    )
    assert min(sizes) >= 10.5, min(sizes)

    b = page.locator('[data-athlete="b01"]')
    expect(b.get_by_test_id("athlete-name")).to_have_text("Ben")
    expect(b.get_by_test_id("cadence")).to_have_text("172")
    expect(b.get_by_test_id("gct-left")).to_have_text("240")
    expect(b.get_by_test_id("achilles-right")).to_have_text("6.0")
    expect(b.get_by_test_id("pushoff-left")).to_have_text("108")
    expect(b.get_by_test_id("load")).to_have_text("15% of budget")
    expect(b.get_by_test_id("symmetry")).to_have_text("0.0%")
    expect(b.get_by_test_id("sensor")).to_have_count(2)
    expect(b.get_by_test_id("sensor").first).to_have_attribute("data-state", "online")
    expect(b.get_by_test_id("alert-badge")).to_have_text("OK")
    # All calm: sorted by name, the HTML-named athlete shown as text
    assert [a for a in tile_order(page) if a != "l11"] == ids[:11]
    evil = page.locator('[data-athlete="l11"]')
    expect(evil.get_by_test_id("athlete-name")).to_have_text(EVIL)
    assert page.locator("#athletes script").count() == 0

    # Jo (j09) starts pushing off harder on the left: an asymmetry alert, and Jo moves up.
    run(publisher, "j09", 5, 24, t0, achilles_bw=(7.5, 6.0))
    jo = page.locator('[data-athlete="j09"]')
    expect(jo.get_by_test_id("alert-badge")).to_have_attribute(
        "data-level", "warn", timeout=WAIT_MS
    )
    expect(jo).to_have_attribute("data-severity", "1")
    expect(jo.get_by_test_id("alert-text")).to_contain_text("Achilles force")
    expect(jo.get_by_test_id("alert-text")).to_contain_text("left")
    expect(jo.get_by_test_id("symmetry-bar")).to_have_attribute("data-over", "true")
    page.wait_for_function(
        "() => document.querySelector('#athletes [data-athlete]').dataset.athlete === 'j09'",
        timeout=WAIT_MS,
    )

    # Cyd's right sensor drops out: an alarm outranks the warning.
    lost = sensor("c02", "right", "offline")
    publisher.message(topics.sensor_availability(BASE, lost.sensor_id), lost, retain=True)
    cyd = page.locator('[data-athlete="c02"]')
    expect(cyd.get_by_test_id("alert-badge")).to_have_attribute(
        "data-level", "alarm", timeout=WAIT_MS
    )
    expect(cyd.get_by_test_id("alert-text")).to_contain_text("lost")
    page.wait_for_function(
        "() => [...document.querySelectorAll('#athletes [data-athlete]')].slice(0, 2)"
        ".map(e => e.dataset.athlete).join() === 'c02,j09'",
        timeout=WAIT_MS,
    )
    # Ida's budget nears its end: a warning.
    publish_summary(publisher, summary("i08", 30, 95.0, time.time()))
    ida = page.locator('[data-athlete="i08"]')
    expect(ida.get_by_test_id("load-bar")).to_have_attribute("data-level", "warn", timeout=WAIT_MS)
    expect(ida.get_by_test_id("alert-badge")).to_have_attribute("data-level", "warn")
    assert tile_order(page)[:3] == ["c02", "i08", "j09"]  # alarm, then warnings by name
    save_screenshot(page, artifacts_dir, "view-grid.png")
    watched.assert_clean()


# -- athlete detail ------------------------------------------------------------------------


@pytest.mark.browser
@pytest.mark.broker
def test_detail_charts_drift_notes_stages_and_thresholds(
    dashboard: RunningDashboard, publisher: Publisher, browser: Browser, artifacts_dir: Path
) -> None:
    watched = Watched()
    t0 = time.time() - 200.0
    publisher.info(athlete_info("a1", "Ana Runner"))
    publish_state(publisher, "a1")
    publisher.info(athlete_info("b2", "Ben Runner"))
    run(publisher, "b2", 1, 3, t0)
    # 180 s of running: GCT 240 ms for the first two minutes, then 265 ms (fatigue).
    run(publisher, "a1", 1, 175, t0, gct_ms=(240.0, 242.0))
    run(publisher, "a1", 176, 240, t0, gct_ms=(265.0, 262.0))
    page = open_as_therapist(browser, dashboard, watched, "/athlete/a1")
    detail = page.get_by_test_id("detail")
    expect(detail.get_by_test_id("athlete-name")).to_have_text("Ana Runner", timeout=WAIT_MS)
    expect(detail.get_by_test_id("steps-left")).to_have_text("240", timeout=WAIT_MS)
    for chart in ("gct", "flight", "peak", "achilles", "cadence", "symmetry"):
        expect(page.get_by_test_id(f"chart-{chart}")).to_have_attribute(
            "data-points", "480", timeout=WAIT_MS
        )
    assert page.locator('[data-testid="chart-gct"] canvas').count() == 1
    # Only this athlete's data reaches the page
    assert page.evaluate("Object.keys(window.calfload.stepsReceived)") == ["a1"]

    # GCT drifted 25 ms (left) since the first two minutes: shown, and alerted
    expect(page.get_by_test_id("drift-gct_ms-left")).to_contain_text("+25", timeout=WAIT_MS)
    drift_alert = page.locator('[data-testid="alert"][data-kind="gct_drift"]')
    expect(drift_alert).to_contain_text("GCT left up 25 ms")
    expect(page.get_by_test_id("quality-table").locator("tbody tr")).to_have_count(2)

    # Live: new steps extend the charts
    run(publisher, "a1", 241, 243, t0, gct_ms=(265.0, 262.0))
    expect(page.get_by_test_id("chart-gct")).to_have_attribute(
        "data-points", "486", timeout=WAIT_MS
    )
    page.get_by_role("button", name="whole session").click()
    expect(page.get_by_role("button", name="whole session")).to_have_attribute(
        "aria-pressed", "true"
    )

    # The forms need the session's CSRF token: a forged post is refused
    forged = page.request.post(
        f"{dashboard.url}/athlete/a1/notes", form={"text": "forged"}, max_redirects=0
    )
    assert forged.status == 403
    # A note through the form (CSRF-protected), written as text
    note = "<b>cue</b>: shorter steps"
    page.get_by_test_id("note-text").fill(note)
    page.get_by_test_id("note-add").click()
    page.wait_for_url(f"{dashboard.url}/athlete/a1")
    expect(page.get_by_test_id("status")).to_have_attribute("data-state", "live", timeout=WAIT_MS)
    first_event = page.get_by_test_id("event").first
    expect(first_event).to_contain_text(note, timeout=WAIT_MS)
    expect(first_event).to_have_attribute("data-kind", "note")
    assert page.locator("[data-testid=events] b").count() == 0
    # A protocol stage published on the bus appears as a marker too
    stage = TimelineEvent(
        schema=1, athlete="a1", t_s=time.time(), kind="stage", text="stage 2: 3.5 m/s"
    )
    publisher.message(f"{BASE}/event/a1", stage)
    expect(page.locator('[data-testid="event"][data-kind="stage"]')).to_contain_text(
        "stage 2: 3.5 m/s", timeout=WAIT_MS
    )

    # Raise the drift limit: stored in the data folder, and the alert goes
    page.get_by_test_id("threshold-gct_drift_ms").fill("40")
    page.get_by_test_id("alert-save").click()
    page.wait_for_url(f"{dashboard.url}/athlete/a1")
    expect(page.get_by_test_id("threshold-gct_drift_ms")).to_have_value("40")
    expect(page.locator('[data-testid="alert"][data-kind="gct_drift"]')).to_have_count(
        0, timeout=WAIT_MS
    )
    stored = json.loads((dashboard.data_dir / THRESHOLDS_FILE).read_text())
    assert stored["a1"]["gct_drift_ms"] == 40.0
    # A bad value is refused with a message, and nothing changes
    page.get_by_test_id("threshold-asymmetry_pct").fill("lots")
    page.get_by_test_id("alert-save").click()
    expect(page.get_by_test_id("message")).to_contain_text("asymmetry pct must be a number")
    assert json.loads((dashboard.data_dir / THRESHOLDS_FILE).read_text()) == stored
    page.go_back()
    expect(page.get_by_test_id("status")).to_have_attribute("data-state", "live", timeout=WAIT_MS)
    expect(page.get_by_test_id("chart-gct")).to_have_attribute(
        "data-points", "486", timeout=WAIT_MS
    )
    save_screenshot(page, artifacts_dir, "view-detail.png", full_page=True)
    watched.assert_clean(allow_status=(400,))


@pytest.mark.browser
@pytest.mark.broker
def test_detail_shows_an_html_name_as_text_and_refuses_bad_ids(
    dashboard: RunningDashboard, publisher: Publisher, browser: Browser
) -> None:
    watched = Watched()
    publisher.info(athlete_info("x1", EVIL))
    page = open_as_therapist(browser, dashboard, watched, "/athlete/x1")
    expect(page.get_by_test_id("detail").get_by_test_id("athlete-name")).to_have_text(
        EVIL, timeout=WAIT_MS
    )
    assert page.locator("script").count() == 1  # only the bundle
    response = page.goto(dashboard.url + "/athlete/%3Cscript%3E")
    assert response is not None and response.status == 404
    watched.assert_clean(allow_status=(404,))


# -- runner view ---------------------------------------------------------------------------


@pytest.mark.browser
@pytest.mark.broker
def test_runner_view_on_a_phone_with_sound_and_cues(
    dashboard: RunningDashboard, publisher: Publisher, browser: Browser, artifacts_dir: Path
) -> None:
    watched = Watched()
    t0 = time.time() - 20.0
    publisher.info(athlete_info("r1", EVIL))
    publisher.info(athlete_info("r2", "Other Runner"))
    publish_summary(publisher, summary("r1", 10, 50.0, t0 + 7))
    run(publisher, "r1", 1, 10, t0, cadence_spm=165.0)
    run(publisher, "r2", 1, 2, t0)

    # The therapist sets a target cadence on the detail page ...
    therapist = open_as_therapist(browser, dashboard, watched, "/athlete/r1")
    therapist.get_by_test_id("threshold-target_cadence_spm").fill("175")
    therapist.get_by_test_id("alert-save").click()
    therapist.wait_for_url(f"{dashboard.url}/athlete/r1")
    therapist.close()

    # ... and the runner opens their link on a phone.
    _, token = athlete_link("r1", dashboard.data_dir)
    page = watched.attach(browser.new_page(viewport=PHONE, device_scale_factor=2))  # type: ignore[arg-type]
    page.goto(f"{dashboard.url}/a/{token}")
    runner = page.get_by_test_id("runner")
    expect(page.get_by_test_id("status")).to_have_attribute("data-state", "live", timeout=WAIT_MS)
    expect(runner.get_by_test_id("athlete-name")).to_have_text(EVIL, timeout=WAIT_MS)
    assert page.locator("main script").count() == 0
    expect(runner.get_by_test_id("runner-cadence")).to_have_text("172", timeout=WAIT_MS)
    expect(runner.get_by_test_id("runner-load")).to_have_text("50")
    expect(runner.get_by_test_id("runner-target")).to_have_text("target 175", timeout=WAIT_MS)
    expect(runner.get_by_test_id("runner-cue")).to_contain_text("+3 spm")
    # Large and high-contrast: the numbers fill a phone, black on white or white on black
    size = runner.get_by_test_id("runner-cadence").evaluate(
        "e => parseFloat(getComputedStyle(e.parentElement).fontSize)"
    )
    assert size >= 64, size
    box = runner.bounding_box()
    assert box is not None and box["width"] <= PHONE["width"]
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert page.evaluate("Object.keys(window.calfload.stepsReceived)") == ["r1"]

    # Sound starts from a tap: the metronome ticks at the target cadence
    page.get_by_test_id("sound-toggle").click()
    page.wait_for_function("() => window.calfload.audio.running", timeout=WAIT_MS)
    expect(page.get_by_test_id("metronome-spm")).to_have_value("175")
    page.wait_for_function("() => window.calfload.audio.beats >= 3", timeout=WAIT_MS)

    # The session budget is reached: the cue turns red and a sound is queued
    publish_summary(publisher, summary("r1", 400, 101.0, time.time()))
    expect(page.get_by_test_id("runner-cue-box")).to_have_attribute(
        "data-level", "alarm", timeout=WAIT_MS
    )
    expect(runner.get_by_test_id("runner-cue")).to_contain_text("budget reached")
    page.wait_for_function(
        "() => window.calfload.audio.cues.includes('budget:alarm')", timeout=WAIT_MS
    )
    save_screenshot(page, artifacts_dir, "view-runner.png")

    # The link opens nothing else: no detail page, no forms
    assert page.request.post(f"{dashboard.url}/a/{token}", form={"x": "1"}).status == 403
    page.goto(f"{dashboard.url}/athlete/r1")
    assert page.url.startswith(f"{dashboard.url}/login")

    # The therapist's runner view of another athlete
    other = open_as_therapist(browser, dashboard, watched, "/athlete/r2/runner", PHONE)
    expect(other.get_by_test_id("runner").get_by_test_id("athlete-name")).to_have_text(
        "Other Runner", timeout=WAIT_MS
    )
    expect(other.get_by_test_id("runner").get_by_test_id("steps-left")).to_have_text("2")
    watched.assert_clean()


# -- broker loss ---------------------------------------------------------------------------


@pytest.mark.browser
@pytest.mark.broker
def test_grid_shows_reconnecting_and_totals_return_after_a_broker_restart(
    dashboard: RunningDashboard, mosquitto: Mosquitto, browser: Browser, artifacts_dir: Path
) -> None:
    watched = Watched()
    t0 = time.time() - 20.0
    pub = Publisher(mosquitto.port)
    try:
        pub.info(athlete_info("a1", "Ana Runner"))
        page = open_as_therapist(browser, dashboard, watched)
        run(pub, "a1", 1, 5, t0)
        tile = page.locator('[data-athlete="a1"]')
        expect(tile.get_by_test_id("steps-left")).to_have_text("5", timeout=WAIT_MS)
    finally:
        pub.close()

    mosquitto.stop()
    expect(page.get_by_test_id("status")).to_have_attribute(
        "data-state", "reconnecting", timeout=WAIT_MS
    )
    expect(page.get_by_test_id("status-detail")).to_contain_text("MQTT broker unreachable")
    save_screenshot(page, artifacts_dir, "view-grid-reconnecting.png")
    mosquitto.start()
    expect(page.get_by_test_id("status")).to_have_attribute("data-state", "live", timeout=30_000)
    dashboard.wait_broker(True)

    # Steps 6-12 were run while the dashboard was away: the worker's retained summary
    # brings the totals back; new steps continue from there.
    pub = Publisher(mosquitto.port)
    try:
        publish_summary(pub, summary("a1", 12, 30.0, time.time()))
        expect(tile.get_by_test_id("steps-left")).to_have_text("12", timeout=WAIT_MS)
        expect(tile.get_by_test_id("load")).to_have_text("30% of budget")
        run(pub, "a1", 13, 13, t0)
        expect(tile.get_by_test_id("steps-right")).to_have_text("13", timeout=WAIT_MS)
    finally:
        pub.close()
    unexpected = [e for e in watched.console_errors if "WebSocket" not in e]
    assert unexpected == []
    assert watched.page_errors == []
