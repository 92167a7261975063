"""The page in real (Debian) Chromium driven by Playwright, fed through a real mosquitto."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from playwright.sync_api import (
    Browser,
    Locator,
    Page,
    expect,
)

from calfload.bridge.mqtt import BrokerUrl
from calfload.bridge.topics import SIDES
from calfload.dashboard.app import DashboardSettings
from tests.conftest import Mosquitto, free_port
from tests.dashboard.conftest import (
    Publisher,
    RunningDashboard,
    Watched,
    info,
    login_url,
    step,
)

T0 = time.time() - 60.0  # steps of the last minute, on the wall clock like live data
WAIT_MS = 15_000


def open_page(browser: Browser, url: str, watched: Watched) -> Page:
    """A logged-in therapist's grid (through a one-time login link), live."""
    page = watched.attach(browser.new_page(viewport={"width": 1280, "height": 860}))
    page.goto(login_url(url))
    assert page.url == f"{url}/"
    expect(page.get_by_test_id("status")).to_have_attribute("data-state", "live", timeout=WAIT_MS)
    return page


def tile(page: Page, athlete: str) -> Locator:
    return page.locator(f'[data-athlete="{athlete}"]')


def publish_steps(
    pub: Publisher, athlete: str, first: int, last: int, gct: dict[str, float]
) -> None:
    for i in range(first, last + 1):
        for side in SIDES:
            pub.step(step(athlete, side, i, T0, gct[side] + i))


def expect_steps(page: Page, athlete: str, left: int, right: int) -> None:
    t = tile(page, athlete)
    expect(t.get_by_test_id("steps-left")).to_have_text(str(left), timeout=WAIT_MS)
    expect(t.get_by_test_id("steps-right")).to_have_text(str(right), timeout=WAIT_MS)
    page.wait_for_function(
        "([a, l, r]) => window.calfload.stepsReceived[a]?.left === l"
        " && window.calfload.stepsReceived[a]?.right === r",
        arg=[athlete, left, right],
        timeout=WAIT_MS,
    )


@pytest.mark.browser
@pytest.mark.broker
def test_live_steps_for_two_athletes_appear_and_names_are_text(
    dashboard: RunningDashboard,
    publisher: Publisher,
    browser: Browser,
    artifacts_dir: Path,
) -> None:
    watched = Watched()
    publisher.info(info("a1", "Ana Runner", 61.0))
    publisher.info(info("b2", "Ben Runner", 78.0))
    page = open_page(browser, dashboard.url, watched)

    publish_steps(publisher, "a1", 1, 8, {"left": 230.0, "right": 250.0})
    publish_steps(publisher, "b2", 1, 5, {"left": 270.0, "right": 260.0})
    page.wait_for_function(
        """() => {
            const s = window.calfload.stepsReceived;
            return s.a1?.left === 8 && s.a1?.right === 8 && s.b2?.left === 5 && s.b2?.right === 5;
        }""",
        timeout=WAIT_MS,
    )
    expect_steps(page, "a1", 8, 8)
    expect_steps(page, "b2", 5, 5)
    a1 = tile(page, "a1")
    expect(a1.get_by_test_id("athlete-name")).to_have_text("Ana Runner")
    expect(a1.get_by_test_id("gct-left")).to_have_text("238")  # 230 + 8, the latest step
    expect(a1.get_by_test_id("gct-right")).to_have_text("258")
    expect(a1.get_by_test_id("cadence")).to_have_text("171")
    expect(tile(page, "b2").get_by_test_id("athlete-name")).to_have_text("Ben Runner")

    # A page opened now is filled at once from the snapshot.
    late = open_page(browser, dashboard.url, watched)
    expect_steps(late, "a1", 8, 8)
    expect_steps(late, "b2", 5, 5)
    late.close()

    # Names are data, shown as text: no script runs, no element is injected.
    evil = "<script>alert(1)</script>"
    publisher.info(info("x1", evil))
    publisher.info(info("x2", '<img src="x" onerror="alert(2)">'))
    publish_steps(publisher, "x1", 1, 2, {"left": 240.0, "right": 240.0})
    expect(tile(page, "x1").get_by_test_id("athlete-name")).to_have_text(evil, timeout=WAIT_MS)
    expect(tile(page, "x2").get_by_test_id("athlete-name")).to_have_text(
        '<img src="x" onerror="alert(2)">', timeout=WAIT_MS
    )
    expect_steps(page, "x1", 2, 2)
    assert page.locator("#athletes script, #athletes img").count() == 0
    assert page.locator("script").count() == 1  # only the bundle
    page.screenshot(path=str(artifacts_dir / "dashboard-live.png"), full_page=True)
    watched.assert_clean()


@pytest.mark.browser
@pytest.mark.broker
def test_page_survives_a_broker_restart(
    dashboard: RunningDashboard,
    mosquitto: Mosquitto,
    browser: Browser,
    artifacts_dir: Path,
) -> None:
    watched = Watched()
    pub = Publisher(mosquitto.port)
    try:
        pub.info(info("a1", "Ana Runner"))
        page = open_page(browser, dashboard.url, watched)
        publish_steps(pub, "a1", 1, 3, {"left": 230.0, "right": 250.0})
        expect_steps(page, "a1", 3, 3)
    finally:
        pub.close()

    mosquitto.restart()  # persistence is off: the broker forgets everything
    status = page.get_by_test_id("status")
    page.wait_for_function(
        "() => window.calfload.statusLog.includes('reconnecting')", timeout=WAIT_MS
    )
    expect(status).to_have_attribute("data-state", "live", timeout=30_000)
    expect(page.get_by_test_id("status-text")).to_have_text("live")
    log = page.evaluate("window.calfload.statusLog")
    assert log[-3:] == ["live", "reconnecting", "live"], log
    dashboard.wait_broker(True)

    pub = Publisher(mosquitto.port)
    try:
        publish_steps(pub, "a1", 4, 6, {"left": 230.0, "right": 250.0})
        expect_steps(page, "a1", 6, 6)  # the steps from before are kept, new ones added
    finally:
        pub.close()
    page.screenshot(path=str(artifacts_dir / "dashboard-after-broker-restart.png"))
    watched.assert_clean()


@pytest.mark.browser
@pytest.mark.broker
def test_page_reconnects_to_a_restarted_dashboard(
    mosquitto: Mosquitto, publisher: Publisher, browser: Browser
) -> None:
    first = RunningDashboard(
        DashboardSettings(broker=BrokerUrl.parse(mosquitto.url)), free_port()
    ).start()
    try:
        first.wait_broker(True)
        publisher.info(info("a1", "Ana Runner"))
        watched = Watched()
        page = open_page(browser, first.url, watched)
        publish_steps(publisher, "a1", 1, 2, {"left": 230.0, "right": 250.0})
        expect_steps(page, "a1", 2, 2)
    finally:
        first.stop()
    expect(page.get_by_test_id("status")).to_have_attribute("data-state", "reconnecting")
    expect(page.get_by_test_id("status-detail")).to_have_text("dashboard server unreachable")

    second = RunningDashboard(first.settings, first.port).start()
    try:
        second.wait_broker(True)
        expect(page.get_by_test_id("status")).to_have_attribute(
            "data-state", "live", timeout=WAIT_MS
        )
        # The new server knows only the retained info; the page shows what it is told.
        expect(tile(page, "a1").get_by_test_id("athlete-name")).to_have_text("Ana Runner")
        publish_steps(publisher, "a1", 3, 3, {"left": 230.0, "right": 250.0})
        expect(tile(page, "a1").get_by_test_id("steps-left")).to_have_text("3", timeout=WAIT_MS)
    finally:
        second.stop()
    # While the server was down Chromium reports each refused reconnection attempt.
    unexpected = [e for e in watched.console_errors if "WebSocket connection" not in e]
    assert unexpected == []
    assert watched.page_errors == []
    assert watched.dialogs == []
