"""Logins and athlete links in real (Debian) Chromium through Playwright, fed by a real
mosquitto. Screenshots of the login and athlete pages land in test-artifacts/."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, WebSocket, expect, sync_playwright

from calfload.bridge.topics import SIDES
from calfload.dashboard.authdb import AuthDB
from calfload.dashboard.tokens import AthleteLinks
from calfload.dashboard.users import Users
from tests.conftest import CHROMIUM_ARGS
from tests.dashboard.conftest import (
    PASSWORD,
    THERAPIST,
    Publisher,
    RunningDashboard,
    athlete_link,
    info,
    require_build,
    step,
)

T0 = time.time() - 60.0
WAIT_MS = 15_000
EVIL = "<script>alert(1)</script>"


@pytest.fixture
def browser(chromium_path: str) -> Iterator[Browser]:
    require_build()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def new_page(browser: Browser) -> tuple[BrowserContext, Page, list[str]]:
    """A page in its own context (own cookies); the list collects dialogs and errors."""
    context = browser.new_context(viewport={"width": 1200, "height": 800})
    page = context.new_page()
    problems: list[str] = []
    page.on("dialog", lambda d: (problems.append(f"dialog: {d.message}"), d.dismiss()))
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    return context, page, problems


def socket_opens(page: Page, path: str) -> bool:
    """Can this page's JavaScript open a WebSocket to ``path``?"""
    return bool(
        page.evaluate(
            """(path) => new Promise((resolve) => {
                const ws = new WebSocket(new URL(path, location.href).href.replace('http', 'ws'));
                ws.onopen = () => { ws.close(); resolve(true); };
                ws.onerror = () => resolve(false);
            })""",
            path,
        )
    )


def log_in(page: Page, user: str, password: str) -> None:
    page.get_by_test_id("login-user").fill(user)
    page.get_by_test_id("login-password").fill(password)
    page.get_by_test_id("login-submit").click()


@pytest.mark.browser
@pytest.mark.broker
def test_login_is_required_refuses_bad_passwords_and_opens_the_live_grid(
    dashboard: RunningDashboard, publisher: Publisher, browser: Browser, artifacts_dir: Path
) -> None:
    Users(AuthDB(dashboard.data_dir)).add("guesser", "the real password", "therapist")
    publisher.info(info("a1", "Ana Runner"))
    context, page, problems = new_page(browser)

    # The grid, its socket and the links page are closed: the browser lands on the login
    page.goto(dashboard.url + "/")
    expect(page.get_by_test_id("login-form")).to_be_visible()
    assert page.url == f"{dashboard.url}/login?next=/"
    assert not socket_opens(page, "/ws")
    page.goto(dashboard.url + "/links")
    assert page.url == f"{dashboard.url}/login?next=/links"
    page.goto(dashboard.url + "/")
    page.screenshot(path=str(artifacts_dir / "login.png"))

    # A wrong password: a clear message, no session
    log_in(page, THERAPIST, "not the password")
    expect(page.get_by_test_id("login-error")).to_have_text("Wrong user name or password.")
    expect(page.get_by_test_id("login-user")).to_have_value(THERAPIST)
    page.screenshot(path=str(artifacts_dir / "login-wrong-password.png"))
    assert not socket_opens(page, "/ws")

    # Guessing is rate limited (per user and address): after 5 failures even the right
    # password is refused for a while
    for _ in range(5):
        log_in(page, "guesser", "a wrong guess")
        expect(page.get_by_test_id("login-error")).to_be_visible()
    log_in(page, "guesser", "the real password")
    expect(page.get_by_test_id("login-error")).to_contain_text("Too many failed logins")
    page.screenshot(path=str(artifacts_dir / "login-rate-limited.png"))

    # The right password opens the grid, which updates live
    log_in(page, THERAPIST, PASSWORD)
    expect(page.get_by_test_id("status")).to_have_attribute("data-state", "live", timeout=WAIT_MS)
    assert page.url == f"{dashboard.url}/"
    expect(page.get_by_test_id("user")).to_have_text(THERAPIST)
    for i in (1, 2, 3):
        for side in SIDES:
            publisher.step(step("a1", side, i, T0))
    tile = page.locator('[data-athlete="a1"]')
    expect(tile.get_by_test_id("steps-left")).to_have_text("3", timeout=WAIT_MS)
    expect(tile.get_by_test_id("athlete-name")).to_have_text("Ana Runner")
    cookies = {c["name"]: c for c in context.cookies()}
    session = cookies["calfload_session"]
    assert session["httpOnly"] and session["sameSite"] == "Strict"

    # The therapist makes an athlete link from the dashboard; it opens a1's view
    page.get_by_role("link", name="athlete links").click()
    page.get_by_test_id("link-athlete").fill("a1")
    page.get_by_role("button", name="Create link").click()
    created = page.get_by_test_id("created-url")
    expect(created).to_be_visible()
    link_url = created.inner_text()
    assert link_url.startswith(f"{dashboard.url}/a/")
    expect(page.locator("[data-link]")).to_have_count(1)
    page.screenshot(path=str(artifacts_dir / "athlete-links.png"))
    athlete_context, athlete_page, athlete_problems = new_page(browser)
    athlete_page.goto(link_url)
    athlete_tile = athlete_page.locator('[data-athlete="a1"]')
    expect(athlete_tile.get_by_test_id("steps-left")).to_have_text("3", timeout=WAIT_MS)
    page.get_by_test_id("revoke").click()  # and revokes it: the athlete's page closes
    expect(page.get_by_test_id("no-links")).to_be_visible()
    expect(athlete_page.get_by_test_id("message")).to_contain_text("not valid", timeout=WAIT_MS)
    assert athlete_problems == []
    athlete_context.close()
    page.goto(dashboard.url + "/")

    # A form with a tampered CSRF token is refused; the real one logs out
    page.evaluate("document.querySelector('[data-testid=logout-form] [name=csrf]').value = 'x'")
    with page.expect_response(lambda r: r.url.endswith("/logout")) as refused:
        page.get_by_test_id("logout").click()
    assert refused.value.status == 403
    page.goto(dashboard.url + "/")
    expect(page.get_by_test_id("status")).to_have_attribute("data-state", "live", timeout=WAIT_MS)
    page.get_by_test_id("logout").click()
    expect(page.get_by_test_id("login-form")).to_be_visible()
    page.goto(dashboard.url + "/")
    assert page.url.startswith(f"{dashboard.url}/login")
    assert not socket_opens(page, "/ws")
    assert problems == []
    context.close()


@pytest.mark.browser
@pytest.mark.broker
def test_athlete_link_shows_only_its_athlete_as_text_until_revoked(
    dashboard: RunningDashboard, publisher: Publisher, browser: Browser, artifacts_dir: Path
) -> None:
    publisher.info(info("x1", EVIL))
    publisher.info(info("b2", "Ben Runner"))
    for i in (1, 2):
        for athlete in ("b2", "x1"):
            for side in SIDES:
                publisher.step(step(athlete, side, i, T0))
    link_id, token = athlete_link("x1")
    context, page, problems = new_page(browser)
    frames: list[str] = []

    def on_socket(ws: WebSocket) -> None:
        ws.on("framereceived", lambda payload: frames.append(str(payload)))

    page.on("websocket", on_socket)
    page.goto(f"{dashboard.url}/a/{token}")
    expect(page.get_by_test_id("status")).to_have_attribute("data-state", "live", timeout=WAIT_MS)
    tile = page.locator('[data-athlete="x1"]')
    expect(tile.get_by_test_id("steps-left")).to_have_text("2", timeout=WAIT_MS)
    expect(tile.get_by_test_id("athlete-name")).to_have_text(EVIL)  # text, not markup
    expect(page.get_by_test_id("athlete-scope")).to_have_text("x1")

    # New data for both athletes: only x1's reaches this page
    for i in (3, 4):
        for athlete in ("b2", "x1"):
            for side in SIDES:
                publisher.step(step(athlete, side, i, T0))
    expect(tile.get_by_test_id("steps-right")).to_have_text("4", timeout=WAIT_MS)
    assert page.locator("[data-athlete]").count() == 1
    assert page.locator("#athletes script").count() == 0
    assert page.get_by_test_id("logout").count() == 0
    assert frames, "no WebSocket frames were seen"
    for frame in frames:
        data = json.loads(frame)
        assert set(data.get("athletes", {})) <= {"x1"}
        assert "b2" not in frame and "Ben" not in frame
    page.screenshot(path=str(artifacts_dir / "athlete-link.png"), full_page=True)

    # The grid and its socket stay closed to the link holder
    assert not socket_opens(page, "/ws")
    other = context.new_page()
    other.goto(dashboard.url + "/")
    assert other.url.startswith(f"{dashboard.url}/login")
    other.close()

    # Revoked: the open page is closed and reloads to "not valid"
    assert AthleteLinks(AuthDB(dashboard.data_dir)).revoke(link_id)
    expect(page.get_by_test_id("message")).to_contain_text("not valid", timeout=WAIT_MS)
    assert page.locator("[data-athlete]").count() == 0
    assert not socket_opens(page, f"/a/{token}/ws")
    page.screenshot(path=str(artifacts_dir / "athlete-link-revoked.png"))
    assert problems == []
    context.close()


@pytest.mark.browser
@pytest.mark.broker
def test_one_time_login_link_works_once(
    dashboard: RunningDashboard, browser: Browser, artifacts_dir: Path
) -> None:
    url = dashboard.login_url()
    context, page, problems = new_page(browser)
    page.goto(url)
    expect(page.get_by_test_id("status")).to_have_attribute("data-state", "live", timeout=WAIT_MS)
    assert page.url == f"{dashboard.url}/"  # the token is gone from the address bar
    context.close()

    context, page, problems = new_page(browser)
    page.goto(url)
    expect(page.get_by_test_id("message")).to_contain_text("already used or has expired")
    page.screenshot(path=str(artifacts_dir / "login-link-used.png"))
    page.goto(dashboard.url + "/")
    assert page.url.startswith(f"{dashboard.url}/login")
    assert problems == []
    context.close()
