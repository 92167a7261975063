"""The session database: one SQLite file per athlete session, in WAL mode.

Writes come from one thread (the recorder's writer); readers (``calfload sessions``,
``export``, the dashboard) open the file read-only while it is being written. Layout
and units: ``docs/formats.md``, "calfload session database".
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import numpy as np

from calfload.processing.recorder.blobs import Samples, merge, pack, unpack

FORMAT: Final = "calfload-session"
FORMAT_VERSION: Final = 1
SUFFIX: Final = ".sqlite3"
KEEP_SECONDS: Final = 3
"""Seconds of each sensor kept in memory after writing, so late batches merge cheaply."""

SCHEMA_SQL: Final = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sensors(
    sensor_id TEXT PRIMARY KEY, athlete TEXT NOT NULL, side TEXT NOT NULL,
    placement TEXT NOT NULL, family TEXT NOT NULL, fs_hz REAL NOT NULL);
CREATE TABLE IF NOT EXISTS samples(
    sensor_id TEXT NOT NULL, second INTEGER NOT NULL, layout TEXT NOT NULL,
    t0_s REAL NOT NULL, n INTEGER NOT NULL, lost INTEGER NOT NULL DEFAULT 0,
    data BLOB NOT NULL, UNIQUE(sensor_id, second, layout));
CREATE TABLE IF NOT EXISTS steps(
    side TEXT NOT NULL, step_index INTEGER NOT NULL, ic_s REAL NOT NULL, to_s REAL NOT NULL,
    gct_ms REAL NOT NULL, quality TEXT NOT NULL, message TEXT NOT NULL,
    PRIMARY KEY(side, step_index, ic_s));
CREATE TABLE IF NOT EXISTS events(
    id INTEGER PRIMARY KEY, t_s REAL NOT NULL, kind TEXT NOT NULL, label TEXT NOT NULL,
    source TEXT NOT NULL, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS summaries(t_s REAL PRIMARY KEY, message TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS athlete_info(t_s REAL NOT NULL, message TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS quality(
    t_s REAL NOT NULL, sensor_id TEXT NOT NULL, message TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS events_t ON events(t_s);
"""


class SessionFileError(ValueError):
    """A file that is not a readable calfload session."""


@dataclass(frozen=True)
class SensorMeta:
    sensor_id: str
    athlete: str
    side: str
    placement: str
    family: str
    fs_hz: float


@dataclass
class _Buffer:
    samples: Samples
    lost: int = 0
    dirty: bool = True


@dataclass
class SessionWriter:
    """One open session file (single writer thread). Call :meth:`commit` often."""

    path: Path
    conn: sqlite3.Connection
    session_id: str
    athlete: str
    name: str
    started_s: float
    buffers: dict[tuple[str, int, str], _Buffer] = field(default_factory=dict)
    sensors: set[str] = field(default_factory=set)
    newest_s: float = 0.0
    last_data_s: float = 0.0
    """Host time of the last raw batch (for the idle timeout)."""
    samples_written: int = 0

    @classmethod
    def create(
        cls, folder: Path, session_id: str, athlete: str, name: str, started_s: float
    ) -> SessionWriter:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{session_id}{SUFFIX}"
        # Build the schema under a temporary name and rename it into place once closed, so
        # a reader never sees a session file without its tables.
        part = folder / f".{session_id}{SUFFIX}.part"
        setup = sqlite3.connect(part, isolation_level=None)
        try:
            setup.execute("PRAGMA journal_mode=WAL")
            setup.executescript(SCHEMA_SQL)
            setup.execute("BEGIN")
            setup.executemany(
                "INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)",
                [
                    ("format", FORMAT),
                    ("format_version", str(FORMAT_VERSION)),
                    ("session_id", session_id),
                    ("athlete", athlete),
                    ("name", name),
                    ("started_s", repr(started_s)),
                    ("stopped_s", ""),
                    ("stop_reason", ""),
                    ("last_s", repr(started_s)),
                    ("heartbeat_s", repr(time.time())),
                ],
            )
            setup.execute("COMMIT")
        finally:
            setup.close()  # the last connection: the WAL is checkpointed and removed
        os.replace(part, path)
        conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        writer = cls(path, conn, session_id, athlete, name, started_s, newest_s=started_s)
        conn.execute("BEGIN")
        writer.last_data_s = time.monotonic()
        return writer

    def _meta(self, **values: str) -> None:
        self.conn.executemany(
            "INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", list(values.items())
        )

    # -- writes (inside the open transaction; commit() makes them durable) --

    def add_samples(self, sensor: SensorMeta, samples: Samples, lost: int) -> None:
        if not len(samples):
            return
        if sensor.sensor_id not in self.sensors:
            self.sensors.add(sensor.sensor_id)
            self.conn.execute(
                "INSERT OR REPLACE INTO sensors VALUES (?, ?, ?, ?, ?, ?)",
                (
                    sensor.sensor_id,
                    sensor.athlete,
                    sensor.side,
                    sensor.placement,
                    sensor.family,
                    sensor.fs_hz,
                ),
            )
        layout = samples.layout
        seconds = np.floor(samples.t_s).astype(np.int64)
        for second in np.unique(seconds).tolist():
            part = samples.select(seconds == second)
            key = (sensor.sensor_id, int(second), layout)
            buf = self.buffers.get(key)
            if buf is None:
                old = self._load(key)
                buf = self.buffers[key] = _Buffer(part if old is None else merge(old, part))
            else:
                buf.samples = merge(buf.samples, part)
                buf.dirty = True
            if second == int(seconds[0]):
                buf.lost += lost
        self.newest_s = max(self.newest_s, float(samples.t_s[-1]))
        self.last_data_s = time.monotonic()

    def _load(self, key: tuple[str, int, str]) -> Samples | None:
        row = self.conn.execute(
            "SELECT t0_s, n, data FROM samples WHERE sensor_id=? AND second=? AND layout=?", key
        ).fetchone()
        return None if row is None else unpack(row[2], key[2], row[0], row[1])

    def add_step(self, message: dict[str, Any], raw: str) -> None:
        self.conn.execute(
            "INSERT OR IGNORE INTO steps VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                message["side"],
                message["step_index"],
                message["ic_s"],
                message["to_s"],
                message["gct_ms"],
                message.get("quality", "ok"),
                raw,
            ),
        )

    def add_event(
        self, t_s: float, kind: str, label: str, source: str, data: dict[str, Any] | None = None
    ) -> None:
        self.conn.execute(
            "INSERT INTO events(t_s, kind, label, source, data) VALUES (?, ?, ?, ?, ?)",
            (t_s, kind, label, source, json.dumps(data or {}, allow_nan=False)),
        )

    def add_summary(self, t_s: float, raw: str) -> None:
        self.conn.execute("INSERT OR REPLACE INTO summaries VALUES (?, ?)", (t_s, raw))

    def add_info(self, t_s: float, raw: str) -> None:
        self.conn.execute("INSERT INTO athlete_info VALUES (?, ?)", (t_s, raw))

    def add_quality(self, t_s: float, sensor_id: str, raw: str) -> None:
        self.conn.execute("INSERT INTO quality VALUES (?, ?, ?)", (t_s, sensor_id, raw))

    def rename(self, name: str) -> None:
        self.name = name
        self._meta(name=name)

    def commit(self) -> None:
        """Write the buffered seconds (the current one too, partial) and commit."""
        newest: dict[str, int] = {}
        for (sensor_id, second, layout), buf in list(self.buffers.items()):
            if buf.dirty:
                t0 = float(buf.samples.t_s[0])
                self.conn.execute(
                    "INSERT INTO samples VALUES (?, ?, ?, ?, ?, ?, ?) "
                    "ON CONFLICT(sensor_id, second, layout) DO UPDATE SET t0_s=excluded.t0_s, "
                    "n=excluded.n, lost=excluded.lost, data=excluded.data",
                    (
                        sensor_id,
                        second,
                        layout,
                        t0,
                        len(buf.samples),
                        buf.lost,
                        pack(buf.samples, t0),
                    ),
                )
                buf.dirty = False
            newest[sensor_id] = max(newest.get(sensor_id, second), second)
        for key in [k for k in self.buffers if k[1] < newest[k[0]] - KEEP_SECONDS]:
            del self.buffers[key]
        self._meta(last_s=repr(self.newest_s), heartbeat_s=repr(time.time()))
        self.conn.execute("COMMIT")
        self.conn.execute("BEGIN")

    def close(self, stopped_s: float, reason: str) -> None:
        self._meta(stopped_s=repr(stopped_s), stop_reason=reason)
        self.commit()
        self.conn.execute("COMMIT")
        with contextlib.suppress(sqlite3.Error):
            self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self.conn.close()


# -- reading ------------------------------------------------------------------------


@dataclass(frozen=True)
class SessionSummaryRow:
    """One line of ``calfload sessions``."""

    session_id: str
    athlete: str
    name: str
    started_s: float
    duration_s: float
    steps: int
    state: str
    """``recording`` (open), ``stopped``, or ``interrupted`` (never closed: a crash)."""
    path: str
    sensors: int
    samples: int
    events: int

    def as_json(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@contextlib.contextmanager
def open_session(path: Path) -> Iterator[sqlite3.Connection]:
    """A read-only connection to a session file (also while it is being written)."""
    if not path.is_file():
        raise SessionFileError(f"{path}: no such session file")
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise SessionFileError(f"{path}: cannot open: {exc}") from None
    try:
        meta = read_meta(conn, path)
        if meta.get("format") != FORMAT:
            raise SessionFileError(f"{path}: not a calfload session file")
        yield conn
    finally:
        conn.close()


def read_meta(conn: sqlite3.Connection, path: Path) -> dict[str, str]:
    try:
        return dict(conn.execute("SELECT key, value FROM meta").fetchall())
    except sqlite3.DatabaseError as exc:
        raise SessionFileError(f"{path}: not a calfload session file ({exc})") from None


def _float(value: str | None) -> float | None:
    try:
        out = float(value) if value else None
    except ValueError:
        return None
    return out if out is not None and math.isfinite(out) else None


ALIVE_S: Final = 5.0
"""An unclosed session whose recorder committed within this many seconds is still recording."""


def describe(path: Path, now_s: float | None = None) -> SessionSummaryRow:
    with open_session(path) as conn:
        meta = read_meta(conn, path)
        started = _float(meta.get("started_s")) or 0.0
        stopped = _float(meta.get("stopped_s"))
        last = _float(meta.get("last_s")) or started
        sid = meta.get("session_id", path.stem)
        if stopped is not None:
            state = "stopped"
        elif (now_s or time.time()) - (_float(meta.get("heartbeat_s")) or 0.0) < ALIVE_S:
            state = "recording"
        else:
            state = "interrupted"
        end = stopped if stopped is not None else last
        if state == "recording":  # still growing: up to the recorder's last commit
            end = max(end, _float(meta.get("heartbeat_s")) or end)
        steps = conn.execute("SELECT COUNT(*) FROM steps").fetchone()[0]
        sensors = conn.execute("SELECT COUNT(*) FROM sensors").fetchone()[0]
        samples = conn.execute("SELECT COALESCE(SUM(n), 0) FROM samples").fetchone()[0]
        events = conn.execute("SELECT COUNT(*) FROM events").fetchone()[0]
    return SessionSummaryRow(
        session_id=sid,
        athlete=meta.get("athlete", ""),
        name=meta.get("name", ""),
        started_s=started,
        duration_s=round(max(0.0, end - started), 3),
        steps=int(steps),
        state=state,
        path=str(path),
        sensors=int(sensors),
        samples=int(samples),
        events=int(events),
    )


def list_sessions(folder: Path) -> tuple[list[SessionSummaryRow], list[str]]:
    """Every session in ``folder``, newest first, and one error line per unreadable file."""
    rows, errors = [], []
    if not folder.is_dir():
        return [], []
    for path in sorted(folder.glob(f"*{SUFFIX}")):
        try:
            rows.append(describe(path))
        except (SessionFileError, sqlite3.Error) as exc:
            errors.append(str(exc))
    rows.sort(key=lambda r: r.started_s, reverse=True)
    return rows, errors


def session_path(folder: Path, session_id: str) -> Path:
    """The file of ``session_id`` (or ``session_id`` itself when it names a file)."""
    direct = Path(session_id)
    if direct.suffix == SUFFIX and direct.is_file():
        return direct
    path = folder / f"{session_id}{SUFFIX}"
    if not path.is_file():
        raise SessionFileError(f"no session {session_id!r} in {folder} (see `calfload sessions`)")
    return path


def read_samples(conn: sqlite3.Connection, sensor_id: str) -> Samples | None:
    """All samples of one sensor in time order (the layout most of its rows use)."""
    rows = conn.execute(
        "SELECT layout, t0_s, n, data FROM samples WHERE sensor_id=? ORDER BY second, t0_s",
        (sensor_id,),
    ).fetchall()
    if not rows:
        return None
    counts: dict[str, int] = {}
    for layout, _, n, _ in rows:
        counts[layout] = counts.get(layout, 0) + n
    main = max(counts, key=lambda k: counts[k])
    parts = [unpack(d, lay, t0, n) for lay, t0, n, d in rows if lay == main]
    t = np.concatenate([p.t_s for p in parts])
    channels = {k: np.concatenate([p.channels[k] for p in parts]) for k in parts[0].channels}
    order = np.argsort(t, kind="stable")
    return Samples(t, channels).select(order)


def sensors(conn: sqlite3.Connection) -> list[SensorMeta]:
    return [
        SensorMeta(*row)
        for row in conn.execute(
            "SELECT sensor_id, athlete, side, placement, family, fs_hz FROM sensors "
            "ORDER BY sensor_id"
        )
    ]


def steps(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    return [json.loads(r[0]) for r in conn.execute("SELECT message FROM steps ORDER BY ic_s, side")]


def events(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    return [
        {"t_s": t, "kind": k, "label": lab, "source": src, "data": json.loads(d)}
        for t, k, lab, src, d in conn.execute(
            "SELECT t_s, kind, label, source, data FROM events ORDER BY t_s, id"
        )
    ]


def summaries(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    return [json.loads(r[0]) for r in conn.execute("SELECT message FROM summaries ORDER BY t_s")]


def athlete_infos(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    return [json.loads(r[0]) for r in conn.execute("SELECT message FROM athlete_info ORDER BY t_s")]


RECORDINGS: Final = "recordings"


def recordings_folder(data_folder: Path) -> Path:
    """Where sessions live inside the data folder (``<data folder>/recordings``)."""
    return data_folder / RECORDINGS
