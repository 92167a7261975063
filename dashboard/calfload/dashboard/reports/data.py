"""Everything a session report shows, gathered from the recording store (no rendering).

Pure functions over one session file and its data folder: what was run, the steps per
side, the protocol runs re-scored from the recorded raw samples and protocol events
(:func:`calfload.processing.protocols.scoring.score`, the same code the live runner
uses), data quality from the stored sensor-quality messages and the samples' gaps, and
the load compared with the athlete's earlier sessions (BJSM 2025 30-day maximum rule,
:func:`calfload.processing.session.compare_with_history`; each session's totals from
:func:`calfload.processing.history.past_session`, as the live worker reads them).
"""

from __future__ import annotations

import dataclasses
import math
import sqlite3
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final

import msgspec
import numpy as np

from calfload.bridge.messages import SCHEMA, RawBatch
from calfload.processing.history import past_session
from calfload.processing.messages import StepMessage
from calfload.processing.protocols.definition import Protocol, ProtocolError, load, resolve
from calfload.processing.protocols.messages import ProtocolEvent, marks_from_events
from calfload.processing.protocols.results import ProtocolResult
from calfload.processing.protocols.scoring import AthleteContext, Sex, score
from calfload.processing.recorder import store
from calfload.processing.recorder.blobs import Samples
from calfload.processing.session import PastSession, compare_with_history

GAP_PERIODS: Final = 1.5
"""A hole between two samples longer than this many sample periods is a gap."""
RAW_CHANNELS: Final = ("force_n", "cell_force_n", "acc_mps2", "gyr_dps")


class SensorReport(msgspec.Struct, frozen=True, kw_only=True):
    """One sensor: what the recording holds and the bridge's last quality report."""

    sensor_id: str
    side: str
    placement: str
    family: str
    fs_hz: float
    samples: int
    lost_samples: int
    """Samples the bridge reported lost (stored with the samples)."""
    gaps: int
    longest_gap_s: float
    first_s: float | None
    last_s: float | None
    loss_pct: float | None = None
    """From the last stored sensor-quality message (``None`` without one)."""
    effective_fs_hz: float | None = None
    reconnects: int | None = None
    offline_s: float | None = None
    bridge_longest_gap_s: float | None = None
    sync_error_ms: float | None = None
    clock_drift_ppm: float | None = None
    time_uncertainty_ms: float | None = None
    last_error: str = ""


class SideReport(msgspec.Struct, frozen=True, kw_only=True):
    """The recorded steps of one foot."""

    side: str
    steps: int
    suspect: int
    """Steps the worker marked ``suspect`` (included in the means, as stored)."""
    gct_mean_ms: float | None
    gct_sd_ms: float | None
    peak_force_bw_mean: float | None
    achilles_force_bw_mean: float | None
    achilles_impulse_ns: float
    t_s: list[float]
    """Each step's initial contact, seconds from the session start (for the plots)."""
    gct_ms: list[float]
    load_bw: list[float | None]
    """Achilles force (BW) per step, else peak force (BW), else ``None``."""
    load_metric: str


class EventRow(msgspec.Struct, frozen=True, kw_only=True):
    t_s: float
    offset_s: float
    kind: str
    label: str
    source: str


class PastRow(msgspec.Struct, frozen=True, kw_only=True):
    session_id: str
    name: str
    started_s: float
    duration_s: float
    steps: int
    achilles_impulse_bws: float | None
    distance_m: float | None


class History(msgspec.Struct, frozen=True, kw_only=True):
    sessions: list[PastRow]
    """The athlete's other sessions that started before this one (newest first)."""
    comparison: dict[str, Any] | None
    """``HistoryComparison`` of this session's Achilles impulse (None without one)."""


class ProtocolRun(msgspec.Struct, frozen=True, kw_only=True):
    run_id: str
    protocol: str
    result: ProtocolResult | None
    note: str = ""


class ReportData(msgspec.Struct, frozen=True, kw_only=True):
    session_id: str
    athlete: str
    athlete_name: str
    name: str
    started_s: float
    stopped_s: float | None
    duration_s: float
    state: str
    stop_reason: str
    body_mass_kg: float | None
    sensors: list[SensorReport]
    sides: list[SideReport]
    steps: int
    protocols: list[ProtocolRun]
    events: list[EventRow]
    history: History
    achilles_impulse_bws: float | None
    distance_m: float | None

    def to_json(self) -> bytes:
        return msgspec.json.format(msgspec.json.encode(self), indent=1)


def _mean(values: Sequence[float]) -> float | None:
    return float(np.mean(values)) if values else None


def gaps(t_s: np.ndarray[Any, np.dtype[np.float64]], fs_hz: float) -> tuple[int, float]:
    """Number of holes longer than ``GAP_PERIODS`` sample periods and the longest (s)."""
    if t_s.size < 2 or fs_hz <= 0:
        return 0, 0.0
    dt = np.diff(t_s)
    holes = dt[dt > GAP_PERIODS / fs_hz]
    return int(holes.size), float(holes.max() - 1.0 / fs_hz) if holes.size else 0.0


def side_report(side: str, steps: Sequence[dict[str, Any]], started_s: float) -> SideReport:
    """Means and per-step series of one foot's recorded step messages."""
    mine = [s for s in steps if s.get("side") == side]
    gct = [float(s["gct_ms"]) for s in mine]
    achilles = [s.get("achilles_force_bw") for s in mine]
    peak = [s.get("peak_force_bw") for s in mine]
    use_achilles = any(v is not None for v in achilles)
    load = achilles if use_achilles else peak
    return SideReport(
        side=side,
        steps=len(mine),
        suspect=sum(s.get("quality") == "suspect" for s in mine),
        gct_mean_ms=_mean(gct),
        gct_sd_ms=float(np.std(gct, ddof=1)) if len(gct) > 1 else None,
        peak_force_bw_mean=_mean([float(v) for v in peak if v is not None]),
        achilles_force_bw_mean=_mean([float(v) for v in achilles if v is not None]),
        achilles_impulse_ns=float(sum(s.get("achilles_impulse_ns") or 0.0 for s in mine)),
        t_s=[round(float(s["ic_s"]) - started_s, 3) for s in mine],
        gct_ms=gct,
        load_bw=[None if v is None else float(v) for v in load],
        load_metric="achilles_force_bw" if use_achilles else "peak_force_bw",
    )


def batches_from_samples(meta: store.SensorMeta, samples: Samples) -> list[RawBatch]:
    """Stored samples back into raw batches (split at gaps, so each batch's samples are
    evenly spaced as :func:`~calfload.processing.protocols.samples.side_samples` assumes)."""
    t = samples.t_s
    if t.size == 0 or meta.fs_hz <= 0:
        return []
    breaks = np.flatnonzero(np.diff(t) > GAP_PERIODS / meta.fs_hz) + 1
    out = []
    for seq, (a, b) in enumerate(zip(np.r_[0, breaks], np.r_[breaks, t.size], strict=True)):
        ch: dict[str, Any] = {}
        for name in RAW_CHANNELS:
            v = samples.channels.get(name)
            if v is not None:
                part = v[a:b].astype(np.float64)
                ch[name] = part[:, 0].tolist() if name == "force_n" else part.tolist()
        out.append(
            RawBatch(
                schema=SCHEMA,
                sensor_id=meta.sensor_id,
                athlete=meta.athlete,
                side=meta.side,  # type: ignore[arg-type]
                placement=meta.placement,  # type: ignore[arg-type]
                family=meta.family,
                seq=seq,
                t0_s=float(t[a]),
                fs_hz=meta.fs_hz,
                n=int(b - a),
                **ch,
            )
        )
    return out


def protocol_runs(
    events: Sequence[dict[str, Any]],
    athlete: AthleteContext,
    steps: Sequence[dict[str, Any]],
    raw: Sequence[RawBatch],
    protocols: Mapping[str, Protocol] | None = None,
) -> list[ProtocolRun]:
    """Every protocol run in the recorded events, re-scored from the recording.

    A run's protocol is looked up by its name in ``protocols`` (a lab's own files), then
    among the built-in templates."""
    decoded: dict[str, list[ProtocolEvent]] = {}
    for e in events:
        if e["kind"] != "protocol":
            continue
        try:
            pe = msgspec.convert(e["data"], ProtocolEvent)
        except msgspec.ValidationError:
            continue
        decoded.setdefault(pe.run_id, []).append(pe)
    step_msgs = []
    for s in steps:
        try:
            step_msgs.append(msgspec.convert(s, StepMessage))
        except msgspec.ValidationError:
            continue
    out = []
    for run_id, evs in decoded.items():
        name = evs[0].protocol
        marks = marks_from_events(evs)
        try:
            protocol = (protocols or {}).get(name) or resolve(name)
        except ValueError as exc:
            out.append(ProtocolRun(run_id=run_id, protocol=name, result=None, note=str(exc)))
            continue
        if not marks:
            out.append(
                ProtocolRun(run_id=run_id, protocol=name, result=None, note="no stage completed")
            )
            continue
        try:
            result = score(protocol, marks, athlete, steps=step_msgs, raw=raw)
        except ValueError as exc:
            out.append(ProtocolRun(run_id=run_id, protocol=name, result=None, note=str(exc)))
            continue
        aborted = any(e.kind == "abort" for e in evs)
        out.append(
            ProtocolRun(
                run_id=run_id,
                protocol=name,
                result=result,
                note="stopped before the end" if aborted else "",
            )
        )
    return out


def lab_protocols(folder: Path) -> list[Protocol]:
    """The lab's own protocol files (``<data folder>/protocols/*.toml|json``, as the
    dashboard's ``/protocols`` page reads them); unreadable files are skipped."""
    out = []
    if folder.is_dir():
        for path in sorted([*folder.glob("*.toml"), *folder.glob("*.json")]):
            try:
                out.append(load(path))
            except ProtocolError:
                continue
    return out


def _float(value: str | None) -> float | None:
    try:
        out = float(value) if value else None
    except ValueError:
        return None
    return out if out is not None and math.isfinite(out) else None


def _quality_fields(message: dict[str, Any]) -> dict[str, Any]:
    keys = {
        "loss_pct": "loss_pct",
        "effective_fs_hz": "effective_fs_hz",
        "reconnects": "reconnects",
        "offline_s": "offline_s",
        "longest_gap_s": "bridge_longest_gap_s",
        "sync_error_ms": "sync_error_ms",
        "clock_drift_ppm": "clock_drift_ppm",
        "time_uncertainty_ms": "time_uncertainty_ms",
        "last_error": "last_error",
    }
    return {ours: message[theirs] for theirs, ours in keys.items() if theirs in message}


def history(
    folder: Path, athlete: str, session_id: str, started_s: float, impulse_bws: float | None
) -> History:
    """The athlete's earlier sessions in ``folder`` and this session's load against them."""
    rows, _errors = store.list_sessions(folder)
    past: list[PastRow] = []
    for row in rows:
        if row.athlete != athlete or row.session_id == session_id or row.started_s >= started_s:
            continue
        try:
            _who, totals = past_session(Path(row.path))
        except (store.SessionFileError, sqlite3.Error, ValueError):
            continue
        past.append(
            PastRow(
                session_id=row.session_id,
                name=row.name,
                started_s=row.started_s,
                duration_s=row.duration_s,
                steps=row.steps,
                achilles_impulse_bws=totals.achilles_impulse_bws,
                distance_m=totals.distance_m,
            )
        )
    comparison = None
    if impulse_bws is not None:
        c = compare_with_history(
            started_s,
            impulse_bws,
            [PastSession(p.started_s, p.distance_m, p.achilles_impulse_bws) for p in past],
            metric="achilles_impulse_bws",
        )
        comparison = dataclasses.asdict(c)
    return History(sessions=past, comparison=comparison)


def gather(
    path: Path,
    folder: Path | None = None,
    *,
    sex: Sex | None = None,
    age_y: float | None = None,
    protocols: Sequence[Protocol] = (),
) -> ReportData:
    """The report's data for the session file ``path``; ``folder`` holds the athlete's
    other sessions (default: the session's own folder). ``sex``/``age_y`` select norms;
    ``protocols``: definitions of protocols that are not built in (matched by name)."""
    folder = folder or path.parent
    with store.open_session(path) as conn:
        meta = store.read_meta(conn, path)
        row = store.describe(path)
        infos = store.athlete_infos(conn)
        info = infos[-1] if infos else {}
        mass = info.get("body_mass_kg")
        steps = store.steps(conn)
        events = store.events(conn)
        lost = dict(
            conn.execute("SELECT sensor_id, SUM(lost) FROM samples GROUP BY sensor_id").fetchall()
        )
        quality: dict[str, dict[str, Any]] = {}
        for sensor_id, message in conn.execute(
            "SELECT sensor_id, message FROM quality ORDER BY t_s"
        ):
            quality[sensor_id] = msgspec.json.decode(message)
        sensor_rows = []
        raw: list[RawBatch] = []
        # raw samples are only needed where a protocol ran (a little margin either side)
        run_times = [e["t_s"] for e in events if e["kind"] == "protocol"]
        window = (min(run_times) - 5.0, max(run_times) + 5.0) if run_times else None
        for s in store.sensors(conn):
            samples = store.read_samples(conn, s.sensor_id)
            t = samples.t_s if samples is not None else np.zeros(0)
            n_gaps, longest = gaps(t, s.fs_hz)
            sensor_rows.append(
                SensorReport(
                    sensor_id=s.sensor_id,
                    side=s.side,
                    placement=s.placement,
                    family=s.family,
                    fs_hz=s.fs_hz,
                    samples=int(t.size),
                    lost_samples=int(lost.get(s.sensor_id) or 0),
                    gaps=n_gaps,
                    longest_gap_s=round(longest, 4),
                    first_s=float(t[0]) if t.size else None,
                    last_s=float(t[-1]) if t.size else None,
                    **_quality_fields(quality.get(s.sensor_id, {})),
                )
            )
            if samples is not None and window is not None:
                inside = (samples.t_s >= window[0]) & (samples.t_s <= window[1])
                raw.extend(batches_from_samples(s, samples.select(inside)))
    _who, totals = past_session(path)
    impulse, distance = totals.achilles_impulse_bws, totals.distance_m
    athlete = meta.get("athlete", row.athlete)
    started = row.started_s
    ctx = AthleteContext(
        athlete,
        body_mass_kg=mass,
        foot_length_m=info.get("foot_length_m"),
        sex=sex,
        age_y=age_y,
    )
    return ReportData(
        session_id=row.session_id,
        athlete=athlete,
        athlete_name=str(info.get("name") or ""),
        name=row.name,
        started_s=started,
        stopped_s=_float(meta.get("stopped_s")),
        duration_s=row.duration_s,
        state=row.state,
        stop_reason=meta.get("stop_reason", ""),
        body_mass_kg=mass,
        sensors=sensor_rows,
        sides=[side_report(side, steps, started) for side in ("left", "right")],
        steps=len(steps),
        protocols=protocol_runs(events, ctx, steps, raw, {p.name: p for p in protocols}),
        events=[
            EventRow(
                t_s=e["t_s"],
                offset_s=round(e["t_s"] - started, 3),
                kind=e["kind"],
                label=e["label"],
                source=e["source"],
            )
            for e in events
            if e["kind"] in ("note", "marker", "jump", "availability", "session")
        ],
        history=history(folder, athlete, row.session_id, started, impulse),
        achilles_impulse_bws=impulse,
        distance_m=distance,
    )
