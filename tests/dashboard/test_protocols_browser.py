"""The /protocols page in real Chromium: a therapist starts a heel-rise test for a virtual
athlete (raw insole batches streamed to mosquitto in real time, following the cues) and
sees the stage, the repetition count and the scored result."""

from __future__ import annotations

import re
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect, sync_playwright

from calfload.bridge.sim_protocols import CalfTaskSimulator
from calfload.bridge.simulator import AthleteProfile
from calfload.dashboard.app import STATIC_DIR
from calfload.dashboard.auth import SESSION_COOKIE
from calfload.dashboard.authdb import AuthDB
from calfload.dashboard.tokens import Sessions
from tests.conftest import CHROMIUM_ARGS
from tests.dashboard.conftest import (
    Publisher,
    RunningDashboard,
    info,
    require_build,
    session_token,
)
from tests.protocols.virtual import VirtualAthlete

FS_HZ = 100.0
LAB_PROTOCOL = """
name = "lab-hret-short"
title = "Lab short heel-rise test"
kind = "heel-rise"
[[stage]]
name = "left heel rises"
task = "heel-rise"
side = "left"
duration_s = 25
metronome_bpm = 120
cue = "Up on a beat, down on the next, on the LEFT leg."
[[stage]]
name = "rest"
task = "rest"
duration_s = 1
[[stage]]
name = "right heel rises"
task = "heel-rise"
side = "right"
duration_s = 25
metronome_bpm = 120
cue = "Now the RIGHT leg."
"""


@pytest.fixture
def browser(chromium_path: str) -> Iterator[Browser]:
    require_build()
    if not (STATIC_DIR / "build" / "protocols.js").is_file():
        pytest.fail("the protocol page is not built: run `make assets`")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.mark.browser
@pytest.mark.broker
def test_therapist_starts_a_heel_rise_test_and_sees_the_result(
    dashboard: RunningDashboard,
    publisher: Publisher,
    browser: Browser,
    mosquitto,
    artifacts_dir: Path,
) -> None:
    folder = dashboard.data_dir / "protocols"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "lab-hret-short.toml").write_text(LAB_PROTOCOL)
    (folder / "broken.toml").write_text('name = "broken"\ntitle = "x"\n[[stage]]\nname = "a"\n')
    publisher.info(info("p1", "Pia", mass=61.0))
    sim = CalfTaskSimulator(AthleteProfile("p1", "Pia", body_mass_kg=61.0), foot_length_m=0.25)
    athlete = VirtualAthlete(mosquitto.port, sim, {"left": 8, "right": 5})
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda e: problems.append(str(e)))
    try:
        page.goto(dashboard.login_url())
        page.goto(f"{dashboard.url}/protocols")
        # a bad lab file is reported by name, the good one is offered
        expect(page.get_by_test_id("protocol-error")).to_contain_text("broken.toml")
        page.get_by_test_id("protocol-athlete").fill("p1")
        page.get_by_test_id("protocol-name").select_option("lab-hret-short")
        page.locator("select[name=sex]").select_option("female")
        page.get_by_test_id("protocol-start").click()
        expect(page.get_by_test_id("stage-name")).to_have_text("left heel rises", timeout=15_000)
        expect(page.get_by_test_id("stage-cue")).to_contain_text("LEFT leg")
        # the count climbs while the athlete rises (progress about once a second)
        expect(page.get_by_test_id("reps")).to_have_text(re.compile(r"^[3-8]$"), timeout=20_000)
        page.screenshot(path=str(artifacts_dir / "protocols-running.png"))
        expect(page.get_by_test_id("stage-name")).to_have_text("right heel rises", timeout=30_000)
        expect(page.get_by_test_id("run-state")).to_have_text("done", timeout=60_000)
        table = page.get_by_test_id("result-table")
        expect(table.locator("tr[data-stage='0']")).to_contain_text("8 reps (stop: height)")
        expect(table.locator("tr[data-stage='2']")).to_contain_text("5 reps (stop: height)")
        expect(page.get_by_test_id("result-extra")).to_contain_text("heel_rise_reps_lsi_pct: 160")
        expect(page.get_by_test_id("result-extra")).to_contain_text("Hébert-Losier")
        page.screenshot(path=str(artifacts_dir / "protocols-result.png"), full_page=True)
        assert problems == []
    finally:
        context.close()
        athlete.close()


@pytest.mark.broker
def test_start_needs_the_csrf_token_and_a_known_protocol(dashboard: RunningDashboard) -> None:
    token = session_token(dashboard.data_dir)
    session = Sessions(AuthDB(dashboard.data_dir)).get(token)
    assert session is not None
    headers = {
        "Cookie": f"{SESSION_COOKIE}={token}",
        "Content-Type": "application/x-www-form-urlencoded",
    }

    def post(body: bytes) -> int:
        req = urllib.request.Request(f"{dashboard.url}/protocols/start", data=body, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=5) as response:
                return int(response.status)
        except urllib.error.HTTPError as exc:
            return exc.code

    assert post(b"athlete=a1&protocol=hops") == 403  # no CSRF token
    csrf = f"csrf={session.csrf}".encode()
    assert post(csrf + b"&athlete=a1&protocol=no-such") == 400
    assert post(csrf + b"&athlete=a%2F1&protocol=hops") == 400
    req = urllib.request.Request(f"{dashboard.url}/protocols/runs/nope", headers=headers)
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(req, timeout=5)
    assert err.value.code == 404
