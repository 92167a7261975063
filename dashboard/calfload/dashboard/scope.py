"""What an athlete link may see: one athlete's slice of each WebSocket message. Pure.

The hub builds every snapshot and update once for therapists and passes it through
:func:`for_athlete` for each athlete-link page, so such a page is sent only

* ``type``, ``history_steps`` and ``broker_connected`` (to show "reconnecting");
* ``athletes``: its own athlete's entry, nothing else;
* ``sensors`` and ``quality``: the sensors last seen with its athlete
  (``sensor_owner``, kept by :class:`~calfload.dashboard.state.LiveState` even after
  a sensor goes away, so a withdrawn sensor of another athlete is never announced).

:func:`without_columns` drops the per-step column lists for pages that draw no
charts (the grid), keeping each side's newest step and count.

Bridge and worker state and the count of unreadable messages are left out: they
are about the installation, not about the athlete.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from calfload.dashboard.state import COLUMNS, Json

SHARED_KEYS: Final = ("type", "history_steps", "broker_connected")
PER_SENSOR_KEYS: Final = ("sensors", "quality")


def for_athlete(message: Json, athlete: str, sensor_owner: Mapping[str, str]) -> Json | None:
    """``message`` cut down to ``athlete``; ``None`` when an update has nothing for it."""
    out: Json = {k: message[k] for k in SHARED_KEYS if k in message}
    athletes = message.get("athletes")
    if athletes is not None and athlete in athletes:
        out["athletes"] = {athlete: athletes[athlete]}
    elif message.get("type") == "snapshot":
        out["athletes"] = {}
    for key in PER_SENSOR_KEYS:
        sensors = message.get(key)
        if sensors is not None:
            own = {k: v for k, v in sensors.items() if sensor_owner.get(k) == athlete}
            if own or message.get("type") == "snapshot":
                out[key] = own
    if message.get("type") == "update" and out.keys() <= {"type"}:
        return None
    return out


def without_columns(message: Json) -> Json:
    """``message`` with each side's step columns left out (a shallow copy; the
    original is not changed)."""
    athletes = message.get("athletes")
    if not athletes:
        return message
    slim: Json = {}
    for athlete_id, entry in athletes.items():
        steps = entry.get("steps")
        if steps:
            entry = {
                **entry,
                "steps": {
                    side: {k: v for k, v in block.items() if k not in COLUMNS}
                    for side, block in steps.items()
                },
            }
        slim[athlete_id] = entry
    return {**message, "athletes": slim}
