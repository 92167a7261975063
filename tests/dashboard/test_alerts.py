"""Alert thresholds and their evaluation (pure), on hand-made and simulated steps."""

from __future__ import annotations

import math

import pytest

from calfload.bridge.messages import SCHEMA, Side
from calfload.bridge.simulator import AthleteProfile, GaitSimulator, TrueStep
from calfload.dashboard.alerts import (
    BASELINE_KEEP_S,
    RECENT_STEPS,
    Baseline,
    Observation,
    SensorStatus,
    ThresholdError,
    Thresholds,
    evaluate,
    severity,
    symmetries,
    symmetry_pct,
    window_means,
)
from calfload.processing.messages import StepMessage


def step(side: Side, i: int, gct_ms: float, t0: float = 1000.0, **extra: float) -> StepMessage:
    ic_s = t0 + 0.7 * i + (0.35 if side == "right" else 0.0)
    return StepMessage(
        schema=SCHEMA, athlete="a1", side=side, sensor_id=f"s-{side}", step_index=i,
        ic_s=ic_s, to_s=ic_s + gct_ms / 1000, gct_ms=gct_ms, **extra,  # type: ignore[arg-type]
    )  # fmt: skip


def kinds(alerts: tuple[object, ...]) -> list[str]:
    return [a.kind for a in alerts]  # type: ignore[attr-defined]


def test_symmetry_index_follows_robinson() -> None:
    assert symmetry_pct(110.0, 90.0) == pytest.approx(20.0)
    assert symmetry_pct(90.0, 110.0) == pytest.approx(-20.0)
    assert symmetry_pct(0.0, 0.0) is None
    assert symmetries({"gct_ms": 250.0, "x": 1.0}, {"gct_ms": 250.0}) == {"gct_ms": 0.0}


def test_window_means_ignore_steps_without_a_field() -> None:
    steps = [
        step("left", 1, 240.0, achilles_force_bw=6.0),
        step("left", 2, 260.0),
        step("left", 3, 250.0, achilles_force_bw=7.0),
    ]
    means = window_means(steps)
    assert means["gct_ms"] == pytest.approx(250.0)
    assert means["achilles_force_bw"] == pytest.approx(6.5)
    assert "flight_ms" not in means
    assert window_means([]) == {}


def test_each_alert_fires_above_its_limit_only() -> None:
    t = Thresholds(asymmetry_pct=10.0, gct_drift_ms=15.0, budget_pct=100.0, loss_pct=5.0)
    calm = Observation(
        symmetry_pct={"gct_ms": 9.9, "flight_ms": 40.0},  # flight time is not watched
        gct_drift_ms={"left": 14.0, "right": -3.0},
        budget_used_pct=80.0,
        sensors=[SensorStatus("s1", "left", True, 4.9)],
    )
    assert evaluate(t, calm) == ()
    assert severity(evaluate(t, calm)) == 0

    busy = Observation(
        symmetry_pct={"gct_ms": 3.0, "achilles_force_bw": -12.5},
        gct_drift_ms={"left": 16.0, "right": 20.0},
        budget_used_pct=92.0,
        sensors=[SensorStatus("s1", "left", True, 6.0), SensorStatus("s2", "right", False)],
    )
    alerts = evaluate(t, busy)
    assert kinds(alerts) == ["sensor_lost", "asymmetry", "gct_drift", "budget", "data_loss"]
    by_kind = {a.kind: a for a in alerts}
    assert by_kind["asymmetry"].text.startswith("Achilles force 12% higher on the right")
    assert "GCT right up 20 ms" in by_kind["gct_drift"].text
    assert by_kind["budget"].level == "warn"
    assert severity(alerts) == 2

    reached = evaluate(t, Observation(budget_used_pct=100.0))
    assert [(a.kind, a.level) for a in reached] == [("budget", "alarm")]


def test_an_alert_set_to_none_is_off() -> None:
    off = Thresholds(asymmetry_pct=None, gct_drift_ms=None, budget_pct=None, loss_pct=None)
    obs = Observation(
        symmetry_pct={"gct_ms": 50.0},
        gct_drift_ms={"left": 99.0},
        budget_used_pct=500.0,
        sensors=[SensorStatus("s1", "left", True, 50.0), SensorStatus("s2", "left", False)],
    )
    assert kinds(evaluate(off, obs)) == ["sensor_lost"]  # a lost sensor is always news


def test_thresholds_from_a_form_are_checked() -> None:
    t = Thresholds.from_json({"asymmetry_pct": "8", "gct_drift_ms": "", "extra": "x"})
    assert t.asymmetry_pct == 8.0
    assert t.gct_drift_ms is None
    assert t.baseline_s == Thresholds().baseline_s
    assert Thresholds.from_json(t.to_json()) == t
    with pytest.raises(ThresholdError, match="asymmetry pct must be a number"):
        Thresholds.from_json({"asymmetry_pct": "lots"})
    with pytest.raises(ThresholdError, match="between"):
        Thresholds.from_json({"baseline_s": "5000"})
    with pytest.raises(ThresholdError, match="finite"):
        Thresholds.from_json({"loss_pct": "nan"})
    with pytest.raises(ThresholdError):
        Thresholds.from_json({"baseline_s": ""})


def test_baseline_keeps_the_first_minutes_only() -> None:
    base = Baseline()
    for i in range(1, 1200):
        base.add(step("left", i, 240.0 if (i - 1) * 0.7 <= 120 else 270.0))
    assert base.first_ic_s is not None
    kept = base.steps["left"]
    assert kept[-1].ic_s - base.first_ic_s <= BASELINE_KEEP_S
    assert base.means("left", 120.0, newest_ic_s=base.first_ic_s + 100.0) is None  # too early
    means = base.means("left", 120.0, newest_ic_s=base.first_ic_s + 300.0)
    assert means is not None
    assert means["gct_ms"] == pytest.approx(240.0)
    longer = base.means("left", 300.0, newest_ic_s=base.first_ic_s + 400.0)
    assert longer is not None and 240.0 < longer["gct_ms"] < 270.0
    assert base.means("right", 120.0, newest_ic_s=base.first_ic_s + 300.0) is None


def _messages(steps: list[TrueStep]) -> dict[Side, list[StepMessage]]:
    out: dict[Side, list[StepMessage]] = {"left": [], "right": []}
    for s in steps:
        out[s.side].append(
            StepMessage(
                schema=SCHEMA,
                athlete="sim",
                side=s.side,
                sensor_id=f"sim-{s.side}",
                step_index=s.index,
                ic_s=s.ic_s,
                to_s=s.to_s,
                gct_ms=s.gct_ms,
            )
        )
    return out


@pytest.mark.parametrize("asymmetry_pct", [0.0, 6.0, 15.0, 25.0])
def test_simulated_asymmetry_is_found_in_the_recent_window(asymmetry_pct: float) -> None:
    """The simulator lengthens the left contact by ``asymmetry_pct``: the recent
    window's symmetry index matches the truth, and the alert fires only above 10 %."""
    sim = GaitSimulator(AthleteProfile("sim", "Sim", asymmetry_pct=asymmetry_pct, seed=3))
    sides = _messages(sim.steps_until(120.0))
    left = window_means(sides["left"][-RECENT_STEPS:])
    right = window_means(sides["right"][-RECENT_STEPS:])
    si = symmetries(left, right)["gct_ms"]
    factor = 1.0 + asymmetry_pct / 100.0
    truth = 100.0 * (factor - 1.0) / (0.5 * (factor + 1.0))
    assert si == pytest.approx(truth, abs=2.5)  # 20 steps with 3 % step-to-step variation
    alerts = evaluate(Thresholds(asymmetry_pct=10.0), Observation(symmetry_pct={"gct_ms": si}))
    assert ("asymmetry" in kinds(alerts)) is (truth > 12.0), (si, truth)
    assert math.isfinite(si)


def test_baseline_means_are_cached_until_a_late_step_lands_inside() -> None:
    base = Baseline()
    for i in range(1, 300):
        base.add(step("left", i, 240.0))
    assert base.first_ic_s is not None
    newest = base.first_ic_s + 200.0
    first = base.means("left", 120.0, newest)
    assert first is not None and base.means("left", 120.0, newest) is first  # cached
    base.add(step("left", 5, 340.0, t0=1000.0 + 0.1))  # backfilled, inside the window
    again = base.means("left", 120.0, newest)
    assert again is not None and again["gct_ms"] > 240.0
    base.add(step("left", 400, 999.0))  # after the window: the cache stays
    assert base.means("left", 120.0, newest) is base.means("left", 120.0, newest + 50)
