"""Run a protocol live: announce each stage, mark its boundaries, collect the athlete's
steps and raw data from MQTT, and score it at the end.

The runner is a paho-mqtt 2 client of its own. It subscribes to the athlete's steps, raw
batches and (retained) info, publishes :class:`ProtocolEvent` messages and, at the end,
the retained :class:`~calfload.processing.protocols.results.ProtocolResult`. Stages run
on the session clock (``clock``, default ``time.time``). A heel-rise stage ends early when
the stop rule fires, a set when its target repetitions are reached. Scoring is the pure
:func:`~calfload.processing.protocols.scoring.score` over what was collected, so a
recording of the same data scores the same.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import msgspec
import paho.mqtt.client as mqtt
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from calfload.bridge import topics
from calfload.bridge.messages import SCHEMA, AthleteInfo, MessageError, RawBatch, decode, encode
from calfload.bridge.mqtt import BrokerUrl, make_client
from calfload.processing.messages import StepMessage
from calfload.processing.protocols.definition import Protocol, Stage
from calfload.processing.protocols.messages import (
    ProtocolEvent,
    events_topic,
    result_topic,
)
from calfload.processing.protocols.results import ProtocolResult, StageResult
from calfload.processing.protocols.samples import side_samples
from calfload.processing.protocols.scoring import AthleteContext, StageMark, score, score_stage

log = logging.getLogger(__name__)
PROGRESS_PERIOD_S = 1.0
SETTLE_S = 2.5
"""After the last stage: time for the last steps and batches to arrive before scoring (a
step is published at its toe-off at the earliest, and a pipeline may hold it up to 2 s
until the other foot's data confirm it)."""
TICK_S = 0.05


class RunnerError(RuntimeError):
    """The runner could not run (broker unreachable or refused)."""


@dataclass
class _Collected:
    steps: list[StepMessage] = field(default_factory=list)
    raw: list[RawBatch] = field(default_factory=list)
    info: AthleteInfo | None = None
    rejected: int = 0


def stage_reps(stage: StageResult) -> int | None:
    """The repetition count of a scored stage (heel rises, heel drops or hops)."""
    if stage.heel_rise is not None:
        return stage.heel_rise.reps
    if stage.heel_drop is not None:
        return stage.heel_drop.reps
    if stage.hops is not None:
        return stage.hops.hops
    return None


class ProtocolRunner:
    """Runs one protocol for one athlete against a broker; :meth:`run` blocks."""

    def __init__(
        self,
        broker: BrokerUrl,
        protocol: Protocol,
        athlete: AthleteContext,
        *,
        base: str = topics.DEFAULT_BASE,
        on_event: Callable[[ProtocolEvent], None] | None = None,
        clock: Callable[[], float] = time.time,
        progress_period_s: float = PROGRESS_PERIOD_S,
        settle_s: float = SETTLE_S,
    ) -> None:
        self.broker = broker
        self.protocol = protocol
        self.athlete = athlete
        self.base = topics.check_base(base)
        topics.check_id(athlete.athlete, "athlete id")
        self.on_event = on_event
        self.clock = clock
        self.progress_period_s = progress_period_s
        self.settle_s = settle_s
        self.run_id = uuid.uuid4().hex[:12]
        self.stop_requested = threading.Event()
        self.events: list[ProtocolEvent] = []
        self.result: ProtocolResult | None = None
        self._data = _Collected()
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        self._refused: str | None = None
        self.client = make_client(broker, role="protocol")
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_message = self._on_message

    # -- MQTT (paho's thread) --

    def _on_connect(
        self,
        client: mqtt.Client,
        userdata: object,
        flags: mqtt.ConnectFlags,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        if reason_code.is_failure:
            self._refused = str(reason_code)
            self._subscribed.set()
            return
        a = self.athlete.athlete
        client.subscribe(
            [
                (f"{self.base}/steps/{a}/+", 1),
                (f"{self.base}/raw/{a}/+/+", 1),
                (topics.athlete_info(self.base, a), 1),
            ]
        )

    def _on_subscribe(self, client: mqtt.Client, *args: object) -> None:
        self._subscribed.set()

    def _on_message(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        try:
            if msg.topic.endswith("/info"):
                if msg.payload:
                    info = decode(msg.payload, AthleteInfo)
                    with self._lock:
                        self._data.info = info
            elif "/steps/" in msg.topic:
                step = decode(msg.payload, StepMessage)
                with self._lock:
                    self._data.steps.append(step)
            else:
                batch = decode(msg.payload, RawBatch)
                with self._lock:
                    self._data.raw.append(batch)
        except MessageError as exc:
            with self._lock:
                self._data.rejected += 1
                n = self._data.rejected
            if n in (1, 10, 100):
                log.warning(
                    "protocol runner: ignored an unreadable message on %s: %s", msg.topic, exc
                )

    # -- the run (caller's thread) --

    def context(self) -> AthleteContext:
        """The athlete context, with body mass (and foot length) from the athlete's
        retained info where the caller did not give them."""
        with self._lock:
            info = self._data.info
        a = self.athlete
        if info is None:
            return a
        return AthleteContext(
            athlete=a.athlete,
            body_mass_kg=a.body_mass_kg or info.body_mass_kg,
            foot_length_m=a.foot_length_m or info.foot_length_m,
            sex=a.sex,
            age_y=a.age_y,
            involved=a.involved,
        )

    def _event(
        self,
        kind: str,
        stage: Stage | None = None,
        index: int | None = None,
        t_s: float | None = None,
        **kw: object,
    ) -> mqtt.MQTTMessageInfo:
        fields: dict[str, object] = {}
        if stage is not None:
            fields = {
                "stage_index": index,
                "stage": stage.name,
                "task": stage.task,
                "cue": stage.cue,
                "duration_s": stage.duration_s,
                "side": stage.side if stage.side in ("left", "right") else None,
                "speed_mps": stage.speed_mps,
                "slope_deg": stage.slope_deg if stage.task == "run" else None,
                "metronome_bpm": stage.metronome_bpm,
                "target_reps": stage.reps,
            }
        fields.update(kw)
        event = ProtocolEvent(
            schema=SCHEMA,
            athlete=self.athlete.athlete,
            protocol=self.protocol.name,
            run_id=self.run_id,
            kind=kind,  # type: ignore[arg-type]
            t_s=self._now() if t_s is None else t_s,
            **fields,  # type: ignore[arg-type]
        )
        self.events.append(event)
        sent = self.client.publish(
            events_topic(self.base, self.athlete.athlete), encode(event), qos=1
        )
        if self.on_event is not None:
            try:
                self.on_event(event)
            except Exception:  # a display callback must not stop the protocol
                log.exception("protocol runner: the event callback failed")
        return sent

    def _live(self, index: int, stage: Stage, start_s: float, now_s: float) -> StageResult:
        with self._lock:
            raw = [b for b in self._data.raw if b.t0_s >= start_s - 1.0]
            steps = [s for s in self._data.steps if s.ic_s >= start_s - 1.0]
        samples = {side: side_samples(raw, side) for side in topics.SIDES}
        mark = StageMark(index, start_s, now_s)
        return score_stage(stage, mark, self.protocol, self.context(), steps, samples)

    def _now(self) -> float:
        """The session clock, rounded as events carry it (so marks rebuilt from recorded
        events are exactly the marks scored here)."""
        return round(self.clock(), 4)

    def _stage(self, index: int, stage: Stage, start: float) -> str:
        """Run one stage; return why it ended early ('' when it ran its full time)."""
        self._event("stage-start", stage, index, t_s=start)
        end = start + stage.duration_s
        next_progress = start + self.progress_period_s
        live = stage.task in ("heel-rise", "heel-drop", "hop", "drop-jump")
        while True:
            now = self.clock()
            if self.stop_requested.is_set():
                return "stopped by user"
            if now >= end:
                return ""
            if live and now >= next_progress:
                next_progress = now + self.progress_period_s
                result = self._live(index, stage, start, now)
                self._event("progress", stage, index, reps=stage_reps(result))
                hr = result.heel_rise
                if (
                    hr is not None
                    and stage.reps is None
                    and stage.stop_on_fail
                    and hr.stop_reason
                    in (
                        "height",
                        "pace",
                        "support",
                    )
                ):
                    return f"stop rule: {hr.stop_reason}"
                if hr is not None and hr.stop_reason == "target":
                    return "target reached"
                drop = result.heel_drop
                if stage.task == "heel-drop" and drop is not None and drop.complete:
                    return "target reached"
            time.sleep(min(TICK_S, max(0.0, end - now)))

    def release(self) -> None:
        """Forget the collected steps and raw batches (the result stays)."""
        with self._lock:
            self._data = _Collected(info=self._data.info)

    def run(self, *, connect_timeout_s: float = 10.0) -> ProtocolResult:
        """Connect, run every stage, score, publish and return the result."""
        self.client.connect_async(self.broker.host, self.broker.port, keepalive=15)
        self.client.loop_start()
        try:
            if not self._subscribed.wait(connect_timeout_s):
                raise RunnerError(f"cannot reach the MQTT broker at {self.broker}")
            if self._refused is not None:
                raise RunnerError(f"the MQTT broker at {self.broker} refused: {self._refused}")
            return self._run()
        finally:
            with contextlib.suppress(Exception):
                self.client.disconnect()
            self.client.loop_stop()

    def _run(self) -> ProtocolResult:
        n = len(self.protocol.stages)
        self._event("start", stages=n, cue=self.protocol.title)
        marks: list[StageMark] = []
        aborted = ""
        for index, stage in enumerate(self.protocol.stages):
            start = self._now()
            reason = self._stage(index, stage, start)
            end = self._now()
            marks.append(StageMark(index, start, end))
            with self._lock:
                data = self._data
                raw = [b for b in data.raw if b.t0_s >= start - 1.0]
                steps = [s for s in data.steps if s.ic_s >= start - 1.0]
            reps = None
            if stage.task != "rest" and stage.task != "run":
                samples = {side: side_samples(raw, side) for side in topics.SIDES}
                reps = stage_reps(
                    score_stage(stage, marks[-1], self.protocol, self.context(), steps, samples)
                )
            self._event("stage-end", stage, index, t_s=end, reps=reps, reason=reason)
            if reason == "stopped by user":
                aborted = reason
                break
        # let the last steps (closed only at toe-off) and batches arrive
        settle_until = self.clock() + self.settle_s
        while self.clock() < settle_until:
            time.sleep(TICK_S)
        with self._lock:
            steps, raw = list(self._data.steps), list(self._data.raw)
        result = score(self.protocol, marks, self.context(), steps=steps, raw=raw)
        if aborted:
            result = msgspec.structs.replace(result, complete=False, notes=[aborted])
        self.result = result
        info = self.client.publish(
            result_topic(self.base, self.athlete.athlete), encode(result), qos=1, retain=True
        )
        last = self._event("abort" if aborted else "end", reason=aborted)
        for sent in (info, last):
            with contextlib.suppress(RuntimeError, ValueError):
                sent.wait_for_publish(5.0)
        return result
