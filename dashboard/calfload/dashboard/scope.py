"""What an athlete link may see: one athlete's slice of each WebSocket message. Pure.

The hub builds every snapshot and update once for therapists and passes it through
:func:`for_athlete` for each athlete-link page, so such a page is sent only

* ``type``, ``history_steps`` and ``broker_connected`` (to show "reconnecting");
* ``athletes``: its own athlete's entry, nothing else;
* ``sensors``: the sensors last seen with its athlete (``sensor_owner``, kept by
  :class:`~calfload.dashboard.state.LiveState` even after a sensor goes away, so a
  withdrawn sensor of another athlete is never announced).

Bridge and worker state and the count of unreadable messages are left out: they
are about the installation, not about the athlete.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from calfload.dashboard.state import Json

SHARED_KEYS: Final = ("type", "history_steps", "broker_connected")


def for_athlete(message: Json, athlete: str, sensor_owner: Mapping[str, str]) -> Json | None:
    """``message`` cut down to ``athlete``; ``None`` when an update has nothing for it."""
    out: Json = {k: message[k] for k in SHARED_KEYS if k in message}
    athletes = message.get("athletes")
    if athletes is not None and athlete in athletes:
        out["athletes"] = {athlete: athletes[athlete]}
    elif message.get("type") == "snapshot":
        out["athletes"] = {}
    sensors = message.get("sensors")
    if sensors is not None:
        own = {k: v for k, v in sensors.items() if sensor_owner.get(k) == athlete}
        if own or message.get("type") == "snapshot":
            out["sensors"] = own
    if message.get("type") == "update" and out.keys() <= {"type"}:
        return None
    return out
