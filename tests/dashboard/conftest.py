"""Dashboard test support: a dashboard served from a background thread, an MQTT
publisher that waits for the broker's acknowledgements, message factories, and
logins (every test gets its own data folder, so its own login database)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from playwright.sync_api import (
    Browser,
    ConsoleMessage,
    Dialog,
    Page,
    Request,
    Response,
    sync_playwright,
)

from calfload.bridge import topics
from calfload.bridge.datadir import ENV_VAR, data_dir
from calfload.bridge.messages import SCHEMA, AthleteInfo, Message, Side, encode
from calfload.bridge.mqtt import BrokerUrl
from calfload.dashboard.app import STATIC_DIR, DashboardSettings, serve
from calfload.dashboard.auth import SESSION_COOKIE
from calfload.dashboard.authdb import AuthDB
from calfload.dashboard.tokens import AthleteLinks, LoginTokens, Sessions
from calfload.dashboard.users import Users
from calfload.processing.messages import StepMessage
from tests.conftest import CHROMIUM_ARGS, Mosquitto, free_port
from tests.helpers import wait_until

BASE = topics.DEFAULT_BASE
THERAPIST = "thera"
PASSWORD = "correct horse battery"


@pytest.fixture(autouse=True)
def own_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test's data folder (never the user's real one)."""
    folder = tmp_path / "data"
    monkeypatch.setenv(ENV_VAR, str(folder))
    return data_dir()


def ensure_therapist(folder: Path | None = None, name: str = THERAPIST) -> None:
    users = Users(AuthDB(folder or data_dir()))
    if users.get(name) is None:
        users.add(name, PASSWORD, "admin")


def session_token(folder: Path | None = None, name: str = THERAPIST) -> str:
    """A fresh session of ``name`` (created if missing), as the cookie carries it."""
    ensure_therapist(folder, name)
    return Sessions(AuthDB(folder or data_dir())).create(name)


def session_headers(folder: Path | None = None, name: str = THERAPIST) -> dict[str, str]:
    return {"Cookie": f"{SESSION_COOKIE}={session_token(folder, name)}"}


def login_url(base_url: str, folder: Path | None = None, name: str = THERAPIST) -> str:
    """A one-time login URL for ``name`` that lands on the grid."""
    ensure_therapist(folder, name)
    token = LoginTokens(AuthDB(folder or data_dir())).create(name)
    return f"{base_url}/login/once?token={token}"


def athlete_link(athlete: str, folder: Path | None = None) -> tuple[str, str]:
    """A new athlete link: its id and its secret token."""
    link, token = AthleteLinks(AuthDB(folder or data_dir())).create(athlete, THERAPIST)
    return link.id, token


def info(athlete: str, name: str, mass: float = 70.0) -> AthleteInfo:
    return AthleteInfo(
        schema=SCHEMA,
        athlete=athlete,
        name=name,
        body_mass_kg=mass,
        sensors=[f"{athlete}-L", f"{athlete}-R"],
    )


def step(athlete: str, side: Side, index: int, t0_s: float, gct_ms: float = 240.0) -> StepMessage:
    """Step ``index`` (1-based) of one foot: left at ``t0 + 0.7 i``, right 0.35 s later."""
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
        step_time_ms=350.0,
        cadence_spm=171.4,
        peak_force_bw=2.4,
    )


@dataclass
class Publisher:
    """A paho client whose every publish is QoS 1 and waited for (PUBACK)."""

    port: int
    connected: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
        self.client.on_connect = lambda *args: self.connected.set()
        self.client.connect_async("127.0.0.1", self.port)
        self.client.loop_start()
        if not self.connected.wait(10):
            self.close()
            raise AssertionError(f"test publisher could not connect to port {self.port}")

    def raw(self, topic: str, payload: bytes, *, retain: bool = False) -> None:
        info = self.client.publish(topic, payload, qos=1, retain=retain)
        info.wait_for_publish(10)
        assert info.is_published(), f"broker did not acknowledge {topic}"

    def message(self, topic: str, message: Message, *, retain: bool = False) -> None:
        self.raw(topic, encode(message), retain=retain)

    def info(self, message: AthleteInfo) -> None:
        self.message(topics.athlete_info(BASE, message.athlete), message, retain=True)

    def step(self, message: StepMessage) -> None:
        self.message(topics.steps(BASE, message.athlete, message.side), message)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@dataclass
class RunningDashboard:
    """:func:`serve` on its own event loop in a background thread."""

    settings: DashboardSettings
    port: int
    thread: threading.Thread | None = None
    loop: asyncio.AbstractEventLoop | None = None
    task: asyncio.Task[None] | None = None
    error: BaseException | None = None
    ready: threading.Event = field(default_factory=threading.Event)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> RunningDashboard:
        self.thread = threading.Thread(target=self._main, name="dashboard", daemon=True)
        self.thread.start()
        if not self.ready.wait(20):
            raise AssertionError("the dashboard did not start within 20 s")
        if self.error is not None:
            raise AssertionError(f"the dashboard failed to start: {self.error!r}")
        return self

    def _main(self) -> None:
        async def run() -> None:
            started = asyncio.Event()
            self.loop = asyncio.get_running_loop()
            self.task = asyncio.create_task(serve(self.settings, "127.0.0.1", self.port, started))
            waiter = asyncio.create_task(started.wait())
            await asyncio.wait({self.task, waiter}, return_when=asyncio.FIRST_COMPLETED)
            waiter.cancel()
            self.ready.set()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task

        try:
            asyncio.run(run())
        except BaseException as exc:
            self.error = exc
        finally:
            self.ready.set()

    @property
    def data_dir(self) -> Path:
        return self.settings.data_dir or data_dir()

    def login_url(self, name: str = THERAPIST) -> str:
        return login_url(self.url, self.data_dir, name)

    def health(self) -> dict[str, Any]:
        with urllib.request.urlopen(f"{self.url}/healthz", timeout=5) as response:
            data = json.loads(response.read())
        assert isinstance(data, dict)
        return data

    def wait_broker(self, connected: bool = True, timeout_s: float = 15.0) -> None:
        wait_until(
            lambda: self.health()["broker_connected"] is connected,
            timeout_s,
            f"/healthz to say broker_connected={connected}",
        )

    def stop(self, timeout_s: float = 15.0) -> float:
        """Cancel :func:`serve`; return how long it took to finish."""
        assert self.loop is not None
        assert self.task is not None
        assert self.thread is not None
        t0 = time.monotonic()
        self.loop.call_soon_threadsafe(self.task.cancel)
        self.thread.join(timeout_s)
        assert not self.thread.is_alive(), f"serve() did not stop within {timeout_s} s"
        assert self.error is None, f"serve() ended with {self.error!r}"
        return time.monotonic() - t0


def require_build() -> None:
    if not (STATIC_DIR / "build" / "app.js").is_file():
        pytest.fail(
            "the dashboard page is not built: run `make assets` "
            "(or `npm ci && npm run build` in the repository root)"
        )


@pytest.fixture
def dashboard(mosquitto: Mosquitto, own_data_dir: Path) -> Iterator[RunningDashboard]:
    """The dashboard connected (and subscribed) to a fresh mosquitto, with one user
    (:data:`THERAPIST`, :data:`PASSWORD`) in its login database."""
    ensure_therapist(own_data_dir)
    running = RunningDashboard(
        DashboardSettings(broker=BrokerUrl.parse(mosquitto.url), data_dir=own_data_dir),
        free_port(),
    )
    running.start()
    try:
        running.wait_broker(True)
        yield running
    finally:
        running.stop()


@pytest.fixture
def publisher(mosquitto: Mosquitto) -> Iterator[Publisher]:
    pub = Publisher(mosquitto.port)
    try:
        yield pub
    finally:
        pub.close()


@dataclass
class Watched:
    """Everything that went wrong in a page."""

    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)

    def attach(self, page: Page) -> Page:
        def on_console(msg: ConsoleMessage) -> None:
            if msg.type == "error":
                self.console_errors.append(msg.text)

        def on_dialog(dialog: Dialog) -> None:
            self.dialogs.append(dialog.message)
            dialog.dismiss()

        def on_failed(request: Request) -> None:
            if request.failure != "net::ERR_ABORTED":  # the page navigated or closed
                self.failed_requests.append(f"{request.url}: {request.failure}")

        def on_response(response: Response) -> None:
            if response.status >= 400:
                self.failed_requests.append(f"{response.url}: HTTP {response.status}")

        page.on("console", on_console)
        page.on("pageerror", lambda exc: self.page_errors.append(str(exc)))
        page.on("dialog", on_dialog)
        page.on("requestfailed", on_failed)
        page.on("response", on_response)
        return page

    def assert_clean(self, allow_status: tuple[int, ...] = ()) -> None:
        """No errors; ``allow_status``: HTTP statuses the test provoked on purpose
        (Chromium also logs each of them as a console error)."""
        allowed = tuple(f"HTTP {code}" for code in allow_status)
        expected = tuple(f"status of {code}" for code in allow_status)
        assert [
            e for e in self.console_errors if not (expected and any(x in e for x in expected))
        ] == []
        assert self.page_errors == []
        assert [r for r in self.failed_requests if not (allowed and r.endswith(allowed))] == []
        assert self.dialogs == []


@pytest.fixture
def browser(chromium_path: str) -> Iterator[Browser]:
    require_build()
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=chromium_path, args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield browser
        finally:
            browser.close()
