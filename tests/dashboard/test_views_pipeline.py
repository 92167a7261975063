"""End to end: virtual athletes (insole twins) → bridge (real BleakClient) →
mosquitto → worker → dashboard → Chromium. A runner simulated with a limp (the
left contact 25 % longer) raises the asymmetry alert and moves to the top of the grid."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from calfload.bridge.bridge import Bridge
from calfload.bridge.mqtt import BrokerUrl
from calfload.bridge.simulator import AthleteProfile
from calfload.bridge.virtual.bleak_backend import BumbleBleakClient
from calfload.bridge.virtual.fleet import start_fleet
from calfload.processing.worker import Worker
from tests.conftest import Mosquitto
from tests.dashboard.conftest import RunningDashboard, Watched, login_url

WAIT_MS = 90_000


@pytest.fixture
def virtual_runners(mosquitto: Mosquitto) -> Iterator[threading.Event]:
    """Two virtual runners, the bridge and the worker on their own event loop."""
    broker = BrokerUrl.parse(mosquitto.url)
    profiles = [
        AthleteProfile("v1", "Even Runner", seed=11),
        AthleteProfile("v2", "Limping Runner", asymmetry_pct=25.0, seed=12),
    ]
    done = threading.Event()
    errors: list[BaseException] = []

    async def main() -> None:
        worker = Worker(broker)
        worker.start()
        fleet = await start_fleet(profiles)
        bridge = Bridge(broker, fleet.specs, fleet.infos, backend=BumbleBleakClient)
        stop = asyncio.Event()
        task = asyncio.create_task(bridge.run(stop))
        try:
            await asyncio.to_thread(done.wait)
        finally:
            stop.set()
            await task
            await fleet.stop()
            worker.stop()

    def run() -> None:
        try:
            asyncio.run(main())
        except BaseException as exc:  # reported by the test
            errors.append(exc)

    thread = threading.Thread(target=run, name="virtual-runners", daemon=True)
    thread.start()
    try:
        yield done
    finally:
        done.set()
        thread.join(30)
    assert not thread.is_alive(), "the virtual runners did not stop"
    assert errors == []


@pytest.mark.browser
@pytest.mark.broker
def test_a_limping_virtual_runner_raises_the_asymmetry_alert(
    dashboard: RunningDashboard,
    virtual_runners: threading.Event,
    browser: Browser,
    artifacts_dir: Path,
) -> None:
    watched = Watched()
    page = watched.attach(browser.new_page(viewport={"width": 1366, "height": 768}))
    page.goto(login_url(dashboard.url, dashboard.data_dir))
    expect(page.get_by_test_id("status")).to_have_attribute("data-state", "live", timeout=WAIT_MS)
    limp = page.locator('[data-athlete="v2"]')
    even = page.locator('[data-athlete="v1"]')
    expect(limp.get_by_test_id("athlete-name")).to_have_text("Limping Runner", timeout=WAIT_MS)
    # Enough steps for a full recent window on both feet
    page.wait_for_function(
        "() => ['v1', 'v2'].every(a => Math.min("
        "window.calfload.stepsReceived[a]?.left ?? 0, window.calfload.stepsReceived[a]?.right ?? 0)"
        " >= 20)",
        timeout=WAIT_MS,
    )
    expect(limp.get_by_test_id("alert-badge")).to_have_attribute(
        "data-level", "warn", timeout=WAIT_MS
    )
    expect(limp.get_by_test_id("alert-text")).to_contain_text("higher on the left")
    # The bar shows the worst watched metric. The truth: the left contact is 25 % longer,
    # a symmetry index of 100 × 0.25 / 1.125 = 22 % in GCT (and in impulses that grow with it).
    limp_si = float(limp.get_by_test_id("symmetry").inner_text().rstrip("%"))
    assert 12.0 < limp_si < 35.0, limp_si
    assert float(limp.get_by_test_id("gct-left").inner_text()) > float(
        limp.get_by_test_id("gct-right").inner_text()
    )
    even_si = float(even.get_by_test_id("symmetry").inner_text().rstrip("%"))
    assert abs(even_si) < 10.0, even_si
    expect(page.locator("#athletes [data-athlete]").first).to_have_attribute("data-athlete", "v2")
    even_alerts = even.get_by_test_id("alert-text").inner_text()
    assert "asymmetry" not in even_alerts and "higher on the" not in even_alerts, even_alerts
    for side in ("left", "right"):
        assert float(even.get_by_test_id(f"gct-{side}").inner_text()) > 150
    page.screenshot(path=str(artifacts_dir / "view-grid-virtual-runners.png"))
    virtual_runners.set()
    watched.assert_clean()
