"""The live dashboard: MQTT in, WebSocket out, one page that draws it.

One paho-mqtt client (its own network thread) subscribes to steps, summaries,
athlete info, sensor availability and bridge/worker state, decodes each payload
with the typed contract decoders (:func:`calfload.dashboard.state.parse`) and hands
the result to the event loop with ``loop.call_soon_threadsafe``. A
:class:`~calfload.dashboard.state.LiveState` keeps it; every
:data:`PUSH_PERIOD_S` the :class:`Hub` sends what changed to every browser.

HTTP routes (every one behind :class:`calfload.dashboard.auth.AuthGate`):

* ``GET /``: the grid of athletes, for a logged-in therapist; ``GET /static/...``:
  the pages' files (``static/build/`` is made by ``npm run build``);
* ``GET /athlete/<id>``: one athlete's detail (charts, drift, sensors, notes, alert
  thresholds); ``POST /athlete/<id>/notes`` and ``POST /athlete/<id>/alerts``: its
  two forms; ``GET /athlete/<id>/runner``: the runner view, for a therapist;
* ``GET /a/<token>``: the runner view of one athlete, through an athlete link;
* ``GET /healthz``: ``{"broker_connected": bool, "athletes": n, "rejected": n}``;
* ``WS /ws`` (therapists) and ``WS /a/<token>/ws`` (one athlete): one ``snapshot``
  message at once, then ``update`` messages with only what changed (see
  :mod:`calfload.dashboard.state` for both shapes, :mod:`calfload.dashboard.scope`
  for what an athlete link is sent). A therapist's page may ask for one athlete
  (``/ws?athlete=<id>``) and leave out the step columns its charts would need
  (``columns=0``: the grid and the runner view, which get each side's newest step).
* ``/login``, ``/login/once``, ``/logout``, ``/links``: see :mod:`calfload.dashboard.auth`.

:func:`serve` runs it under uvicorn until cancelled.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import Any, Final

import msgspec
import paho.mqtt.client as mqtt
import uvicorn
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from starlette.applications import Starlette
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect

from calfload.bridge.datadir import data_dir
from calfload.bridge.messages import SCHEMA
from calfload.bridge.mqtt import make_client
from calfload.bridge.topics import SIDES, Side, check_base, check_id
from calfload.dashboard.alerts import ThresholdError, Thresholds
from calfload.dashboard.athletestore import MAX_NOTE_CHARS, AthleteStore, TimelineEvent
from calfload.dashboard.auth import (
    CLOSE_POLICY,
    AthleteScope,
    Auth,
    AuthGate,
    Principal,
    Therapist,
    current_principal,
    form_fields,
    require_therapist,
)
from calfload.dashboard.authpages import csrf_field, message_page
from calfload.dashboard.backfill import HistorySource
from calfload.dashboard.protocolpages import ProtocolPages
from calfload.dashboard.scope import for_athlete, without_columns
from calfload.dashboard.sessions_page import SessionsPage
from calfload.dashboard.settings import DashboardSettings as DashboardSettings  # re-exported
from calfload.dashboard.state import (
    KIND_LABELS,
    Incoming,
    Json,
    LiveState,
    Rejected,
    parse,
    subscriptions,
)

log = logging.getLogger(__name__)

STATIC_DIR: Final = Path(__file__).resolve().parent / "static"
PUSH_PERIOD_S: Final = 0.1
"""Batching window: browsers get at most one update per period."""
CLIENT_QUEUE: Final = 50
"""Updates a browser may fall behind (5 s at 100 ms) before it is dropped."""
MQTT_KEEPALIVE_S: Final = 15
SHUTDOWN_GRACE_S: Final = 3
INSTALLATION_KEYS: Final = ("bridge", "worker", "rejected")
"""What a therapist's one-athlete page is sent besides that athlete (never a link's)."""
CLOSE_TOO_SLOW: Final = 1013  # "try again later": the page reconnects and gets a snapshot
CLOSE_GOING_AWAY: Final = 1001
REVALIDATE_S: Final = 2.0
"""How often an open WebSocket re-checks its session or athlete link (logout,
expiry and revocation, also from another process such as ``calfload link revoke``)."""
CSP: Final = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'self'"
)
SESSION_MARK: Final = "<!--calfload:session-->"
"""Where ``index.html`` gets the logged-in user and the logout form."""
FORMS_MARK: Final = "<!--calfload:forms-->"
"""Where ``detail.html`` gets its notes and thresholds forms."""
ATHLETE_MARK: Final = "{{athlete}}"
"""Replaced by the athlete id (escaped) in ``detail.html`` and ``runner.html``."""
THRESHOLD_FIELDS: Final = (
    ("asymmetry_pct", "Asymmetry limit", "%"),
    ("gct_drift_ms", "GCT drift limit", "ms"),
    ("baseline_s", "First minutes", "s"),
    ("budget_pct", "Load budget alarm", "% of budget"),
    ("loss_pct", "Data loss limit", "%"),
    ("target_cadence_spm", "Target cadence (runner)", "spm"),
)


class DashboardError(RuntimeError):
    """The dashboard could not start (for example, its port is taken)."""


# -- broadcast ------------------------------------------------------------------------


@dataclass(eq=False)
class Subscriber:
    """One browser: a bounded queue of JSON texts, or a close code to end with."""

    queue: asyncio.Queue[str | int]
    dropped: bool = False
    athlete: str | None = None
    """An athlete-link page: sent only this athlete's data (:mod:`calfload.dashboard.scope`)."""
    link_id: str | None = None
    columns: bool = True
    """Sent the step columns (charts); without, each side's newest step only."""


@dataclass
class Hub:
    """Fans each update out to every browser without letting one slow browser
    hold up the others: a browser whose queue is full is dropped (it reconnects and
    starts again from a fresh snapshot)."""

    state: LiveState
    max_queue: int = CLIENT_QUEUE
    subscribers: set[Subscriber] = field(default_factory=set)
    dropped: int = 0

    def connect(
        self, athlete: str | None = None, link_id: str | None = None, columns: bool = True
    ) -> Subscriber:
        """A new subscriber whose queue starts with a snapshot; with ``athlete``, one
        that only ever receives that athlete's data (``link_id``: the athlete link it
        came through, to close it when the link is revoked).

        Changes not yet pushed go to the existing subscribers first, so the new one
        gets them once (in the snapshot) and the next update carries only later ones.
        """
        self.tick()
        sub = Subscriber(
            asyncio.Queue(maxsize=self.max_queue + 1),
            athlete=athlete,
            link_id=link_id,
            columns=columns,
        )
        snapshot = self._scoped(self.state.snapshot(), athlete, columns, link_id is None)
        assert snapshot is not None  # a snapshot is never empty
        sub.queue.put_nowait(_encode(snapshot))
        self.subscribers.add(sub)
        return sub

    def _scoped(
        self, message: Json, athlete: str | None, columns: bool = True, therapist: bool = False
    ) -> Json | None:
        """``message`` as one subscriber is sent it: one athlete's slice (a therapist's
        page for one athlete also keeps the installation's state), without columns."""
        if athlete is not None:
            scoped = for_athlete(message, athlete, self.state.sensor_owner)
            extra: Json = {k: message[k] for k in INSTALLATION_KEYS if therapist and k in message}
            if extra:
                scoped = {**(scoped or {"type": message["type"]}), **extra}
            if scoped is None:
                return None
            message = scoped
        return message if columns else without_columns(message)

    def end_where(self, predicate: Callable[[Subscriber], bool], code: int) -> int:
        """Close the subscribers ``predicate`` picks (for example a revoked link's)."""
        ended = [sub for sub in self.subscribers if predicate(sub)]
        for sub in ended:
            self._end(sub, code)
        return len(ended)

    def disconnect(self, sub: Subscriber) -> None:
        self.subscribers.discard(sub)

    def tick(self) -> bool:
        """Push what changed since the last tick; ``True`` if there was anything."""
        update = self.state.flush()
        if update is None:
            return False
        texts: dict[tuple[str | None, bool, bool], str | None] = {
            (None, True, True): _encode(update)
        }
        for sub in list(self.subscribers):
            key = (sub.athlete, sub.columns, sub.link_id is None)
            if key not in texts:
                scoped = self._scoped(update, *key)
                texts[key] = None if scoped is None else _encode(scoped)
            text = texts[key]
            if text is None:
                continue
            try:
                sub.queue.put_nowait(text)
            except asyncio.QueueFull:
                self.dropped += 1
                log.warning(
                    "a dashboard page fell %d updates behind and was disconnected; "
                    "it will reconnect and reload",
                    self.max_queue,
                )
                self._end(sub, CLOSE_TOO_SLOW)
        return True

    def close_all(self) -> None:
        for sub in list(self.subscribers):
            self._end(sub, CLOSE_GOING_AWAY)

    def _end(self, sub: Subscriber, code: int) -> None:
        self.subscribers.discard(sub)
        sub.dropped = True
        while not sub.queue.empty():
            sub.queue.get_nowait()
        sub.queue.put_nowait(code)


def _encode(message: Json) -> str:
    return msgspec.json.encode(message).decode()


# -- the application ------------------------------------------------------------------


class Dashboard:
    """The MQTT listener, the live state and the hub behind one app."""

    def __init__(self, settings: DashboardSettings, auth: Auth) -> None:
        self.settings = settings
        self.auth = auth
        auth.revoke_listeners.append(self._link_revoked)
        self.base = check_base(settings.base)
        self.state = LiveState(settings.history_steps)
        self.store = AthleteStore(auth.db.path.parent)
        for athlete_id, thresholds in self.store.all_thresholds().items():
            self.state.set_thresholds(athlete_id, thresholds)
        for note in self.store.notes():
            self.state.add_event(note)
        self.hub = Hub(self.state)
        self._gap_from: dict[tuple[str, Side], float] = {}
        self._backfills: set[asyncio.Task[None]] = set()
        self.client: mqtt.Client | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pusher: asyncio.Task[None] | None = None
        self._ever_connected = False
        self._warned_unreachable = False
        self._warned_crash = False

    @property
    def broker(self) -> str:
        return str(self.settings.broker)

    # -- lifecycle (event loop) --

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        client = make_client(self.settings.broker, role="dashboard")
        client.on_connect = self._on_connect
        client.on_connect_fail = self._on_connect_fail
        client.on_disconnect = self._on_disconnect
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_message
        client.connect_async(
            self.settings.broker.host, self.settings.broker.port, keepalive=MQTT_KEEPALIVE_S
        )
        client.loop_start()
        self.client = client
        self._pusher = asyncio.create_task(self._push_forever(), name="dashboard-push")

    async def stop(self) -> None:
        if self._pusher is not None:
            self._pusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pusher
            self._pusher = None
        client, self.client = self.client, None
        if client is not None:
            client.disconnect()
            await asyncio.to_thread(client.loop_stop)
        self._loop = None
        self.hub.close_all()

    async def _push_forever(self) -> None:
        while True:
            await asyncio.sleep(PUSH_PERIOD_S)
            try:
                self.hub.tick()
            except Exception:  # a bug here must not stop all future pushes
                log.exception("dashboard could not push an update to the pages")

    # -- paho's network thread: decode, then hand over to the loop --

    def _post(self, *args: Any) -> None:
        loop = self._loop
        if loop is None:
            return
        with contextlib.suppress(RuntimeError):  # the loop closed during shutdown
            loop.call_soon_threadsafe(*args)

    def _on_connect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.ConnectFlags,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        if reason_code.is_failure:
            self._post(self._refused, str(reason_code))
            return
        # "connected" only once the broker confirms the subscriptions (on_subscribe)
        client.subscribe([(topic, 1) for topic in subscriptions(self.base)])

    def _on_subscribe(
        self,
        client: mqtt.Client,
        userdata: Any,
        mid: int,
        reason_codes: list[ReasonCode],
        properties: Properties | None,
    ) -> None:
        refused = [
            topic
            for topic, code in zip(subscriptions(self.base), reason_codes, strict=False)
            if code.is_failure
        ]
        self._post(self._broker_up, refused)

    def _on_connect_fail(self, client: mqtt.Client, userdata: Any) -> None:
        self._post(self._unreachable)

    def _on_disconnect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.DisconnectFlags,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        self._post(self._broker_down, str(reason_code))

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        try:
            item = parse(self.base, message.topic, message.payload)
        except Exception:  # never let a bad message stop paho's thread
            if not self._warned_crash:
                self._warned_crash = True
                log.exception("dashboard could not read an MQTT message; it was skipped")
            return
        if item is not None:
            self._post(self._receive, item)

    # -- event loop side --

    def _receive(self, item: Incoming) -> None:
        first = self.state.apply(item)
        if first and isinstance(item, Rejected):
            label = KIND_LABELS[item.kind]
            log.warning(
                "dashboard ignored an unreadable %s message on %s: %s. Further unreadable "
                "%s messages are counted (see /healthz) but not logged.",
                label,
                item.topic,
                item.reason,
                label,
            )

    def _broker_up(self, refused: list[str]) -> None:
        if refused:
            log.warning(
                "the MQTT broker at %s refused the dashboard's subscriptions to %s "
                "(check its access rules); that data will not be shown",
                self.broker,
                ", ".join(refused),
            )
        if self._ever_connected:
            log.warning("dashboard reconnected to the MQTT broker at %s", self.broker)
        else:
            log.info("dashboard connected to the MQTT broker at %s", self.broker)
        self._ever_connected = True
        self._warned_unreachable = False
        self.state.set_broker_connected(True)
        gap, self._gap_from = self._gap_from, {}
        if gap and self.settings.history is not None:
            task = asyncio.create_task(self._backfill(self.settings.history, gap))
            self._backfills.add(task)
            task.add_done_callback(self._backfills.discard)

    def _broker_down(self, reason: str) -> None:
        if self.state.broker_connected and self._loop is not None and self.client is not None:
            log.warning(
                "dashboard lost the MQTT broker at %s (%s); reconnecting", self.broker, reason
            )
            # Steps after these were published while we could not hear them.
            for athlete_id in self.state.athletes:
                for side in SIDES:
                    last = self.state.last_ic_s(athlete_id, side)
                    if last is not None:
                        self._gap_from.setdefault((athlete_id, side), last)
        self.state.set_broker_connected(False)

    async def _backfill(self, history: HistorySource, gap: dict[tuple[str, Side], float]) -> None:
        """Ask ``history`` for the steps missed while the broker was away."""
        added = 0
        for (athlete_id, side), after_ic_s in sorted(gap.items()):
            try:
                steps = await history.steps_after(athlete_id, side, after_ic_s)
            except Exception:  # the history is a help, not a must
                log.exception("could not backfill %s's %s steps from the history", athlete_id, side)
                continue
            added += self.state.backfill(steps)
        if added:
            log.info("backfilled %d step(s) missed while the broker was away", added)

    def _unreachable(self) -> None:
        if not self._warned_unreachable:
            self._warned_unreachable = True
            log.warning(
                "dashboard cannot reach the MQTT broker at %s; retrying every few seconds",
                self.broker,
            )

    def _refused(self, reason: str) -> None:
        log.warning(
            "the MQTT broker at %s refused the dashboard: %s (check the user name and "
            "password); retrying",
            self.broker,
            reason,
        )

    # -- HTTP and WebSocket --

    async def index(self, request: Request) -> Response:
        return self._page(current_principal(request))

    async def athlete_page(self, request: Request) -> Response:
        principal = current_principal(request)
        if not isinstance(principal, AthleteScope):
            return Response("Forbidden", 403)
        return self._page(principal, "runner.html", principal.athlete)

    async def detail(self, request: Request) -> Response:
        therapist = require_therapist(request)
        athlete_id = _athlete_id(request)
        return self._page(therapist, "detail.html", athlete_id, self._forms(therapist, athlete_id))

    async def runner(self, request: Request) -> Response:
        therapist = require_therapist(request)
        return self._page(therapist, "runner.html", _athlete_id(request))

    async def add_note(self, request: Request) -> Response:
        therapist = require_therapist(request)
        athlete_id = _athlete_id(request)
        text = " ".join((await form_fields(request)).get("text", "").split())
        if not text or len(text) > MAX_NOTE_CHARS:
            return _form_error(athlete_id, f"A note needs 1 to {MAX_NOTE_CHARS} characters.")
        note = TimelineEvent(
            schema=SCHEMA,
            athlete=athlete_id,
            t_s=time.time(),
            kind="note",
            text=text,
            author=therapist.name,
        )
        await asyncio.to_thread(self.store.add_note, note)
        self.state.add_event(note)
        return RedirectResponse(f"/athlete/{athlete_id}", 303)

    async def set_alerts(self, request: Request) -> Response:
        require_therapist(request)
        athlete_id = _athlete_id(request)
        fields = await form_fields(request)
        try:
            thresholds = Thresholds.from_json(
                {name: fields[name].strip() for name, _, _ in THRESHOLD_FIELDS if name in fields}
            )
        except ThresholdError as exc:
            return _form_error(athlete_id, f"Alert thresholds not saved: {exc}.")
        await asyncio.to_thread(self.store.set_thresholds, athlete_id, thresholds)
        self.state.set_thresholds(athlete_id, thresholds)
        return RedirectResponse(f"/athlete/{athlete_id}", 303)

    def _forms(self, therapist: Therapist, athlete_id: str) -> str:
        """The notes and alert-threshold forms of the detail page (server-rendered)."""
        current = (self.state.thresholds.get(athlete_id) or Thresholds()).to_json()
        token = csrf_field(therapist.csrf)
        inputs = "".join(
            f"<label>{escape(label)} <small>({escape(unit)})</small>"
            f'<input name="{name}" inputmode="decimal" data-testid="threshold-{name}" '
            f'value="{"" if current[name] is None else f"{current[name]:g}"}"></label>'
            for name, label, unit in THRESHOLD_FIELDS
        )
        url = f"/athlete/{escape(athlete_id)}"
        return (
            f'<form class="note-form" method="post" action="{url}/notes" data-testid="note-form">'
            f'{token}<label>Note <input name="text" maxlength="{MAX_NOTE_CHARS}" required '
            f'data-testid="note-text" placeholder="e.g. switched to forefoot cue"></label>'
            f'<button type="submit" data-testid="note-add">Add note</button></form>'
            f'<form class="alert-form" method="post" action="{url}/alerts" autocomplete="off" '
            f'data-testid="alert-form">{token}<fieldset><legend>Alert thresholds '
            f"<small>(empty: off)</small></legend>{inputs}</fieldset>"
            f'<button type="submit" data-testid="alert-save">Save thresholds</button></form>'
        )

    def _page(
        self,
        principal: Principal | None,
        template: str = "index.html",
        athlete_id: str = "",
        forms: str = "",
    ) -> Response:
        html = (STATIC_DIR / template).read_text(encoding="utf-8")
        html = html.replace(ATHLETE_MARK, escape(athlete_id)).replace(FORMS_MARK, forms)
        if isinstance(principal, Therapist):
            session = (
                f'<form class="session" method="post" action="/logout" data-testid="logout-form">'
                f'<span data-testid="user">{escape(principal.name)}</span> '
                f'<a href="/sessions">sessions</a> <a href="/protocols">protocols</a> '
                f'<a href="/links">athlete links</a> {csrf_field(principal.csrf)}'
                f'<button type="submit" data-testid="logout">Log out</button></form>'
            )
            html = html.replace(SESSION_MARK, session)
        elif isinstance(principal, AthleteScope):
            html = html.replace(
                SESSION_MARK,
                f'<span class="session" data-testid="athlete-scope">'
                f"{escape(principal.athlete)}</span>",
            )
        else:  # the gate lets no one else in
            return Response("Forbidden", 403)
        return HTMLResponse(html, headers={"Cache-Control": "no-store"})

    def _link_revoked(self, link_id: str) -> None:
        self.hub.end_where(lambda sub: sub.link_id == link_id, CLOSE_POLICY)

    async def healthz(self, request: Request) -> Response:
        return JSONResponse(
            {
                "broker_connected": self.state.broker_connected,
                "athletes": len(self.state.athletes),
                "rejected": self.state.rejected,
            },
            headers={"Cache-Control": "no-store"},
        )

    async def websocket(self, ws: WebSocket) -> None:
        principal = current_principal(ws)
        if principal is None:  # the gate refuses these already; never send data unchecked
            await ws.close(code=CLOSE_POLICY)
            return
        await ws.accept()
        if isinstance(principal, AthleteScope):
            sub = self.hub.connect(principal.athlete, principal.link_id, columns=False)
        else:
            wanted = ws.query_params.get("athlete") or None
            columns = ws.query_params.get("columns") != "0"
            sub = self.hub.connect(wanted, columns=columns)
        sender = asyncio.create_task(_send_loop(ws, sub))
        receiver = asyncio.create_task(_receive_loop(ws))
        watcher = asyncio.create_task(self._watch(principal, sub))
        try:
            await asyncio.wait({sender, receiver}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            self.hub.disconnect(sub)
            for task in (sender, receiver, watcher):
                task.cancel()
            await asyncio.gather(sender, receiver, watcher, return_exceptions=True)

    async def _watch(self, principal: Principal, sub: Subscriber) -> None:
        """End the socket once its login or link is no longer valid."""
        while not sub.dropped:
            await asyncio.sleep(REVALIDATE_S)
            try:
                valid = await asyncio.to_thread(self.auth.still_valid, principal)
            except Exception:  # a locked or broken database: keep checking
                log.exception("dashboard could not re-check a page's login")
                continue
            if not valid:
                self.hub.end_where(lambda s: s is sub, CLOSE_POLICY)
                return


def _athlete_id(request: Request) -> str:
    athlete_id = str(request.path_params["athlete"])
    try:
        return check_id(athlete_id, "athlete id")
    except ValueError:
        raise HTTPException(404, "no such athlete") from None


def _form_error(athlete_id: str, text: str) -> Response:
    return HTMLResponse(
        message_page("Not saved", text, link=f"/athlete/{athlete_id}", link_text="Back"),
        status_code=400,
    )


async def _send_loop(ws: WebSocket, sub: Subscriber) -> None:
    with contextlib.suppress(WebSocketDisconnect, OSError, RuntimeError):
        while True:
            item = await sub.queue.get()
            if isinstance(item, int):
                reason = {CLOSE_TOO_SLOW: "too far behind: reconnect", CLOSE_POLICY: "logged out"}
                await ws.close(code=item, reason=reason.get(item, ""))
                return
            await ws.send_text(item)


async def _receive_loop(ws: WebSocket) -> None:
    with contextlib.suppress(WebSocketDisconnect, OSError, RuntimeError):
        while True:
            message = await ws.receive()
            if message["type"] == "websocket.disconnect":
                return


class _SecurityHeaders:
    """Adds a strict Content-Security-Policy and friends to every HTTP response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("Content-Security-Policy", CSP)
                headers.setdefault("X-Content-Type-Options", "nosniff")
                # same-origin, not no-referrer: with no-referrer browsers send
                # "Origin: null" on form posts, which the CSRF check refuses
                headers.setdefault("Referrer-Policy", "same-origin")
            await send(message)

        await self.app(scope, receive, send_with_headers)


def create_app(settings: DashboardSettings) -> Starlette:
    """The dashboard as an ASGI app; its lifespan runs the MQTT client."""
    auth = Auth(data_dir(settings.data_dir), secure_cookies=settings.secure_cookies)
    if not auth.users.all():
        log.warning(
            "no dashboard users yet in %s: create the first admin with "
            "`calfload user add NAME --admin`",
            auth.db.path,
        )
    dashboard = Dashboard(settings, auth)
    sessions = SessionsPage.for_dashboard(dashboard)
    protocols = ProtocolPages(settings, dashboard.state)
    if not (STATIC_DIR / "build" / "app.js").is_file():
        log.warning(
            "the dashboard page is not built (%s is missing): run `npm ci && npm run build` "
            "in the repository root, or `make`",
            STATIC_DIR / "build" / "app.js",
        )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await dashboard.start()
        try:
            yield
        finally:
            protocols.stop_all()
            await dashboard.stop()

    app = Starlette(
        routes=[
            Route("/", dashboard.index),
            Route("/healthz", dashboard.healthz),
            WebSocketRoute("/ws", dashboard.websocket),
            Route("/a/{token}", dashboard.athlete_page),
            Route("/athlete/{athlete}", dashboard.detail),
            Route("/athlete/{athlete}/runner", dashboard.runner),
            Route("/athlete/{athlete}/notes", dashboard.add_note, methods=["POST"]),
            Route("/athlete/{athlete}/alerts", dashboard.set_alerts, methods=["POST"]),
            WebSocketRoute("/a/{token}/ws", dashboard.websocket),
            *auth.routes(),
            *sessions.routes(),
            *protocols.routes(),
            Mount("/static", StaticFiles(directory=STATIC_DIR, check_dir=False), name="static"),
        ],
        middleware=[Middleware(_SecurityHeaders), Middleware(AuthGate, auth=auth)],
        lifespan=lifespan,
    )
    app.state.dashboard = dashboard
    app.state.auth = auth
    app.state.sessions = sessions
    return app


# -- running it -----------------------------------------------------------------------


class _Server(uvicorn.Server):
    """uvicorn that reports when it listens and leaves signal handling to the caller
    (who cancels :func:`serve`)."""

    def __init__(self, config: uvicorn.Config, started: asyncio.Event | None) -> None:
        super().__init__(config)
        self._started_event = started

    async def startup(self, sockets: Any = None) -> None:
        await super().startup(sockets=sockets)
        if self.started and self._started_event is not None:
            self._started_event.set()

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


async def serve(
    settings: DashboardSettings,
    host: str,
    port: int,
    started: asyncio.Event | None = None,
) -> None:
    """Serve the dashboard on ``host:port`` until cancelled; set ``started`` once
    listening. Cancelling closes the pages' connections, stops the MQTT client and
    re-raises :class:`asyncio.CancelledError`. Raises :class:`DashboardError` if it
    cannot start (for example, the port is taken)."""
    app = create_app(settings)
    dashboard: Dashboard = app.state.dashboard
    if not _loopback(host) and settings.secure_cookies is not True:
        log.warning(
            "the dashboard serves plain http on %s, reachable from other machines: put a TLS "
            "reverse proxy in front of it (docs/security.md), or passwords and session "
            "cookies cross the network readable",
            host,
        )
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        lifespan="on",
        timeout_graceful_shutdown=SHUTDOWN_GRACE_S,
    )
    server = _Server(config, started)

    async def run() -> None:
        try:
            await server.serve()
        except SystemExit:  # uvicorn exits when it cannot bind or start up
            await dashboard.stop()  # uvicorn skips the lifespan's shutdown then
            raise DashboardError(
                f"the dashboard could not start on {host}:{port} (is the port in use?)"
            ) from None
        if not server.started and not server.should_exit:
            raise DashboardError(f"the dashboard could not start on {host}:{port}")

    task = asyncio.create_task(run(), name=f"dashboard-{host}:{port}")
    try:
        await asyncio.shield(task)
    except asyncio.CancelledError:
        if task.done():
            raise
        server.should_exit = True
        try:
            await asyncio.wait_for(asyncio.shield(task), SHUTDOWN_GRACE_S + 2)
        except TimeoutError:
            server.force_exit = True
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await task
        except Exception:
            log.exception("dashboard did not shut down cleanly")
        raise
