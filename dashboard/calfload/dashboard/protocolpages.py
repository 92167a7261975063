"""The ``/protocols`` page: a therapist picks an athlete and a protocol, starts it, follows
the stage, repetition count and metronome, and sees the scored result.

Routes (all behind :class:`calfload.dashboard.auth.AuthGate`; therapists only; POSTs carry
the session's CSRF token, checked by the gate):

* ``GET /protocols`` — the page (server-rendered form; ``?run=ID`` follows a run);
* ``POST /protocols/start`` — form fields ``athlete``, ``protocol`` and optional ``sex``,
  ``age``, ``involved``; starts a :class:`~calfload.processing.protocols.runner.ProtocolRunner`
  in a thread and redirects to ``/protocols?run=ID``;
* ``GET /protocols/runs/{id}`` — JSON: ``state`` (``running``/``done``/``failed``), the
  latest ``stage-start`` event as ``stage``, the latest ``reps``, ``events`` so far and,
  when done, the ``result`` (:class:`~calfload.processing.protocols.results.ProtocolResult`);
* ``POST /protocols/runs/{id}/stop`` — ends the run early (scored as incomplete).

The page's script is its own bundle, ``static/build/protocols.js`` (``dashboard/web/protocols.js``).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from html import escape
from typing import TYPE_CHECKING, Any, Final

import msgspec
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from calfload.bridge.datadir import data_dir
from calfload.bridge.topics import check_id
from calfload.dashboard.auth import form_fields, require_therapist
from calfload.dashboard.authpages import csrf_field
from calfload.dashboard.settings import DashboardSettings
from calfload.processing.protocols.definition import Protocol, ProtocolError, builtin, load
from calfload.processing.protocols.messages import ProtocolEvent
from calfload.processing.protocols.results import ProtocolResult
from calfload.processing.protocols.runner import ProtocolRunner
from calfload.processing.protocols.scoring import AthleteContext

if TYPE_CHECKING:
    from calfload.dashboard.state import LiveState

log = logging.getLogger(__name__)
MAX_EVENTS: Final = 500
MAX_RUNS: Final = 50


@dataclass
class _Run:
    runner: ProtocolRunner
    protocol: Protocol
    athlete: str
    started_by: str
    events: list[ProtocolEvent] = field(default_factory=list)
    result: ProtocolResult | None = None
    error: str = ""
    done: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, event: ProtocolEvent) -> None:
        with self.lock:
            self.events.append(event)
            del self.events[:-MAX_EVENTS]

    def view(self) -> dict[str, Any]:
        with self.lock:
            events = list(self.events)
            result, error, done = self.result, self.error, self.done
        stage = next((e for e in reversed(events) if e.kind == "stage-start"), None)
        reps = None
        if stage is not None:
            later = [e for e in events if e.t_s >= stage.t_s and e.reps is not None]
            reps = later[-1].reps if later else None
        state = "failed" if error else ("done" if done else "running")
        return {
            "run_id": self.runner.run_id,
            "protocol": self.protocol.name,
            "title": self.protocol.title,
            "athlete": self.athlete,
            "stages": len(self.protocol.stages),
            "state": state,
            "error": error,
            "stage": msgspec.to_builtins(stage) if stage is not None else None,
            "reps": reps,
            "events": msgspec.to_builtins(events[-20:]),
            "result": msgspec.to_builtins(result) if result is not None else None,
        }


class ProtocolPages:
    """The protocol runner's pages and the runs they started (in this process)."""

    def __init__(self, settings: DashboardSettings, state: LiveState) -> None:
        self.settings = settings
        self.state = state
        self.runs: dict[str, _Run] = {}

    def available(self) -> tuple[dict[str, Protocol], list[str]]:
        """Built-in templates plus the lab's own files in ``<data dir>/protocols/*.toml``
        (a file with the name of a template replaces it); errors name the bad files."""
        protocols = builtin()
        errors: list[str] = []
        folder = data_dir(self.settings.data_dir) / "protocols"
        if folder.is_dir():
            for path in sorted([*folder.glob("*.toml"), *folder.glob("*.json")]):
                try:
                    p = load(path)
                except ProtocolError as exc:
                    errors.append(str(exc))
                    continue
                protocols[p.name] = p
        return protocols, errors

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/protocols", self.page, methods=["GET"]),
            Route("/protocols/start", self.start, methods=["POST"]),
            Route("/protocols/runs/{run_id}", self.status, methods=["GET"]),
            Route("/protocols/runs/{run_id}/stop", self.stop, methods=["POST"]),
        ]

    def stop_all(self) -> None:
        for run in self.runs.values():
            run.runner.stop_requested.set()

    async def page(self, request: Request) -> Response:
        therapist = require_therapist(request)
        run_id = request.query_params.get("run", "")
        run = self.runs.get(run_id)
        return HTMLResponse(
            self._html(therapist.csrf, therapist.name, run),
            headers={"Cache-Control": "no-store"},
        )

    async def start(self, request: Request) -> Response:
        therapist = require_therapist(request)
        fields = await form_fields(request)
        templates, _ = self.available()
        try:
            athlete = check_id(fields.get("athlete", "").strip(), "athlete id")
            protocol = templates.get(fields.get("protocol", ""))
            if protocol is None:
                raise ValueError(f"unknown protocol {fields.get('protocol', '')!r}")
            sex = fields.get("sex") or None
            if sex not in (None, "female", "male"):
                raise ValueError("sex must be female or male")
            involved = fields.get("involved") or None
            if involved not in (None, "left", "right"):
                raise ValueError("involved side must be left or right")
            age = float(fields["age"]) if fields.get("age") else None
            if age is not None and not 5 <= age <= 110:
                raise ValueError("age must be between 5 and 110 years")
        except ValueError as exc:
            return HTMLResponse(
                self._html(therapist.csrf, therapist.name, None, error=str(exc)),
                status_code=400,
                headers={"Cache-Control": "no-store"},
            )
        context = AthleteContext(athlete, sex=sex, age_y=age, involved=involved)  # type: ignore[arg-type]
        run: _Run | None = None

        def on_event(event: ProtocolEvent) -> None:
            if run is not None:
                run.add(event)

        runner = ProtocolRunner(
            self.settings.broker, protocol, context, base=self.settings.base, on_event=on_event
        )
        run = _Run(runner, protocol, athlete, therapist.name)
        self._keep(runner.run_id, run)
        threading.Thread(
            target=self._run, args=(run,), name=f"protocol-{runner.run_id}", daemon=True
        ).start()
        return RedirectResponse(f"/protocols?run={runner.run_id}", 303)

    def _keep(self, run_id: str, run: _Run) -> None:
        self.runs[run_id] = run
        finished = [k for k, r in self.runs.items() if r.done or r.error]
        for k in finished[: max(0, len(self.runs) - MAX_RUNS)]:
            del self.runs[k]

    @staticmethod
    def _run(run: _Run) -> None:
        try:
            result = run.runner.run()
        except Exception as exc:  # shown on the page; the dashboard keeps running
            log.warning("protocol run %s failed: %s", run.runner.run_id, exc)
            with run.lock:
                run.error = str(exc) or type(exc).__name__
            return
        finally:
            run.runner.release()  # finished runs keep their result, not their raw data
        with run.lock:
            run.result = result
            run.done = True

    async def status(self, request: Request) -> Response:
        require_therapist(request)
        run = self.runs.get(request.path_params["run_id"])
        if run is None:
            return JSONResponse({"error": "no such run"}, status_code=404)
        return JSONResponse(run.view(), headers={"Cache-Control": "no-store"})

    async def stop(self, request: Request) -> Response:
        require_therapist(request)
        run = self.runs.get(request.path_params["run_id"])
        if run is None:
            return JSONResponse({"error": "no such run"}, status_code=404)
        run.runner.stop_requested.set()
        return RedirectResponse(f"/protocols?run={run.runner.run_id}", 303)

    def _html(self, csrf: str, user: str, run: _Run | None, error: str = "") -> str:
        athletes = sorted(self.state.athletes)
        options = "".join(f'<option value="{escape(a)}"></option>' for a in athletes)
        available, bad_files = self.available()
        protos = "".join(
            f'<option value="{escape(p.name)}">{escape(p.title)}</option>'
            for p in available.values()
        )
        alert = "".join(
            f'<p class="alert" role="alert" data-testid="protocol-error">{escape(e)}</p>'
            for e in ([error] if error else []) + bad_files
        )
        run_attr = f' data-run="{escape(run.runner.run_id)}"' if run is not None else ""
        stop_form = (
            f'<form method="post" action="/protocols/runs/{escape(run.runner.run_id)}/stop" '
            f'data-testid="stop-form">{csrf_field(csrf)}'
            '<button type="submit" data-testid="stop">Stop</button></form>'
            if run is not None
            else ""
        )
        return (
            '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            "<title>calfload · protocols</title>\n"
            '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">\n'
            '<link rel="stylesheet" href="/static/auth.css">\n'
            '<link rel="stylesheet" href="/static/protocols.css">\n'
            '<script src="/static/build/protocols.js" defer></script>\n'
            "</head>\n<body>\n"
            '<main class="card wide">\n'
            '<h1>calfload <span class="sub">protocols</span></h1>\n'
            f'<p class="who">Logged in as <b data-testid="user">{escape(user)}</b> · '
            '<a href="/">dashboard</a></p>\n'
            f"{alert}"
            '<form method="post" action="/protocols/start" data-testid="protocol-form" '
            'class="protocol-form">\n'
            f"  {csrf_field(csrf)}\n"
            '  <label>Athlete id <input name="athlete" list="athletes" required maxlength="64" '
            'data-testid="protocol-athlete"></label>\n'
            f'  <datalist id="athletes">{options}</datalist>\n'
            f'  <label>Protocol <select name="protocol" data-testid="protocol-name">{protos}'
            "</select></label>\n"
            '  <label>Sex (for norms) <select name="sex"><option value="">–</option>'
            '<option value="female">female</option><option value="male">male</option>'
            "</select></label>\n"
            '  <label>Age <input name="age" type="number" min="5" max="110" step="1"></label>\n'
            '  <label>Involved side <select name="involved"><option value="">–</option>'
            '<option value="left">left</option><option value="right">right</option>'
            "</select></label>\n"
            '  <button type="submit" data-testid="protocol-start">Start</button>\n'
            "</form>\n"
            f'<section id="run" class="run" data-testid="run"{run_attr}>\n'
            '  <p class="run-head"><b data-testid="run-title"></b> '
            '<span data-testid="run-state"></span></p>\n'
            '  <p class="stage"><span data-testid="stage-name"></span> '
            '<span class="muted" data-testid="stage-count"></span></p>\n'
            '  <p class="cue" data-testid="stage-cue"></p>\n'
            '  <p class="reps">reps <b data-testid="reps">–</b> '
            '<span class="beat" data-testid="beat" aria-hidden="true"></span></p>\n'
            '  <label class="sound"><input type="checkbox" data-testid="metronome-sound"> '
            "metronome sound</label>\n"
            f"  {stop_form}\n"
            '  <div data-testid="result" class="result"></div>\n'
            "</section>\n"
            "</main>\n</body>\n</html>\n"
        )
