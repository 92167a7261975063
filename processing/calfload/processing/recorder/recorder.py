"""``calfload record``: every athlete session from MQTT into its own SQLite file.

One paho client (network thread) only queues what arrives; one writer thread decodes,
buffers and writes, and commits every :data:`COMMIT_PERIOD_S` (the partial current second
included), so a crash loses at most the data of that last period.

Sessions (per athlete):

* **automatic**: raw data for an athlete with no open session opens one (named after the
  athlete's info); :data:`IDLE_TIMEOUT_S` without raw data closes it (``stop_reason``
  ``idle``);
* **controlled**: ``SessionControl`` on ``<base>/session/<athlete>/control`` (the dashboard's
  sessions page sends these) starts, stops, names a session or adds a note. After an
  explicit stop no session opens automatically for that athlete until an explicit start, or
  until its data has paused for :data:`IDLE_TIMEOUT_S` (a new athlete on the sensors).

Every unreadable message is counted (``RecorderState.messages_rejected``, logged once per
kind) and dropped; the recorder never stops for one.
"""

from __future__ import annotations

import json
import logging
import queue
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import msgspec
import numpy as np
import paho.mqtt.client as mqtt
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from calfload.bridge import topics
from calfload.bridge.messages import (
    SCHEMA,
    AthleteInfo,
    MessageError,
    RawBatch,
    SensorAvailability,
    SensorQuality,
    decode,
    encode,
)
from calfload.bridge.mqtt import BrokerUrl, make_client, new_client_id, shut_down
from calfload.processing.messages import SessionSummary, StepMessage
from calfload.processing.recorder import messages as rm
from calfload.processing.recorder.blobs import from_batch
from calfload.processing.recorder.jumps import DEFAULT_WEIGHT_N, JumpDetector
from calfload.processing.recorder.store import SensorMeta, SessionWriter

log = logging.getLogger(__name__)
COMMIT_PERIOD_S: Final = 0.5
IDLE_TIMEOUT_S: Final = 30.0
STATE_PERIOD_S: Final = 5.0
"""How often the retained RecorderState (counters) is refreshed."""
G0: Final = 9.80665


@dataclass
class RecorderStats:
    messages_ok: int = 0
    messages_rejected: int = 0
    not_recording: int = 0
    """Messages for an athlete without an open session (after an explicit stop)."""
    channels_dropped: int = 0
    last_error: str = ""
    rejected_by_kind: dict[str, int] = field(default_factory=dict)


@dataclass
class _Open:
    writer: SessionWriter
    jumps: JumpDetector


class Recorder:
    """Records every athlete's session under ``folder`` (``<folder>/<session_id>.sqlite3``)."""

    def __init__(
        self,
        broker: BrokerUrl,
        folder: Path,
        *,
        base: str = topics.DEFAULT_BASE,
        auto_start: bool = True,
        idle_timeout_s: float = IDLE_TIMEOUT_S,
        commit_period_s: float = COMMIT_PERIOD_S,
    ) -> None:
        self.broker = broker
        self.folder = folder
        self.base = topics.check_base(base)
        self.auto_start = auto_start
        self.idle_timeout_s = idle_timeout_s
        self.commit_period_s = commit_period_s
        self.recorder_id = f"recorder-{socket.gethostname()}"
        self.stats = RecorderStats()
        self.sessions: dict[str, _Open] = {}
        self.infos: dict[str, AthleteInfo] = {}
        self.held: dict[str, float] = {}
        """Athletes stopped explicitly: monotonic time of their last data."""
        self.connected = threading.Event()
        self._queue: queue.Queue[tuple[str, bytes]] = queue.Queue()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._warned: set[str] = set()
        self._state_sent = 0.0
        self._thread = threading.Thread(target=self._run, name="recorder-writer", daemon=True)
        # Persistent like the worker's: the broker queues what arrives while the recorder
        # is reconnecting, so a broker restart leaves no hole in the recording.
        self.client_id = new_client_id("recorder")
        self.client = make_client(
            broker,
            role="recorder",
            will_topic=rm.recorder_state(self.base),
            will_payload=encode(self._state("offline")),
            client_id=self.client_id,
            clean_session=False,
        )
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message

    # -- lifecycle --

    def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self._thread.start()
        self.client.connect_async(self.broker.host, self.broker.port, keepalive=15)
        self.client.loop_start()

    def stop(self) -> None:
        """Close every open session (``stop_reason``: ``recorder stopped``) and disconnect."""
        self._stop.set()
        self._thread.join(10)
        shut_down(
            self.client,
            self.broker,
            state_topic=rm.recorder_state(self.base),
            offline_payload=encode(self._state("offline")),
            persistent_id=self.client_id,
        )

    def _state(self, state: str) -> rm.RecorderState:
        return rm.RecorderState(
            schema=SCHEMA,
            state=state,  # type: ignore[arg-type]
            recorder_id=self.recorder_id,
            t_s=time.time(),
            sessions_open=len(self.sessions),
            messages_ok=self.stats.messages_ok,
            messages_rejected=self.stats.messages_rejected,
            last_error=self.stats.last_error,
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
            log.error("recorder: broker %s refused the connection: %s", self.broker, reason_code)
            return
        client.subscribe([(f, 1) for f in rm.filters(self.base)])
        client.publish(
            rm.recorder_state(self.base), encode(self._state("online")), qos=1, retain=True
        )
        self.connected.set()

    def _on_message(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        self._queue.put((msg.topic, bytes(msg.payload)))

    # -- the writer thread --

    def _run(self) -> None:
        next_commit = time.monotonic() + self.commit_period_s
        while True:
            stopping = self._stop.is_set()
            timeout = max(0.0, next_commit - time.monotonic())
            try:
                topic, payload = self._queue.get(timeout=0 if stopping else timeout)
            except queue.Empty:
                pass
            else:
                try:
                    self.handle(topic, payload)
                except Exception as exc:  # a bug or a storage error: count it, keep recording
                    log.exception("recorder could not store a message on %s", topic)
                    self._reject("internal", f"{topic}: {exc}")
                if time.monotonic() < next_commit or (not self._queue.empty() and stopping):
                    continue
            self._commit_all()
            next_commit = time.monotonic() + self.commit_period_s
            if stopping and self._queue.empty():
                for athlete in list(self.sessions):
                    self._close(athlete, "recorder stopped")
                return

    def _commit_all(self) -> None:
        now = time.monotonic()
        if now - self._state_sent >= STATE_PERIOD_S and self.connected.is_set():
            self._state_sent = now
            self.client.publish(
                rm.recorder_state(self.base), encode(self._state("online")), qos=1, retain=True
            )
        for athlete, s in list(self.sessions.items()):
            try:
                s.writer.commit()
            except Exception as exc:  # a full disk must not end the recorder
                self._reject("storage", f"{s.writer.path}: {exc}")
            if now - s.writer.last_data_s > self.idle_timeout_s:
                self._close(athlete, "idle")

    def handle(self, topic: str, payload: bytes) -> None:
        """Decode and record one MQTT message (writer thread; public for tests)."""
        parts = topic[len(self.base) + 1 :].split("/") if topic.startswith(self.base + "/") else []
        kind = parts[0] if parts else "unknown"
        try:
            match parts:
                case ["raw", athlete, _side, _sensor]:
                    self._raw(athlete, decode(payload, RawBatch))
                case ["steps", athlete, _side]:
                    self._step(athlete, payload)
                case ["summary", athlete]:
                    self._summary(athlete, payload)
                case ["athlete", athlete, "info"]:
                    self._info(athlete, payload)
                case ["sensor", _sensor, "quality"]:
                    self._quality(payload)
                case ["sensor", _sensor, "availability"]:
                    self._availability(payload)
                case ["session", athlete, "control"]:
                    self._control(athlete, decode(payload, rm.SessionControl))
                case ["marker", athlete]:
                    self._marker(athlete, decode(payload, rm.Marker))
                case ["protocol", athlete, "events" | "event"]:
                    self._protocol(athlete, payload)
                case _:
                    return
        except (MessageError, ValueError) as exc:
            self._reject(kind, f"{topic}: {exc}")
            return
        self.stats.messages_ok += 1

    def _reject(self, kind: str, error: str) -> None:
        with self._lock:
            self.stats.messages_rejected += 1
            self.stats.last_error = error
            self.stats.rejected_by_kind[kind] = self.stats.rejected_by_kind.get(kind, 0) + 1
        if kind not in self._warned:
            self._warned.add(kind)
            log.warning(
                "recorder ignored an unreadable %s message (%s); further ones are counted",
                kind,
                error,
            )

    @staticmethod
    def _same(athlete: str, said: str) -> None:
        if athlete != said:
            raise ValueError(f"the topic is for athlete {athlete!r} but the payload says {said!r}")

    # -- sessions --

    def _session(self, athlete: str, *, auto_t_s: float | None = None) -> _Open | None:
        """The athlete's open session; with ``auto_t_s`` (data arrived) one opens if allowed."""
        s = self.sessions.get(athlete)
        if s is not None or auto_t_s is None or not self.auto_start:
            return s
        held = self.held.get(athlete)
        now = time.monotonic()
        if held is not None:
            if now - held <= self.idle_timeout_s:
                self.held[athlete] = now
                return None
            del self.held[athlete]
        return self._open(athlete, "", min(auto_t_s, time.time()), "auto")

    def _open(self, athlete: str, name: str, t_s: float, by: str) -> _Open:
        topics.check_id(athlete, "athlete id")
        info = self.infos.get(athlete)
        name = name or (info.name if info is not None else "") or athlete
        stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(t_s))
        session_id, k = f"{athlete}-{stamp}", 1
        while (self.folder / f"{session_id}.sqlite3").exists():
            k += 1
            session_id = f"{athlete}-{stamp}-{k}"
        writer = SessionWriter.create(self.folder, session_id, athlete, name, t_s)
        weight = info.body_mass_kg * G0 if info is not None else DEFAULT_WEIGHT_N
        s = self.sessions[athlete] = _Open(writer, JumpDetector(weight))
        writer.add_event(t_s, "session", "start", by)
        if info is not None:
            writer.add_info(t_s, encode(info).decode())
        log.info("recorder: session %s started (%s)", session_id, by or "auto")
        self._publish_state(s, "recording", None)
        return s

    def _close(self, athlete: str, reason: str, t_s: float | None = None) -> None:
        s = self.sessions.pop(athlete, None)
        if s is None:
            return
        # the session's end is its last sample (the bridge's clock), else the stop's time
        stopped = s.writer.newest_s if s.writer.sensors else (t_s or time.time())
        try:
            s.writer.add_event(stopped, "session", "stop", reason)
            s.writer.close(stopped, reason)
        except Exception as exc:
            self._reject("storage", f"{s.writer.path}: {exc}")
        log.info("recorder: session %s stopped (%s)", s.writer.session_id, reason)
        self._publish_state(s, "stopped", stopped)

    def _publish_state(self, s: _Open, state: str, stopped_s: float | None) -> None:
        w = s.writer
        message = rm.SessionState(
            schema=SCHEMA,
            athlete=w.athlete,
            state=state,  # type: ignore[arg-type]
            session_id=w.session_id,
            name=w.name,
            started_s=w.started_s,
            stopped_s=stopped_s,
            t_s=time.time(),
        )
        self.client.publish(rm.state(self.base, w.athlete), encode(message), qos=1, retain=True)

    # -- messages --

    def _raw(self, athlete: str, batch: RawBatch) -> None:
        self._same(athlete, batch.athlete)
        if batch.n < 1 or not (0.0 < batch.fs_hz <= 10_000.0) or not np.isfinite(batch.t0_s):
            raise ValueError(f"batch of {batch.n} samples at {batch.fs_hz} Hz cannot be stored")
        samples, dropped = from_batch(batch)
        if not samples.channels:
            raise ValueError(
                f"{batch.sensor_id}: no channel has one value per sample (n={batch.n})"
            )
        s = self._session(athlete, auto_t_s=batch.t0_s)
        if s is None:
            self.stats.not_recording += 1
            return
        if dropped:
            self.stats.channels_dropped += len(dropped)
            self._reject("raw", f"{batch.sensor_id}: {', '.join(dropped)} not one row per sample")
        meta = SensorMeta(
            batch.sensor_id, athlete, batch.side, batch.placement, batch.family, batch.fs_hz
        )
        s.writer.add_samples(meta, samples, batch.gap_samples)
        if batch.placement == "insole" and "force_n" in samples.channels:
            for jump in s.jumps.feed(batch.side, samples.t_s, samples.channels["force_n"][:, 0]):
                data = {k: getattr(jump, k) for k in jump.__dataclass_fields__}
                s.writer.add_event(jump.landing_s, "jump", "jump", "detector", data)

    def _step(self, athlete: str, payload: bytes) -> None:
        step = decode(payload, StepMessage)
        self._same(athlete, step.athlete)
        s = self._session(athlete)
        if s is None:
            self.stats.not_recording += 1
            return
        s.writer.add_step(msgspec.to_builtins(step), payload.decode())

    def _summary(self, athlete: str, payload: bytes) -> None:
        if not payload:
            return  # a cleared retained summary
        summary = decode(payload, SessionSummary)
        self._same(athlete, summary.athlete)
        s = self._session(athlete)
        if s is not None:
            s.writer.add_summary(summary.t_s, payload.decode())

    def _info(self, athlete: str, payload: bytes) -> None:
        if not payload:
            return
        info = decode(payload, AthleteInfo)
        self._same(athlete, info.athlete)
        if not (0.0 < info.body_mass_kg < 400.0):
            raise ValueError(f"body mass {info.body_mass_kg} kg is not plausible")
        self.infos[athlete] = info
        s = self._session(athlete)
        if s is not None:
            s.writer.add_info(time.time(), payload.decode())
            s.jumps.weight_n = info.body_mass_kg * G0

    def _quality(self, payload: bytes) -> None:
        if not payload:
            return
        q = decode(payload, SensorQuality)
        s = self._session(q.athlete)
        if s is not None:
            s.writer.add_quality(q.t_s, q.sensor_id, payload.decode())

    def _availability(self, payload: bytes) -> None:
        if not payload:
            return
        a = decode(payload, SensorAvailability)
        s = self._session(a.athlete)
        if s is not None:
            s.writer.add_event(a.t_s, "availability", a.state, a.sensor_id, {"reason": a.reason})

    def _control(self, athlete: str, c: rm.SessionControl) -> None:
        self._same(athlete, c.athlete)
        t_s = c.t_s if c.t_s is not None else time.time()
        if c.action == "start":
            self.held.pop(athlete, None)
            self._close(athlete, "restarted", t_s)
            self._open(athlete, c.name.strip()[:200], t_s, c.by or "control")
        elif c.action == "stop":
            if athlete in self.sessions:
                self._close(athlete, f"stopped by {c.by}" if c.by else "stopped", t_s)
            self.held[athlete] = time.monotonic()
        else:
            s = self.sessions.get(athlete)
            if s is None:
                raise ValueError(f"no open session for athlete {athlete!r} to {c.action}")
            if c.action == "name":
                s.writer.rename(c.name.strip()[:200])
                self._publish_state(s, "recording", None)
            else:
                text = c.text.strip()[:5000]
                if not text:
                    raise ValueError("an empty note")
                s.writer.add_event(t_s, "note", text, c.by)

    def _marker(self, athlete: str, m: rm.Marker) -> None:
        self._same(athlete, m.athlete)
        t_s = m.t_s if m.t_s is not None else time.time()
        s = self._session(athlete)
        if s is None:
            raise ValueError(f"no open session for athlete {athlete!r}: marker not recorded")
        s.writer.add_event(t_s, "marker", m.label[:200], m.source[:200])

    def _protocol(self, athlete: str, payload: bytes) -> None:
        try:
            data: Any = json.loads(payload)
        except ValueError as exc:
            raise ValueError(f"not JSON: {exc}") from None
        if not isinstance(data, dict) or data.get("schema") != SCHEMA:
            raise ValueError(f"a protocol event must be a JSON object with schema {SCHEMA}")
        t_s, kind = data.get("t_s"), data.get("kind")
        if not isinstance(t_s, int | float) or not isinstance(kind, str) or not kind:
            raise ValueError("a protocol event needs a numeric t_s and a kind")
        s = self._session(athlete)
        if s is not None:
            s.writer.add_event(float(t_s), "protocol", kind[:200], "protocol", data)
