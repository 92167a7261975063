"""Recorder pieces without a broker: blob layout, bad input, redeliveries, late batches,
session policy, jump detection on simulated truth, and the CLI's errors."""

from __future__ import annotations

import json
from pathlib import Path

import msgspec
import numpy as np
import pytest

from calfload.bridge.messages import SCHEMA, RawBatch, encode
from calfload.bridge.mqtt import BrokerUrl
from calfload.cli.main import main
from calfload.processing.recorder import blobs, store
from calfload.processing.recorder import messages as rm
from calfload.processing.recorder.jumps import JumpDetector
from calfload.processing.recorder.recorder import Recorder
from tests.recorder.sim import G0, session


def _recorder(folder: Path, **kw: float) -> Recorder:
    return Recorder(BrokerUrl("127.0.0.1", 1), folder, **kw)  # type: ignore[arg-type]


def _raw(r: Recorder, b: RawBatch) -> None:
    r.handle(f"calfload/raw/{b.athlete}/{b.side}/{b.sensor_id}", encode(b))


def _close_all(r: Recorder) -> None:
    r._commit_all()
    for athlete in list(r.sessions):
        r._close(athlete, "test")


def test_blob_round_trip_size_and_redelivery() -> None:
    sim = session("b1", jumps=False)
    batch = sim.batches[0]
    samples, dropped = blobs.from_batch(batch)
    assert dropped == [] and samples.layout == "force_n:1,cell_force_n:8,acc_mps2:3,gyr_dps:3"
    blob = blobs.pack(samples, batch.t0_s)
    assert len(blob) == 4 * batch.n * (1 + 1 + 8 + 3 + 3)
    back = blobs.unpack(blob, samples.layout, batch.t0_s, batch.n)
    np.testing.assert_allclose(back.t_s, samples.t_s, atol=1e-7)
    for name, values in samples.channels.items():
        np.testing.assert_allclose(back.channels[name], values, rtol=1e-6)
    assert len(blobs.merge(back, samples)) == batch.n  # a redelivery adds nothing
    with pytest.raises(blobs.BlobError, match="expected"):
        blobs.unpack(blob[:-4], samples.layout, batch.t0_s, batch.n)


def test_bad_messages_are_counted_and_good_data_kept(tmp_path: Path) -> None:
    r = _recorder(tmp_path)
    sim = session("b2", jumps=False)
    good = sim.batches[:40]
    ragged = msgspec.structs.replace(
        good[0], seq=999, t0_s=good[-1].t0_s + 1.0, cell_force_n=[[1.0, 2.0]] * (good[0].n - 1)
    )
    bad = [
        ("calfload/raw/b2/left/b2-left-insole", b"\xff\x00"),
        ("calfload/raw/other/left/b2-left-insole", encode(good[0])),  # topic/payload disagree
        (
            "calfload/raw/b2/left/b2-left-insole",
            encode(msgspec.structs.replace(good[0], fs_hz=0.0)),
        ),
        (  # n says 5, the force has 3: nothing of it can be stored as samples
            "calfload/raw/b2/left/b2-left-insole",
            encode(
                msgspec.structs.replace(
                    good[0], force_n=[1.0, 2.0, 3.0], cell_force_n=None, acc_mps2=None, gyr_dps=None
                )
            ),
        ),
        ("calfload/steps/b2/left", b'{"schema": 1}'),
        ("calfload/summary/b2", b'{"schema": 2, "athlete": "b2"}'),
        ("calfload/athlete/b2/info", encode(msgspec.structs.replace(sim.info, body_mass_kg=-1.0))),
        ("calfload/session/b2/control", b'{"schema": 1, "athlete": "b2", "action": "explode"}'),
        (
            "calfload/session/b2/control",
            encode(rm.SessionControl(schema=SCHEMA, athlete="b2", action="note")),
        ),
        ("calfload/marker/b2", b"[]"),
        ("calfload/protocol/b2/event", b'{"schema": 1, "t_s": "soon"}'),
        ("calfload/sensor/x/quality", b"{}"),
    ]
    for b in good:
        _raw(r, b)
    for topic, payload in bad:
        r.handle(topic, payload)
    _raw(r, ragged)
    for b in good:  # QoS 1 redeliveries
        _raw(r, b)
    _close_all(r)
    assert r.stats.messages_rejected == len(bad) + 1  # + the ragged cells
    assert r.stats.channels_dropped == 1
    (row,) = store.list_sessions(tmp_path)[0]
    assert row.samples == sum(b.n for b in good) + ragged.n  # the ragged batch's force kept
    with store.open_session(Path(row.path)) as conn:
        left = store.read_samples(conn, "b2-left-insole")
    assert left is not None
    # the ragged batch was stored without cells: its own row layout, force kept
    assert len(left) == sum(b.n for b in good if b.side == "left")


def test_late_batch_for_a_written_second_is_merged(tmp_path: Path) -> None:
    r = _recorder(tmp_path)
    sim = session("b3", jumps=False)
    left = [b for b in sim.batches if b.side == "left"]
    late, rest = left[3], left[:3] + left[4:]
    for i, b in enumerate(rest):
        _raw(r, b)
        if i % 10 == 0:
            r._commit_all()  # seconds are written and later dropped from memory
    _raw(r, late)  # arrives 14 s late
    _close_all(r)
    (row,) = store.list_sessions(tmp_path)[0]
    assert row.samples == sum(b.n for b in left)
    with store.open_session(Path(row.path)) as conn:
        got = store.read_samples(conn, "b3-left-insole")
    assert got is not None and np.all(np.diff(got.t_s) > 0)


def test_session_policy_auto_start_stop_hold_restart_and_idle(tmp_path: Path) -> None:
    r = _recorder(tmp_path, idle_timeout_s=3600.0)
    sim = session("b4", jumps=False)
    _raw(r, sim.batches[0])
    assert "b4" in r.sessions  # data opened a session
    stop = rm.SessionControl(schema=SCHEMA, athlete="b4", action="stop", by="ann")
    r.handle("calfload/session/b4/control", encode(stop))
    assert "b4" not in r.sessions
    _raw(r, sim.batches[1])
    assert "b4" not in r.sessions and r.stats.not_recording == 1  # held after a stop
    start = rm.SessionControl(schema=SCHEMA, athlete="b4", action="start", name="Hills")
    r.handle("calfload/session/b4/control", encode(start))
    _raw(r, sim.batches[2])
    assert r.sessions["b4"].writer.name == "Hills"
    r.idle_timeout_s = 0.0
    r._commit_all()  # no data within the timeout: closed
    assert "b4" not in r.sessions
    rows, _ = store.list_sessions(tmp_path)
    reasons = []
    for row in rows:
        with store.open_session(Path(row.path)) as conn:
            reasons.append(store.read_meta(conn, Path(row.path))["stop_reason"])
    assert sorted(reasons) == ["idle", "stopped by ann"]


def _jumps(sim_session: object) -> list[float]:
    det = JumpDetector(68.0 * G0)
    found = []
    for b in sim_session.batches:  # type: ignore[attr-defined]
        t = b.t0_s + np.arange(b.n) / b.fs_hz
        found += [j.landing_s for j in det.feed(b.side, t, np.asarray(b.force_n))]
    return found


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_jumps_found_at_start_and_end_and_never_in_running(seed: int) -> None:
    with_jumps = session("j1", seed=seed, run_s=30.0)
    found = _jumps(with_jumps)
    assert len(found) == 2
    for got, truth in zip(found, with_jumps.jump_landings_s, strict=True):
        assert 0.0 <= got - truth <= 0.011  # the first sample above 15 % BW
    assert _jumps(session("j1", seed=seed, run_s=30.0, jumps=False)) == []


def test_sessions_and_export_commands_report_problems_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = store.recordings_folder(tmp_path)
    folder.mkdir(parents=True)
    (folder / "junk.sqlite3").write_bytes(b"not a database at all" * 100)
    assert main(["sessions", "--data-dir", str(tmp_path)]) == 0
    out = capsys.readouterr()
    assert "no recorded sessions" in out.out and "junk.sqlite3" in out.err
    assert (
        main(["export", "nope", "--data-dir", str(tmp_path), "--out", str(tmp_path / "x.csv")]) == 2
    )
    err = capsys.readouterr().err.strip()
    assert err.startswith("calfload: no session 'nope'") and "\n" not in err
    r = _recorder(folder)
    for b in session("c1", jumps=False).batches[:20]:
        _raw(r, b)
    _close_all(r)
    assert main(["sessions", "--data-dir", str(tmp_path)]) == 0
    text = capsys.readouterr().out
    assert "c1" in text and "stopped" in text
    assert main(["sessions", "--data-dir", str(tmp_path), "--json", "--athlete", "zz"]) == 0
    assert json.loads(capsys.readouterr().out) == []


TOPICS = [
    "calfload/raw/f1/left/f1-left",
    "calfload/steps/f1/left",
    "calfload/summary/f1",
    "calfload/athlete/f1/info",
    "calfload/sensor/f1-left/quality",
    "calfload/sensor/f1-left/availability",
    "calfload/session/f1/control",
    "calfload/marker/f1",
    "calfload/protocol/f1/event",
]


def test_arbitrary_payloads_never_raise(tmp_path: Path) -> None:
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    r = _recorder(tmp_path)
    json_values = st.recursive(
        st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=8),
        lambda inner: (
            st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=6)
        ),
        max_leaves=12,
    )
    payloads = st.binary(max_size=64) | json_values.map(lambda v: json.dumps(v).encode())

    @settings(
        max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
    )
    @given(st.sampled_from(TOPICS), payloads)
    def check(topic: str, payload: bytes) -> None:
        before = r.stats.messages_ok + r.stats.messages_rejected
        r.handle(topic, payload)  # counted one way or the other, never an exception
        assert r.stats.messages_ok + r.stats.messages_rejected == before + 1

    check()
    _close_all(r)
