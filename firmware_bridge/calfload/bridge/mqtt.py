"""Broker URLs and paho-mqtt 2 client construction, shared by every part."""

from __future__ import annotations

import ssl
import uuid
from dataclasses import dataclass
from typing import Final
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

DEFAULT_PORTS: Final = {"mqtt": 1883, "mqtts": 8883}


@dataclass(frozen=True)
class BrokerUrl:
    """``mqtt://[user[:password]@]host[:port]`` or ``mqtts://…`` for TLS.

    ``ca_file`` (optional) is a PEM file of CA certificates to verify the broker
    with, instead of the system's (set from a bridge config, not from the URL).
    """

    host: str
    port: int
    tls: bool = False
    username: str | None = None
    password: str | None = None
    ca_file: str | None = None

    @classmethod
    def parse(cls, url: str) -> BrokerUrl:
        parts = urlsplit(url if "://" in url else f"mqtt://{url}")
        if parts.scheme not in DEFAULT_PORTS:
            raise ValueError(f"broker URL {url!r}: scheme must be mqtt:// or mqtts://")
        if not parts.hostname:
            raise ValueError(f"broker URL {url!r} has no host")
        try:
            port = parts.port or DEFAULT_PORTS[parts.scheme]
        except ValueError as exc:
            raise ValueError(f"broker URL {url!r} has an invalid port") from exc
        return cls(
            host=parts.hostname,
            port=port,
            tls=parts.scheme == "mqtts",
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
        )

    def __str__(self) -> str:
        scheme = "mqtts" if self.tls else "mqtt"
        user = f"{self.username}@" if self.username else ""
        return f"{scheme}://{user}{self.host}:{self.port}"


def make_client(
    broker: BrokerUrl,
    *,
    role: str,
    will_topic: str | None = None,
    will_payload: bytes | None = None,
) -> mqtt.Client:
    """A paho VERSION2 client with credentials, TLS, a retained QoS 1 Last Will and
    an unbounded in-memory outgoing queue. Call ``connect_async`` + ``loop_start``."""
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=f"calfload-{role}-{uuid.uuid4().hex[:8]}",
        protocol=mqtt.MQTTv311,
    )
    if broker.username:
        client.username_pw_set(broker.username, broker.password)
    if broker.tls:
        client.tls_set(ca_certs=broker.ca_file, cert_reqs=ssl.CERT_REQUIRED)
    if will_topic is not None:
        client.will_set(will_topic, will_payload, qos=1, retain=True)
    client.max_queued_messages_set(0)
    client.max_inflight_messages_set(100)
    client.reconnect_delay_set(min_delay=1, max_delay=8)
    return client
