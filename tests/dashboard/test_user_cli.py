"""``calfload user`` and ``calfload link``: the first admin and athlete links from the
command line, with one-line errors."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest

from calfload.cli.main import main
from calfload.dashboard.authdb import AuthDB
from calfload.dashboard.tokens import AthleteLinks, LoginTokens
from calfload.dashboard.users import Users


def run(
    args: list[str], data: Path, capsys: pytest.CaptureFixture[str], stdin: str = ""
) -> tuple[int, str, str]:
    saved, sys.stdin = sys.stdin, io.StringIO(stdin)
    try:
        rc = main([args[0], "--data-dir", str(data), *args[1:]])
    finally:
        sys.stdin = saved
    out, err = capsys.readouterr()
    return rc, out, err


def test_first_admin_then_therapists_from_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rc, out, _ = run(["user", "add", "ada", "--admin", "--password-stdin"], tmp_path, capsys,
                     "first admin pw\n")  # fmt: skip
    assert rc == 0 and "added admin 'ada'" in out
    rc, _, _ = run(["user", "add", "ben", "--password-stdin"], tmp_path, capsys, "ben's pw 123\n")
    assert rc == 0
    users = Users(AuthDB(tmp_path))
    assert users.authenticate("ada", "first admin pw") is not None
    assert users.authenticate("ben", "ben's pw 123") is not None
    rc, out, _ = run(["user", "list"], tmp_path, capsys)
    lines = out.splitlines()
    assert [line.split("\t")[:2] for line in lines] == [["ada", "admin"], ["ben", "therapist"]]

    for args, stdin, message in (
        (["user", "add", "ben", "--password-stdin"], "another pw 123\n", "already exists"),
        (["user", "add", "cyd", "--password-stdin"], "short\n", "at least 8"),
        (["user", "remove", "ada"], "", "last admin"),
        (["user", "remove", "zed"], "", "no user 'zed'"),
        (["user", "add", "cyd"], "", "--password-stdin"),  # no terminal to ask on
    ):
        rc, _, err = run(args, tmp_path, capsys, stdin)
        assert rc == 2, args
        assert err.count("\n") == 1 and message in err, err

    rc, out, _ = run(["user", "remove", "ben"], tmp_path, capsys)
    assert rc == 0 and users.get("ben") is None

    rc, out, _ = run(["user", "login-link", "ada", "--url", "http://h:9"], tmp_path, capsys)
    assert rc == 0
    url = out.strip()
    assert url.startswith("http://h:9/login/once?token=")
    assert LoginTokens(AuthDB(tmp_path)).consume(url.split("token=", 1)[1]) == "ada"


@pytest.fixture
def tty(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """A terminal that answers getpass prompts from a list."""
    answers: list[str] = []
    monkeypatch.setattr("getpass.getpass", lambda prompt="": answers.pop(0))
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    monkeypatch.setattr(sys.stdin, "isatty", lambda: True)
    return answers


def test_password_is_asked_twice_on_a_terminal(tmp_path: Path, tty: list[str]) -> None:
    tty += ["typed twice pw", "typed twice pw"]
    assert main(["user", "--data-dir", str(tmp_path), "add", "ada", "--admin"]) == 0
    assert Users(AuthDB(tmp_path)).authenticate("ada", "typed twice pw") is not None
    tty += ["one password", "another one"]
    assert main(["user", "--data-dir", str(tmp_path), "add", "ben"]) == 2
    assert Users(AuthDB(tmp_path)).get("ben") is None


def test_athlete_links_from_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rc, out, err = run(["link", "create", "a1", "--by", "ada"], tmp_path, capsys)
    assert rc == 0
    url = out.strip()
    assert url.startswith("http://127.0.0.1:8000/a/")
    links = AthleteLinks(AuthDB(tmp_path))
    found = links.resolve(url.rsplit("/", 1)[1])
    assert found is not None and found.athlete == "a1" and found.id in err
    rc, out, _ = run(["link", "list"], tmp_path, capsys)
    assert out.split("\t")[:3] == [found.id, "a1", "active"]
    rc, out, _ = run(["link", "revoke", found.id], tmp_path, capsys)
    assert rc == 0 and links.resolve(url.rsplit("/", 1)[1]) is None
    rc, out, _ = run(["link", "list"], tmp_path, capsys)
    assert out == ""
    rc, _, err = run(["link", "revoke", found.id], tmp_path, capsys)
    assert rc == 2 and "no active link" in err


def test_the_installed_command_runs(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "calfload.cli", "user", "--data-dir", str(tmp_path),
         "add", "ada", "--admin", "--password-stdin"],
        input="first admin pw\n", capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "auth.sqlite3").stat().st_mode & 0o077 == 0
