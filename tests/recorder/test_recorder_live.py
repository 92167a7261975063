"""The recorder against a real mosquitto with the real worker: every sample, every step,
markers, notes, sync jumps; and the export → ``calfload analyze`` round trip."""

from __future__ import annotations

import json
import time
from pathlib import Path

import msgspec
import numpy as np
import pytest

from calfload.bridge import topics
from calfload.bridge.messages import SCHEMA, encode
from calfload.bridge.mqtt import BrokerUrl
from calfload.cli.main import main
from calfload.processing.analyze import analyze, read_any
from calfload.processing.io.calfload_csv import read_recording
from calfload.processing.recorder import messages as rm
from calfload.processing.recorder import store
from calfload.processing.recorder.recorder import Recorder
from calfload.processing.worker import Worker
from tests.helpers import Collector, wait_until
from tests.recorder.sim import session

BASE = topics.DEFAULT_BASE
IC_TOLERANCE_MS = 0.01  # after the per-foot offset from the header


def _publish_all(pub: Collector, messages: list[tuple[str, bytes]]) -> None:
    infos = [pub.client.publish(t, p, qos=1) for t, p in messages]
    for info in infos:
        info.wait_for_publish(30)


@pytest.mark.broker
def test_recorder_keeps_every_sample_step_marker_and_jump_and_export_analyzes_the_same(
    mosquitto, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:  # type: ignore[no-untyped-def]
    sim = session("r1", t0_s=round(time.time()) - 30.0)
    broker = BrokerUrl.parse(mosquitto.url)
    folder = tmp_path / "data" / "recordings"
    recorder = Recorder(broker, folder)
    worker = Worker(broker)
    steps_seen = Collector("127.0.0.1", mosquitto.port, [f"{BASE}/steps/#"]).start()
    pub = Collector("127.0.0.1", mosquitto.port, [f"{BASE}/none"]).start()
    recorder.start()
    worker.start()
    try:
        assert recorder.connected.wait(10) and worker.connected.wait(10)
        pub.client.publish(
            topics.athlete_info(BASE, "r1"), encode(sim.info), qos=1, retain=True
        ).wait_for_publish(10)
        wait_until(lambda: "r1" in worker.body_mass_kg and "r1" in recorder.infos, 10, "info")
        half = len(sim.batches) // 2
        raw = [(topics.raw(BASE, b.athlete, b.side, b.sensor_id), encode(b)) for b in sim.batches]
        _publish_all(pub, raw[:half])
        marker_t = sim.batches[half].t0_s
        mark = rm.Marker(
            schema=SCHEMA, athlete="r1", label="plate-sync", source="lab", t_s=marker_t
        )
        note = rm.SessionControl(
            schema=SCHEMA, athlete="r1", action="note", text="felt good", by="t"
        )
        _publish_all(
            pub,
            [
                (rm.marker(BASE, "r1"), encode(mark)),
                (rm.control(BASE, "r1"), encode(note)),
                (rm.marker(BASE, "r1"), b"{not json"),  # counted, never a crash
                (
                    rm.protocol_event(BASE, "r1"),
                    json.dumps({"schema": 1, "t_s": marker_t, "kind": "stage"}).encode(),
                ),
            ],
        )
        _publish_all(pub, raw[half:])
        wait_until(lambda: worker.stats.batches_ok == len(raw), 30, "the worker to see every batch")
        wait_until(
            lambda: len(steps_seen.payloads(f"{BASE}/steps/")) == worker.stats.steps_published,
            10,
            "every step",
        )
        live_steps = steps_seen.payloads(f"{BASE}/steps/")
        wait_until(
            lambda: (
                recorder.sessions.get("r1") is not None
                and store.describe(recorder.sessions["r1"].writer.path).steps == len(live_steps)
                and store.describe(recorder.sessions["r1"].writer.path).samples
                == sum(b.n for b in sim.batches)
            ),
            20,
            "the recorder to commit every sample and step",
        )
        stop = rm.SessionControl(schema=SCHEMA, athlete="r1", action="stop", by="t")
        _publish_all(pub, [(rm.control(BASE, "r1"), encode(stop))])
        wait_until(lambda: "r1" not in recorder.sessions, 10, "the session to stop")
    finally:
        worker.stop()
        recorder.stop()
        pub.stop()
        steps_seen.stop()

    assert recorder.stats.messages_rejected == 1  # the broken marker
    rows, errors = store.list_sessions(folder)
    assert errors == [] and len(rows) == 1
    row = rows[0]
    assert row.state == "stopped" and row.athlete == "r1" and row.name == "Runner"
    assert row.steps == len(live_steps) > 10
    path = Path(row.path)
    with store.open_session(path) as conn:
        # every published sample, bit for bit up to float32
        for side, sig in sim.recording.sides.items():
            got = store.read_samples(conn, f"r1-{side}-insole")
            assert got is not None and len(got) == sig.force_n.size
            np.testing.assert_allclose(
                got.channels["force_n"][:, 0], sig.force_n, rtol=1e-6, atol=1e-3
            )
            assert sig.cell_force_n is not None
            np.testing.assert_allclose(
                got.channels["cell_force_n"], sig.cell_force_n, rtol=1e-6, atol=1e-3
            )
            sent_t = np.concatenate(
                [b.t0_s + np.arange(b.n) / b.fs_hz for b in sim.batches if b.side == side]
            )
            np.testing.assert_allclose(got.t_s, np.sort(sent_t), atol=1e-6)
        recorded = store.steps(conn)
        events = store.events(conn)
    key = lambda s: (s["side"], s["step_index"])  # noqa: E731
    assert sorted(recorded, key=key) == sorted(live_steps, key=key)
    assert [e["label"] for e in events if e["kind"] == "session"] == ["start", "stop"]
    markers = [e for e in events if e["kind"] == "marker"]
    assert [(m["label"], m["source"], m["t_s"]) for m in markers] == [
        ("plate-sync", "lab", marker_t)
    ]
    assert [e["label"] for e in events if e["kind"] == "note"] == ["felt good"]
    assert [e["label"] for e in events if e["kind"] == "protocol"] == ["stage"]
    jumps = [e for e in events if e["kind"] == "jump"]
    assert len(jumps) == 2, jumps
    for jump, truth in zip(jumps, sim.jump_landings_s, strict=True):
        # detected at the first sample above 15 % BW: within one sample period of the truth
        assert 0.0 <= jump["t_s"] - truth <= 0.011
        assert jump["data"]["flight_ms"] == pytest.approx(350.0, abs=15.0)

    # calfload sessions --json
    data_dir = str(tmp_path / "data")
    assert main(["sessions", "--data-dir", data_dir, "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(s["session_id"], s["steps"], s["state"]) for s in listed] == [
        (row.session_id, len(live_steps), "stopped")
    ]
    assert listed[0]["samples"] == sum(b.n for b in sim.batches)
    assert listed[0]["duration_s"] == pytest.approx(sim.recording.duration_s, abs=0.1)

    # export → analyze: the same steps as live
    out = tmp_path / "export.csv"
    assert main(["export", row.session_id, "--data-dir", data_dir, "--out", str(out)]) == 0
    rec = read_recording(out)
    t0 = float(rec.meta["session_clock_t0_s"])
    offline = analyze(rec).steps
    by_key = {(s.side, s.step_index): s for s in offline}
    # the worker never flushes: at most the last step of each foot is still held live
    assert len(offline) - 2 <= len(live_steps) <= len(offline)
    shift_ms = {side: float(rec.meta[f"{side}_time_offset_ms"]) for side in ("left", "right")}
    assert shift_ms["left"] == pytest.approx(0.0, abs=0.01)
    assert shift_ms["right"] == pytest.approx(3.7, abs=0.01)  # the sim's sampling offset
    same = ("gct_ms", "peak_force_n", "impulse_ns", "achilles_force_n", "push_off_impulse_ns")
    for live in live_steps:
        off = by_key[(live["side"], live["step_index"])]
        # every sample keeps its value and its foot's spacing: per-foot fields are identical,
        # times differ by the foot's constant offset from the export grid (header key)
        # (up to float32 storage of the samples and the fields' rounding)
        for name in same:
            assert getattr(off, name) == pytest.approx(live[name], rel=1e-4, abs=0.002), name
        assert (off.quality, off.gait) == (live["quality"], live["gait"])
        shift_s = shift_ms[live["side"]] / 1000.0
        assert abs(off.ic_s + t0 + shift_s - live["ic_s"]) * 1000 <= IC_TOLERANCE_MS
        assert abs(off.to_s + t0 + shift_s - live["to_s"]) * 1000 <= IC_TOLERANCE_MS
        if live.get("flight_ms") is not None and off.flight_ms is not None:
            # across feet: the two offsets differ by ~3.7 ms, the tolerance of these fields
            # (plus the 0.01 ms rounding of both values)
            across_ms = abs(shift_ms["right"] - shift_ms["left"])
            assert abs(off.flight_ms - live["flight_ms"]) <= across_ms + 0.02
    parquet = tmp_path / "export.parquet"
    assert (
        main(
            [
                "export",
                row.session_id,
                "--data-dir",
                data_dir,
                "--format",
                "parquet",
                "--out",
                str(parquet),
            ]
        )
        == 0
    )
    import pyarrow.parquet as pq

    table = pq.read_table(parquet)
    assert table.num_rows == rec.time_s.size
    assert table.schema.metadata[b"session_id"].decode() == row.session_id
    np.testing.assert_allclose(
        table.column("left_force_n").to_numpy(), rec.sides["left"].force_n, rtol=1e-5, atol=0.01
    )
    # the Parquet export is readable again by `calfload analyze`, with the same steps (the
    # CSV rounds samples to 6 significant digits, Parquet keeps them: compare to that level)
    from_parquet = analyze(read_any(parquet)).steps
    assert [(s.side, s.step_index) for s in from_parquet] == [
        (s.side, s.step_index) for s in offline
    ]
    for a, b in zip(from_parquet, offline, strict=True):
        assert a.ic_s == pytest.approx(b.ic_s, abs=1e-4)
        assert a.gct_ms == pytest.approx(b.gct_ms, abs=0.1)
        assert a.peak_force_n == pytest.approx(b.peak_force_n, rel=1e-4)
    msgspec.json.encode(listed)  # JSON-able

    # C3D: analog channels, steps and markers as events, read back by two libraries
    c3d_path = tmp_path / "export.c3d"
    assert main(["export", row.session_id, "--data-dir", data_dir, "--format", "c3d",
                 "--out", str(c3d_path)]) == 0  # fmt: skip
    _check_c3d(c3d_path, rec, live_steps, t0, marker_t)


def _check_c3d(
    path: Path, rec: object, live_steps: list[dict[str, object]], t0: float, marker_t: float
) -> None:
    import c3d
    import ezc3d

    from calfload.processing.io.recording import Recording

    assert isinstance(rec, Recording)
    f = ezc3d.c3d(str(path))
    labels = f["parameters"]["ANALOG"]["LABELS"]["value"]
    analogs = f["data"]["analogs"][0]
    assert analogs.shape == (len(labels), rec.time_s.size)
    np.testing.assert_allclose(
        analogs[labels.index("right_force_n")], rec.sides["right"].force_n, rtol=1e-5, atol=0.01
    )
    ev = f["parameters"]["EVENT"]
    times = ev["TIMES"]["value"][0] * 60.0 + ev["TIMES"]["value"][1]
    strikes = sorted(
        t
        for t, lab, ctx in zip(times, ev["LABELS"]["value"], ev["CONTEXTS"]["value"], strict=True)
        if lab == "Foot Strike" and ctx == "Left"
    )
    want = sorted(float(s["ic_s"]) - t0 for s in live_steps if s["side"] == "left")
    np.testing.assert_allclose(strikes, want, atol=1e-4)
    markers = [t for t, lab in zip(times, ev["LABELS"]["value"], strict=True) if lab == "marker"]
    assert markers == pytest.approx([marker_t - t0], abs=1e-4)
    assert ev["LABELS"]["value"].count("jump") == 2
    with path.open("rb") as handle:  # an independent reader agrees on the analog data
        with pytest.warns(UserWarning, match="No point data"):  # forces only, no 3D markers
            reader = c3d.Reader(handle)
        names = [x.strip() for x in reader.analog_labels]
        frames = [analog for _, _, analog in reader.read_frames()]
    assert names == labels and len(frames) == rec.time_s.size
    left = np.array([a[names.index("left_force_n"), 0] for a in frames])
    np.testing.assert_allclose(left, rec.sides["left"].force_n, rtol=1e-5, atol=0.01)
