"""Small test helpers: bounded waiting on observable state, MQTT collectors, truth matching."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion


def wait_until(predicate: Callable[[], bool], timeout_s: float, what: str) -> None:
    """Poll ``predicate`` until it holds; fail with ``what`` after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(0.02)


@dataclass
class Collector:
    """A paho subscriber that keeps every JSON message per topic filter."""

    host: str
    port: int
    filters: list[str]
    messages: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    subscribed: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *a: self.subscribed.set()

    def _on_connect(self, client: mqtt.Client, *args: Any) -> None:
        client.subscribe([(f, 1) for f in self.filters])

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        with self._lock:
            self.messages.append((msg.topic, json.loads(msg.payload)))

    def start(self, timeout_s: float = 10.0) -> Collector:
        self.client.connect_async(self.host, self.port)
        self.client.loop_start()
        if not self.subscribed.wait(timeout_s):
            raise AssertionError(f"could not subscribe to {self.filters} on port {self.port}")
        return self

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def payloads(self, prefix: str) -> list[dict[str, Any]]:
        with self._lock:
            return [p for t, p in self.messages if t.startswith(prefix)]
