"""What a dashboard process serves: broker, base topic, data folder, history source."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from calfload.bridge.mqtt import BrokerUrl
from calfload.bridge.topics import DEFAULT_BASE
from calfload.dashboard.backfill import HistorySource


@dataclass(frozen=True)
class DashboardSettings:
    broker: BrokerUrl = field(default_factory=lambda: BrokerUrl("127.0.0.1", 1883))
    """The broker to follow, with its credentials and TLS choice."""
    base: str = DEFAULT_BASE
    history_steps: int = 3000
    """Steps kept in memory per athlete and side (and sent to a newly opened page)."""
    data_dir: Path | None = None
    """The data folder with the login database (``None``: the default one, see
    :func:`calfload.bridge.datadir.data_dir`)."""
    secure_cookies: bool | None = None
    """``Secure`` cookies: ``None`` means exactly when served over https."""
    recordings_dir: Path | None = None
    """Recorded sessions for ``/sessions`` (``None``: ``<data folder>/recordings``)."""
    history: HistorySource | None = None
    """Where missed steps come from after the broker was away (the recorder's
    history, once it exists); ``None``: only the retained summaries fill in."""
