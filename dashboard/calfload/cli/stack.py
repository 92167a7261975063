"""The whole stack in one process for ``calfload demo``.

Everything runs in one process on embedded defaults: an amqtt broker bound to
127.0.0.1 (unless ``--broker`` names an external one), virtual insoles on an
in-process bumble radio reached through bleak's ``BleakClient``, the bridge, the
processing worker and the dashboard.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import signal
import webbrowser
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from calfload.bridge import topics
from calfload.bridge.bridge import Bridge
from calfload.bridge.datadir import data_dir
from calfload.bridge.mqtt import BrokerUrl
from calfload.bridge.ports import check_port_free
from calfload.bridge.virtual.bleak_backend import BumbleBleakClient
from calfload.bridge.virtual.fleet import demo_profiles, start_fleet
from calfload.dashboard.app import DashboardSettings, serve
from calfload.dashboard.authdb import AuthDB
from calfload.dashboard.recorded_history import RecordedHistory
from calfload.dashboard.tokens import LOGIN_TOKEN_TTL_S, LoginTokens
from calfload.dashboard.users import Users
from calfload.processing.recorder.recorder import Recorder
from calfload.processing.recorder.store import recordings_folder
from calfload.processing.worker import Worker

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DemoOptions:
    athletes: int = 2
    duration_s: float | None = None
    mqtt_port: int = 1883
    broker: str | None = None
    http_port: int = 8000
    open_browser: bool = True
    base: str = topics.DEFAULT_BASE
    data_dir: str | None = None
    """The data folder; the demo keeps its own login database in ``<data_dir>/demo`` and
    records its sessions in ``<data_dir>/recordings`` like ``calfload record``."""


DEMO_USER = "demo"


def demo_login_url(folder: Path, http_port: int) -> str:
    """Make sure the demo's own admin user exists in ``folder`` (with a random password
    nobody knows) and return a dashboard URL carrying a one-time login token for it."""
    db = AuthDB(folder)
    users = Users(db)
    if users.get(DEMO_USER) is None:
        users.add(DEMO_USER, secrets.token_urlsafe(24), "admin")
    token = LoginTokens(db).create(DEMO_USER)
    return f"http://127.0.0.1:{http_port}/login/once?token={token}"


class _SnapshotIterDict(dict[Any, Any]):
    """A dict whose iteration walks a snapshot of its keys.

    amqtt 0.12.1 iterates its subscription table with awaits inside the loop when a
    client connects (``Broker._handle_client_session``); a subscription made by
    another client meanwhile raised "dictionary changed size during iteration" and
    killed the connecting client's session. Iterating a snapshot removes the race.
    """

    def __iter__(self) -> Iterator[Any]:
        return iter(list(self.keys()))


async def start_embedded_broker(port: int) -> Any:
    """An amqtt broker on 127.0.0.1:``port`` (MQTT 3.1.1, anonymous, loopback only)."""
    from amqtt.broker import Broker

    broker = Broker(
        {
            "listeners": {"default": {"type": "tcp", "bind": f"127.0.0.1:{port}"}},
            "plugins": {
                "amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}
            },
        }
    )
    broker._subscriptions = _SnapshotIterDict(broker._subscriptions)
    if not logging.getLogger().isEnabledFor(logging.INFO):
        # amqtt logs a stack trace at ERROR when a client drops its socket mid-handshake;
        # that is the client's problem, not the demo's. `calfload -v demo` shows them.
        logging.getLogger("amqtt").setLevel(logging.CRITICAL)
    await broker.start()
    return broker


async def run_demo(options: DemoOptions, *, stop: asyncio.Event | None = None) -> None:
    """Run the demo until ``stop`` is set, the duration ends, or SIGINT/SIGTERM."""
    if options.athletes < 1:
        raise ValueError("--athletes must be at least 1")
    if options.broker is None:
        check_port_free(options.mqtt_port, "--mqtt-port")
    check_port_free(options.http_port, "--http-port")
    folder = data_dir(options.data_dir) / "demo"
    url = demo_login_url(folder, options.http_port)
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)

    embedded = None
    if options.broker is None:
        embedded = await start_embedded_broker(options.mqtt_port)
        broker = BrokerUrl("127.0.0.1", options.mqtt_port)
    else:
        broker = BrokerUrl.parse(options.broker)
    worker = Worker(broker, base=options.base, data_dir=data_dir(options.data_dir))
    worker.start()
    recordings = recordings_folder(data_dir(options.data_dir))
    recorder = Recorder(broker, recordings, base=options.base)
    recorder.start()
    started = asyncio.Event()
    settings = DashboardSettings(
        broker=broker,
        base=options.base,
        data_dir=folder,
        recordings_dir=recordings,
        history=RecordedHistory(recordings),
    )
    dashboard = asyncio.create_task(serve(settings, "127.0.0.1", options.http_port, started))
    fleet = None
    bridge_task = None
    try:
        await _first(started.wait(), dashboard)
        fleet = await start_fleet(demo_profiles(options.athletes))
        bridge = Bridge(
            broker, fleet.specs, fleet.infos, base=options.base, backend=BumbleBleakClient
        )
        bridge_task = asyncio.create_task(bridge.run(stop))
        print(f"calfload demo: {options.athletes} virtual athlete(s), broker {broker}", flush=True)
        print(f"Dashboard: {url}", flush=True)
        print(f"Recording sessions to {recordings} (calfload sessions)", flush=True)
        minutes = int(LOGIN_TOKEN_TTL_S // 60)
        print(f"(the link logs you in once; it expires in {minutes} minutes)", flush=True)
        print("Press Ctrl-C to stop.", flush=True)
        if options.open_browser:
            with contextlib.suppress(Exception):
                webbrowser.open(url)
        if options.duration_s is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), options.duration_s)
        else:
            await stop.wait()
    finally:
        stop.set()
        if bridge_task is not None:
            await asyncio.gather(bridge_task, return_exceptions=True)
        if fleet is not None:
            await fleet.stop()
        await asyncio.to_thread(worker.stop)
        await asyncio.to_thread(recorder.stop)
        dashboard.cancel()
        await asyncio.gather(dashboard, return_exceptions=True)
        if embedded is not None:
            with contextlib.suppress(Exception):
                await embedded.shutdown()
        print("calfload demo: stopped.", flush=True)


async def _first(waiter: Any, task: asyncio.Task[None]) -> None:
    """Wait for ``waiter``; if ``task`` ends first, re-raise its error."""
    w = asyncio.ensure_future(waiter)
    done, _ = await asyncio.wait({w, task}, return_when=asyncio.FIRST_COMPLETED)
    if task in done and not w.done():
        w.cancel()
        task.result()
        raise RuntimeError("the dashboard stopped before it started")
