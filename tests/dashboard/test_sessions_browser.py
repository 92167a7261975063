"""The sessions page in real Chromium with a real mosquitto and a real recorder: list,
start, name, note (CSRF enforced), marker over HTTP, stop, and replay into the live grid."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect, sync_playwright

from calfload.bridge.mqtt import BrokerUrl
from calfload.processing.recorder import store
from calfload.processing.recorder.recorder import Recorder
from tests.conftest import CHROMIUM_ARGS, Mosquitto
from tests.dashboard.conftest import Publisher, RunningDashboard, info, require_build, step
from tests.helpers import wait_until

WAIT_MS = 20_000
STEPS = 10


@pytest.fixture
def recorder(mosquitto: Mosquitto, own_data_dir: Path) -> Iterator[Recorder]:
    rec = Recorder(BrokerUrl.parse(mosquitto.url), store.recordings_folder(own_data_dir))
    rec.start()
    assert rec.connected.wait(10)
    try:
        yield rec
    finally:
        rec.stop()


def _row(page: Page, **attrs: str) -> None:
    """Reload /sessions until a session row with these data attributes is there."""
    sel = "tr[data-testid=session]" + "".join(f'[data-{k}="{v}"]' for k, v in attrs.items())

    def there() -> bool:
        page.goto(page.url.split("?")[0])
        return page.locator(sel).count() == 1

    wait_until(there, WAIT_MS / 1000, f"a session row {attrs}")


@pytest.mark.browser
@pytest.mark.broker
def test_sessions_page_starts_names_notes_stops_and_replays(
    dashboard: RunningDashboard,
    publisher: Publisher,
    recorder: Recorder,
    chromium_path: str,
    artifacts_dir: Path,
    own_data_dir: Path,
) -> None:
    require_build()
    folder = store.recordings_folder(own_data_dir)
    publisher.info(info("s1", "Sam"))
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1200, "height": 800})
        page = context.new_page()
        problems: list[str] = []
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.goto(dashboard.login_url())
        page.get_by_role("link", name="sessions").click()
        expect(page.get_by_test_id("no-sessions")).to_be_visible()

        # start with a name
        page.get_by_test_id("start-athlete").fill("s1")
        page.get_by_test_id("start-name").fill("Tempo <run>")
        page.get_by_test_id("start").click()
        expect(page.get_by_test_id("msg")).to_have_text("s1: started")
        _row(page, state="recording")
        expect(page.get_by_test_id("session-name")).to_have_text("Tempo <run>")  # as text

        t0 = time.time()
        for i in range(1, STEPS + 1):
            for side in ("left", "right"):
                publisher.step(step("s1", side, i, t0))  # type: ignore[arg-type]

        def steps_shown() -> bool:
            page.reload()
            return page.get_by_test_id("session-steps").inner_text() == str(2 * STEPS)

        wait_until(steps_shown, WAIT_MS / 1000, "the recorded steps on the page")

        # name, note
        page.get_by_test_id("rename-name").fill("Intervals")
        page.get_by_test_id("rename").click()
        expect(page.get_by_test_id("msg")).to_have_text("s1: named")  # the redirect landed
        wait_until(
            lambda: (
                page.reload() is not None
                and page.get_by_test_id("session-name").inner_text() == "Intervals"
            ),
            WAIT_MS / 1000,
            "the new name",
        )
        page.get_by_test_id("note-text").fill("calf tight")
        page.get_by_test_id("note").click()
        expect(page.get_by_test_id("msg")).to_have_text("s1: noted")
        wait_until(
            lambda: (
                page.reload() is not None
                and "calf tight" in page.get_by_test_id("session-notes").inner_text()
            ),
            WAIT_MS / 1000,
            "the note",
        )

        # CSRF: the same form without its token, or with a wrong one, is refused
        refused = context.request.post(
            f"{dashboard.url}/sessions/note", form={"athlete": "s1", "text": "forged"}
        )
        assert refused.status == 403
        refused = context.request.post(
            f"{dashboard.url}/sessions/note",
            form={"athlete": "s1", "text": "forged", "csrf": "x" * 43},
        )
        assert refused.status == 403
        # a marker over HTTP, as a script with the session and its token would send it
        status = page.evaluate(
            """async () => {
                const csrf = document.querySelector('input[name=csrf]').value;
                const r = await fetch('/sessions/marker', {method: 'POST',
                    headers: {'X-CSRF-Token': csrf, 'Accept': 'application/json',
                              'Content-Type': 'application/x-www-form-urlencoded'},
                    body: 'athlete=s1&label=plate'});
                return r.status;
            }"""
        )
        assert status == 202
        wait_until(
            lambda: (
                page.reload() is not None
                and "marker: plate" in page.get_by_test_id("session-notes").inner_text()
            ),
            WAIT_MS / 1000,
            "the marker",
        )
        page.screenshot(path=str(artifacts_dir / "sessions-page.png"), full_page=True)

        page.get_by_test_id("stop").click()
        expect(page.get_by_test_id("msg")).to_have_text("s1: stopped")
        _row(page, state="stopped")
        (row,) = store.list_sessions(folder)[0]
        assert (row.name, row.steps, row.state) == ("Intervals", 2 * STEPS, "stopped")
        with store.open_session(Path(row.path)) as conn:
            events = store.events(conn)
        assert [e["label"] for e in events if e["kind"] == "note"] == ["calf tight"]
        assert [e["label"] for e in events if e["kind"] == "marker"] == ["plate"]

        # replay at 10× into the live grid, as athlete s1.replay
        page.get_by_test_id("replay-speed").select_option("10")
        page.get_by_test_id("replay").click()
        page.wait_for_url(f"{dashboard.url}/#s1.replay")
        page.wait_for_function(
            """(n) => {
                const s = window.calfload && window.calfload.stepsReceived;
                const r = s && s['s1.replay'];
                return r && r.left === n && r.right === n;
            }""",
            arg=STEPS,
            timeout=WAIT_MS,
        )
        expect(
            page.locator('[data-athlete="s1.replay"] [data-testid=athlete-name]')
        ).to_contain_text("(replay)")
        page.screenshot(path=str(artifacts_dir / "sessions-replay.png"), full_page=True)
        browser.close()
    assert problems == []
    # the replay went to the page only: nothing new was recorded
    assert len(store.list_sessions(folder)[0]) == 1
