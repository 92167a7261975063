"""Password hashing, the user store, session / login / link tokens, the login rate
limiter and the athlete filter, without a server."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from calfload.bridge.messages import encode
from calfload.dashboard.app import Hub
from calfload.dashboard.authdb import AuthDB, token_sha256
from calfload.dashboard.ratelimit import LoginLimiter
from calfload.dashboard.scope import for_athlete
from calfload.dashboard.state import LiveState, parse
from calfload.dashboard.tokens import AthleteLinks, LoginTokens, Sessions
from calfload.dashboard.users import (
    SCRYPT_N,
    UserError,
    Users,
    hash_password,
    verify_password,
)
from tests.dashboard.conftest import step


class Clock:
    def __init__(self, t: float = 1_000_000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def test_password_hash_is_salted_scrypt_and_verifies() -> None:
    a = hash_password("sunny track 42")
    b = hash_password("sunny track 42")
    assert a != b  # a fresh salt each time
    kind, n, r, p, *_ = a.split("$")
    assert (kind, int(n), int(r), int(p)) == ("scrypt", SCRYPT_N, 8, 1)
    assert verify_password("sunny track 42", a)
    assert verify_password("sunny track 42", b)
    assert not verify_password("sunny track 43", a)
    assert not verify_password("", a)
    # cheaper parameters stored in the hash are honoured (upgradable later)
    cheap = hash_password("x" * 10, n=2**10)
    assert cheap.split("$")[1] == "1024"
    assert verify_password("x" * 10, cheap)
    for broken in ("", "scrypt$1$2", "bcrypt$x", a.replace("scrypt", "md5"), a[:-4] + "!!!!"):
        assert not verify_password("sunny track 42", broken)


def test_users_add_list_remove_and_authenticate(tmp_path: Path) -> None:
    db = AuthDB(tmp_path)
    assert stat.S_IMODE(os.stat(db.path).st_mode) == 0o600  # it holds password hashes
    users = Users(db)
    users.add("ada", "first admin pw", "admin")
    users.add("ben", "therapist pw", "therapist")
    assert [(u.name, u.role) for u in users.all()] == [("ada", "admin"), ("ben", "therapist")]
    assert users.authenticate("ben", "therapist pw") is not None
    assert users.authenticate("BEN", "therapist pw") is not None  # names ignore case
    assert users.authenticate("ben", "therapist PW") is None
    assert users.authenticate("nobody", "therapist pw") is None
    # the stored text is a hash, not the password
    with db.connect() as conn:
        stored = [row[0] for row in conn.execute("SELECT password FROM users")]
    assert all(s.startswith("scrypt$") and "pw" not in s for s in stored)

    with pytest.raises(UserError, match="already exists"):
        users.add("Ben", "another password", "therapist")
    with pytest.raises(UserError, match="at least 8"):
        users.add("cyd", "short", "therapist")
    with pytest.raises(UserError, match="not allowed"):
        users.add("<script>", "long enough pw", "therapist")
    with pytest.raises(UserError, match="last admin"):
        users.remove("ada")
    sessions = Sessions(db)
    token = sessions.create("ben")
    users.remove("ben")
    assert sessions.get(token) is None  # their sessions ended with them
    with pytest.raises(UserError, match="no user"):
        users.remove("ben")


def test_sessions_expire_and_end(tmp_path: Path) -> None:
    db = AuthDB(tmp_path)
    Users(db).add("ada", "first admin pw", "admin")
    clock = Clock()
    sessions = Sessions(db, clock)
    token = sessions.create("ada", ttl_s=60.0)
    session = sessions.get(token)
    assert session is not None
    assert (session.user, session.role) == ("ada", "admin")
    assert len(session.csrf) >= 40 and session.csrf != token
    assert session.token_sha256 == token_sha256(token)
    with db.connect() as conn:  # only the hash is kept
        rows = conn.execute("SELECT token_sha256 FROM sessions").fetchall()
    assert rows == [(token_sha256(token),)]
    assert sessions.get(token + "x") is None
    assert sessions.get("") is None
    clock.t += 59.0
    assert sessions.alive(session.token_sha256)
    clock.t += 2.0
    assert sessions.get(token) is None
    assert not sessions.alive(session.token_sha256)
    other = sessions.create("ada")
    sessions.end(token_sha256(other))
    assert sessions.get(other) is None


def test_one_time_login_tokens_work_once_and_expire(tmp_path: Path) -> None:
    db = AuthDB(tmp_path)
    Users(db).add("ada", "first admin pw", "admin")
    clock = Clock()
    tokens = LoginTokens(db, clock)
    once = tokens.create("ada", ttl_s=300.0)
    assert tokens.consume(once) == "ada"
    assert tokens.consume(once) is None  # used up
    late = tokens.create("ada", ttl_s=300.0)
    clock.t += 301.0
    assert tokens.consume(late) is None
    assert tokens.consume("") is None


def test_athlete_links_resolve_until_revoked(tmp_path: Path) -> None:
    links = AthleteLinks(AuthDB(tmp_path))
    link, token = links.create("a1", "ada")
    other, other_token = links.create("b2", "ada")
    assert token != other_token and link.id != other.id
    found = links.resolve(token)
    assert found is not None and found.athlete == "a1"
    assert links.resolve(other_token) is not None
    assert links.resolve(token[:-1]) is None
    assert links.revoke(link.id)
    assert not links.revoke(link.id)
    assert links.resolve(token) is None
    assert not links.active(link.id)
    assert [x.athlete for x in links.all()] == ["b2"]
    assert [x.athlete for x in links.all(include_revoked=True)] == ["a1", "b2"]
    with pytest.raises(ValueError, match="not allowed"):
        links.create("a/1", "ada")


def test_login_limiter_per_user_and_address() -> None:
    clock = Clock(0.0)
    limiter = LoginLimiter(per_user_ip=3, per_ip=5, window_s=600.0, clock=clock)
    for _ in range(3):
        assert limiter.retry_after_s("ada", "10.0.0.1") == 0
        limiter.failed("ada", "10.0.0.1")
    assert limiter.retry_after_s("ada", "10.0.0.1") == pytest.approx(600.0)
    assert limiter.retry_after_s("ADA", "10.0.0.1") > 0  # same user, any case
    assert limiter.retry_after_s("ada", "10.0.0.2") == 0  # no lock-out from elsewhere
    assert limiter.retry_after_s("ben", "10.0.0.1") == 0
    limiter.failed("ben", "10.0.0.1")
    limiter.failed("cyd", "10.0.0.1")
    assert limiter.retry_after_s("dan", "10.0.0.1") > 0  # the address is capped too
    clock.t = 601.0
    assert limiter.retry_after_s("ada", "10.0.0.1") == 0  # the window slid past
    limiter.failed("eve", "10.0.0.3")
    limiter.succeeded("eve", "10.0.0.3")
    assert limiter.retry_after_s("eve", "10.0.0.3") == 0


def test_athlete_filter_keeps_only_its_athlete() -> None:
    owners = {"a1-L": "a1", "b2-L": "b2", "gone": "b2"}
    snapshot = {
        "type": "snapshot",
        "history_steps": 10,
        "broker_connected": True,
        "rejected": 3,
        "bridge": {"state": "online"},
        "worker": None,
        "sensors": {"a1-L": {"athlete": "a1"}, "b2-L": {"athlete": "b2"}},
        "athletes": {"a1": {"info": {"name": "Ana"}}, "b2": {"info": {"name": "Ben"}}},
    }
    mine = for_athlete(snapshot, "a1", owners)
    assert mine == {
        "type": "snapshot",
        "history_steps": 10,
        "broker_connected": True,
        "sensors": {"a1-L": {"athlete": "a1"}},
        "athletes": {"a1": {"info": {"name": "Ana"}}},
    }
    assert for_athlete(snapshot, "zz", owners) == {
        "type": "snapshot",
        "history_steps": 10,
        "broker_connected": True,
        "sensors": {},
        "athletes": {},
    }
    update = {"type": "update", "sensors": {"gone": None}, "athletes": {"b2": {}}}
    assert for_athlete(update, "a1", owners) is None  # nothing of a1's: nothing sent
    assert for_athlete({"type": "update", "broker_connected": False}, "a1", owners) == {
        "type": "update",
        "broker_connected": False,
    }


async def test_hub_sends_an_athlete_link_only_its_athlete() -> None:
    state = LiveState()
    hub = Hub(state)
    grid = hub.connect()
    mine = hub.connect("a1")
    assert json.loads(str(grid.queue.get_nowait()))["type"] == "snapshot"
    assert json.loads(str(mine.queue.get_nowait()))["athletes"] == {}
    for athlete, index in (("b2", 1), ("a1", 1), ("b2", 2)):
        topic = f"calfload/steps/{athlete}/left"
        item = parse("calfload", topic, encode(step(athlete, "left", index, 0.0)))
        assert item is not None
        state.apply(item)
        assert hub.tick()
    updates = [json.loads(str(grid.queue.get_nowait())) for _ in range(3)]
    assert [set(u["athletes"]) for u in updates] == [{"b2"}, {"a1"}, {"b2"}]
    only = json.loads(str(mine.queue.get_nowait()))  # b2's updates were never queued
    assert set(only["athletes"]) == {"a1"}
    assert mine.queue.empty()
