"""Session reports: a simulated session (running, then a heel-rise test, notes, a marker,
an earlier session of the same athlete) recorded by the real recorder (no broker), then
``calfload report`` as JSON, HTML and PDF (pages checked as images)."""

from __future__ import annotations

import itertools
import json
import re
import shutil
import subprocess
import urllib.error
import urllib.request
from dataclasses import dataclass
from email.message import Message
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import pytest

from calfload.bridge.messages import SCHEMA, AthleteInfo, RawBatch, SensorQuality, Side, encode
from calfload.bridge.mqtt import BrokerUrl
from calfload.bridge.sim_protocols import CalfTaskSimulator, HeelRiseBout, StagedGaitSimulator
from calfload.bridge.simulator import AthleteProfile
from calfload.cli.main import main
from calfload.dashboard.reports.data import gather
from calfload.dashboard.reports.render import SECTIONS, render_html
from calfload.processing.protocols.definition import parse
from calfload.processing.protocols.messages import ProtocolEvent
from calfload.processing.protocols.scoring import AthleteContext, StageMark, score
from calfload.processing.recorder import messages as rm
from calfload.processing.recorder import store
from calfload.processing.recorder.recorder import Recorder
from tests.conftest import CHROMIUM_ARGS
from tests.dashboard.conftest import RunningDashboard, session_headers
from tests.protocols.simdata import raw_batches, steps_from
from tests.recorder.sim import session

ATHLETE = "rep1"
EVIL = "<script>alert(1)</script>"
T0 = 1_764_091_000.0
LOSS_PCT: dict[str, float] = {"left": 1.25, "right": 0.5}


@dataclass(frozen=True)
class Recorded:
    folder: Path
    session_id: str
    previous_id: str
    bouts: dict[str, HeelRiseBout]
    truth_heights_m: dict[str, list[float]]
    lost_samples: int
    pause_s: float
    """The pause between the run and the heel-rise test: a gap in the samples."""


def _record(
    folder: Path,
    batches: list[RawBatch],
    extra: list[tuple[str, bytes]],
    info: AthleteInfo,
    steps: bool = True,
) -> str:
    r = Recorder(BrokerUrl("127.0.0.1", 1), folder)
    r.handle(f"calfload/athlete/{ATHLETE}/info", encode(info))
    for b in batches:
        r.handle(f"calfload/raw/{b.athlete}/{b.side}/{b.sensor_id}", encode(b))
    if steps:
        for s in steps_from(batches, ATHLETE, info.body_mass_kg):
            r.handle(f"calfload/steps/{ATHLETE}/{s.side}", encode(s))
    for topic, payload in extra:
        r.handle(topic, payload)
    assert r.stats.messages_rejected == 0, r.stats.last_error
    (athlete,) = r.sessions
    sid = r.sessions[athlete].writer.session_id
    r._commit_all()
    r._close(athlete, "test")
    return sid


def _event(kind: str, t_s: float, **kw: object) -> tuple[str, bytes]:
    e = ProtocolEvent(
        schema=SCHEMA,
        athlete=ATHLETE,
        protocol="heel-rise-endurance",
        run_id="run-1",
        kind=kind,  # type: ignore[arg-type]
        t_s=t_s,
        **kw,  # type: ignore[arg-type]
    )
    return f"calfload/protocol/{ATHLETE}/events", encode(e)


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Recorded:
    folder = tmp_path_factory.mktemp("data") / "recordings"
    run = session(ATHLETE, run_s=6.0, t0_s=T0, jumps=True)
    info = msgspec.structs.replace(run.info, name=EVIL)
    # an earlier session of the same athlete, two days before
    before = session(ATHLETE, run_s=3.0, t0_s=T0 - 2 * 86400.0, jumps=False, seed=5)
    previous = _record(folder, before.batches, [], info)
    # this session: running (with a lost stretch reported by the bridge), then heel rises
    batches = list(run.batches)
    k = next(i for i, b in enumerate(batches) if b.side == "left" and b.t0_s > T0 + 3.0)
    batches[k] = msgspec.structs.replace(batches[k], gap_samples=7)
    end_run = max(b.t0_s + b.n / b.fs_hz for b in batches)
    sim = CalfTaskSimulator(
        AthleteProfile(ATHLETE, "Runner", body_mass_kg=info.body_mass_kg, seed=11),
        foot_length_m=0.26,
    )
    start = float(np.ceil(end_run)) + 1.0
    left = HeelRiseBout("left", start + 2.0, reps=6, failed=2)
    right = HeelRiseBout("right", left.end_s + 6.0, reps=4, failed=2)
    sim.add(left)
    sim.add(right)
    hr_batches = [
        msgspec.structs.replace(b, sensor_id=f"{ATHLETE}-{b.side}-insole")
        for b in raw_batches(sim, ATHLETE, start, right.end_s + 4.0)
    ]
    marks = [
        (0, start + 1.0, left.end_s + 3.0, "left"),
        (1, left.end_s + 3.0, left.end_s + 5.0, None),
        (2, left.end_s + 5.0, right.end_s + 4.0, "right"),
    ]
    extra = [_event("start", start + 0.5, stages=3)]
    for i, a, b, side in marks:
        task = "rest" if side is None else "heel-rise"
        extra.append(_event("stage-start", a, stage_index=i, task=task, side=side))
        extra.append(_event("stage-end", b, stage_index=i, task=task, side=side))
    extra.append(_event("end", right.end_s + 4.0))
    sides: tuple[Side, Side] = ("left", "right")
    for side in sides:
        pct = LOSS_PCT[side]
        q = SensorQuality(
            schema=SCHEMA,
            sensor_id=f"{ATHLETE}-{side}-insole",
            athlete=ATHLETE,
            side=side,
            t_s=end_run,
            packets_ok=100,
            packets_bad=0,
            samples_ok=1000,
            samples_lost=7,
            loss_pct=pct,
            effective_fs_hz=99.0,
            longest_gap_s=0.07,
            sync_error_ms=0.4,
        )
        extra.append((f"calfload/sensor/{q.sensor_id}/quality", encode(q)))
    c = rm.SessionControl(
        schema=SCHEMA,
        athlete=ATHLETE,
        action="note",
        text=f"felt fine {EVIL}",
        by="ther",
        t_s=T0 + 2.0,
    )
    extra.append((f"calfload/session/{ATHLETE}/control", encode(c)))
    m = rm.Marker(
        schema=SCHEMA, athlete=ATHLETE, label="force plate on", source="lab", t_s=T0 + 1.0
    )
    extra.append((f"calfload/marker/{ATHLETE}", encode(m)))
    sid = _record(folder, batches + hr_batches, extra, info)
    return Recorded(
        folder,
        sid,
        previous,
        {"left": left, "right": right},
        {"left": sim.true_heights_m(left), "right": sim.true_heights_m(right)},
        7,
        start - end_run,
    )


def test_gathered_data_match_the_recording(recorded: Recorded) -> None:
    path = recorded.folder / f"{recorded.session_id}.sqlite3"
    data = gather(path, recorded.folder, sex="female")
    with store.open_session(path) as conn:
        stored = store.steps(conn)
    assert data.steps == len(stored) > 10
    for side in data.sides:
        gct = [s["gct_ms"] for s in stored if s["side"] == side.side]
        assert side.steps == len(gct)
        assert side.gct_mean_ms == pytest.approx(np.mean(gct))
    sensors = {s.side: s for s in data.sensors}
    assert {k: s.loss_pct for k, s in sensors.items()} == LOSS_PCT
    assert sensors["left"].lost_samples == recorded.lost_samples
    assert sensors["left"].gaps == 1
    assert sensors["left"].longest_gap_s == pytest.approx(recorded.pause_s, abs=0.011)
    (run,) = data.protocols
    assert run.result is not None and run.result.complete
    hr = {s.heel_rise.side: s.heel_rise for s in run.result.stages if s.heel_rise is not None}
    assert hr["left"].reps == 6 and hr["right"].reps == 4
    assert [r.height_m for r in hr["left"].rep_list if r.counted] == pytest.approx(
        recorded.truth_heights_m["left"], abs=0.005
    )
    assert {n.side for n in run.result.norms} == {"left", "right"}
    (past,) = data.history.sessions
    assert past.session_id == recorded.previous_id
    c = data.history.comparison
    assert c is not None and past.achilles_impulse_bws is not None
    assert c["reference_max"] == pytest.approx(past.achilles_impulse_bws)
    assert data.achilles_impulse_bws is not None
    assert c["excess_pct"] == pytest.approx(
        100 * (data.achilles_impulse_bws - past.achilles_impulse_bws) / past.achilles_impulse_bws
    )
    # the runner's protocol events reach the recorder through its subscriptions
    assert "calfload/protocol/+/events" in rm.filters("calfload")
    kinds = {e.kind for e in data.events}
    assert {"note", "marker", "jump"} <= kinds


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def _section(html: str, name: str) -> str:
    m = re.search(rf'<section id="{name}">(.*?)</section>', html, re.S)
    assert m, f"section {name} missing"
    return m.group(1)


def test_html_report_has_every_section_with_the_right_numbers(
    recorded: Recorded, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data_dir = str(recorded.folder.parent)
    out = tmp_path / "report.html"
    assert (
        main(
            [
                "report",
                recorded.session_id,
                "--data-dir",
                data_dir,
                "--out",
                str(out),
                "--sex",
                "female",
            ]
        )
        == 0
    )
    html = out.read_text(encoding="utf-8")
    assert capsys.readouterr().out.startswith("wrote ")
    assert (
        main(["report", recorded.session_id, "--data-dir", data_dir, "--json", "--sex", "female"])
        == 0
    )
    data = json.loads(capsys.readouterr().out)
    for name in SECTIONS:
        _section(html, name)
    # self-contained: no external resources, no script
    assert not re.search(r"(src|href)=\"?https?:", html) and "<script" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    results = _text(_section(html, "results"))
    for side in data["sides"]:
        assert (
            f"{side['side']} {side['steps']} {side['suspect']} {side['gct_mean_ms']:.1f}" in results
        )
    assert _section(html, "results").count("<svg") == 2
    protocols = _section(html, "protocols")
    assert "Heel-rise curve" in protocols and "<svg" in protocols
    assert "Hébert-Losier" in protocols
    quality = _text(_section(html, "quality"))
    for s in data["sensors"]:
        assert (
            f"{s['sensor_id']} {s['side']} {s['samples']} {s['lost_samples']} {s['loss_pct']:.2f}"
            in quality
        )
    comparison = _text(_section(html, "comparison"))
    assert recorded.previous_id in comparison
    assert data["history"]["comparison"]["band"] in comparison
    notes = _text(_section(html, "notes"))
    assert "force plate on" in notes and "felt fine" in notes


def test_bad_session_is_one_line_and_exit_2(
    recorded: Recorded, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["report", "nobody-1", "--data-dir", str(recorded.folder.parent), "--json"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "no session 'nobody-1'" in err


def test_pdf_report_pages_render(
    recorded: Recorded, tmp_path: Path, chromium_path: str, artifacts_dir: Path
) -> None:
    from calfload.dashboard.reports.pdf import html_to_pdf

    pdftoppm = shutil.which("pdftoppm")
    if pdftoppm is None:
        pytest.fail("pdftoppm is not installed: run `make test` (scripts/ensure-tools.sh test)")
    path = recorded.folder / f"{recorded.session_id}.sqlite3"
    html = render_html(gather(path, recorded.folder, sex="female"))
    pdf = tmp_path / "report.pdf"
    html_to_pdf(html, pdf, executable=chromium_path, args=CHROMIUM_ARGS)
    assert pdf.read_bytes().startswith(b"%PDF")
    subprocess.run([pdftoppm, "-gray", "-r", "40", str(pdf), str(tmp_path / "page")], check=True)
    pages = sorted(tmp_path.glob("page-*.pgm"))
    assert len(pages) >= len(SECTIONS)  # each section starts a page
    for k, pgm in enumerate(pages, 1):
        img = _pgm(pgm)
        assert img.std() > 5.0, f"page {k} is blank"
    subprocess.run(
        [pdftoppm, "-png", "-r", "60", str(pdf), str(artifacts_dir / "report-page")], check=True
    )


def _pgm(path: Path) -> np.ndarray:
    """A binary PGM (P5, 8 bit) as a 2-D array."""
    raw = path.read_bytes()
    fields = raw.split(maxsplit=4)
    assert fields[0] == b"P5" and int(fields[3]) == 255
    w, h = int(fields[1]), int(fields[2])
    return np.frombuffer(raw[len(raw) - w * h :], dtype=np.uint8).reshape(h, w).astype(float)


@pytest.mark.broker
def test_sessions_page_serves_the_report_to_therapists_only(
    recorded: Recorded, dashboard: RunningDashboard
) -> None:
    folder = dashboard.data_dir / "recordings"
    folder.mkdir(parents=True, exist_ok=True)
    for sid in (recorded.session_id, recorded.previous_id):
        shutil.copy(recorded.folder / f"{sid}.sqlite3", folder)
    url = f"{dashboard.url}/sessions/{recorded.session_id}/report"
    assert _get(url).status == 303  # to the login page
    headers = session_headers(dashboard.data_dir)
    page = _get(f"{dashboard.url}/sessions", headers)
    assert f'href="/sessions/{recorded.session_id}/report"' in page.body
    reply = _get(url, headers)
    assert reply.status == 200 and reply.headers["content-type"].startswith("text/html")
    for name in SECTIONS:
        _section(reply.body, name)
    assert recorded.previous_id in _section(reply.body, "comparison")
    assert "<script" not in reply.body
    assert _get(f"{dashboard.url}/sessions/nobody-1/report", headers).status == 404


@dataclass(frozen=True)
class Reply:
    status: int
    headers: Message
    body: str


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def _get(url: str, headers: dict[str, str] | None = None) -> Reply:
    """One GET, redirects not followed."""
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(urllib.request.Request(url, headers=headers or {}), timeout=30) as r:
            return Reply(r.status, r.headers, r.read().decode())
    except urllib.error.HTTPError as err:
        return Reply(err.code, err.headers, err.read().decode())


TREADMILL = """
name = "report-stages"
title = "Three short treadmill stages"
kind = "treadmill"
[[stage]]
name = "slow"
task = "run"
duration_s = 10
speed_mps = 2.5
steady_last_s = 5
[[stage]]
name = "mid"
task = "run"
duration_s = 10
speed_mps = 3.5
steady_last_s = 5
[[stage]]
name = "fast"
task = "run"
duration_s = 10
speed_mps = 4.5
steady_last_s = 5
"""


def test_treadmill_report_has_the_stage_table_and_bars_of_the_scored_stages(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    athlete = "tread1"
    file = tmp_path / "stages.toml"
    file.write_text(TREADMILL, encoding="utf-8")
    protocol = parse(TREADMILL)
    sim = StagedGaitSimulator(AthleteProfile(athlete, "Tom", body_mass_kg=70.0, seed=4))
    t0 = 1.0  # the simulator's clock starts at 0
    marks = []
    for i, stage in enumerate(protocol.stages):
        start = t0 + 10.0 * i
        sim.set_speed(start, stage.speed_mps or 0.0)
        marks.append(StageMark(i, start, start + 10.0))
    raw = raw_batches(sim, athlete, 0.0, t0 + 30.5)
    steps = steps_from(raw, athlete, 70.0)
    expected = score(protocol, marks, AthleteContext(athlete, 70.0), steps=steps)
    r = Recorder(BrokerUrl("127.0.0.1", 1), tmp_path / "data" / "recordings")
    info = AthleteInfo(schema=SCHEMA, athlete=athlete, name="Tom", body_mass_kg=70.0, sensors=[])
    r.handle(f"calfload/athlete/{athlete}/info", encode(info))
    for b in raw:
        r.handle(f"calfload/raw/{athlete}/{b.side}/{b.sensor_id}", encode(b))
    for s in steps:
        r.handle(f"calfload/steps/{athlete}/{s.side}", encode(s))
    for m in marks:
        for kind, t in (("stage-start", m.start_s), ("stage-end", m.end_s)):
            e = ProtocolEvent(
                schema=SCHEMA,
                athlete=athlete,
                protocol=protocol.name,
                run_id="t1",
                kind=kind,  # type: ignore[arg-type]
                t_s=t,
                stage_index=m.index,
                task="run",
            )
            r.handle(f"calfload/protocol/{athlete}/events", encode(e))
    assert r.stats.messages_rejected == 0, r.stats.last_error
    sid = r.sessions[athlete].writer.session_id
    r._commit_all()
    r._close(athlete, "test")
    out = tmp_path / "t.html"
    args = ["report", sid, "--data-dir", str(tmp_path / "data"), "--out", str(out)]
    # without the lab's protocol file the run is listed but cannot be scored
    assert main(args) == 0
    assert "Not scored: no protocol named" in out.read_text(encoding="utf-8")
    assert main([*args, "--protocol", str(file)]) == 0
    capsys.readouterr()
    html = out.read_text(encoding="utf-8")
    # the lab's protocol folder serves as well
    (tmp_path / "data" / "protocols").mkdir()
    shutil.copy(file, tmp_path / "data" / "protocols")
    assert main(args) == 0
    assert out.read_text(encoding="utf-8") == html
    protocols = _section(html, "protocols")
    assert "Treadmill stages" in protocols and "GCT per stage" in protocols
    text = _text(protocols)
    for scored in expected.stages:
        run = scored.run
        assert run is not None and run.left.gct_ms is not None and run.right.gct_ms is not None
        row = (
            f"{scored.name} {run.speed_mps:.1f} {run.steps} {run.cadence_spm:.0f} "
            f"{run.left.gct_ms:.1f} {run.right.gct_ms:.1f}"
        )
        assert row in text
    # one bar per stage and side
    bars = protocols[protocols.index("GCT per stage") :]
    assert bars.count("<rect") - bars.count('y="4" width="10"') - 1 == 2 * len(expected.stages)


MOTICON = Path("moticon_opengo_walking") / "230927_102114.txt.gz"


def test_report_of_a_real_recording_counts_its_missing_samples_and_steps(
    shared_data: Path, tmp_path: Path
) -> None:
    """The real Moticon walking export (empty cells = samples the insole lost) sent as the
    bridge would (valid runs in 5-sample batches, ``gap_samples`` for the lost ones)."""
    from calfload.processing.io.moticon import read_moticon
    from calfload.processing.io.recording import runs

    rec = read_moticon(shared_data / MOTICON)
    athlete, t0 = "real1", 1_000.0
    mass = rec.body_mass_kg or 70.0
    batches: list[RawBatch] = []
    truth: dict[str, tuple[int, int, int]] = {}  # side: (stored, lost, interior gaps)
    for side, sig in rec.sides.items():
        valid = ~np.isnan(sig.force_n)
        spans = runs(rec.time_s, valid, rec.fs_hz)
        previous_end = 0
        for a, b in spans:
            for k in range(a, b, 5):
                e = min(b, k + 5)
                batches.append(
                    RawBatch(
                        schema=SCHEMA,
                        sensor_id=f"{athlete}-{side}-insole",
                        athlete=athlete,
                        side=side,
                        placement="insole",
                        family="moticon",
                        seq=len(batches),
                        t0_s=t0 + float(rec.time_s[k]),
                        fs_hz=rec.fs_hz,
                        n=e - k,
                        force_n=sig.force_n[k:e].tolist(),
                        gap_samples=(a - previous_end) if k == a else 0,
                    )
                )
            previous_end = b
        truth[side] = (int(valid.sum()), int(_lost_before_runs(spans)), len(spans) - 1)
    batches.sort(key=lambda x: x.t0_s)
    info = AthleteInfo(schema=SCHEMA, athlete=athlete, name="Real", body_mass_kg=mass, sensors=[])
    r = Recorder(BrokerUrl("127.0.0.1", 1), tmp_path / "recordings")
    r.handle(f"calfload/athlete/{athlete}/info", encode(info))
    for bt in batches:
        r.handle(f"calfload/raw/{athlete}/{bt.side}/{bt.sensor_id}", encode(bt))
    for step in steps_from(batches, athlete, mass):
        r.handle(f"calfload/steps/{athlete}/{step.side}", encode(step))
    assert r.stats.messages_rejected == 0, r.stats.last_error
    path = r.sessions[athlete].writer.path
    r._commit_all()
    r._close(athlete, "test")
    data = gather(path)
    with store.open_session(path) as conn:
        stored = store.steps(conn)
    assert len(stored) > 10
    for foot in data.sides:
        gct = [st["gct_ms"] for st in stored if st["side"] == foot.side]
        assert foot.steps == len(gct) > 5
        assert foot.gct_mean_ms == pytest.approx(np.mean(gct))
    for sensor in data.sensors:
        samples, lost, gaps = truth[sensor.side]
        assert (sensor.samples, sensor.lost_samples, sensor.gaps) == (samples, lost, gaps)
    html = render_html(data)
    for name in SECTIONS:
        _section(html, name)


def _lost_before_runs(spans: list[tuple[int, int]]) -> int:
    """Samples missing before and between the valid runs (what ``gap_samples`` reports)."""
    return spans[0][0] + sum(b0 - a1 for (_, a1), (b0, _) in itertools.pairwise(spans))
