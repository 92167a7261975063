"""Dashboard users (therapists and admins) and their password hashes.

Passwords are hashed with scrypt (Percival, 2009, "Stronger key derivation via
sequential memory-hard functions", BSDCan; RFC 7914) from Python's standard
library, with a fresh 16-byte random salt per password and the parameters
``N = 2**15, r = 8, p = 1`` (32 MiB of memory and about 0.1 s per guess on a laptop
core), the interactive-login setting recommended by the OWASP Password Storage
Cheat Sheet. A stored hash reads ``scrypt$N$r$p$<salt b64>$<key b64>``, so the
parameters can be raised later without breaking existing passwords. Hashes are
compared with :func:`hmac.compare_digest` (constant time).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import sqlite3
import time
from dataclasses import dataclass
from typing import Final, Literal, get_args

from calfload.dashboard.authdb import AuthDB

Role = Literal["admin", "therapist"]
ROLES: Final[tuple[Role, ...]] = get_args(Role)

SCRYPT_N: Final = 2**15
SCRYPT_R: Final = 8
SCRYPT_P: Final = 1
SALT_BYTES: Final = 16
KEY_BYTES: Final = 32
MIN_PASSWORD_CHARS: Final = 8
MAX_PASSWORD_CHARS: Final = 1024
NAME_PATTERN: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")


class UserError(ValueError):
    """A user could not be added or removed; the message says why."""


@dataclass(frozen=True)
class User:
    name: str
    role: Role
    created_s: float


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        password.encode(), salt=salt, n=n, r=r, p=p, maxmem=256 * n * r * p, dklen=KEY_BYTES
    )


def hash_password(password: str, *, n: int = SCRYPT_N, r: int = SCRYPT_R, p: int = SCRYPT_P) -> str:
    """The text to store for ``password``: ``scrypt$N$r$p$salt$key``."""
    salt = secrets.token_bytes(SALT_BYTES)
    return f"scrypt${n}${r}${p}${_b64(salt)}${_b64(_scrypt(password, salt, n, r, p))}"


def verify_password(password: str, stored: str) -> bool:
    """``True`` if ``password`` matches the stored hash (constant-time comparison).
    A malformed stored hash never matches."""
    try:
        kind, n, r, p, salt, key = stored.split("$")
        if kind != "scrypt":
            return False
        expected = base64.b64decode(key, validate=True)
        actual = _scrypt(password, base64.b64decode(salt, validate=True), int(n), int(r), int(p))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


# Checked against when the user does not exist, so that an unknown name takes as
# long to refuse as a wrong password (no user-name oracle through timing).
_DUMMY_HASH: Final = hash_password(secrets.token_urlsafe(16))


def check_name(name: str) -> str:
    if not NAME_PATTERN.fullmatch(name):
        raise UserError(
            f"user name {name!r} is not allowed: use 1 to 64 letters, digits, '.', '_', '@' "
            "or '-', starting with a letter or digit"
        )
    return name


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_CHARS:
        raise UserError(f"the password must have at least {MIN_PASSWORD_CHARS} characters")
    if len(password) > MAX_PASSWORD_CHARS:
        raise UserError(f"the password must have at most {MAX_PASSWORD_CHARS} characters")
    return password


class Users:
    """The users table."""

    def __init__(self, db: AuthDB) -> None:
        self.db = db

    def add(self, name: str, password: str, role: Role = "therapist") -> User:
        check_name(name)
        check_password(password)
        if role not in ROLES:
            raise UserError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
        user = User(name, role, time.time())
        stored = hash_password(password)
        try:
            with self.db.connect() as db:
                db.execute(
                    "INSERT INTO users (name, role, password, created_s) VALUES (?, ?, ?, ?)",
                    (name, role, stored, user.created_s),
                )
        except sqlite3.IntegrityError:
            raise UserError(f"user {name!r} already exists") from None
        return user

    def set_password(self, name: str, password: str) -> None:
        check_password(password)
        stored = hash_password(password)
        with self.db.connect() as db:
            changed = db.execute(
                "UPDATE users SET password = ? WHERE name = ?", (stored, name)
            ).rowcount
            db.execute("DELETE FROM sessions WHERE user = ?", (name,))
        if not changed:
            raise UserError(f"there is no user {name!r}")

    def remove(self, name: str) -> None:
        """Remove a user and end their sessions; the last admin cannot be removed."""
        with self.db.connect() as db:
            row = db.execute("SELECT role FROM users WHERE name = ?", (name,)).fetchone()
            if row is None:
                raise UserError(f"there is no user {name!r}")
            admins = db.execute("SELECT count(*) FROM users WHERE role = 'admin'").fetchone()[0]
            if row[0] == "admin" and admins == 1:
                raise UserError(f"{name!r} is the last admin; add another admin first")
            db.execute("DELETE FROM users WHERE name = ?", (name,))

    def get(self, name: str) -> User | None:
        with self.db.connect() as db:
            row = db.execute(
                "SELECT name, role, created_s FROM users WHERE name = ?", (name,)
            ).fetchone()
        return None if row is None else User(row[0], row[1], row[2])

    def all(self) -> list[User]:
        with self.db.connect() as db:
            rows = db.execute("SELECT name, role, created_s FROM users ORDER BY name").fetchall()
        return [User(*row) for row in rows]

    def authenticate(self, name: str, password: str) -> User | None:
        """The user if ``password`` is theirs, else ``None`` (slow on purpose: call it
        off the event loop)."""
        with self.db.connect() as db:
            row = db.execute(
                "SELECT name, role, created_s, password FROM users WHERE name = ?", (name,)
            ).fetchone()
        if row is None or len(password) > MAX_PASSWORD_CHARS:
            verify_password(password[:MAX_PASSWORD_CHARS], _DUMMY_HASH)
            return None
        if not verify_password(password, row[3]):
            return None
        return User(row[0], row[1], row[2])
