"""Shared machinery of virtual sensors that notify one characteristic at a steady pace
while a central is subscribed (sensors that stream on subscription, like WitMotion
IMUs and RSC footpods).

Pacing is by due times on the event loop clock, so a late wake-up is caught up on
the next tick and the long-run rate stays exact; the simulator time of a tick is
its due time minus the simulator's origin.
"""

from __future__ import annotations

import abc
import asyncio
import logging
from typing import Any

from bumble.device import Connection, Device
from bumble.gatt import Characteristic, Service

from calfload.bridge.virtual.lifecycle import cancel_quietly, disconnect_all
from calfload.bridge.virtual.radio import VirtualRadio

log = logging.getLogger(__name__)


class PacedTwin(abc.ABC):
    """Base of a virtual sensor: a bumble peripheral on a :class:`VirtualRadio`."""

    def __init__(self, radio: VirtualRadio, name: str) -> None:
        self.radio = radio
        self.name = name
        self.device: Device | None = None
        self.connections = 0
        self._data_char: Characteristic[Any] | None = None
        self._subscribed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._t_sim_origin: float | None = None

    @abc.abstractmethod
    def period_s(self) -> float:
        """Seconds between notifications (may change while running)."""

    @abc.abstractmethod
    async def tick(self, t_sim_s: float) -> None:
        """Produce and send what is due at simulator time ``t_sim_s``."""

    async def _power_up(
        self, t_sim_origin: float, services: list[Service], data_char: Characteristic[Any]
    ) -> Device:
        self._t_sim_origin = t_sim_origin
        device = await self.radio.add_peripheral(self.name)
        for service in services:
            device.add_service(service)
        self._data_char = data_char
        data_char.on(data_char.EVENT_SUBSCRIPTION, self._on_subscription)
        device.on(device.EVENT_CONNECTION, self._on_connection)
        self.device = device
        self._task = asyncio.create_task(self._run(), name=f"twin-{self.name}")
        return device

    def _on_connection(self, connection: Connection) -> None:
        self.connections += 1
        connection.on(connection.EVENT_DISCONNECTION, lambda *_: self._subscribed.clear())

    def _on_subscription(self, _bearer: object, notify_enabled: bool, *_: object) -> None:
        if notify_enabled:
            self._subscribed.set()
        else:
            self._subscribed.clear()

    @property
    def subscribed(self) -> bool:
        return self._subscribed.is_set()

    async def drop_link(self) -> None:
        """Simulate the sensor going out of range: disconnect every connection."""
        await disconnect_all(self.device)

    async def stop(self) -> None:
        await cancel_quietly(self._task)
        self._task = None

    async def notify(self, value: bytes) -> bool:
        """Send one notification to the subscribers; ``False`` if nobody could get it."""
        if self.device is None or self._data_char is None or not self.subscribed:
            return False
        try:
            await self.device.notify_subscribers(self._data_char, value)
        except Exception as exc:  # a link torn down mid-notify is a normal event here
            log.debug("twin %s: notify failed: %s", self.name, exc)
            return False
        return True

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        assert self._t_sim_origin is not None
        due = loop.time()
        while True:
            if not self.subscribed:
                await self._subscribed.wait()
                due = loop.time() + self.period_s()  # nothing is owed for idle time
            delay = due - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            if self.subscribed:
                await self.tick(due - self._t_sim_origin)
            due += self.period_s()
