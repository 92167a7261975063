"""The bridge's store-and-forward spool: every raw batch on disk until the broker has it.

One SQLite database in WAL mode (``<data folder>/bridge/spool.sqlite3``) holds an
append-only outbox of ``(id, topic, payload)`` rows. :meth:`Spool.append` gives each
message the next id at once and keeps it in memory; :meth:`Spool.flush`, called at
least every second, writes what the broker has not acknowledged yet in one
transaction (``synchronous=FULL``: each commit reaches the disk) and deletes what it
has. A bridge killed at any moment therefore loses at most the messages appended
since the last flush, and the next bridge started on the same folder forwards the
rest first, in id order.

The spool is bounded by ``max_bytes`` of stored payload; when it is full, new
messages are refused and counted (``dropped``), and what is stored is kept: the
beginning of a run is never overwritten by its end.

Thread safety: the paho network thread calls :meth:`ack`, the event loop
:meth:`append` and :meth:`take`, a worker thread :meth:`flush`. In-memory state has
one short lock; the database its own, which :meth:`flush` holds during its commit
(an fsync: milliseconds, tens on an SD card). :meth:`append` and :meth:`ack` never
wait for the disk, and :meth:`take` reads the database only while there is a
backlog on disk (live forwarding is served from memory).
"""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Final

DEFAULT_MAX_BYTES: Final = 1 << 30  # 1 GiB ≈ 60 h of two insoles and a footpod
SPOOL_FILE: Final = "spool.sqlite3"


@dataclass(frozen=True, slots=True)
class SpoolRow:
    id: int
    topic: str
    payload: bytes


class Spool:
    """An on-disk FIFO of MQTT messages, deleted only once acknowledged."""

    def __init__(self, path: Path | str, *, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.path = str(path)
        try:
            if self.path != ":memory:":
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS outbox ("
                "id INTEGER PRIMARY KEY, topic TEXT NOT NULL, payload BLOB NOT NULL)"
            )
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS counter (name TEXT PRIMARY KEY, value INTEGER NOT NULL)"
            )
            counters = dict(self._db.execute("SELECT name, value FROM counter").fetchall())
            last, stored_bytes, rows = self._db.execute(
                "SELECT MAX(id), COALESCE(SUM(LENGTH(payload)), 0), COUNT(*) FROM outbox"
            ).fetchone()
        except (sqlite3.Error, OSError) as exc:
            reason = getattr(exc, "strerror", None) or exc
            raise ValueError(f"cannot open the bridge spool {self.path}: {reason}") from None
        self.max_bytes = max_bytes
        self._lock = threading.Lock()  # in-memory state
        self._db_lock = threading.Lock()  # the connection and its transactions
        self._next_id: int = (last or 0) + 1
        self._disk_max_id: int = last or 0  # highest id committed to disk
        self._flushing: list[SpoolRow] = []  # being written by flush() right now
        self._counters: dict[str, int] = {str(k): int(v) for k, v in counters.items()}
        self._counters_dirty: set[str] = set()
        self._pending: list[SpoolRow] = []  # appended, not yet on disk
        self._acked: set[int] = set()  # acknowledged, maybe still on disk
        self._stored_bytes: int = int(stored_bytes)
        self.recovered = int(rows)  # rows found on disk at start (a previous run's)
        self.appended = 0
        self.acked = 0
        self.dropped = 0
        self.flushes = 0

    def append(self, topic: str, payload: bytes) -> int | None:
        """Queue one message; its id, or ``None`` if the spool is full (counted)."""
        with self._lock:
            if self._stored_bytes + len(payload) > self.max_bytes:
                self.dropped += 1
                return None
            row = SpoolRow(self._next_id, topic, payload)
            self._next_id += 1
            self._pending.append(row)
            self._stored_bytes += len(payload)
            self.appended += 1
            return row.id

    def counter(self, name: str, default: int = 0) -> int:
        """A named counter kept with the spool (e.g. a sensor's next batch ``seq``)."""
        with self._lock:
            return self._counters.get(name, default)

    def set_counter(self, name: str, value: int) -> None:
        """Set a counter; it reaches the disk in the same commit as the messages
        appended before it, so the two never disagree after a crash."""
        with self._lock:
            self._counters[name] = value
            self._counters_dirty.add(name)

    def ack(self, row_id: int) -> None:
        """The broker has this message (QoS 1 PUBACK): it may be forgotten."""
        with self._lock:
            self._acked.add(row_id)
            self.acked += 1

    def take(self, after_id: int, limit: int) -> list[SpoolRow]:
        """Up to ``limit`` unacknowledged messages with id > ``after_id``, in id order."""
        rows: dict[int, SpoolRow] = {}
        with self._lock:
            # One consistent view: rows in memory now, and the highest id on disk now
            # (a row leaves memory in the same step that raises ``_disk_max_id``).
            disk_max = self._disk_max_id
            # Ids in memory are consecutive (flushing, then pending): slice, don't scan.
            for part in (self._flushing, self._pending):
                if part and len(rows) < limit:
                    start = max(0, after_id - part[0].id + 1)
                    for row in part[start : start + limit - len(rows)]:
                        rows[row.id] = row
        if after_id < disk_max:
            with self._db_lock:
                for i, t, p in self._db.execute(
                    "SELECT id, topic, payload FROM outbox WHERE id > ? AND id <= ? "
                    "ORDER BY id LIMIT ?",
                    (after_id, disk_max, limit),
                ):
                    rows.setdefault(i, SpoolRow(i, t, p))
        with self._lock:
            acked = self._acked
            return [rows[i] for i in sorted(rows) if i not in acked][:limit]

    def flush(self) -> None:
        """Write unacknowledged new messages and delete acknowledged ones, in one commit."""
        with self._lock:
            batch, self._pending = self._pending, []
            self._flushing = batch
            acked, self._acked = self._acked, set()
            counters = {n: self._counters[n] for n in self._counters_dirty}
            self._counters_dirty = set()
        in_batch = {r.id for r in batch}
        keep = [r for r in batch if r.id not in acked]
        freed = sum(len(r.payload) for r in batch if r.id in acked)
        try:
            with self._db_lock:
                db = self._db
                db.execute("BEGIN")
                try:
                    db.executemany(
                        "INSERT INTO outbox (id, topic, payload) VALUES (?, ?, ?)",
                        [(r.id, r.topic, r.payload) for r in keep],
                    )
                    for row_id in acked - in_batch:
                        size = db.execute(
                            "SELECT LENGTH(payload) FROM outbox WHERE id = ?", (row_id,)
                        ).fetchone()
                        if size is not None:
                            freed += int(size[0])
                            db.execute("DELETE FROM outbox WHERE id = ?", (row_id,))
                    db.executemany(
                        "INSERT OR REPLACE INTO counter (name, value) VALUES (?, ?)",
                        list(counters.items()),
                    )
                    db.execute("COMMIT")
                except sqlite3.Error:
                    db.execute("ROLLBACK")
                    raise
        except BaseException:
            with self._lock:  # nothing was written: put it all back for the next try
                self._pending = batch + self._pending
                self._flushing = []
                self._acked |= acked
                self._counters_dirty |= set(counters)
            raise
        with self._lock:
            self._flushing = []
            if keep:
                self._disk_max_id = max(self._disk_max_id, keep[-1].id)
            self._stored_bytes -= freed
            self.flushes += 1

    def backlog(self) -> int:
        """Messages stored or pending that the broker has not acknowledged."""
        with self._db_lock:
            (on_disk,) = self._db.execute("SELECT COUNT(*) FROM outbox").fetchone()
        with self._lock:
            memory = len(self._pending) + len(self._flushing)
            return int(on_disk) + memory - len(self._acked)

    @property
    def stored_bytes(self) -> int:
        return self._stored_bytes

    def close(self) -> None:
        with self._db_lock:
            self._db.close()
