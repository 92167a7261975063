"""Authentication of the running dashboard over real sockets (HTTP and raw WebSocket
frames), fed by a real mosquitto: no page, form or socket without a login, CSRF on
every POST, and athlete links that carry one athlete's data only."""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from calfload.bridge import topics
from calfload.bridge.messages import SCHEMA, SensorAvailability
from calfload.bridge.topics import SIDES
from calfload.dashboard.auth import LOGIN_CSRF_COOKIE, SESSION_COOKIE
from calfload.dashboard.authdb import AuthDB
from calfload.dashboard.tokens import AthleteLinks, Sessions
from tests.dashboard.conftest import (
    PASSWORD,
    THERAPIST,
    Publisher,
    RunningDashboard,
    athlete_link,
    info,
    session_token,
    step,
)

T0 = 1_700_000_000.0
ANA, BEN = "ana-7", "ben-9"  # distinctive ids: a raw frame containing BEN is a leak


@dataclass
class Reply:
    status: int
    headers: Any
    body: str

    def cookie(self, name: str) -> str:
        for header in self.headers.get_all("set-cookie") or []:
            if header.startswith(f"{name}="):
                return str(header)
        return ""


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_opener = urllib.request.build_opener(_NoRedirect)


def http(
    url: str,
    *,
    data: dict[str, str] | None = None,
    cookies: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> Reply:
    """One request, redirects not followed."""
    all_headers = dict(headers or {})
    if cookies:
        all_headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
    body = None if data is None else urllib.parse.urlencode(data).encode()
    request = urllib.request.Request(url, data=body, headers=all_headers)
    try:
        with _opener.open(request, timeout=10) as response:
            return Reply(response.status, response.headers, response.read().decode())
    except urllib.error.HTTPError as err:
        return Reply(err.code, err.headers, err.read().decode())


def ws_url(dashboard: RunningDashboard, path: str = "/ws") -> str:
    return dashboard.url.replace("http://", "ws://") + path


def recv(ws: ClientConnection, timeout_s: float = 10.0) -> tuple[str, dict[str, Any]]:
    text = ws.recv(timeout=timeout_s)
    assert isinstance(text, str)
    data = json.loads(text)
    assert isinstance(data, dict)
    return text, data


def wait_closed(ws: ClientConnection, timeout_s: float = 15.0) -> int | None:
    """Read until the server closes the socket; its close code."""
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            ws.recv(timeout=max(0.1, deadline - time.monotonic()))
    except ConnectionClosed:
        return ws.close_code
    raise AssertionError(f"the server did not close the socket within {timeout_s} s")


def refused(url: str, **kwargs: Any) -> int:
    with pytest.raises(InvalidStatus) as err, connect(url, open_timeout=10, **kwargs):
        pass
    return int(err.value.response.status_code)


def csrf_of(page: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', page)
    assert match, "the page has no CSRF field"
    return match.group(1)


def publish_world(pub: Publisher, first: int, last: int) -> None:
    for athlete in (ANA, BEN):
        for i in range(first, last + 1):
            for side in SIDES:
                pub.step(step(athlete, side, i, T0))


@pytest.mark.broker
def test_nothing_without_a_login(dashboard: RunningDashboard) -> None:
    for path in ("/", "/links", "/?x=1"):
        reply = http(dashboard.url + path)
        assert reply.status == 303
        assert reply.headers["location"] == "/login?next=" + urllib.parse.quote(path, safe="/")
    assert http(dashboard.url + "/nothing-here").status == 303  # unknown paths too
    assert http(dashboard.url + "/links", data={"athlete": "a1"}).status == 403
    assert refused(ws_url(dashboard)) == 403
    bad = {"Cookie": f"{SESSION_COOKIE}=not-a-session"}
    assert refused(ws_url(dashboard), additional_headers=bad) == 403
    # what is public: the login page, its styles and /healthz
    assert http(dashboard.url + "/login").status == 200
    assert http(dashboard.url + "/static/auth.css").status == 200
    assert http(dashboard.url + "/healthz").status == 200


@pytest.mark.broker
def test_login_sets_a_strict_cookie_and_checks_csrf(dashboard: RunningDashboard) -> None:
    page = http(dashboard.url + "/login?next=/links")
    login_cookie = page.cookie(LOGIN_CSRF_COOKIE)
    assert "HttpOnly" in login_cookie and "SameSite=strict" in login_cookie
    pre = login_cookie.split(";")[0].split("=", 1)[1]
    token = csrf_of(page.body)
    assert token == pre  # double-submit: field and cookie agree
    form = {"user": THERAPIST, "password": PASSWORD, "next": "/links"}

    # no token, a wrong token, no cookie, another site's origin: all refused
    login = dashboard.url + "/login"
    assert http(login, data=form, cookies={LOGIN_CSRF_COOKIE: pre}).status == 403
    wrong = {**form, "csrf": "x" * len(token)}
    assert (
        http(dashboard.url + "/login", data=wrong, cookies={LOGIN_CSRF_COOKIE: pre}).status == 403
    )
    assert http(dashboard.url + "/login", data={**form, "csrf": token}).status == 403
    evil = {"Origin": "http://evil.example"}
    cookies = {LOGIN_CSRF_COOKIE: pre}
    good = {**form, "csrf": token}
    assert http(dashboard.url + "/login", data=good, cookies=cookies, headers=evil).status == 403

    bad_pw = http(dashboard.url + "/login", data={**good, "password": "wrong"}, cookies=cookies)
    assert bad_pw.status == 401
    assert "Wrong user name or password." in bad_pw.body
    assert SESSION_COOKIE not in bad_pw.headers.get("set-cookie", "")

    origin = {"Origin": dashboard.url}
    ok = http(dashboard.url + "/login", data=good, cookies=cookies, headers=origin)
    assert ok.status == 303
    assert ok.headers["location"] == "/links"
    cookie = ok.cookie(SESSION_COOKIE)
    for flag in ("HttpOnly", "SameSite=strict", "Path=/", "Max-Age="):
        assert flag in cookie, cookie
    assert "Secure" not in cookie  # plain http on loopback (see docs/security.md)
    session = cookie.split(";")[0].split("=", 1)[1]
    grid = http(dashboard.url + "/", cookies={SESSION_COOKIE: session})
    assert grid.status == 200
    assert grid.headers["cache-control"] == "no-store"
    assert "form-action 'self'" in grid.headers["content-security-policy"]
    csrf = csrf_of(grid.body)
    assert csrf != token

    # logout: refused without or with a wrong token, works with the session's
    me = {SESSION_COOKIE: session}
    assert http(dashboard.url + "/logout", data={}, cookies=me).status == 403
    assert http(dashboard.url + "/logout", data={"csrf": token}, cookies=me).status == 403
    assert (
        http(dashboard.url + "/logout", data={"csrf": csrf}, cookies=me, headers=evil).status == 403
    )
    assert http(dashboard.url + "/", cookies=me).status == 200  # still logged in
    out = http(dashboard.url + "/logout", data={"csrf": csrf}, cookies=me)
    assert (out.status, out.headers["location"]) == (303, "/login")
    assert http(dashboard.url + "/", cookies=me).status == 303
    assert (
        refused(ws_url(dashboard), additional_headers={"Cookie": f"{SESSION_COOKIE}={session}"})
        == 403
    )


@pytest.mark.broker
def test_failed_logins_are_rate_limited(dashboard: RunningDashboard) -> None:
    page = http(dashboard.url + "/login")
    token = csrf_of(page.body)
    cookies = {LOGIN_CSRF_COOKIE: token}
    form = {"user": THERAPIST, "password": "not it", "csrf": token}
    statuses = [http(dashboard.url + "/login", data=form, cookies=cookies).status for _ in range(5)]
    assert statuses == [401] * 5
    blocked = http(dashboard.url + "/login", data={**form, "password": PASSWORD}, cookies=cookies)
    assert blocked.status == 429  # even the right password, while blocked
    assert "Too many failed logins" in blocked.body
    assert SESSION_COOKIE not in blocked.headers.get("set-cookie", "")


@pytest.mark.broker
def test_one_time_login_token_works_once(dashboard: RunningDashboard) -> None:
    url = dashboard.login_url()
    first = http(url)
    assert (first.status, first.headers["location"]) == (303, "/")
    session = first.cookie(SESSION_COOKIE).split(";")[0].split("=", 1)[1]
    assert http(dashboard.url + "/", cookies={SESSION_COOKIE: session}).status == 200
    again = http(url)
    assert again.status == 400
    assert "already used or has expired" in again.body
    assert not again.cookie(SESSION_COOKIE)


@pytest.mark.broker
def test_athlete_link_socket_carries_only_its_athlete(
    dashboard: RunningDashboard, publisher: Publisher
) -> None:
    for athlete, name in ((ANA, "Ana Runner"), (BEN, "Ben Runner")):
        publisher.info(info(athlete, name))
        for side in SIDES:
            sensor = f"{athlete}-{side[0].upper()}"
            publisher.message(
                topics.sensor_availability(topics.DEFAULT_BASE, sensor),
                SensorAvailability(
                    schema=SCHEMA,
                    state="online",
                    sensor_id=sensor,
                    athlete=athlete,
                    side=side,
                    family="open-insole",
                    t_s=T0,
                ),
                retain=True,
            )
    publish_world(publisher, 1, 3)
    dashboard_cookie = {"Cookie": f"{SESSION_COOKIE}={session_token()}"}
    _, token = athlete_link(ANA)
    _, other_token = athlete_link(BEN)

    with (
        connect(ws_url(dashboard), additional_headers=dashboard_cookie) as grid,
        connect(ws_url(dashboard, f"/a/{token}/ws")) as mine,
    ):
        _, snap = recv(grid)
        # wait until the therapist's socket has everything: the data is really there
        seen = {a: e["steps"]["left"]["received"] for a, e in snap["athletes"].items()}
        while seen.get(ANA, 0) < 3 or seen.get(BEN, 0) < 3:
            _, update = recv(grid)
            for a, e in update.get("athletes", {}).items():
                if "steps" in e and "left" in e["steps"]:
                    seen[a] = e["steps"]["left"]["received"]
        mine.close()
        frames = []
        with connect(ws_url(dashboard, f"/a/{token}/ws")) as mine:
            text, snap = recv(mine)
            frames.append(text)
            assert set(snap["athletes"]) == {ANA}
            assert snap["athletes"][ANA]["info"]["name"] == "Ana Runner"
            assert snap["athletes"][ANA]["steps"]["left"]["received"] == 3
            assert {s["athlete"] for s in snap["sensors"].values()} == {ANA}
            assert "bridge" not in snap and "worker" not in snap
            # Ben's steps go first, Ana's last: once Ana's last step is in, Ben's
            # (flushed before or with it) would have been sent too if they leaked.
            for i in (4, 5):
                for athlete in (BEN, ANA):
                    for side in SIDES:
                        publisher.step(step(athlete, side, i, T0))
            publisher.info(info(BEN, "Ben Renamed"))
            publisher.step(step(ANA, "left", 6, T0))
            received = 3
            while received < 6:
                text, update = recv(mine)
                frames.append(text)
                assert update["type"] == "update"
                assert set(update.get("athletes", {})) <= {ANA}
                left = update.get("athletes", {}).get(ANA, {}).get("steps", {}).get("left")
                if left:
                    received = left["received"]
        for text in frames:
            assert BEN not in text and "Ben" not in text, text
        assert len(frames) >= 2

        # the link's own data only: another athlete's link is another token entirely,
        # and the grid's socket and page are closed to a link-holder (no cookie)
        assert refused(ws_url(dashboard)) == 403
        assert http(dashboard.url + "/").status == 303
        assert http(dashboard.url + f"/a/{token}").status == 200
        assert http(dashboard.url + f"/a/{token[:-2]}").status == 404
        assert refused(ws_url(dashboard, f"/a/{token[:-2]}/ws")) == 403
        assert refused(ws_url(dashboard, f"/a/{token}/ws"), origin="http://evil.example") == 403
        with connect(ws_url(dashboard, f"/a/{other_token}/ws")) as other:
            assert set(recv(other)[1]["athletes"]) == {BEN}
        # POSTs through a link are refused
        assert http(dashboard.url + f"/a/{token}", data={"csrf": "x"}).status == 403


@pytest.mark.broker
def test_a_revoked_link_stops_working(dashboard: RunningDashboard) -> None:
    db = AuthDB(dashboard.data_dir)
    link_id, token = athlete_link(ANA)
    with connect(ws_url(dashboard, f"/a/{token}/ws")) as ws:
        recv(ws)
        # revoked from another process (`calfload link revoke`): the page is closed
        # at its next re-check
        assert AthleteLinks(db).revoke(link_id)
        assert wait_closed(ws) == 1008
    assert http(dashboard.url + f"/a/{token}").status == 404
    assert refused(ws_url(dashboard, f"/a/{token}/ws")) == 403

    # revoked by a therapist on the /links page: closed at once
    second_id, second = athlete_link(ANA)
    session = session_token()
    me = {SESSION_COOKIE: session}
    listing = http(dashboard.url + "/links", cookies=me)
    assert second_id in listing.body and link_id not in listing.body
    csrf = csrf_of(listing.body)
    with connect(ws_url(dashboard, f"/a/{second}/ws")) as ws:
        recv(ws)
        t0 = time.monotonic()
        url = dashboard.url + f"/links/{second_id}/revoke"
        assert http(url, data={}, cookies=me).status == 403  # no CSRF token: refused
        assert Sessions(db).get(session) is not None
        assert AthleteLinks(db).active(second_id)
        assert http(url, data={"csrf": csrf}, cookies=me).status == 303
        assert wait_closed(ws) == 1008
        assert time.monotonic() - t0 < 15
    assert http(dashboard.url + f"/a/{second}").status == 404


@pytest.mark.broker
def test_therapist_creates_a_link_on_the_links_page(dashboard: RunningDashboard) -> None:
    me = {SESSION_COOKIE: session_token()}
    csrf = csrf_of(http(dashboard.url + "/links", cookies=me).body)
    made = http(dashboard.url + "/links", data={"athlete": ANA, "csrf": csrf}, cookies=me)
    assert made.status == 200
    match = re.search(r'data-testid="created-url" href="([^"]+)"', made.body)
    assert match
    url = match.group(1)
    assert url.startswith(f"{dashboard.url}/a/")
    assert http(url).status == 200
    with connect(ws_url(dashboard, urllib.parse.urlsplit(url).path + "/ws")) as ws:
        assert set(recv(ws)[1]["athletes"]) <= {ANA}
    evil = http(dashboard.url + "/links", data={"athlete": "<b>x</b>/", "csrf": csrf}, cookies=me)
    assert evil.status == 400
    assert "<b>x</b>" not in evil.body and "&lt;b&gt;x&lt;/b&gt;" in evil.body


@pytest.mark.broker
def test_logout_closes_open_sockets(dashboard: RunningDashboard) -> None:
    session = session_token()
    me = {SESSION_COOKIE: session}
    csrf = csrf_of(http(dashboard.url + "/", cookies=me).body)
    with connect(
        ws_url(dashboard), additional_headers={"Cookie": f"{SESSION_COOKIE}={session}"}
    ) as ws:
        assert recv(ws)[1]["type"] == "snapshot"
        assert http(dashboard.url + "/logout", data={"csrf": csrf}, cookies=me).status == 303
        assert wait_closed(ws) == 1008


@pytest.mark.broker
def test_cookies_are_secure_behind_an_https_proxy(dashboard: RunningDashboard) -> None:
    # uvicorn trusts X-Forwarded-Proto from 127.0.0.1 (a local TLS reverse proxy)
    reply = http(dashboard.login_url(), headers={"X-Forwarded-Proto": "https"})
    assert reply.status == 303
    cookie = reply.cookie(SESSION_COOKIE)
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie
    login = http(dashboard.url + "/login", headers={"X-Forwarded-Proto": "https"})
    assert "Secure" in login.cookie(LOGIN_CSRF_COOKIE)
