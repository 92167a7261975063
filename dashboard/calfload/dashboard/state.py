"""What the live dashboard knows, kept in memory. Pure: no I/O, no threads, no clock.

:func:`parse` turns one MQTT message (topic + payload) into a typed
:class:`Received`, :class:`Cleared` (an empty retained payload) or
:class:`Rejected` item; it is safe to call from paho's network thread.
:class:`LiveState` applies those items on the event loop and produces

* :meth:`LiveState.snapshot`: everything known, for a browser that just connected;
* :meth:`LiveState.flush`: only what changed since the previous flush, or ``None``.

Both are plain JSON-able dicts, sent as they are over the WebSocket::

    snapshot = {
        "type": "snapshot",
        "history_steps": 3000,            # steps kept per athlete and side
        "broker_connected": true,
        "rejected": 0,                    # unreadable MQTT messages so far
        "bridge": BridgeState | null,     # message fields as in the MQTT contract
        "worker": WorkerState | null,
        "sensors": {sensor_id: SensorAvailability},
        "quality": {sensor_id: SensorQuality},
        "athletes": {athlete_id: {
            "info": AthleteInfo | null,
            "summary": SessionSummary | null,
            "steps": {"left": Steps, "right": Steps},
            "watch": Watch,                       # alerts and windows, see below
            "events": [TimelineEvent],                   # notes and protocol stages
        }},
    }
    Steps = {"ic_s": [float], "gct_ms": [float|null], ...,  # COLUMNS, oldest first
             "last": StepMessage | null,           # the newest step, all fields
             "received": int}                      # steps received since start
    Watch = {"severity": 0|1|2, "alerts": [{"kind", "level", "text"}],
             "symmetry_pct": {metric: SI},         # recent window (alerts.RECENT_STEPS)
             "recent": {"left": {metric: mean}, "right": {...}},
             "baseline": {"left": {...} | null, "right": {...} | null},
             "thresholds": Thresholds}             # see calfload.dashboard.alerts

A page that asks for no columns (the grid) gets Steps without the column lists
(:func:`calfload.dashboard.scope.without_columns`).

    update = {"type": "update", ...}   # only the keys that changed:
        "broker_connected", "rejected", "bridge", "worker": new value (null = gone);
        "sensors", "quality": {sensor_id: message | null};
        "athletes": {athlete_id: {"info"?, "summary"?, "watch"?, "events"?,
                                  "steps"?: {"left"?: Steps, "right"?: Steps}}}
        where Steps lists only the steps that are new since the previous update,
        "events" only new events, and an athlete seen for the first time may come
        with ``{}``.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import islice
from typing import Any, Final, Literal, TypeAlias

import msgspec

from calfload.bridge.messages import (
    AthleteInfo,
    BridgeState,
    Message,
    MessageError,
    SensorAvailability,
    SensorQuality,
    Side,
    decode,
)
from calfload.bridge.topics import SIDES
from calfload.dashboard.alerts import (
    METRICS,
    RECENT_STEPS,
    Baseline,
    Observation,
    SensorStatus,
    Thresholds,
    evaluate,
    severity,
    symmetries,
    window_means,
)
from calfload.dashboard.athletestore import TimelineEvent
from calfload.processing.messages import SessionSummary, StepMessage, WorkerState
from calfload.processing.protocols.messages import ProtocolEvent

Kind = Literal["step", "summary", "info", "availability", "quality", "event", "bridge", "worker"]
KIND_TYPES: Final[dict[Kind, type[Message]]] = {
    "step": StepMessage,
    "summary": SessionSummary,
    "info": AthleteInfo,
    "availability": SensorAvailability,
    "quality": SensorQuality,
    "event": TimelineEvent,
    "bridge": BridgeState,
    "worker": WorkerState,
}
COLUMNS: Final = ("ic_s", *METRICS)
"""Step fields sent as columns (``null`` where a step lacks one)."""
MAX_EVENTS: Final = 500
"""Events kept per athlete."""
KIND_LABELS: Final[dict[Kind, str]] = {
    "step": "step",
    "summary": "session summary",
    "info": "athlete info",
    "availability": "sensor availability",
    "quality": "sensor quality",
    "event": "event marker",
    "bridge": "bridge state",
    "worker": "worker state",
}
DUPLICATE_WINDOW: Final = 64
"""How many recent steps per side are remembered to drop QoS 1 redeliveries."""

Json: TypeAlias = dict[str, Any]


def subscriptions(base: str) -> list[str]:
    """The MQTT topic filters the dashboard subscribes to."""
    return [
        f"{base}/steps/+/+",
        f"{base}/summary/+",
        f"{base}/athlete/+/info",
        f"{base}/sensor/+/availability",
        f"{base}/sensor/+/quality",
        f"{base}/event/+",
        f"{base}/protocol/+/events",
        f"{base}/bridge/state",
        f"{base}/worker/state",
    ]


@dataclass(frozen=True)
class Route:
    """Which kind of message a topic carries, and for whom.

    ``key`` is the athlete id (steps, summary, info), the sensor id
    (availability) or ``""`` (bridge, worker)."""

    kind: Kind
    key: str = ""
    side: Side | None = None
    protocol: bool = False
    """A protocol runner's event (``<base>/protocol/<athlete>/events``): its stage starts are
    shown as timeline events."""


def route(base: str, topic: str) -> Route | None:
    """The :class:`Route` of ``topic`` under ``base``, or ``None`` if it is not ours."""
    prefix = f"{base}/"
    if not topic.startswith(prefix):
        return None
    parts = topic[len(prefix) :].split("/")
    match parts:
        case ["steps", athlete, "left" | "right" as side] if athlete:
            return Route("step", athlete, side)
        case ["summary", athlete] if athlete:
            return Route("summary", athlete)
        case ["athlete", athlete, "info"] if athlete:
            return Route("info", athlete)
        case ["sensor", sensor_id, "availability"] if sensor_id:
            return Route("availability", sensor_id)
        case ["sensor", sensor_id, "quality"] if sensor_id:
            return Route("quality", sensor_id)
        case ["event", athlete] if athlete:
            return Route("event", athlete)
        case ["protocol", athlete, "events"] if athlete:
            return Route("event", athlete, protocol=True)
        case ["bridge", "state"]:
            return Route("bridge")
        case ["worker", "state"]:
            return Route("worker")
    return None


@dataclass(frozen=True)
class Received:
    route: Route
    message: Message


@dataclass(frozen=True)
class Cleared:
    """An empty retained payload: the publisher withdrew what it had retained."""

    route: Route


@dataclass(frozen=True)
class Rejected:
    kind: Kind
    topic: str
    reason: str


Incoming: TypeAlias = Received | Cleared | Rejected


def parse(base: str, topic: str, payload: bytes | bytearray) -> Incoming | None:
    """Decode one MQTT message; ``None`` when the topic is not one the dashboard reads."""
    where = route(base, topic)
    if where is None:
        return None
    if not payload:
        if where.kind in ("step", "event"):
            return Rejected("step", topic, "the payload is empty")
        return Cleared(where)
    if where.protocol:
        return _protocol_stage(where, topic, payload)
    try:
        message = decode(payload, KIND_TYPES[where.kind])
    except MessageError as exc:
        return Rejected(where.kind, topic, str(exc))
    mismatch = _mismatch(where, message)
    if mismatch:
        return Rejected(where.kind, topic, mismatch)
    return Received(where, message)


def _protocol_stage(where: Route, topic: str, payload: bytes | bytearray) -> Incoming | None:
    """A protocol runner's stage start as a timeline event; its other events are not drawn."""
    try:
        event = decode(payload, ProtocolEvent)
    except MessageError as exc:
        return Rejected("event", topic, str(exc))
    if event.athlete != where.key:
        return Rejected("event", topic, f"the topic is for athlete {where.key!r}")
    if event.kind != "stage-start":
        return None
    label = event.stage or event.task or "stage"
    text = f"{event.protocol}: {label}" + (f" ({event.cue})" if event.cue else "")
    timeline = TimelineEvent(
        schema=event.schema, athlete=event.athlete, t_s=event.t_s, kind="stage", text=text
    )
    return Received(Route("event", where.key), timeline)


def _mismatch(where: Route, message: Message) -> str:
    """Why the payload contradicts its topic, or ``""``."""
    if isinstance(message, StepMessage):
        if message.athlete != where.key or message.side != where.side:
            return (
                f"the topic is for athlete {where.key!r} ({where.side}) but the payload "
                f"says athlete {message.athlete!r} ({message.side})"
            )
    elif isinstance(message, SessionSummary | AthleteInfo | TimelineEvent):
        if message.athlete != where.key:
            return (
                f"the topic is for athlete {where.key!r} but the payload says "
                f"athlete {message.athlete!r}"
            )
    elif isinstance(message, SensorAvailability | SensorQuality) and message.sensor_id != where.key:
        return (
            f"the topic is for sensor {where.key!r} but the payload says "
            f"sensor {message.sensor_id!r}"
        )
    return ""


def to_json(message: Message) -> Json:
    """A message as a plain dict (field names as in the MQTT contract)."""
    data = msgspec.to_builtins(message)
    assert isinstance(data, dict)
    return data


@dataclass
class _SideSteps:
    history: deque[StepMessage]
    pending: deque[StepMessage]
    recent: deque[tuple[int, float]] = field(default_factory=lambda: deque(maxlen=DUPLICATE_WINDOW))
    received: int = 0
    last: StepMessage | None = None


@dataclass
class _Athlete:
    sides: dict[Side, _SideSteps]
    info: AthleteInfo | None = None
    summary: SessionSummary | None = None
    baseline: Baseline = field(default_factory=Baseline)
    events: deque[TimelineEvent] = field(default_factory=lambda: deque(maxlen=MAX_EVENTS))
    pending_events: list[TimelineEvent] = field(default_factory=list)
    watch: Json | None = None


class LiveState:
    """Everything the dashboard shows, plus what changed since the last :meth:`flush`.

    Not thread-safe: call it from one thread (the event loop)."""

    def __init__(self, history_steps: int = 3000) -> None:
        if history_steps < 1:
            raise ValueError(f"history_steps must be at least 1, not {history_steps}")
        self.history_steps = history_steps
        self.broker_connected = False
        self.rejected = 0
        self.rejected_by_kind: dict[Kind, int] = {}
        self.duplicates = 0
        self.bridge: BridgeState | None = None
        self.worker: WorkerState | None = None
        self.sensors: dict[str, SensorAvailability] = {}
        self.quality: dict[str, SensorQuality] = {}
        self.thresholds: dict[str, Thresholds] = {}
        """Alert thresholds per athlete (others get the defaults)."""
        self.sensor_owner: dict[str, str] = {}
        """The athlete each sensor id was last seen with (kept after it goes away)."""
        self.athletes: dict[str, _Athlete] = {}
        self._changed_athletes: set[str] = set()
        self._changed_info: set[str] = set()
        self._changed_summary: set[str] = set()
        self._changed_sensors: set[str] = set()
        self._changed_quality: set[str] = set()
        self._changed_watch: set[str] = set()
        self._changed_top: set[str] = set()

    # -- input ------------------------------------------------------------------

    def set_broker_connected(self, connected: bool) -> None:
        if connected != self.broker_connected:
            self.broker_connected = connected
            self._changed_top.add("broker_connected")

    def set_thresholds(self, athlete_id: str, thresholds: Thresholds) -> None:
        """New alert thresholds of one athlete; pages learn them with the next flush."""
        self.thresholds[athlete_id] = thresholds
        self._athlete(athlete_id)
        self._changed_watch.add(athlete_id)

    def add_event(self, marker: TimelineEvent) -> None:
        """A note or protocol stage on an athlete's timeline."""
        athlete = self._athlete(marker.athlete)
        athlete.events.append(marker)
        athlete.pending_events.append(marker)
        self._changed_athletes.add(marker.athlete)

    def last_ic_s(self, athlete_id: str, side: Side) -> float | None:
        """Initial contact of the newest step held for one foot (for backfilling)."""
        athlete = self.athletes.get(athlete_id)
        last = athlete.sides[side].last if athlete else None
        return None if last is None else last.ic_s

    def backfill(self, steps: Iterable[StepMessage]) -> int:
        """Add steps that were missed (from a recording), in any order; steps already
        held are skipped. Returns how many were new."""
        added = 0
        touched: set[tuple[str, Side]] = set()
        for step in steps:
            side = self._athlete(step.athlete).sides[step.side]
            if any(s.step_index == step.step_index and s.ic_s == step.ic_s for s in side.history):
                continue
            self._add_step(step, newest=False)
            touched.add((step.athlete, step.side))
            added += 1
        for athlete_id, side_name in touched:
            side = self.athletes[athlete_id].sides[side_name]
            ordered = sorted(side.history, key=lambda s: s.ic_s)
            side.history = deque(ordered, maxlen=side.history.maxlen)
            if side.last is None or ordered[-1].ic_s > side.last.ic_s:
                side.last = ordered[-1]
        return added

    def reject(self, kind: Kind) -> bool:
        """Count one unreadable message; ``True`` if it is the first of its kind."""
        self.rejected += 1
        count = self.rejected_by_kind.get(kind, 0) + 1
        self.rejected_by_kind[kind] = count
        self._changed_top.add("rejected")
        return count == 1

    def apply(self, item: Incoming) -> bool:
        """Apply one parsed item. For :class:`Rejected` it returns :meth:`reject`'s
        answer (first of its kind); otherwise ``False``."""
        if isinstance(item, Rejected):
            return self.reject(item.kind)
        if isinstance(item, Cleared):
            self._clear(item.route)
            return False
        message = item.message
        if isinstance(message, StepMessage):
            self._add_step(message)
        elif isinstance(message, SessionSummary):
            self._athlete(message.athlete).summary = message
            self._changed_summary.add(message.athlete)
        elif isinstance(message, AthleteInfo):
            self._athlete(message.athlete).info = message
            self._changed_info.add(message.athlete)
        elif isinstance(message, SensorAvailability):
            self.sensors[message.sensor_id] = message
            self.sensor_owner[message.sensor_id] = message.athlete
            self._changed_sensors.add(message.sensor_id)
            self._athlete(message.athlete)
            self._changed_watch.add(message.athlete)
        elif isinstance(message, SensorQuality):
            self.quality[message.sensor_id] = message
            self.sensor_owner[message.sensor_id] = message.athlete
            self._changed_quality.add(message.sensor_id)
            self._athlete(message.athlete)
            self._changed_watch.add(message.athlete)
        elif isinstance(message, TimelineEvent):
            self.add_event(message)
        elif isinstance(message, BridgeState):
            self.bridge = message
            self._changed_top.add("bridge")
        elif isinstance(message, WorkerState):
            self.worker = message
            self._changed_top.add("worker")
        return False

    def _athlete(self, athlete_id: str) -> _Athlete:
        athlete = self.athletes.get(athlete_id)
        if athlete is None:
            n = self.history_steps
            athlete = self.athletes[athlete_id] = _Athlete(
                sides={s: _SideSteps(deque(maxlen=n), deque(maxlen=n)) for s in SIDES}
            )
            self._changed_athletes.add(athlete_id)
        return athlete

    def _add_step(self, step: StepMessage, newest: bool = True) -> None:
        athlete = self._athlete(step.athlete)
        side = athlete.sides[step.side]
        key = (step.step_index, step.ic_s)
        if key in side.recent:
            self.duplicates += 1  # a QoS 1 redelivery: already shown
            return
        side.recent.append(key)
        side.history.append(step)
        side.pending.append(step)
        side.received += 1
        if newest:
            side.last = step
        athlete.baseline.add(step)
        self._changed_athletes.add(step.athlete)

    def _clear(self, where: Route) -> None:
        if where.kind == "info" and where.key in self.athletes:
            self.athletes[where.key].info = None
            self._changed_info.add(where.key)
        elif where.kind == "summary" and where.key in self.athletes:
            self.athletes[where.key].summary = None
            self._changed_summary.add(where.key)
        elif where.kind == "availability" and self.sensors.pop(where.key, None) is not None:
            self._changed_sensors.add(where.key)
            owner = self.sensor_owner.get(where.key)
            if owner is not None and owner in self.athletes:
                self._changed_watch.add(owner)
        elif where.kind == "quality" and self.quality.pop(where.key, None) is not None:
            self._changed_quality.add(where.key)
        elif where.kind == "bridge" and self.bridge is not None:
            self.bridge = None
            self._changed_top.add("bridge")
        elif where.kind == "worker" and self.worker is not None:
            self.worker = None
            self._changed_top.add("worker")

    # -- output -----------------------------------------------------------------

    def snapshot(self) -> Json:
        """Everything known, as sent to a browser that just connected."""
        for athlete_id, athlete in self.athletes.items():
            if athlete.watch is None:
                athlete.watch = self._watch(athlete_id, athlete)
        return {
            "type": "snapshot",
            "history_steps": self.history_steps,
            "broker_connected": self.broker_connected,
            "rejected": self.rejected,
            "bridge": _opt(self.bridge),
            "worker": _opt(self.worker),
            "sensors": {k: to_json(v) for k, v in sorted(self.sensors.items())},
            "quality": {k: to_json(v) for k, v in sorted(self.quality.items())},
            "athletes": {
                k: {
                    "info": _opt(a.info),
                    "summary": _opt(a.summary),
                    "steps": {s: _steps(a.sides[s], a.sides[s].history) for s in SIDES},
                    "watch": a.watch,
                    "events": [to_json(e) for e in a.events],
                }
                for k, a in sorted(self.athletes.items())
            },
        }

    def flush(self) -> Json | None:
        """What changed since the previous flush (or ``None``), and forget it."""
        update: Json = {}
        for key in sorted(self._changed_top):
            update[key] = {
                "broker_connected": self.broker_connected,
                "rejected": self.rejected,
                "bridge": _opt(self.bridge),
                "worker": _opt(self.worker),
            }[key]
        if self._changed_sensors:
            update["sensors"] = {
                k: _opt(self.sensors.get(k)) for k in sorted(self._changed_sensors)
            }
        if self._changed_quality:
            update["quality"] = {
                k: _opt(self.quality.get(k)) for k in sorted(self._changed_quality)
            }
        athletes: Json = {}
        for athlete_id in sorted(
            self._changed_athletes
            | self._changed_info
            | self._changed_summary
            | self._changed_watch
        ):
            athlete = self.athletes[athlete_id]
            entry: Json = {}
            if athlete_id in self._changed_info:
                entry["info"] = _opt(athlete.info)
            if athlete_id in self._changed_summary:
                entry["summary"] = _opt(athlete.summary)
            watch = self._watch(athlete_id, athlete)
            if watch != athlete.watch:
                athlete.watch = entry["watch"] = watch
            if athlete.pending_events:
                entry["events"] = [to_json(e) for e in athlete.pending_events]
                athlete.pending_events.clear()
            steps = {s: _steps(athlete.sides[s], athlete.sides[s].pending) for s in SIDES}
            steps = {s: v for s, v in steps.items() if v["ic_s"]}
            if steps:
                entry["steps"] = steps
            for side in athlete.sides.values():
                side.pending.clear()
            if entry or athlete_id in self._changed_athletes:
                athletes[athlete_id] = entry
        if athletes:
            update["athletes"] = athletes
        self._changed_top.clear()
        self._changed_sensors.clear()
        self._changed_quality.clear()
        self._changed_watch.clear()
        self._changed_athletes.clear()
        self._changed_info.clear()
        self._changed_summary.clear()
        if not update:
            return None
        return {"type": "update", **update}

    def _watch(self, athlete_id: str, athlete: _Athlete) -> Json:
        """Alerts and the recent and first-minutes windows of one athlete."""
        t = self.thresholds.get(athlete_id) or Thresholds()
        recent = {
            s: window_means(islice(reversed(athlete.sides[s].history), RECENT_STEPS)) for s in SIDES
        }
        lasts = [athlete.sides[s].last for s in SIDES]
        newest = max((x.ic_s for x in lasts if x is not None), default=None)
        baseline = {
            s: None if newest is None else athlete.baseline.means(s, t.baseline_s, newest)
            for s in SIDES
        }
        drift: dict[Side, float] = {}
        for s in SIDES:
            base = baseline[s]
            if base is not None and "gct_ms" in base and "gct_ms" in recent[s]:
                drift[s] = recent[s]["gct_ms"] - base["gct_ms"]
        load = athlete.summary.load if athlete.summary is not None else None
        sensors = [
            SensorStatus(
                sensor_id,
                av.side,
                av.state == "online",
                q.loss_pct if (q := self.quality.get(sensor_id)) is not None else None,
            )
            for sensor_id, av in self.sensors.items()
            if av.athlete == athlete_id
        ]
        symmetry = symmetries(recent["left"], recent["right"])
        alerts = evaluate(
            t,
            Observation(
                symmetry_pct=symmetry,
                gct_drift_ms=drift,
                budget_used_pct=None if load is None else load.budget_used_pct,
                sensors=sensors,
            ),
        )
        return {
            "severity": severity(alerts),
            "alerts": [a.to_json() for a in alerts],
            "symmetry_pct": _rounded(symmetry),
            "recent": {s: _rounded(recent[s]) for s in SIDES},
            "baseline": {s: None if (b := baseline[s]) is None else _rounded(b) for s in SIDES},
            "thresholds": t.to_json(),
        }


def _rounded(values: dict[str, float]) -> dict[str, float]:
    """Rounded so that a page is sent a new window only when it visibly changed."""
    return {k: round(v, 1) if abs(v) >= 10 else round(v, 2) for k, v in sorted(values.items())}


def _opt(message: Message | None) -> Json | None:
    return None if message is None else to_json(message)


def _steps(side: _SideSteps, steps: deque[StepMessage]) -> Json:
    """Steps of one side in columns (compact for thousands of points)."""
    out: Json = {name: [getattr(s, name) for s in steps] for name in COLUMNS}
    out["last"] = _opt(side.last)
    out["received"] = side.received
    return out
