"""The MQTT topic tree (contract v1). Every part builds its topics here.

Topics live under one configurable base (default ``calfload``)::

    <base>/bridge/state                          retained, Last Will
    <base>/sensor/<sensor_id>/availability       retained
    <base>/sensor/<sensor_id>/quality            retained, data-quality counters
    <base>/athlete/<athlete>/info                retained, athlete settings
    <base>/raw/<athlete>/<side>/<sensor_id>      raw sample batches, QoS 1
    <base>/steps/<athlete>/<side>                one message per step, QoS 1
    <base>/summary/<athlete>                     retained, latest session summary
    <base>/worker/state                          retained, Last Will

Identifiers (base segments, athlete ids, sensor ids) may not contain ``/``, ``+``,
``#`` or whitespace; :func:`check_id` enforces that.
"""

from __future__ import annotations

import re
from typing import Final, Literal

DEFAULT_BASE: Final = "calfload"
Side = Literal["left", "right"]
SIDES: Final[tuple[Side, Side]] = ("left", "right")

_ID_RE: Final = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")


def check_id(value: str, what: str = "identifier") -> str:
    """Return ``value`` if it is a valid topic segment, else raise ``ValueError``."""
    if not _ID_RE.fullmatch(value):
        raise ValueError(
            f"{what} {value!r} must be 1-64 characters of letters, digits, '_', '.' or '-'"
        )
    return value


def check_base(base: str) -> str:
    """A base topic: one or more valid segments joined by ``/``."""
    for part in base.split("/"):
        check_id(part, "base topic segment")
    return base


def bridge_state(base: str) -> str:
    return f"{base}/bridge/state"


def worker_state(base: str) -> str:
    return f"{base}/worker/state"


def sensor_availability(base: str, sensor_id: str) -> str:
    return f"{base}/sensor/{check_id(sensor_id, 'sensor id')}/availability"


def sensor_quality(base: str, sensor_id: str) -> str:
    return f"{base}/sensor/{check_id(sensor_id, 'sensor id')}/quality"


def athlete_info(base: str, athlete: str) -> str:
    return f"{base}/athlete/{check_id(athlete, 'athlete id')}/info"


def raw(base: str, athlete: str, side: str, sensor_id: str) -> str:
    return (
        f"{base}/raw/{check_id(athlete, 'athlete id')}/{check_id(side, 'side')}/"
        f"{check_id(sensor_id, 'sensor id')}"
    )


def raw_filter(base: str) -> str:
    return f"{base}/raw/+/+/+"


def steps(base: str, athlete: str, side: str) -> str:
    return f"{base}/steps/{check_id(athlete, 'athlete id')}/{check_id(side, 'side')}"


def steps_filter(base: str) -> str:
    return f"{base}/steps/+/+"


def summary(base: str, athlete: str) -> str:
    return f"{base}/summary/{check_id(athlete, 'athlete id')}"
