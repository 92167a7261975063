"""All supported sensor families, by the name used in configs and on the command line."""

from __future__ import annotations

from calfload.bridge.devices.base import DeviceFamily
from calfload.bridge.devices.movesense import Movesense
from calfload.bridge.devices.open_insole import OpenInsole
from calfload.bridge.devices.polar_pmd import PolarPmd
from calfload.bridge.devices.rsc import RunningSpeedCadence
from calfload.bridge.devices.witmotion import WitMotion

FAMILIES: dict[str, DeviceFamily] = {
    f.name: f
    for f in (
        OpenInsole(),
        WitMotion(),
        RunningSpeedCadence(),
        Movesense(),
        PolarPmd(),
    )
}


def get_family(name: str) -> DeviceFamily:
    """The family called ``name``; a :class:`ValueError` naming the known ones otherwise."""
    try:
        return FAMILIES[name]
    except KeyError:
        known = ", ".join(sorted(FAMILIES))
        raise ValueError(f"unknown sensor family {name!r}; known: {known}") from None
