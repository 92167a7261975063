"""``calfload protocol``: list, show, clear errors, and a live ``run --json`` against mosquitto
with a virtual athlete hopping on the cues."""

from __future__ import annotations

import json
from pathlib import Path

import msgspec
import pytest

from calfload.bridge.sim_protocols import CalfTaskSimulator
from calfload.bridge.simulator import AthleteProfile
from calfload.cli.main import main
from calfload.processing.protocols.hops import jump_height_m
from calfload.processing.protocols.results import ProtocolResult
from tests.protocols.virtual import VirtualAthlete

HOPS = """
name = "hops-short"
title = "Short hop test"
kind = "hops"
[[stage]]
name = "left hops"
task = "hop"
side = "left"
duration_s = 7
cue = "Hop on the left leg."
[[stage]]
name = "right hops"
task = "hop"
side = "right"
duration_s = 7
"""


def test_list_and_show(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["protocol", "list", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {"treadmill-fukuchi", "heel-rise-endurance", "hops"} <= {r["name"] for r in rows}
    assert main(["protocol", "show", "treadmill-fukuchi"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert [s["speed_mps"] for s in shown["stage"]] == [2.5, 3.5, 4.5]


def test_bad_protocol_file_is_one_clear_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(HOPS.replace('side = "left"', 'side = "up"'))
    assert main(["protocol", "run", "--protocol", str(bad), "--athlete", "a1"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "stage[1].side" in err and str(bad) in err
    assert main(["protocol", "run", "no-such", "--athlete", "a1"]) == 2
    assert "no protocol named 'no-such'" in capsys.readouterr().err


@pytest.mark.broker
def test_run_json_scores_a_live_hop_test(
    mosquitto, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = tmp_path / "hops.toml"
    file.write_text(HOPS)
    sim = CalfTaskSimulator(AthleteProfile("h1", "Hal", body_mass_kg=70.0))
    athlete = VirtualAthlete(
        mosquitto.port, sim, {"left": 8, "right": 8}, hop={"contact_s": 0.19, "flight_s": 0.32}
    )
    try:
        args = ["protocol", "run", "--protocol", str(file), "--athlete", "h1"]
        code = main([*args, "--broker", mosquitto.url, "--json"])
    finally:
        athlete.close()
    out = capsys.readouterr()
    assert code == 0, out.err
    result = msgspec.json.decode(out.out, type=ProtocolResult)
    assert "Hop on the left leg." in out.err  # cues go to stderr with --json
    hops = [s.hops for s in result.stages if s.hops is not None]
    assert [h.hops for h in hops] == [8, 8]
    for h in hops:
        assert h.contact_ms == pytest.approx(190.0, abs=10.0)
        assert h.flight_ms == pytest.approx(320.0, abs=10.0)
        assert h.height_m == pytest.approx(jump_height_m(0.32), rel=0.07)
    # Both legs hop alike. At 100 Hz each time is good to one sample, and these hops repeat
    # every 51 samples, so a leg's error does not average out: RSI (h / t_c, h ∝ t_f²) may
    # differ by up to ~10 % per leg, ~20 % between legs.
    left, right = hops
    assert left.rsi is not None and right.rsi is not None
    assert result.symmetry["hop_rsi_lsi_pct"] == pytest.approx(100 * left.rsi / right.rsi, abs=0.1)
    assert result.symmetry["hop_rsi_lsi_pct"] == pytest.approx(100.0, abs=20.0)


def _set_result(reps: int, load_kg: float) -> ProtocolResult:
    from calfload.processing.protocols.results import HeelDropSet, StageResult

    stage = StageResult(
        index=0,
        name="set 1",
        task="heel-drop",
        start_s=0.0,
        end_s=60.0,
        heel_drop=HeelDropSet(
            side="left", reps=reps, target_reps=15, complete=reps >= 15, added_load_kg=load_kg
        ),
    )
    return ProtocolResult(
        schema=1,
        protocol="alfredson-heel-drop",
        title="t",
        athlete="a1",
        started_s=0.0,
        ended_s=60.0,
        stages=[stage],
    )


def test_programme_log_and_advice_over_a_week(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    logs = tmp_path / "a1-logs.json"
    result = tmp_path / "result.json"
    result.write_bytes(msgspec.json.encode(_set_result(15, 5.0)))
    for day in range(1, 8):
        date = f"2026-11-{day:02d}"
        args = ["protocol", "log", str(logs), "--date", date, "--result", str(result)]
        assert main([*args, "--pain-before", "1", "--pain-during", "2"]) == 0
        assert "pending" in capsys.readouterr().out  # the next morning is not known yet
        assert main(["protocol", "log", str(logs), "--date", date, "--pain-next-morning", "1"]) == 0
        assert "progress" in capsys.readouterr().out
    assert main(["protocol", "advise", str(logs), "--json"]) == 0
    advice = json.loads(capsys.readouterr().out)
    assert advice["verdict"] == "progress" and advice["next_load_kg"] == 10.0
    # a painful session steps back, and bad input is one clear line
    args = ["protocol", "log", str(logs), "--date", "2026-11-08", "--result", str(result)]
    assert main([*args, "--pain-during", "7", "--pain-next-morning", "3"]) == 0
    assert "reduce" in capsys.readouterr().out
    assert main(["protocol", "advise", str(logs)]) == 0
    assert "reduce, added load 0 kg" in capsys.readouterr().out
    assert main(["protocol", "log", str(logs), "--date", "2026-11-09", "--pain-during", "12"]) == 2
    assert "no session logged for 2026-11-09" in capsys.readouterr().err
    assert main([*args, "--pain-during", "12"]) == 2
    assert "pain_during must be a whole number from 0 to 10" in capsys.readouterr().err
    assert len(json.loads(logs.read_text())) == 8
