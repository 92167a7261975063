"""The dashboard's login database: one SQLite file in the data folder.

``<data folder>/auth.sqlite3`` (mode 0600: it holds password hashes) keeps the
users (:mod:`calfload.dashboard.users`) and the session, one-time login and
athlete-link tokens (:mod:`calfload.dashboard.tokens`). Secret tokens are never
stored: only their SHA-256, so a copy of the file opens no session and no link.

Each call opens its own short-lived connection (safe from any thread); writes
are single statements or one transaction.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Final

FILE_NAME: Final = "auth.sqlite3"
TOKEN_BYTES: Final = 32
"""Random bytes in every secret token (256 bits: unguessable)."""
BUSY_TIMEOUT_S: Final = 10.0

SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS users (
    name       TEXT PRIMARY KEY COLLATE NOCASE,
    role       TEXT NOT NULL CHECK (role IN ('admin', 'therapist')),
    password   TEXT NOT NULL,
    created_s  REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS sessions (
    token_sha256 TEXT PRIMARY KEY,
    user         TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,
    csrf         TEXT NOT NULL,
    created_s    REAL NOT NULL,
    expires_s    REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS login_tokens (
    token_sha256 TEXT PRIMARY KEY,
    user         TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,
    expires_s    REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS athlete_links (
    id           TEXT PRIMARY KEY,
    token_sha256 TEXT NOT NULL UNIQUE,
    athlete      TEXT NOT NULL,
    created_by   TEXT NOT NULL,
    created_s    REAL NOT NULL,
    revoked_s    REAL
);
"""


class AuthDB:
    """Where the login database lives; creates it (0600) with its tables on first use."""

    def __init__(self, folder: Path) -> None:
        self.path = Path(folder) / FILE_NAME
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if not self.path.exists():
            # create it private before SQLite writes anything into it
            fd = os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600)
            os.close(fd)
        with self.connect() as db:
            db.executescript(SCHEMA)

    @contextlib.contextmanager
    def connect(self) -> Iterator[sqlite3.Connection]:
        """A connection that commits on success and rolls back on error."""
        try:
            db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S)
        except sqlite3.Error as exc:
            raise ValueError(f"cannot open the login database {self.path}: {exc}") from None
        try:
            db.execute("PRAGMA foreign_keys = ON")
            with db:
                yield db
        finally:
            db.close()


def new_token() -> str:
    """A fresh secret token (URL-safe text)."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_sha256(token: str) -> str:
    """What the database keeps of a secret token."""
    return hashlib.sha256(token.encode()).hexdigest()
