"""Secret tokens of the dashboard: login sessions, one-time login links, athlete links.

Every token is 32 random bytes (:func:`calfload.dashboard.authdb.new_token`);
the database keeps only its SHA-256, so the token itself exists only in the
cookie or link that carries it.

* A **session** belongs to a user, carries its own CSRF token (checked on every
  POST) and ends at ``expires_s`` (absolute, :data:`SESSION_TTL_S`) or at logout.
* A **one-time login token** opens one session for its user: consuming it deletes
  it (atomically), and it expires after :data:`LOGIN_TOKEN_TTL_S`.
* An **athlete link** shows one athlete only; it has a short public ``id`` (to list
  and revoke it) besides its secret token, and works until revoked.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from calfload.dashboard.authdb import AuthDB, new_token, token_sha256
from calfload.dashboard.users import Role

SESSION_TTL_S: Final = 12 * 3600.0
"""A login lasts one clinic day; then the therapist logs in again."""
LOGIN_TOKEN_TTL_S: Final = 10 * 60.0
ATHLETE_PATTERN: Final = re.compile(r"[^/+#\x00-\x1f]{1,128}")
"""Athlete ids as MQTT topic levels allow them."""

Clock = Callable[[], float]


@dataclass(frozen=True)
class Session:
    user: str
    role: Role
    csrf: str
    token_sha256: str
    expires_s: float


@dataclass(frozen=True)
class AthleteLink:
    id: str
    athlete: str
    created_by: str
    created_s: float
    revoked_s: float | None

    @property
    def active(self) -> bool:
        return self.revoked_s is None


class Sessions:
    def __init__(self, db: AuthDB, clock: Clock = time.time) -> None:
        self.db = db
        self.clock = clock

    def create(self, user: str, ttl_s: float = SESSION_TTL_S) -> str:
        """Open a session for ``user``; returns its secret token (the cookie value)."""
        token = new_token()
        now = self.clock()
        with self.db.connect() as db:
            db.execute("DELETE FROM sessions WHERE expires_s <= ?", (now,))
            db.execute(
                "INSERT INTO sessions (token_sha256, user, csrf, created_s, expires_s) "
                "VALUES (?, ?, ?, ?, ?)",
                (token_sha256(token), user, new_token(), now, now + ttl_s),
            )
        return token

    def get(self, token: str) -> Session | None:
        """The live session of a cookie value, or ``None``."""
        if not token:
            return None
        with self.db.connect() as db:
            row = db.execute(
                "SELECT s.user, u.role, s.csrf, s.token_sha256, s.expires_s "
                "FROM sessions s JOIN users u ON u.name = s.user "
                "WHERE s.token_sha256 = ? AND s.expires_s > ?",
                (token_sha256(token), self.clock()),
            ).fetchone()
        return None if row is None else Session(*row)

    def alive(self, digest: str) -> bool:
        """Is the session with this SHA-256 still open?"""
        with self.db.connect() as db:
            row = db.execute(
                "SELECT 1 FROM sessions WHERE token_sha256 = ? AND expires_s > ?",
                (digest, self.clock()),
            ).fetchone()
        return row is not None

    def end(self, digest: str) -> None:
        with self.db.connect() as db:
            db.execute("DELETE FROM sessions WHERE token_sha256 = ?", (digest,))


class LoginTokens:
    def __init__(self, db: AuthDB, clock: Clock = time.time) -> None:
        self.db = db
        self.clock = clock

    def create(self, user: str, ttl_s: float = LOGIN_TOKEN_TTL_S) -> str:
        token = new_token()
        now = self.clock()
        with self.db.connect() as db:
            db.execute("DELETE FROM login_tokens WHERE expires_s <= ?", (now,))
            db.execute(
                "INSERT INTO login_tokens (token_sha256, user, expires_s) VALUES (?, ?, ?)",
                (token_sha256(token), user, now + ttl_s),
            )
        return token

    def consume(self, token: str) -> str | None:
        """The user the token logs in, once; ``None`` if unknown, used or expired."""
        if not token:
            return None
        with self.db.connect() as db:
            row = db.execute(
                "DELETE FROM login_tokens WHERE token_sha256 = ? RETURNING user, expires_s",
                (token_sha256(token),),
            ).fetchone()
        if row is None or row[1] <= self.clock():
            return None
        return str(row[0])


def check_athlete(athlete: str) -> str:
    if not ATHLETE_PATTERN.fullmatch(athlete):
        raise ValueError(
            f"athlete id {athlete!r} is not allowed: 1 to 128 characters without "
            "'/', '+', '#' or control characters"
        )
    return athlete


class AthleteLinks:
    def __init__(self, db: AuthDB, clock: Clock = time.time) -> None:
        self.db = db
        self.clock = clock

    def create(self, athlete: str, created_by: str) -> tuple[AthleteLink, str]:
        """A new link for ``athlete``: the link and its secret token (shown once)."""
        check_athlete(athlete)
        token = new_token()
        link = AthleteLink(secrets.token_hex(4), athlete, created_by, self.clock(), None)
        with self.db.connect() as db:
            db.execute(
                "INSERT INTO athlete_links (id, token_sha256, athlete, created_by, created_s) "
                "VALUES (?, ?, ?, ?, ?)",
                (link.id, token_sha256(token), link.athlete, link.created_by, link.created_s),
            )
        return link, token

    def resolve(self, token: str) -> AthleteLink | None:
        """The active link of a token, or ``None`` (unknown or revoked)."""
        if not token:
            return None
        with self.db.connect() as db:
            row = db.execute(
                "SELECT id, athlete, created_by, created_s, revoked_s FROM athlete_links "
                "WHERE token_sha256 = ? AND revoked_s IS NULL",
                (token_sha256(token),),
            ).fetchone()
        return None if row is None else AthleteLink(*row)

    def active(self, link_id: str) -> bool:
        with self.db.connect() as db:
            row = db.execute(
                "SELECT 1 FROM athlete_links WHERE id = ? AND revoked_s IS NULL", (link_id,)
            ).fetchone()
        return row is not None

    def revoke(self, link_id: str) -> bool:
        """Revoke a link; ``False`` if there is no active link with that id."""
        with self.db.connect() as db:
            changed = db.execute(
                "UPDATE athlete_links SET revoked_s = ? WHERE id = ? AND revoked_s IS NULL",
                (self.clock(), link_id),
            ).rowcount
        return bool(changed)

    def all(self, *, include_revoked: bool = False) -> list[AthleteLink]:
        query = "SELECT id, athlete, created_by, created_s, revoked_s FROM athlete_links"
        if not include_revoked:
            query += " WHERE revoked_s IS NULL"
        with self.db.connect() as db:
            rows = db.execute(query + " ORDER BY athlete, created_s").fetchall()
        return [AthleteLink(*row) for row in rows]
