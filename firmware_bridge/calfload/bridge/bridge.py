"""The bridge service: sensor links in, MQTT out, with availability and quality."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
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

log = logging.getLogger(__name__)
QUALITY_PERIOD_S = 2.0


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
    ) -> None:
        self.broker = broker
        self.base = topics.check_base(base)
        self.specs = list(specs)
        self.athletes = list(athletes)
        self.bridge_id = bridge_id or f"bridge-{socket.gethostname()}"
        self.links = [
            SensorLink(spec, self._publish_batch, self._on_sensor_state, backend=backend)
            for spec in self.specs
        ]
        self.sources = list(sources)  # non-BLE sources, e.g. Moticon UDP
        for source in self.sources:
            source.attach(self._publish_batch)
        self.batches_published = 0
        self._availability: dict[str, SensorAvailability] = {}
        self._client = make_client(
            broker,
            role="bridge",
            will_topic=topics.bridge_state(self.base),
            will_payload=encode(self._state("offline")),
        )
        self._client.on_connect = self._on_connect
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

    def _publish(self, topic: str, payload: bytes, *, retain: bool = False) -> None:
        self._client.publish(topic, payload, qos=1, retain=retain)

    def _publish_batch(self, batch: RawBatch) -> None:
        topic = topics.raw(self.base, batch.athlete, batch.side, batch.sensor_id)
        self._publish(topic, encode(batch))
        self.batches_published += 1

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
        try:
            while not stop.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), QUALITY_PERIOD_S)
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
            info = self._publish_offline()
            with contextlib.suppress(RuntimeError, ValueError):
                await asyncio.to_thread(info.wait_for_publish, 2.0)
            self._client.disconnect()
            self._client.loop_stop()

    def _publish_offline(self) -> mqtt.MQTTMessageInfo:
        return self._client.publish(
            topics.bridge_state(self.base), encode(self._state("offline")), qos=1, retain=True
        )
