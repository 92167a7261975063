"""Where calfload keeps its files (recordings, the bridge's spool, users).

One folder for everything: ``--data-dir DIR`` on any command, else the
``CALFLOAD_DATA_DIR`` environment variable, else ``$XDG_DATA_HOME/calfload``
(``~/.local/share/calfload`` when that is unset).
"""

from __future__ import annotations

import os
from pathlib import Path

ENV_VAR = "CALFLOAD_DATA_DIR"


def data_dir(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The data folder, created if missing; a clear error if it cannot be."""
    if explicit is not None:
        path = Path(explicit)
    elif os.environ.get(ENV_VAR):
        path = Path(os.environ[ENV_VAR])
    else:
        xdg = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
        path = Path(xdg) / "calfload"
    path = path.expanduser()
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ValueError(f"cannot use data folder {path}: {exc.strerror or exc}") from None
    return path
