"""The bridge service: sensor links in, MQTT out, with availability and quality.

Raw batches never go straight to the broker: each is appended to the
store-and-forward :class:`~calfload.bridge.spool.Spool` (flushed to disk every
:data:`FLUSH_PERIOD_S`), and a forwarder hands spooled batches to paho in id order
while the broker is connected, at most :data:`MAX_OUTSTANDING` unacknowledged at a
time. A batch leaves the spool only when its QoS 1 PUBACK arrives (paho's
``on_publish``, matched by message id). While the broker is away nothing new is
handed to paho (so memory stays bounded); paho itself resends the handed,
unacknowledged ones on reconnect, then forwarding continues in order. No network
is needed during a run. Delivery is at least once: a batch whose PUBACK was lost
(broker restart, bridge killed between PUBACK and the next flush) may arrive twice;
receivers drop repeats by ``(sensor_id, seq)``.

State messages (bridge state, availability, athlete info, quality) are retained and
published directly; quality is skipped while the broker is away (the next one
replaces it anyway).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import socket
import threading
import time
from collections.abc import Sequence

import paho.mqtt.client as mqtt
from bleak.backends.client import BaseBleakClient
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from calfload.bridge import topics
from calfload.bridge.link import SensorLink, SensorSpec
from calfload.bridge.messages import (
    SCHEMA,
    AthleteInfo,
    BridgeState,
    RawBatch,
    SensorAvailability,
    SensorQuality,
    encode,
)
from calfload.bridge.mqtt import BrokerUrl, make_client
from calfload.bridge.sources import BatchSource
from calfload.bridge.spool import Spool

log = logging.getLogger(__name__)
QUALITY_PERIOD_S = 2.0
#: The spool reaches the disk at least this often: a killed bridge loses at most this.
FLUSH_PERIOD_S = 0.5
#: Spooled batches handed to paho and not yet acknowledged, at most.
MAX_OUTSTANDING = 200
#: On a clean stop, how long to wait for the broker to take the rest of the spool.
DRAIN_TIMEOUT_S = 5.0


class Bridge:
    """Runs one :class:`SensorLink` per sensor and publishes what they produce."""

    def __init__(
        self,
        broker: BrokerUrl,
        specs: Sequence[SensorSpec],
        athletes: Sequence[AthleteInfo],
        *,
        base: str = topics.DEFAULT_BASE,
        backend: type[BaseBleakClient] | None = None,
        bridge_id: str | None = None,
        sources: Sequence[BatchSource] = (),
        spool: Spool | None = None,
    ) -> None:
        self.broker = broker
        self.base = topics.check_base(base)
        self.specs = list(specs)
        self.athletes = list(athletes)
        self.bridge_id = bridge_id or f"bridge-{socket.gethostname()}"
        self.spool = spool if spool is not None else Spool(":memory:")
        # Batch numbers continue across bridge restarts on the same spool, so that
        # (sensor_id, seq) names one batch for good and receivers can drop repeats.
        self.links = [
            SensorLink(
                spec,
                self._publish_batch,
                self._on_sensor_state,
                backend=backend,
                first_seq=self.spool.counter(_seq_key(spec.sensor_id)),
            )
            for spec in self.specs
        ]
        self.sources = list(sources)  # non-BLE sources, e.g. Moticon UDP
        for source in self.sources:
            source.attach(self._publish_batch)
        #: Raw batches acknowledged by the broker (this process).
        self.batches_published = 0
        #: Raw batches produced by the links and put in the spool (this process).
        self.batches_recorded = 0
        self._ack_lock = threading.Lock()
        self._mid_rows: dict[int, int | None] = {}  # paho mid → spool id (None: state msg)
        self._early_acks: set[int] = set()  # PUBACKs that beat the mid bookkeeping
        self._outstanding = 0
        self._handed_id = 0
        self._wake = asyncio.Event()
        self._availability: dict[str, SensorAvailability] = {}
        self._client = make_client(
            broker,
            role="bridge",
            will_topic=topics.bridge_state(self.base),
            will_payload=encode(self._state("offline")),
        )
        self._client.on_connect = self._on_connect
        self._client.on_publish = self._on_publish
        self.broker_connected = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None

    def _state(self, state: str) -> BridgeState:
        return BridgeState(
            schema=SCHEMA,
            state=state,  # type: ignore[arg-type]
            bridge_id=self.bridge_id,
            t_s=time.time(),
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
            log.error("bridge: broker %s refused the connection: %s", self.broker, reason_code)
            return
        self._publish(topics.bridge_state(self.base), encode(self._state("online")), retain=True)
        for info in self.athletes:
            self._publish(topics.athlete_info(self.base, info.athlete), encode(info), retain=True)
        for sensor_id, availability in list(self._availability.items()):
            self._publish(
                topics.sensor_availability(self.base, sensor_id), encode(availability), retain=True
            )
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self.broker_connected.set)
            self._loop.call_soon_threadsafe(self._wake.set)

    def _publish(self, topic: str, payload: bytes, *, retain: bool = False) -> None:
        info = self._client.publish(topic, payload, qos=1, retain=retain)
        self._track(info.mid, None)

    def _track(self, mid: int, row_id: int | None) -> None:
        """Remember which spool row a paho message id carries (the PUBACK may already
        have come back on paho's thread; then acknowledge at once)."""
        with self._ack_lock:
            early = mid in self._early_acks
            if early:
                self._early_acks.discard(mid)
            else:
                self._mid_rows[mid] = row_id
                if row_id is not None:
                    self._outstanding += 1
            if early and row_id is not None:
                self.batches_published += 1
        if early and row_id is not None:
            self.spool.ack(row_id)

    def _on_publish(
        self,
        client: mqtt.Client,
        userdata: object,
        mid: int,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        """paho's thread: a QoS 1 message was acknowledged by the broker."""
        with self._ack_lock:
            if mid not in self._mid_rows:
                self._early_acks.add(mid)
                return
            row_id = self._mid_rows.pop(mid)
            if row_id is not None:
                self._outstanding -= 1
                self.batches_published += 1
        if row_id is not None:
            self.spool.ack(row_id)
            if self._loop is not None and self._outstanding < MAX_OUTSTANDING // 2:
                self._loop.call_soon_threadsafe(self._wake.set)

    def _publish_batch(self, batch: RawBatch) -> None:
        """A link produced a batch: record it; the forwarder sends it on."""
        topic = topics.raw(self.base, batch.athlete, batch.side, batch.sensor_id)
        if self.spool.append(topic, encode(batch)) is None:
            if self.spool.dropped in (1, 100) or self.spool.dropped % 10_000 == 0:
                log.error(
                    "bridge: the spool is full (%d bytes); %d batches not recorded",
                    self.spool.max_bytes,
                    self.spool.dropped,
                )
            return
        self.spool.set_counter(_seq_key(batch.sensor_id), batch.seq + 1)
        self.batches_recorded += 1
        self._wake.set()

    async def _forward(self, stop: asyncio.Event) -> None:
        """Hand spooled batches to paho in order while the broker is connected."""
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), 0.25)
            self._wake.clear()
            self.forward_once()

    def forward_once(self) -> int:
        """Hand what fits in the in-flight window to paho; return how many."""
        if not self._client.is_connected():
            return 0
        room = MAX_OUTSTANDING - self._outstanding
        if room <= 0:
            return 0
        rows = self.spool.take(self._handed_id, room)
        for row in rows:
            info = self._client.publish(row.topic, row.payload, qos=1)
            self._track(info.mid, row.id)
            self._handed_id = row.id
        return len(rows)

    async def _flush_periodically(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), FLUSH_PERIOD_S)
            await asyncio.to_thread(self.spool.flush)

    def _on_sensor_state(self, spec: SensorSpec, online: bool, reason: str) -> None:
        availability = SensorAvailability(
            schema=SCHEMA,
            state="online" if online else "offline",
            sensor_id=spec.sensor_id,
            athlete=spec.athlete,
            side=spec.side,
            family=spec.family,
            t_s=time.time(),
            reason=reason,
        )
        self._availability[spec.sensor_id] = availability
        self._publish(
            topics.sensor_availability(self.base, spec.sensor_id), encode(availability), retain=True
        )
        log.info(
            "sensor %s is %s%s", spec.sensor_id, availability.state, f" ({reason})" * bool(reason)
        )

    def quality(self, link: SensorLink) -> SensorQuality:
        s = link.stats
        total = s.gaps.samples_ok + s.gaps.samples_lost
        clock = link.clock
        unc_s = clock.uncertainty_s()
        # Left/right sync: against the same kind of sensor on the athlete's other foot.
        others = [
            other.clock.uncertainty_s()
            for other in self.links
            if other.spec.athlete == link.spec.athlete
            and other.spec.side != link.spec.side
            and other.spec.placement == link.spec.placement
        ]
        sync_ms = None
        if others and math.isfinite(unc_s) and all(math.isfinite(u) for u in others):
            sync_ms = round(1e3 * math.hypot(unc_s, max(others)), 2)
        return SensorQuality(
            schema=SCHEMA,
            sensor_id=link.spec.sensor_id,
            athlete=link.spec.athlete,
            side=link.spec.side,
            t_s=time.time(),
            packets_ok=s.packets_ok,
            packets_bad=s.packets_bad,
            samples_ok=s.gaps.samples_ok,
            samples_lost=s.gaps.samples_lost,
            loss_pct=round(100.0 * s.gaps.samples_lost / total, 3) if total else 0.0,
            effective_fs_hz=round(s.effective_fs_hz(), 2),
            longest_gap_s=s.gaps.longest_gap_s,
            last_error=s.last_error,
            reconnects=max(s.connects - 1, 0),
            offline_s=round(s.offline_s, 1),
            clock_drift_ppm=round(clock.beta * 1e6, 1) if clock.alpha_s is not None else None,
            time_uncertainty_ms=round(1e3 * unc_s, 2) if math.isfinite(unc_s) else None,
            sync_error_ms=sync_ms,
        )

    async def run(self, stop: asyncio.Event) -> None:
        """Connect to the broker and every sensor; run until ``stop`` is set."""
        self._loop = asyncio.get_running_loop()
        self._client.connect_async(self.broker.host, self.broker.port, keepalive=15)
        self._client.loop_start()
        tasks = [
            asyncio.create_task(link.run(), name=f"link-{link.spec.sensor_id}")
            for link in self.links
        ] + [asyncio.create_task(source.run()) for source in self.sources]
        spool_stop = asyncio.Event()
        forwarder = asyncio.create_task(self._forward(spool_stop), name="bridge-forward")
        flusher = asyncio.create_task(self._flush_periodically(spool_stop), name="bridge-flush")
        try:
            while not stop.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), QUALITY_PERIOD_S)
                if not self._client.is_connected():
                    continue
                for link in self.links:
                    self._publish(
                        topics.sensor_quality(self.base, link.spec.sensor_id),
                        encode(self.quality(link)),
                        retain=True,
                    )
                for quality in (q for source in self.sources for q in source.quality()):
                    topic = topics.sensor_quality(self.base, quality.sensor_id)
                    self._publish(topic, encode(quality), retain=True)
        finally:
            for link in self.links:
                link.stop()
            for source in self.sources:
                source.stop()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self._drain(DRAIN_TIMEOUT_S)
            spool_stop.set()
            await asyncio.gather(forwarder, flusher, return_exceptions=True)
            await asyncio.to_thread(self.spool.flush)
            self.spool.close()
            info = self._publish_offline()
            with contextlib.suppress(RuntimeError, ValueError):
                await asyncio.to_thread(info.wait_for_publish, 2.0)
            self._client.disconnect()
            self._client.loop_stop()

    async def _drain(self, timeout_s: float) -> None:
        """On a clean stop, give a connected broker a moment to take the spool's rest."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while self._client.is_connected() and loop.time() < deadline:
            if self.spool.backlog() <= 0:
                return
            self._wake.set()
            await asyncio.sleep(0.05)  # polling the ack count, bounded by the deadline

    def _publish_offline(self) -> mqtt.MQTTMessageInfo:
        return self._client.publish(
            topics.bridge_state(self.base), encode(self._state("offline")), qos=1, retain=True
        )


def _seq_key(sensor_id: str) -> str:
    return f"next_seq/{sensor_id}"
