"""The dashboard app over real sockets: mosquitto in, a WebSocket client out (no browser)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import threading
import time
import urllib.request
from collections.abc import AsyncIterator
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from calfload.bridge.messages import encode
from calfload.bridge.mqtt import BrokerUrl
from calfload.dashboard.app import (
    CLOSE_TOO_SLOW,
    DashboardError,
    DashboardSettings,
    Hub,
    serve,
)
from calfload.dashboard.state import LiveState, parse
from tests.conftest import Mosquitto, free_port
from tests.dashboard.conftest import Publisher, info, require_build, session_headers, step
from tests.helpers import wait_until

T0 = 1_700_000_000.0


@contextlib.asynccontextmanager
async def serving(settings: DashboardSettings) -> AsyncIterator[str]:
    """``serve`` on this test's loop; yields ``host:port``; cancels it afterwards."""
    port = free_port()
    started = asyncio.Event()
    task = asyncio.create_task(serve(settings, "127.0.0.1", port, started))
    waiter = asyncio.create_task(started.wait())
    await asyncio.wait({task, waiter}, timeout=20, return_when=asyncio.FIRST_COMPLETED)
    waiter.cancel()
    if task.done():
        task.result()
    assert started.is_set(), "serve() did not start within 20 s"
    try:
        yield f"127.0.0.1:{port}"
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers=headers or {})
    with urllib.request.urlopen(request, timeout=5) as response:
        return response.status, dict(response.headers), response.read()


def health(addr: str) -> dict[str, Any]:
    data = json.loads(get(f"http://{addr}/healthz")[2])
    assert isinstance(data, dict)
    return data


async def wait_health(addr: str, what: str, check: Any, timeout_s: float = 15.0) -> None:
    await asyncio.to_thread(wait_until, lambda: check(health(addr)), timeout_s, what)


async def drain(ws: ClientConnection) -> None:
    """Read until the server closes the connection (which raises ``ConnectionClosed``)."""
    while True:
        await ws.recv()


def mqtt_threads() -> list[str]:
    """Names of the dashboard's paho network threads still alive."""
    return [t.name for t in threading.enumerate() if "calfload-dashboard" in t.name]


def queued(item: str | int) -> dict[str, Any]:
    assert isinstance(item, str), f"expected a message, got close code {item}"
    data = json.loads(item)
    assert isinstance(data, dict)
    return data


async def recv(ws: ClientConnection, timeout_s: float = 10.0) -> dict[str, Any]:
    data = json.loads(await asyncio.wait_for(ws.recv(), timeout_s))
    assert isinstance(data, dict)
    return data


@pytest.mark.broker
async def test_socket_sends_snapshot_then_only_new_data(
    mosquitto: Mosquitto, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="calfload.dashboard")
    pub = await asyncio.to_thread(Publisher, mosquitto.port)
    try:
        # Retained before the dashboard starts: a late dashboard still knows the athlete.
        await asyncio.to_thread(pub.info, info("a1", "Ana Runner"))
        async with serving(DashboardSettings(broker=BrokerUrl.parse(mosquitto.url))) as addr:
            await wait_health(
                addr,
                "the retained athlete info",
                lambda h: h["broker_connected"] and h["athletes"] == 1,
            )
            async with connect(f"ws://{addr}/ws", additional_headers=session_headers()) as ws:
                snap = await recv(ws)
                assert snap["type"] == "snapshot"
                assert snap["broker_connected"] is True
                assert snap["athletes"]["a1"]["info"]["name"] == "Ana Runner"
                assert snap["athletes"]["a1"]["steps"]["left"]["ic_s"] == []

                for i in (1, 2, 3):
                    await asyncio.to_thread(pub.step, step("a1", "left", i, T0))
                for i in (1, 2):
                    await asyncio.to_thread(pub.step, step("a1", "right", i, T0, 250.0))
                got: dict[str, list[float]] = {"left": [], "right": []}
                while len(got["left"]) < 3 or len(got["right"]) < 2:
                    update = await recv(ws)
                    assert update["type"] == "update"
                    entry = update["athletes"]["a1"]
                    assert "info" not in entry  # unchanged: not sent again
                    for side, block in entry["steps"].items():
                        got[side] += block["gct_ms"]
                assert got == {"left": [240.0] * 3, "right": [250.0] * 2}

                # Unreadable payloads: counted, logged once per kind, nothing breaks.
                for payload in (b"not json", b'{"schema": 1}'):
                    await asyncio.to_thread(pub.raw, "calfload/steps/a1/left", payload)
                await asyncio.to_thread(pub.raw, "calfload/athlete/a1/info", b"[1, 2]", retain=True)
                await wait_health(addr, "3 rejected messages", lambda h: h["rejected"] == 3)
                rejected = 0
                while rejected < 3:
                    rejected = (await recv(ws)).get("rejected", rejected)

            async with connect(
                f"ws://{addr}/ws", additional_headers=session_headers()
            ) as late:  # a page opened later
                snap = await recv(late)
                a1 = snap["athletes"]["a1"]
                assert a1["info"]["name"] == "Ana Runner"  # the bad info did not replace it
                assert a1["steps"]["left"]["received"] == 3
                assert a1["steps"]["right"]["gct_ms"] == [250.0, 250.0]
                assert snap["rejected"] == 3
            assert await asyncio.to_thread(health, addr) == {
                "broker_connected": True,
                "athletes": 1,
                "rejected": 3,
            }
    finally:
        await asyncio.to_thread(pub.close)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    unreadable = [w for w in warnings if "unreadable" in w]
    assert len(unreadable) == 2, unreadable  # one per kind: step, athlete info
    assert any("step message on calfload/steps/a1/left" in w for w in unreadable)
    assert any("athlete info message" in w for w in unreadable)


@pytest.mark.broker
async def test_page_and_static_files_are_served_with_a_strict_policy(
    mosquitto: Mosquitto,
) -> None:
    require_build()
    async with serving(DashboardSettings(broker=BrokerUrl.parse(mosquitto.url))) as addr:
        status, headers, body = await asyncio.to_thread(get, f"http://{addr}/", session_headers())
        assert status == 200
        assert b"/static/build/app.js" in body
        assert b"http://" not in body
        assert b"https://" not in body
        assert "script-src 'self'" in headers["content-security-policy"]
        status, headers, body = await asyncio.to_thread(get, f"http://{addr}/static/build/app.js")
        assert status == 200
        assert "javascript" in headers["content-type"]
        assert b"http://" not in body
        assert b"https://" not in body
        status, _, _ = await asyncio.to_thread(get, f"http://{addr}/static/build/app.css")
        assert status == 200


@pytest.mark.broker
async def test_other_sites_pages_may_not_open_the_socket(mosquitto: Mosquitto) -> None:
    async with serving(DashboardSettings(broker=BrokerUrl.parse(mosquitto.url))) as addr:
        with pytest.raises(InvalidStatus) as refused:
            async with connect(
                f"ws://{addr}/ws",
                origin="http://evil.example",  # type: ignore[arg-type]
                additional_headers=session_headers(),  # even with a valid session
            ):
                pass
        assert refused.value.response.status_code == 403
        async with connect(
            f"ws://{addr}/ws",
            origin=f"http://{addr}",  # type: ignore[arg-type]
            additional_headers=session_headers(),
        ) as ws:  # type: ignore[arg-type]
            assert (await recv(ws))["type"] == "snapshot"


@pytest.mark.broker
async def test_cancel_shuts_down_cleanly_with_pages_open(
    mosquitto: Mosquitto, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.INFO)
    port = free_port()
    started = asyncio.Event()
    task = asyncio.create_task(
        serve(DashboardSettings(broker=BrokerUrl.parse(mosquitto.url)), "127.0.0.1", port, started)
    )
    await asyncio.wait_for(started.wait(), 20)
    ws = await connect(f"ws://127.0.0.1:{port}/ws", additional_headers=session_headers())
    assert (await recv(ws))["type"] == "snapshot"
    t0 = time.monotonic()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    took = time.monotonic() - t0
    assert took < 5.0, f"shutdown took {took:.1f} s"
    with pytest.raises(ConnectionClosed):  # updates sent before the close may come first
        await asyncio.wait_for(drain(ws), 5)
    assert ws.close_code in (1001, 1012)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert "Traceback" not in capfd.readouterr().err
    assert mqtt_threads() == []
    with pytest.raises(ConnectionRefusedError):  # the port is released
        socket.create_connection(("127.0.0.1", port), timeout=1).close()


async def test_a_taken_port_is_a_clear_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(DashboardError, match=f"127.0.0.1:{port}"):
            await asyncio.wait_for(
                serve(
                    DashboardSettings(broker=BrokerUrl("127.0.0.1", free_port())), "127.0.0.1", port
                ),
                20,
            )
    assert mqtt_threads() == []  # its MQTT client was stopped too


async def test_hub_drops_a_slow_page_without_holding_up_others() -> None:
    state = LiveState()
    hub = Hub(state, max_queue=5)
    slow = hub.connect()
    fast = hub.connect()
    assert queued(slow.queue.get_nowait())["type"] == "snapshot"
    assert queued(fast.queue.get_nowait())["type"] == "snapshot"
    for i in range(1, 20):
        item = parse("calfload", "calfload/steps/a1/left", encode(step("a1", "left", i, T0)))
        assert item is not None
        state.apply(item)
        assert hub.tick()
        update = queued(fast.queue.get_nowait())  # the fast page keeps up
        assert update["athletes"]["a1"]["steps"]["left"]["received"] == i
    assert slow.dropped
    assert not fast.dropped
    assert slow.queue.get_nowait() == CLOSE_TOO_SLOW  # its backlog was discarded
    assert slow.queue.empty()
    assert hub.subscribers == {fast}
    assert hub.dropped == 1
    assert not hub.tick()  # nothing new: nothing sent


async def test_hub_gives_a_new_page_pending_changes_once() -> None:
    state = LiveState()
    hub = Hub(state)
    first = hub.connect()
    first.queue.get_nowait()
    item = parse("calfload", "calfload/steps/a1/left", encode(step("a1", "left", 1, T0)))
    assert item is not None
    state.apply(item)  # not yet pushed when the second page connects
    second = hub.connect()
    snap = queued(second.queue.get_nowait())
    assert snap["athletes"]["a1"]["steps"]["left"]["received"] == 1
    assert queued(first.queue.get_nowait())["athletes"]["a1"]["steps"]["left"]["ic_s"]
    assert not hub.tick()  # the step is not sent a second time
    assert second.queue.empty()
