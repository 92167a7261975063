"""Protocol files: templates load, bad files are refused naming the field; programme rules."""

from __future__ import annotations

from pathlib import Path

import pytest

from calfload.processing.protocols import programme as pg
from calfload.processing.protocols.definition import ProtocolError, builtin, load, resolve
from calfload.processing.protocols.results import HeelDropSet

GOOD = """
name = "lab-ramp"
title = "Our ramp"
[[stage]]
name = "warm"
task = "run"
duration_s = 60
speed_mps = 2.8
"""


def test_templates_cover_the_reference_protocols() -> None:
    t = builtin()
    assert [s.speed_mps for s in t["treadmill-fukuchi"].stages] == [2.5, 3.5, 4.5]
    hr = t["heel-rise-endurance"]
    assert hr.heel_rise.incline_deg == 10 and hr.stages[0].rep_period_s == 2.0
    assert [s.reps for s in t["alfredson-heel-drop"].stages if s.task == "heel-drop"] == [15] * 6


def test_a_lab_file_loads_by_path(tmp_path: Path) -> None:
    f = tmp_path / "ramp.toml"
    f.write_text(GOOD)
    p = resolve(str(f))
    assert p.name == "lab-ramp" and p.stages[0].steady_s == 30.0


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (("duration_s = 60", 'duration_s = "long"'), r"Expected `float`.*stage\[1\]\.duration_s"),
        (("speed_mps = 2.8", "speed_mps = -1"), r"stage 1 \('warm'\): speed_mps must be"),
        (("speed_mps = 2.8", "sped_mps = 2.8"), r"unknown field `sped_mps`"),
        (('task = "run"', 'task = "swim"'), r"Invalid enum value 'swim'.*stage\[1\]\.task"),
        (('task = "run"', 'task = "heel-rise"'), r"needs side"),
        (("[[stage]]", "[stage]"), r"Expected `array`"),
        (("title", "title = "), r"not valid TOML"),
    ],
)
def test_bad_files_are_refused_naming_the_field(
    tmp_path: Path, change: tuple[str, str], words: str
) -> None:
    f = tmp_path / "bad.toml"
    f.write_text(GOOD.replace(*change, 1))
    with pytest.raises(ProtocolError, match=words) as info:
        load(f)
    assert str(f) in str(info.value) and "\n" not in str(info.value)


def test_unknown_name_lists_the_templates() -> None:
    with pytest.raises(ProtocolError, match="treadmill-fukuchi"):
        resolve("no-such-protocol")


def _log(date: str, during: int | None, morning: int | None, load: float = 0.0, reps: int = 15):
    sets = [HeelDropSet(side="left", reps=reps, target_reps=15, complete=reps >= 15)] * 6
    return pg.SessionLog(
        date=date,
        protocol="alfredson-heel-drop",
        sets=sets,
        added_load_kg=load,
        pain_before=1,
        pain_during=during,
        pain_next_morning=morning,
    )


def test_silbernagel_pain_rules() -> None:
    assert pg.pain_zone(3) == "safe" and pg.pain_zone(5) == "acceptable"
    assert pg.pain_zone(6) == "too-high"
    assert pg.session_verdict(_log("2026-11-01", 6, 1)).verdict == "reduce"
    assert pg.session_verdict(_log("2026-11-01", 4, 3)).verdict == "reduce"  # not settled
    assert pg.session_verdict(_log("2026-11-01", 4, 1)).verdict == "hold"
    assert pg.session_verdict(_log("2026-11-01", 2, 1, reps=12)).verdict == "hold"
    assert pg.session_verdict(_log("2026-11-01", 2, None)).verdict == "pending"
    assert pg.session_verdict(_log("2026-11-01", 2, 1)).verdict == "progress"
    with pytest.raises(ValueError, match="pain_during must be a whole number from 0 to 10"):
        pg.session_verdict(_log("2026-11-01", 11, 1))


def test_progression_adds_five_kg_after_a_safe_week_and_steps_back_on_pain() -> None:
    week = [_log(f"2026-11-{d:02d}", 2, 1, load=10.0) for d in range(1, 8)]
    advice = pg.advise(week)
    assert advice.verdict == "progress" and advice.next_load_kg == 15.0
    assert pg.advise(week[:4]).verdict == "hold"  # not yet a week at this load
    flare = [*week, _log("2026-11-08", 7, 4, load=15.0)]
    advice = pg.advise(flare)
    assert advice.verdict == "reduce" and advice.next_load_kg == 10.0
    capped = [_log(f"2026-11-{d:02d}", 1, 1, load=60.0) for d in range(1, 8)]
    assert pg.advise(capped).next_load_kg == 60.0
    assert pg.advise([]).next_load_kg == 0.0
