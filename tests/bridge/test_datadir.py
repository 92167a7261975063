"""The data folder: explicit option, environment variable, per-user default."""

from __future__ import annotations

from pathlib import Path

import pytest

from calfload.bridge.datadir import ENV_VAR, data_dir


def test_explicit_beats_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "env"))
    assert data_dir(tmp_path / "cli") == tmp_path / "cli"
    assert (tmp_path / "cli").is_dir()
    assert data_dir() == tmp_path / "env"


def test_default_follows_xdg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert data_dir() == tmp_path / "calfload"


def test_unusable_folder_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ValueError, match="cannot use data folder"):
        data_dir(blocker / "sub")
