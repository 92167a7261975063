"""``/sessions``: recorded sessions per athlete, session control, notes, markers, replay.

Routes (all behind :class:`~calfload.dashboard.auth.AuthGate`: a therapist login, and the
CSRF token on every POST):

* ``GET /sessions``: open and past sessions per athlete (name, start, duration, steps),
  forms to start, stop and name a session, add a note, and replay a past one;
* ``POST /sessions/start|stop|name|note`` (form fields ``athlete``, ``name``, ``text``):
  published as :class:`~calfload.processing.recorder.messages.SessionControl` on
  ``<base>/session/<athlete>/control``, which the recorder acts on;
* ``POST /sessions/marker`` (``athlete``, ``label``): a lab sync marker, published as
  :class:`~calfload.processing.recorder.messages.Marker` stamped with the dashboard
  host's clock. Scripts call it with the session cookie and the ``X-CSRF-Token`` header;
  machines without a login publish the marker on MQTT instead (``docs/contract.md``);
* ``GET /sessions/<id>/report``: the session's report as HTML (``docs/reports.md``);
* ``POST /sessions/<id>/replay`` (``speed`` 1–20): the recording's athlete info, steps and
  summaries are fed into the live state as athlete ``<athlete>.replay`` at that speed
  (step and summary times mapped onto the replay clock), so the grid and the athlete
  views show it like a live athlete. Nothing is published on MQTT, so the recorder does
  not record the replay again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import time
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import Any, Final

import msgspec
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from calfload.bridge.datadir import data_dir
from calfload.bridge.messages import SCHEMA, AthleteInfo, Message, encode
from calfload.bridge.topics import check_id
from calfload.dashboard.auth import Therapist, form_fields, require_therapist
from calfload.dashboard.authpages import csrf_field
from calfload.dashboard.reports.render import report_html
from calfload.dashboard.state import LiveState, Received
from calfload.dashboard.state import Route as StateRoute
from calfload.processing.messages import SessionSummary, StepMessage
from calfload.processing.recorder import messages as rm
from calfload.processing.recorder import store

log = logging.getLogger(__name__)
REPLAY_SUFFIX: Final = ".replay"
MAX_SPEED: Final = 20.0


@dataclass
class SessionsPage:
    """The sessions routes; ``publish`` sends a message (``False``: broker unreachable)."""

    folder: Path
    base: str
    state: LiveState
    publish: Any
    """``(topic, payload bytes) -> bool``."""
    replays: dict[str, asyncio.Task[None]] = field(default_factory=dict)

    @classmethod
    def for_dashboard(cls, dashboard: Any) -> SessionsPage:
        """The page of a :class:`~calfload.dashboard.app.Dashboard` (its settings' folder,
        its live state, its MQTT client)."""
        settings = dashboard.settings
        folder = settings.recordings_dir or store.recordings_folder(data_dir(settings.data_dir))
        return cls(
            folder, dashboard.base, dashboard.state, mqtt_publisher(lambda: dashboard.client)
        )

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/sessions", self.page, methods=["GET"]),
            Route("/sessions/start", self.control, methods=["POST"]),
            Route("/sessions/stop", self.control, methods=["POST"]),
            Route("/sessions/name", self.control, methods=["POST"]),
            Route("/sessions/note", self.control, methods=["POST"]),
            Route("/sessions/marker", self.marker, methods=["POST"]),
            Route("/sessions/{session_id}/replay", self.replay, methods=["POST"]),
            Route("/sessions/{session_id}/report", self.report, methods=["GET"]),
        ]

    # -- pages --

    async def page(self, request: Request) -> Response:
        therapist = require_therapist(request)
        rows, errors = await asyncio.to_thread(store.list_sessions, self.folder)
        message = request.query_params.get("msg", "")[:300]
        return self._html(therapist, rows, errors, message)

    def _html(
        self,
        therapist: Therapist,
        rows: list[store.SessionSummaryRow],
        errors: list[str],
        message: str,
        status: int = 200,
    ) -> HTMLResponse:
        athletes = sorted(
            {r.athlete for r in rows}
            | {a for a in self.state.athletes if not a.endswith(REPLAY_SUFFIX)}
        )
        csrf = csrf_field(therapist.csrf)
        parts = [
            '<main class="card wide">\n<h1>calfload <span class="sub">sessions</span></h1>\n',
            f'<p class="who">Logged in as <b>{escape(therapist.name)}</b> · '
            '<a href="/">dashboard</a></p>\n',
        ]
        if message:
            parts.append(
                f'<p class="created" role="status" data-testid="msg">{escape(message)}</p>\n'
            )
        for error in errors:
            parts.append(f'<p class="alert" data-testid="bad-file">{escape(error)}</p>\n')
        parts.append(
            '<form method="post" action="/sessions/start" data-testid="start-form">\n'
            f"  {csrf}\n"
            '  <label>Athlete <input name="athlete" required maxlength="64" list="athletes" '
            'data-testid="start-athlete"></label>\n'
            '  <label>Session name <input name="name" maxlength="200" data-testid="start-name">'
            "</label>\n"
            '  <button type="submit" data-testid="start">Start session</button>\n</form>\n'
            '<datalist id="athletes">'
            + "".join(f'<option value="{escape(a)}">' for a in athletes)
            + "</datalist>\n"
        )
        if not rows:
            parts.append('<p data-testid="no-sessions">No recorded sessions yet.</p>\n')
        for athlete in athletes:
            mine = [r for r in rows if r.athlete == athlete]
            if not mine:
                continue
            parts.append(
                f'<section data-testid="athlete-sessions" data-athlete="{escape(athlete)}">\n'
                f"<h2>{escape(athlete)}</h2>\n"
            )
            if any(r.state == "recording" for r in mine):
                a = escape(athlete)
                parts.append(
                    f'<form method="post" action="/sessions/stop" class="inline">{csrf}'
                    f'<input type="hidden" name="athlete" value="{a}">'
                    '<button type="submit" data-testid="stop">Stop</button></form>\n'
                    f'<form method="post" action="/sessions/name" class="inline">{csrf}'
                    f'<input type="hidden" name="athlete" value="{a}">'
                    '<input name="name" required maxlength="200" data-testid="rename-name" '
                    'placeholder="session name"><button type="submit" data-testid="rename">'
                    "Name</button></form>\n"
                    f'<form method="post" action="/sessions/note" class="inline">{csrf}'
                    f'<input type="hidden" name="athlete" value="{a}">'
                    '<input name="text" required maxlength="5000" data-testid="note-text" '
                    'placeholder="note"><button type="submit" data-testid="note">Add note'
                    "</button></form>\n"
                    f'<form method="post" action="/sessions/marker" class="inline">{csrf}'
                    f'<input type="hidden" name="athlete" value="{a}">'
                    '<input name="label" maxlength="200" value="marker" data-testid="marker-label">'
                    '<button type="submit" data-testid="marker">Marker</button></form>\n'
                )
            parts.append(
                "<table>\n<thead><tr><th>name</th><th>started (UTC)</th><th>duration</th>"
                "<th>steps</th><th>state</th><th>notes / markers</th><th></th></tr></thead>\n"
                "<tbody>\n"
            )
            for r in mine:
                sid = escape(r.session_id)
                parts.append(
                    f'<tr data-testid="session" data-session="{sid}" data-state="{r.state}">'
                    f'<td data-testid="session-name">{escape(r.name)}</td>'
                    f"<td>{_when(r.started_s)}</td><td>{_duration(r.duration_s)}</td>"
                    f'<td data-testid="session-steps">{r.steps}</td>'
                    f'<td data-testid="session-state">{r.state}</td>'
                    f'<td data-testid="session-notes">{_notes(r)}</td><td>'
                    f'<form method="post" action="/sessions/{sid}/replay" class="inline">{csrf}'
                    '<select name="speed" data-testid="replay-speed">'
                    '<option value="1">1×</option><option value="4">4×</option>'
                    '<option value="10">10×</option></select>'
                    '<button type="submit" data-testid="replay">Replay</button></form> '
                    f'<a href="/sessions/{sid}/report" data-testid="report">report</a>'
                    "</td></tr>\n"
                )
            parts.append("</tbody>\n</table>\n</section>\n")
        parts.append("</main>\n")
        return HTMLResponse(
            _page("calfload · sessions", "".join(parts)),
            status_code=status,
            headers={"Cache-Control": "no-store"},
        )

    # -- actions --

    async def control(self, request: Request) -> Response:
        therapist = require_therapist(request)
        action = request.url.path.rsplit("/", 1)[-1]
        fields = await form_fields(request)
        athlete = fields.get("athlete", "").strip()
        try:
            check_id(athlete, "athlete id")
        except ValueError as exc:
            return await self._error(therapist, str(exc))
        text = fields.get("text", "").strip()
        if action == "note" and not text:
            return await self._error(therapist, "a note needs some text")
        message = rm.SessionControl(
            schema=SCHEMA,
            athlete=athlete,
            action=action,  # type: ignore[arg-type]
            name=fields.get("name", "").strip()[:200],
            text=text[:5000],
            by=therapist.name,
            t_s=time.time(),
        )
        if not self.publish(rm.control(self.base, athlete), encode(message)):
            return await self._error(therapist, "the MQTT broker is not reachable; try again", 503)
        done = {"start": "started", "stop": "stopped", "name": "named", "note": "noted"}[action]
        return _back(f"{athlete}: {done}")

    async def marker(self, request: Request) -> Response:
        therapist = require_therapist(request)
        fields = await form_fields(request)
        athlete = fields.get("athlete", "").strip()
        label = fields.get("label", "").strip()[:200] or "marker"
        wants_json = "application/json" in request.headers.get("accept", "")
        try:
            check_id(athlete, "athlete id")
        except ValueError as exc:
            if wants_json:
                return JSONResponse({"error": str(exc)}, 400)
            return await self._error(therapist, str(exc))
        t_s = time.time()
        m = rm.Marker(
            schema=SCHEMA,
            athlete=athlete,
            label=label,
            source=f"dashboard:{therapist.name}",
            t_s=t_s,
        )
        ok = self.publish(rm.marker(self.base, athlete), encode(m))
        if wants_json:
            if not ok:
                return JSONResponse({"error": "the MQTT broker is not reachable"}, 503)
            return JSONResponse({"athlete": athlete, "label": label, "t_s": t_s}, 202)
        if not ok:
            return await self._error(therapist, "the MQTT broker is not reachable; try again", 503)
        return _back(f"{athlete}: marker {label!r} at {_when(t_s)}")

    async def replay(self, request: Request) -> Response:
        therapist = require_therapist(request)
        fields = await form_fields(request)
        try:
            speed = min(MAX_SPEED, max(1.0, float(fields.get("speed", "1"))))
            path = store.session_path(self.folder, request.path_params["session_id"])
            with store.open_session(path):
                pass
        except ValueError as exc:
            return await self._error(therapist, str(exc), 404)
        rid = await self.start_replay(path, speed)
        return RedirectResponse(f"/#{rid}", 303)

    async def report(self, request: Request) -> Response:
        """The session's report (``docs/reports.md``) as one HTML page."""
        therapist = require_therapist(request)
        sid = request.path_params["session_id"]
        try:
            if sid.startswith(".") or sid.endswith(store.SUFFIX):
                raise ValueError(f"no session {sid!r}")
            path = store.session_path(self.folder, sid)
            html = await asyncio.to_thread(report_html, path, self.folder)
        except (ValueError, sqlite3.Error) as exc:
            return await self._error(therapist, str(exc), 404)
        return HTMLResponse(html, headers={"Cache-Control": "no-store"})

    async def start_replay(self, path: Path, speed: float) -> str:
        """Feed a recording into the live state as ``<athlete>.replay``; returns that id."""
        data = await asyncio.to_thread(_load_replay, path)
        rid = (data.athlete[: 64 - len(REPLAY_SUFFIX)]) + REPLAY_SUFFIX
        old = self.replays.pop(rid, None)
        if old is not None:
            old.cancel()
        task = asyncio.create_task(self._run_replay(data, rid, speed), name=f"replay-{rid}")
        self.replays[rid] = task
        task.add_done_callback(
            lambda t: self.replays.pop(rid, None) if self.replays.get(rid) is t else None
        )
        return rid

    async def _run_replay(self, data: _Replay, rid: str, speed: float) -> None:
        now0 = time.time()
        t_first = data.started_s

        def clock(t: float) -> float:
            return now0 + (t - t_first) / speed

        info = data.info or AthleteInfo(
            schema=SCHEMA, athlete=data.athlete, name=data.athlete, body_mass_kg=70.0, sensors=[]
        )
        name = f"{data.name or info.name} (replay)"
        self._apply("info", rid, msgspec.structs.replace(info, athlete=rid, name=name))
        t_start = time.monotonic()
        for t, _kind, message in data.timeline:
            delay = (t - t_first) / speed - (time.monotonic() - t_start)
            if delay > 0:
                await asyncio.sleep(delay)
            if isinstance(message, StepMessage):
                ic = clock(message.ic_s)
                shifted: Message = msgspec.structs.replace(
                    message,
                    athlete=rid,
                    ic_s=round(ic, 6),
                    to_s=round(ic + message.gct_ms / 1000.0, 6),
                )
                self._apply("step", rid, shifted, message.side)
            elif isinstance(message, SessionSummary):
                self._apply(
                    "summary", rid, msgspec.structs.replace(message, athlete=rid, t_s=clock(t))
                )
        log.info("replay of %s finished", rid)

    def _apply(self, kind: str, rid: str, message: Message, side: str | None = None) -> None:
        self.state.apply(Received(StateRoute(kind, rid, side), message))  # type: ignore[arg-type]

    async def _error(self, therapist: Therapist, message: str, status: int = 400) -> Response:
        rows, errors = await asyncio.to_thread(store.list_sessions, self.folder)
        return self._html(therapist, rows, errors, message, status)


@dataclass(frozen=True)
class _Replay:
    athlete: str
    name: str
    started_s: float
    info: AthleteInfo | None
    timeline: list[tuple[float, str, Message]]


def _load_replay(path: Path) -> _Replay:
    with store.open_session(path) as conn:
        meta = store.read_meta(conn, path)
        steps = [msgspec.convert(s, StepMessage) for s in store.steps(conn)]
        summaries = [msgspec.convert(s, SessionSummary) for s in store.summaries(conn)]
        infos = store.athlete_infos(conn)
    info = msgspec.convert(infos[-1], AthleteInfo) if infos else None
    timeline: list[tuple[float, str, Message]] = [(s.to_s, "step", s) for s in steps]
    timeline += [(s.t_s, "summary", s) for s in summaries]
    timeline.sort(key=lambda x: x[0])
    started = float(meta.get("started_s") or (timeline[0][0] if timeline else 0.0))
    if timeline:
        started = min(started, timeline[0][0])
    return _Replay(meta.get("athlete", "athlete"), meta.get("name", ""), started, info, timeline)


def _back(message: str) -> Response:
    from urllib.parse import quote

    return RedirectResponse(f"/sessions?msg={quote(message[:300])}", 303)


def _when(t_s: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(t_s))


def _duration(seconds: float) -> str:
    m, s = divmod(round(seconds), 60)
    h, m = divmod(m, 60)
    return f"{h}:{m:02d}:{s:02d}"


def _notes(row: store.SessionSummaryRow) -> str:
    try:
        with store.open_session(Path(row.path)) as conn:
            events = store.events(conn)
    except (ValueError, OSError):
        return ""
    shown = [e for e in events if e["kind"] in ("note", "marker", "jump")]
    return "<br>".join(
        f'<span data-kind="{escape(e["kind"])}">{escape(e["kind"])}: {escape(e["label"])} '
        f"({_when(e['t_s'])})</span>"
        for e in shown[-20:]
    )


def _page(title: str, body: str) -> str:
    return (
        '<!doctype html>\n<html lang="en">\n<head>\n'
        '  <meta charset="utf-8">\n'
        '  <meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"  <title>{escape(title)}</title>\n"
        '  <link rel="icon" href="/static/favicon.svg" type="image/svg+xml">\n'
        '  <link rel="stylesheet" href="/static/auth.css">\n'
        "</head>\n<body>\n"
        f"{body}"
        "</body>\n</html>\n"
    )


def mqtt_publisher(get_client: Any) -> Any:
    """A ``publish(topic, payload) -> bool`` over the dashboard's paho client (QoS 1)."""

    def publish(topic: str, payload: bytes) -> bool:
        client = get_client()
        if client is None or not client.is_connected():
            return False
        with contextlib.suppress(Exception):
            return bool(client.publish(topic, payload, qos=1).rc == 0)
        return False

    return publish
