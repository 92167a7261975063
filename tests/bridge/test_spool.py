"""The on-disk spool: order, acknowledgement, durability across a reopen, the bound."""

from __future__ import annotations

from pathlib import Path

import pytest

from calfload.bridge.spool import Spool


def test_take_returns_unacked_rows_in_order_from_disk_and_memory(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s.sqlite3")
    ids = [spool.append("t", bytes([i])) for i in range(5)]
    spool.flush()  # 0..4 on disk
    ids += [spool.append("t", bytes([i])) for i in range(5, 8)]  # 5..7 in memory
    spool.ack(ids[1])
    spool.ack(ids[6])
    rows = spool.take(0, 100)
    assert [r.payload[0] for r in rows] == [0, 2, 3, 4, 5, 7]
    assert [r.payload[0] for r in spool.take(ids[3], 2)] == [4, 5]
    assert spool.backlog() == 6


def test_only_unacknowledged_rows_survive_a_reopen(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite3"
    spool = Spool(path)
    ids = [spool.append(f"topic/{i}", b"x" * 10) for i in range(6)]
    spool.flush()
    for i in ids[:3]:
        spool.ack(i)
    later = spool.append("topic/6", b"y")
    assert later is not None
    spool.ack(later)  # acknowledged before it ever reached the disk: never written
    spool.flush()
    spool.close()  # a crash after the flush looks the same to the next start
    again = Spool(path)
    assert again.recovered == 3
    assert [r.topic for r in again.take(0, 10)] == ["topic/3", "topic/4", "topic/5"]
    assert again.stored_bytes == 30
    # New ids continue after the old ones, so the old rows still go first.
    new_id = again.append("topic/7", b"z")
    assert new_id is not None and new_id > ids[-1]


def test_a_full_spool_refuses_and_counts_and_keeps_what_it_has(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s.sqlite3", max_bytes=25)
    assert spool.append("t", b"a" * 10) is not None
    assert spool.append("t", b"b" * 10) is not None
    assert spool.append("t", b"c" * 10) is None
    assert spool.dropped == 1
    assert [r.payload[:1] for r in spool.take(0, 10)] == [b"a", b"b"]


def test_an_unusable_spool_path_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(ValueError, match="cannot open the bridge spool"):
        Spool(blocker / "spool.sqlite3")


def test_counters_reach_the_disk_with_the_messages_before_them(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite3"
    spool = Spool(path)
    spool.append("t", b"a")
    spool.set_counter("next_seq/x", 1)
    spool.flush()
    spool.append("t", b"b")
    spool.set_counter("next_seq/x", 2)  # not flushed: "killed" here
    spool.close()
    again = Spool(path)
    assert again.counter("next_seq/x") == 1
    assert again.recovered == 1
    assert again.counter("next_seq/unknown", 7) == 7


def test_a_restarted_bridge_continues_each_sensors_batch_numbers(tmp_path: Path) -> None:
    from bleak.backends.device import BLEDevice

    from calfload.bridge.bridge import Bridge
    from calfload.bridge.link import SensorSpec
    from calfload.bridge.mqtt import BrokerUrl

    path = tmp_path / "s.sqlite3"
    spool = Spool(path)
    spool.set_counter("next_seq/a1-left-insole", 41)
    spool.flush()
    spool.close()
    spec = SensorSpec(
        "a1-left-insole", "a1", "left", "insole", "open-insole", BLEDevice("A", "n", None)
    )
    bridge = Bridge(BrokerUrl("127.0.0.1", 1), [spec], [], spool=Spool(path))
    assert bridge.links[0]._seq == 41


def test_concurrent_append_ack_and_flush_keep_exactly_the_unacknowledged(tmp_path: Path) -> None:
    import threading

    path = tmp_path / "s.sqlite3"
    spool = Spool(path)
    done = threading.Event()
    ids: list[int] = []
    acked: set[int] = set()

    def producer() -> None:
        for i in range(3000):
            row_id = spool.append("t", i.to_bytes(4, "little"))
            assert row_id is not None
            ids.append(row_id)
        done.set()

    def acker() -> None:  # acknowledges every row but each seventh, in order, as a broker would
        handed = 0
        while not (done.is_set() and handed >= len(ids)):
            for row in spool.take(handed, 50):
                handed = row.id
                if row.id % 7:
                    spool.ack(row.id)
                    acked.add(row.id)

    def flusher() -> None:
        while not done.is_set():
            spool.flush()

    threads = [threading.Thread(target=f) for f in (producer, acker, flusher)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    spool.flush()
    spool.close()
    again = Spool(path)
    left = [r.id for r in again.take(0, 10_000)]
    assert left == sorted(set(ids) - acked)
    assert left == [i for i in ids if i % 7 == 0]
