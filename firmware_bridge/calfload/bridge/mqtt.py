"""Broker URLs and paho-mqtt 2 client construction, shared by every part."""

from __future__ import annotations

import contextlib
import ssl
import threading
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
    client_id: str | None = None,
    clean_session: bool = True,
) -> mqtt.Client:
    """A paho VERSION2 client with credentials, TLS, a retained QoS 1 Last Will and
    an unbounded in-memory outgoing queue. Call ``connect_async`` + ``loop_start``.

    ``clean_session=False`` keeps the client's subscriptions and its undelivered QoS 1
    messages on the broker while it is away (a broker restart with persistence, a
    network blip); pair it with a ``client_id`` that is stable across reconnects and
    :func:`forget_session` on a clean exit.
    """
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=client_id or new_client_id(role),
        clean_session=clean_session,
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


def new_client_id(role: str) -> str:
    """A client id unique to this process: ``calfload-<role>-<random>``."""
    return f"calfload-{role}-{uuid.uuid4().hex[:8]}"


def forget_session(broker: BrokerUrl, client_id: str, timeout_s: float = 5.0) -> bool:
    """Ask the broker to drop a persistent session (connect once with a clean session).

    MQTT 3.1.1 sessions never expire by themselves: a client that leaves for good
    clears its session so the broker stops queueing messages for it. Returns whether
    the broker confirmed; failures are harmless (the broker's own expiry applies).
    """
    client = make_client(broker, role="cleanup", client_id=client_id, clean_session=True)
    acked = threading.Event()
    client.on_connect = lambda *_args: acked.set()  # the CONNACK: the session is gone
    try:
        client.connect(broker.host, broker.port, keepalive=10)
        client.loop_start()
        return acked.wait(timeout_s)
    except (OSError, RuntimeError, ValueError):
        return False
    finally:
        with contextlib.suppress(OSError, RuntimeError):
            client.disconnect()
            client.loop_stop()


def shut_down(
    client: mqtt.Client,
    broker: BrokerUrl,
    *,
    state_topic: str,
    offline_payload: bytes,
    persistent_id: str | None = None,
) -> None:
    """A service's clean exit: publish its retained offline state (waiting briefly for the
    broker), disconnect, and forget its persistent session when it had one."""
    info = client.publish(state_topic, offline_payload, qos=1, retain=True)
    with contextlib.suppress(RuntimeError, ValueError):
        info.wait_for_publish(2.0)
    client.disconnect()
    client.loop_stop()
    if persistent_id is not None:
        forget_session(broker, persistent_id)
