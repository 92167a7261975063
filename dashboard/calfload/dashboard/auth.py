"""Who is asking: therapist logins, athlete links, CSRF, and the gate before every route.

The surface other dashboard code uses:

* :func:`current_principal` (``Therapist | AthleteScope | None``) and
  :func:`require_therapist` for any HTTP or WebSocket endpoint;
* :func:`form_fields` to read a POSTed form (its CSRF token was already checked);
* :func:`~calfload.dashboard.authpages.csrf_field` to put the token into a form
  (``Therapist.csrf``); ``fetch`` calls send it as the ``X-CSRF-Token`` header;
* :class:`Auth` (the stores, :meth:`Auth.routes`, :meth:`Auth.still_valid`) and
  :class:`AuthGate` (the ASGI middleware), wired together by :mod:`calfload.dashboard.app`.

What :class:`AuthGate` enforces for every request, before any endpoint runs:

1. Paths under ``/a/<token>`` belong to an athlete link: an unknown or revoked token
   gets 404 (HTTP) or a refused WebSocket; a valid one is the principal
   :class:`AthleteScope` (GET and WebSocket only).
2. Everything else except :data:`PUBLIC_PATHS` and ``/static/`` needs a therapist
   session (the ``calfload_session`` cookie): a page request without one is
   redirected to ``/login?next=...``, any other request gets 403 and a WebSocket is
   refused (HTTP 403 on the handshake).
3. A WebSocket whose ``Origin`` is not this host is refused.
4. Every POST (and PUT, PATCH, DELETE) must carry the session's CSRF token, in the
   ``csrf`` form field or the ``X-CSRF-Token`` header (for ``/login``, where there is
   no session yet, the token of the ``calfload_login_csrf`` cookie: a double-submit
   cookie), and must not come with an ``Origin`` (or ``Referer``) of another site.
   Otherwise 403. See ``docs/security.md``.
"""

from __future__ import annotations

import asyncio
import hmac
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final
from urllib.parse import parse_qsl, quote, urlsplit

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.requests import HTTPConnection, Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from calfload.dashboard.authdb import AuthDB, new_token
from calfload.dashboard.authpages import links_page, login_page, message_page
from calfload.dashboard.ratelimit import LoginLimiter, minutes
from calfload.dashboard.tokens import (
    SESSION_TTL_S,
    AthleteLink,
    AthleteLinks,
    LoginTokens,
    Sessions,
    check_athlete,
)
from calfload.dashboard.users import MAX_PASSWORD_CHARS, Role, Users

PRINCIPAL_KEY: Final = "calfload.principal"
SESSION_COOKIE: Final = "calfload_session"
LOGIN_CSRF_COOKIE: Final = "calfload_login_csrf"
LOGIN_CSRF_TTL_S: Final = 3600
CSRF_FIELD: Final = "csrf"
CSRF_HEADER: Final = "x-csrf-token"
MAX_FORM_BYTES: Final = 64 * 1024
PUBLIC_PATHS: Final = frozenset({"/login", "/login/once", "/healthz"})
"""Reachable without a session."""
PUBLIC_PREFIXES: Final = ("/static/",)
"""The built page and its styles: open-source code, no data (athlete pages need it too)."""
SAFE_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS"})
CLOSE_POLICY: Final = 1008
FORBIDDEN_CSRF: Final = (
    "Forbidden: this form's security token is missing or out of date, or the request "
    "came from another site. Reload the page and try again."
)


@dataclass(frozen=True)
class Therapist:
    """A logged-in user (role ``therapist`` or ``admin``)."""

    name: str
    role: Role
    csrf: str
    """The session's CSRF token, for forms and ``X-CSRF-Token``."""
    session: str
    """SHA-256 of the session token (to end or re-check the session)."""

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


@dataclass(frozen=True)
class AthleteScope:
    """A page opened through an athlete link: it may see ``athlete`` and nothing else."""

    athlete: str
    link_id: str


Principal = Therapist | AthleteScope


def current_principal(conn: HTTPConnection) -> Principal | None:
    """Who made this request (set by :class:`AuthGate`), or ``None``."""
    principal = conn.scope.get(PRINCIPAL_KEY)
    return principal if isinstance(principal, Therapist | AthleteScope) else None


def require_therapist(conn: HTTPConnection) -> Therapist:
    principal = current_principal(conn)
    if not isinstance(principal, Therapist):
        raise HTTPException(403, "a therapist login is needed")
    return principal


async def form_fields(request: Request) -> dict[str, str]:
    """The fields of a URL-encoded form body (the last value of a repeated field)."""
    body = await request.body()
    return dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))


def safe_next(path: str | None) -> str:
    """A redirect target on this site only (``/`` otherwise)."""
    if not path or not path.startswith("/") or path.startswith(("//", "/\\")):
        return "/"
    return path


def same_origin(conn: HTTPConnection) -> bool | None:
    """Does ``Origin`` (else ``Referer``) name this host? ``None`` if neither was sent
    (not a browser: scripts and tests)."""
    host = conn.headers.get("host", "").lower()
    origin = conn.headers.get("origin")
    if origin is not None:
        return origin != "null" and urlsplit(origin).netloc.lower() == host
    referer = conn.headers.get("referer")
    if referer:
        return urlsplit(referer).netloc.lower() == host
    return None


def _athlete_token(path: str) -> str | None:
    parts = path.split("/")
    if len(parts) >= 3 and parts[1] == "a":
        return parts[2]
    return None


class Auth:
    """The login database's stores, the login rate limiter and the auth routes."""

    def __init__(
        self,
        folder: Path,
        *,
        secure_cookies: bool | None = None,
        limiter: LoginLimiter | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.db = AuthDB(folder)
        self.users = Users(self.db)
        self.sessions = Sessions(self.db, clock)
        self.login_tokens = LoginTokens(self.db, clock)
        self.links = AthleteLinks(self.db, clock)
        self.limiter = limiter or LoginLimiter()
        self.secure_cookies = secure_cookies
        """``None``: ``Secure`` cookies exactly when the request came over https."""
        self.revoke_listeners: list[Callable[[str], None]] = []
        """Called with a link id when a therapist revokes it (to close its pages)."""

    # -- identity ----------------------------------------------------------------

    def identify(self, conn: HTTPConnection) -> Principal | None:
        token = _athlete_token(conn.url.path)
        if token is not None:
            link = self.links.resolve(token)
            return None if link is None else AthleteScope(link.athlete, link.id)
        session = self.sessions.get(conn.cookies.get(SESSION_COOKIE, ""))
        if session is None:
            return None
        return Therapist(session.user, session.role, session.csrf, session.token_sha256)

    def still_valid(self, principal: Principal) -> bool:
        """Is the session still open / the link not revoked?"""
        if isinstance(principal, Therapist):
            return self.sessions.alive(principal.session)
        return self.links.active(principal.link_id)

    def secure(self, conn: HTTPConnection) -> bool:
        if self.secure_cookies is not None:
            return self.secure_cookies
        return conn.url.scheme in ("https", "wss")

    def _set_session(self, response: Response, conn: HTTPConnection, user: str) -> None:
        response.set_cookie(
            SESSION_COOKIE,
            self.sessions.create(user),
            max_age=int(SESSION_TTL_S),
            path="/",
            secure=self.secure(conn),
            httponly=True,
            samesite="strict",
        )
        response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")

    # -- routes ------------------------------------------------------------------

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/login", self.login_form, methods=["GET"]),
            Route("/login", self.login, methods=["POST"]),
            Route("/login/once", self.login_once, methods=["GET"]),
            Route("/logout", self.logout, methods=["POST"]),
            Route("/links", self.links_list, methods=["GET"]),
            Route("/links", self.links_create, methods=["POST"]),
            Route("/links/{link_id}/revoke", self.links_revoke, methods=["POST"]),
        ]

    def _login_page(
        self, request: Request, status: int, *, next_path: str, user: str = "", message: str = ""
    ) -> Response:
        token = request.cookies.get(LOGIN_CSRF_COOKIE) or ""
        if len(token) < 32:
            token = new_token()
        response = HTMLResponse(
            login_page(csrf=token, next_path=next_path, user=user, message=message),
            status_code=status,
            headers={"Cache-Control": "no-store"},
        )
        response.set_cookie(
            LOGIN_CSRF_COOKIE,
            token,
            max_age=LOGIN_CSRF_TTL_S,
            path="/login",
            secure=self.secure(request),
            httponly=True,
            samesite="strict",
        )
        return response

    async def login_form(self, request: Request) -> Response:
        next_path = safe_next(request.query_params.get("next"))
        if isinstance(current_principal(request), Therapist):
            return RedirectResponse(next_path, 303)
        return self._login_page(request, 200, next_path=next_path)

    async def login(self, request: Request) -> Response:
        fields = await form_fields(request)
        name = fields.get("user", "").strip()[:64]
        password = fields.get("password", "")[: MAX_PASSWORD_CHARS + 1]
        next_path = safe_next(fields.get("next"))
        ip = request.client.host if request.client else "unknown"
        wait_s = self.limiter.retry_after_s(name, ip)
        if wait_s > 0:
            return self._login_page(
                request,
                429,
                next_path=next_path,
                user=name,
                message=f"Too many failed logins. Try again in {minutes(wait_s)} minute(s).",
            )
        user = await asyncio.to_thread(self.users.authenticate, name, password)
        if user is None:
            self.limiter.failed(name, ip)
            return self._login_page(
                request,
                401,
                next_path=next_path,
                user=name,
                message="Wrong user name or password.",
            )
        self.limiter.succeeded(name, ip)
        response = RedirectResponse(next_path, 303)
        self._set_session(response, request, user.name)
        return response

    async def login_once(self, request: Request) -> Response:
        user = self.login_tokens.consume(request.query_params.get("token", ""))
        if user is None or self.users.get(user) is None:
            return HTMLResponse(
                message_page(
                    "Login link not valid",
                    "This login link was already used or has expired. Log in with your "
                    "user name and password, or start the demo again for a new link.",
                ),
                status_code=400,
                headers={"Cache-Control": "no-store"},
            )
        response = RedirectResponse("/", 303)
        self._set_session(response, request, user)
        return response

    async def logout(self, request: Request) -> Response:
        principal = current_principal(request)
        if isinstance(principal, Therapist):
            self.sessions.end(principal.session)
        response = RedirectResponse("/login", 303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    def _links_page(
        self,
        therapist: Therapist,
        status: int = 200,
        *,
        created: tuple[AthleteLink, str] | None = None,
        error: str = "",
    ) -> HTMLResponse:
        return HTMLResponse(
            links_page(
                csrf=therapist.csrf,
                user=therapist.name,
                links=self.links.all(),
                created=created,
                error=error,
            ),
            status_code=status,
            headers={"Cache-Control": "no-store"},
        )

    async def links_list(self, request: Request) -> Response:
        return self._links_page(require_therapist(request))

    async def links_create(self, request: Request) -> Response:
        therapist = require_therapist(request)
        athlete = (await form_fields(request)).get("athlete", "").strip()
        try:
            check_athlete(athlete)
        except ValueError as exc:
            return self._links_page(therapist, 400, error=str(exc))
        link, token = self.links.create(athlete, therapist.name)
        url = f"{str(request.base_url).rstrip('/')}/a/{token}"
        return self._links_page(therapist, created=(link, url))

    async def links_revoke(self, request: Request) -> Response:
        require_therapist(request)
        link_id = request.path_params["link_id"]
        if self.links.revoke(link_id):
            for listener in self.revoke_listeners:
                listener(link_id)
        return RedirectResponse("/links", 303)


# -- the gate -------------------------------------------------------------------------


class AuthGate:
    """ASGI middleware: identifies the principal, refuses what it may not do, and
    checks Origin and the CSRF token of every unsafe request (see the module doc)."""

    def __init__(self, app: ASGIApp, auth: Auth) -> None:
        self.app = app
        self.auth = auth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        conn = HTTPConnection(scope)
        path = conn.url.path
        if (
            scope["type"] == "http"
            and scope["method"] in SAFE_METHODS
            and path.startswith(PUBLIC_PREFIXES)
        ):
            await self.app(scope, receive, send)  # static files: no database lookup
            return
        principal = self.auth.identify(conn)
        scope[PRINCIPAL_KEY] = principal
        if scope["type"] == "websocket":
            if principal is None or same_origin(conn) is False:
                await send({"type": "websocket.close", "code": CLOSE_POLICY, "reason": ""})
                return
            await self.app(scope, receive, send)
            return

        method = scope["method"]
        if _athlete_token(path) is not None:
            if principal is None:
                response: Response = HTMLResponse(
                    message_page(
                        "Link not valid",
                        "This athlete link is not valid: it may have been revoked. Ask your "
                        "therapist for a new one.",
                        link="/login",
                        link_text="Therapist login",
                    ),
                    status_code=404,
                )
                await response(scope, receive, send)
                return
            if method not in SAFE_METHODS:
                await PlainTextResponse(FORBIDDEN_CSRF, 403)(scope, receive, send)
                return
            await self.app(scope, receive, send)
            return

        public = path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)
        if principal is None and not public:
            if method in ("GET", "HEAD"):
                target = path + (f"?{conn.url.query}" if conn.url.query else "")
                response = RedirectResponse(f"/login?next={quote(target, safe='/')}", 303)
            else:
                response = PlainTextResponse("Forbidden: log in first.", 403)
            await response(scope, receive, send)
            return
        if method in SAFE_METHODS:
            await self.app(scope, receive, send)
            return

        # An unsafe request: same-site only, and it must carry the right CSRF token.
        if same_origin(conn) is False:
            await PlainTextResponse(FORBIDDEN_CSRF, 403)(scope, receive, send)
            return
        body = await _read_body(receive)
        if body is None:
            await PlainTextResponse("The form is too large.", 413)(scope, receive, send)
            return
        expected = []
        if isinstance(principal, Therapist):
            expected.append(principal.csrf)
        if path == "/login":
            expected.append(conn.cookies.get(LOGIN_CSRF_COOKIE, ""))
        if not _token_matches(_sent_token(conn.headers, body), expected):
            await PlainTextResponse(FORBIDDEN_CSRF, 403)(scope, receive, send)
            return
        await self.app(scope, _replay(body, receive), send)


def _sent_token(headers: Headers, body: bytes) -> str:
    token = headers.get(CSRF_HEADER)
    if token:
        return token
    content_type = headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/x-www-form-urlencoded":
        return ""
    for key, value in parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True):
        if key == CSRF_FIELD:
            return value
    return ""


def _token_matches(sent: str, expected: Sequence[str]) -> bool:
    """Constant-time comparison against each acceptable (non-empty) token."""
    ok = False
    for token in expected:
        if token and sent and hmac.compare_digest(sent.encode(), token.encode()):
            ok = True
    return ok


async def _read_body(receive: Receive) -> bytes | None:
    """The whole request body, or ``None`` if it is larger than :data:`MAX_FORM_BYTES`."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_FORM_BYTES:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that hands the app the body already read, then the real stream."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
