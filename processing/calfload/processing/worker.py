"""The live processing worker: raw batches from MQTT in, steps and summaries out."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from calfload.bridge import topics
from calfload.bridge.messages import SCHEMA, AthleteInfo, MessageError, RawBatch, decode, encode
from calfload.bridge.mqtt import BrokerUrl, make_client, new_client_id, shut_down
from calfload.processing.athlete import AthleteSettings
from calfload.processing.history import read_history
from calfload.processing.load_stream import settings_from_info
from calfload.processing.messages import WorkerState
from calfload.processing.pipeline import AthletePipeline

log = logging.getLogger(__name__)
SUMMARY_PERIOD_S = 1.0
#: Recent sequence numbers remembered per sensor to drop repeated deliveries.
RECENT_SEQ = 1024


@dataclass
class WorkerStats:
    batches_ok: int = 0
    batches_rejected: int = 0
    batches_repeated: int = 0
    steps_published: int = 0
    last_error: str = ""
    rejected_by_topic: dict[str, int] = field(default_factory=dict)


class Worker:
    """Subscribes to ``<base>/raw/+/+/+`` and publishes ``<base>/steps/...``.

    MQTT callbacks run on paho's network thread; all state lives behind one lock.
    """

    def __init__(
        self, broker: BrokerUrl, *, base: str = topics.DEFAULT_BASE, data_dir: Path | None = None
    ) -> None:
        self.broker = broker
        self.data_dir = data_dir  # recorded sessions, for the history comparison (optional)
        self.base = topics.check_base(base)
        self.worker_id = f"worker-{socket.gethostname()}"
        self.stats = WorkerStats()
        self.pipelines: dict[str, AthletePipeline] = {}
        self.body_mass_kg: dict[str, float] = {}
        self.settings: dict[str, AthleteSettings] = {}
        self._lock = threading.Lock()
        self._last_summary_s: dict[str, float] = {}
        self._recent_seq: dict[str, tuple[deque[int], set[int]]] = {}
        self.connected = threading.Event()
        # A persistent session: while the broker or the network is away, the broker keeps
        # this worker's subscriptions and queues its QoS 1 raw batches (nothing is lost
        # across a broker restart with persistence); a clean stop forgets the session.
        self.client_id = new_client_id("worker")
        self.client = make_client(
            broker,
            role="worker",
            will_topic=topics.worker_state(self.base),
            will_payload=encode(self._state("offline")),
            client_id=self.client_id,
            clean_session=False,
        )
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message

    def _state(self, state: str) -> WorkerState:
        return WorkerState(
            schema=SCHEMA,
            state=state,  # type: ignore[arg-type]
            worker_id=self.worker_id,
            t_s=time.time(),
            batches_ok=self.stats.batches_ok,
            batches_rejected=self.stats.batches_rejected,
            last_error=self.stats.last_error,
        )

    def start(self) -> None:
        self.client.connect_async(self.broker.host, self.broker.port, keepalive=15)
        self.client.loop_start()

    def stop(self) -> None:
        shut_down(
            self.client,
            self.broker,
            state_topic=topics.worker_state(self.base),
            offline_payload=encode(self._state("offline")),
            persistent_id=self.client_id,
        )

    def _on_connect(
        self,
        client: mqtt.Client,
        userdata: object,
        flags: mqtt.ConnectFlags,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        if reason_code.is_failure:
            log.error("worker: broker %s refused the connection: %s", self.broker, reason_code)
            return
        client.subscribe([(topics.raw_filter(self.base), 1), (f"{self.base}/athlete/+/info", 1)])
        client.publish(
            topics.worker_state(self.base), encode(self._state("online")), qos=1, retain=True
        )
        self.connected.set()

    def _on_message(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        try:
            if msg.topic.endswith("/info"):
                if msg.payload:
                    info = decode(msg.payload, AthleteInfo)
                    settings = settings_from_info(info)  # SettingsError is a ValueError
                    with self._lock:
                        self.body_mass_kg[info.athlete] = info.body_mass_kg
                        self.settings[info.athlete] = settings
                        if info.athlete in self.pipelines:
                            self.pipelines[info.athlete].body_mass_kg = info.body_mass_kg
                            self.pipelines[info.athlete].load.set_settings(settings)
                return
            batch = decode(msg.payload, RawBatch)
            self._handle(batch)
        except (MessageError, ValueError) as exc:
            self._reject(msg.topic, str(exc))

    def _reject(self, topic: str, error: str) -> None:
        with self._lock:
            self.stats.batches_rejected += 1
            self.stats.last_error = f"{topic}: {error}"
            self.stats.rejected_by_topic[topic] = self.stats.rejected_by_topic.get(topic, 0) + 1
            n = self.stats.batches_rejected
        if n in (1, 10, 100) or n % 1000 == 0:
            log.warning("worker: rejected a message on %s (%d so far): %s", topic, n, error)

    def _is_repeat(self, batch: RawBatch) -> bool:
        """At-least-once delivery (QoS 1, the bridge's spool) can repeat a batch: drop a
        ``(sensor_id, seq)`` seen among that sensor's recent batches."""
        seen = self._recent_seq.get(batch.sensor_id)
        if seen is None:
            seen = self._recent_seq[batch.sensor_id] = (deque(maxlen=RECENT_SEQ), set())
        order, members = seen
        if batch.seq in members:
            return True
        if len(order) == order.maxlen:
            members.discard(order[0])
        order.append(batch.seq)
        members.add(batch.seq)
        return False

    def _handle(self, batch: RawBatch) -> None:
        with self._lock:
            if self._is_repeat(batch):
                self.stats.batches_repeated += 1
                return
            pipeline = self.pipelines.get(batch.athlete)
            if pipeline is None:
                pipeline = self.pipelines[batch.athlete] = AthletePipeline(
                    batch.athlete, self.body_mass_kg.get(batch.athlete)
                )
                if batch.athlete in self.settings:
                    pipeline.load.set_settings(self.settings[batch.athlete])
                if self.data_dir is not None:  # once per athlete: past sessions' totals
                    started = time.time()
                    pipeline.load.history = read_history(self.data_dir, batch.athlete, started)
                    pipeline.load.history_t_s = started
            steps = pipeline.on_batch(batch)
            self.stats.batches_ok += 1
            now = time.time()
            due = now - self._last_summary_s.get(batch.athlete, 0.0) >= SUMMARY_PERIOD_S
            summary = pipeline.summary(now) if (steps or due) else None
            if summary is not None:
                self._last_summary_s[batch.athlete] = now
            self.stats.steps_published += len(steps)
        for step in steps:
            self.client.publish(
                topics.steps(self.base, step.athlete, step.side), encode(step), qos=1
            )
        if summary is not None:
            self.client.publish(
                topics.summary(self.base, batch.athlete), encode(summary), qos=1, retain=True
            )
