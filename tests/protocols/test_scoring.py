"""Protocol scoring on simulated truth (pure: simulator → raw batches → score)."""

from __future__ import annotations

import msgspec
import numpy as np
import pytest

from calfload.bridge.sim_protocols import (
    CalfTaskSimulator,
    HeelRiseBout,
    HopBout,
    StagedGaitSimulator,
)
from calfload.bridge.simulator import AthleteProfile
from calfload.processing.protocols.definition import builtin, parse
from calfload.processing.protocols.hops import jump_height_m
from calfload.processing.protocols.results import ProtocolResult
from calfload.processing.protocols.scoring import AthleteContext, StageMark, score
from tests.protocols.simdata import FS_HZ, raw_batches, steps_from

MASS_KG = 62.0
FOOT_M = 0.25


def _heel_rise_run(
    left: HeelRiseBout, right_reps: int, mode: str, sex: str = "female"
) -> tuple[ProtocolResult, CalfTaskSimulator, HeelRiseBout]:
    sim = CalfTaskSimulator(
        AthleteProfile("a1", "Ada", body_mass_kg=MASS_KG, seed=3), foot_length_m=FOOT_M
    )
    right = HeelRiseBout("right", left.end_s + 6.0, reps=right_reps, fail_mode=mode)  # type: ignore[arg-type]
    sim.add(left)
    sim.add(right)
    raw = raw_batches(sim, "a1", 0.0, right.end_s + 8.0)
    marks = [
        StageMark(0, 1.0, left.end_s + 3.0),
        StageMark(1, left.end_s + 3.0, left.end_s + 5.0),
        StageMark(2, left.end_s + 5.0, right.end_s + 8.0),
    ]
    ctx = AthleteContext("a1", MASS_KG, FOOT_M, sex)  # type: ignore[arg-type]
    return score(builtin()["heel-rise-endurance"], marks, ctx, raw=raw), sim, right


@pytest.mark.parametrize(
    ("mode", "reason"), [("height", "height"), ("pace", "pace"), ("support", "support")]
)
def test_heel_rise_count_is_exact_and_the_stop_rule_names_the_fault(mode: str, reason: str) -> None:
    left = HeelRiseBout("left", 2.0, reps=23, failed=2, fail_mode="height")
    result, _sim, right = _heel_rise_run(left, 17, mode)
    hr = {s.heel_rise.side: s.heel_rise for s in result.stages if s.heel_rise is not None}
    assert hr["left"].reps == 23
    assert hr["right"].reps == 17
    assert hr["right"].stop_reason == reason
    assert hr["left"].stop_reason == "height"
    # both sensors saw every attempt (good reps + failed attempts)
    assert hr["left"].reps_insole == hr["left"].reps_imu == 25
    # the test stopped at the first of the two failed attempts
    first_fail = right.rep_times()[17][0]
    assert hr["right"].stopped_s == pytest.approx(first_fail, abs=0.3)


def test_heel_rise_height_work_symmetry_and_norm_match_truth() -> None:
    left = HeelRiseBout("left", 2.0, reps=20, angle_deg=32.0, decline=0.25)
    result, sim, _right = _heel_rise_run(left, 15, "height")
    hr = {s.heel_rise.side: s.heel_rise for s in result.stages if s.heel_rise is not None}
    truth = sim.true_heights_m(left)
    m = hr["left"]
    assert m.peak_height_m == pytest.approx(max(truth), rel=0.03)
    assert m.total_height_m == pytest.approx(sum(truth), rel=0.03)
    assert m.total_work_j == pytest.approx(MASS_KG * 9.80665 * sum(truth), rel=0.03)
    true_decline = 100 * (1 - np.mean(truth[-3:]) / np.mean(truth[:3]))
    assert m.height_decline_pct == pytest.approx(true_decline, abs=2.0)
    counted = [r.height_m for r in m.rep_list if r.counted]
    assert counted == pytest.approx(truth, abs=0.004)
    assert result.symmetry["heel_rise_reps_lsi_pct"] == pytest.approx(100 * 20 / 15, abs=0.1)
    norms = {n.side: n for n in result.norms}
    assert norms["left"].norm == 21.0 and norms["left"].band == "within"
    assert norms["right"].band == "within"  # 15 is 6 below the women's median of 21
    assert "Hébert-Losier" in norms["left"].source


def test_heel_rise_norm_by_sex() -> None:
    left = HeelRiseBout("left", 2.0, reps=12)
    result, _, _ = _heel_rise_run(left, 12, "height", sex="male")
    norm = next(n for n in result.norms if n.side == "left")
    assert norm.norm == 24.0 and norm.band == "below" and norm.pct_of_norm == 50.0


def test_hops_and_drop_jumps_match_true_contact_and_flight_times() -> None:
    sim = CalfTaskSimulator(AthleteProfile("a1", "Ada", body_mass_kg=MASS_KG))
    lh = HopBout("left", 2.0, 12, contact_s=0.183, flight_s=0.31)
    rh = HopBout("right", lh.end_s + 3.0, 12, contact_s=0.214, flight_s=0.27)
    ld = HopBout("left", rh.end_s + 3.0, 1, contact_s=0.23, flight_s=0.38, drop_height_m=0.2)
    rd = HopBout("right", ld.end_s + 3.0, 1, contact_s=0.26, flight_s=0.34, drop_height_m=0.2)
    for b in (lh, rh, ld, rd):
        sim.add(b)
    raw = raw_batches(sim, "a1", 0.0, rd.end_s + 3.0)
    edges = [1.0, lh.end_s + 1.5, rh.end_s + 1.5, ld.end_s + 1.5, rd.end_s + 2.0]
    marks = [
        StageMark(i, a, b) for i, a, b in zip((0, 2, 4, 5), edges[:-1], edges[1:], strict=True)
    ]
    result = score(builtin()["hops"], marks, AthleteContext("a1", MASS_KG), raw=raw)
    hops = [s.hops for s in result.stages if s.hops is not None]
    assert [h.hops for h in hops] == [12, 12, 1, 1]
    sample_ms = 1000.0 / FS_HZ
    for h, bout in zip(hops, (lh, rh, ld, rd), strict=True):
        for hop, (ic, to, flight) in zip(h.hop_list, bout.contacts(), strict=True):
            assert hop.ic_s == pytest.approx(ic, abs=1 / FS_HZ)
            assert hop.contact_ms == pytest.approx(1000 * (to - ic), abs=sample_ms)
            assert hop.flight_ms == pytest.approx(1000 * flight, abs=sample_ms)
        assert h.height_m == pytest.approx(jump_height_m(bout.flight_s), rel=0.06)
        assert h.rsi == pytest.approx(jump_height_m(bout.flight_s) / bout.contact_s, rel=0.1)
    lsi = result.symmetry["hop_rsi_lsi_pct"]
    true_lsi = 100 * (jump_height_m(0.31) / 0.183) / (jump_height_m(0.27) / 0.214)
    assert lsi == pytest.approx(true_lsi, rel=0.08)


def test_treadmill_stages_get_their_speed_and_true_contact_times() -> None:
    protocol = parse(
        """
        name = "short-stages"
        title = "three short stages"
        kind = "treadmill"
        [[stage]]
        name = "slow"
        task = "run"
        duration_s = 12
        speed_mps = 2.5
        steady_last_s = 6
        [[stage]]
        name = "mid"
        task = "run"
        duration_s = 12
        speed_mps = 3.5
        steady_last_s = 6
        [[stage]]
        name = "fast"
        task = "run"
        duration_s = 12
        speed_mps = 4.5
        steady_last_s = 6
        """
    )
    sim = StagedGaitSimulator(AthleteProfile("a1", "Ada", body_mass_kg=MASS_KG, seed=5))
    t0 = 1.0
    marks = []
    for i, stage in enumerate(protocol.stages):
        start = t0 + 12.0 * i
        sim.set_speed(start, stage.speed_mps or 0.0)
        marks.append(StageMark(i, start, start + 12.0))
    raw = raw_batches(sim, "a1", 0.0, t0 + 36.5)
    steps = steps_from(raw, "a1", MASS_KG)
    result = score(protocol, marks, AthleteContext("a1", MASS_KG), steps=steps)
    previous_gct = 1e9
    for stage, mark in zip(result.stages, marks, strict=True):
        run = stage.run
        assert run is not None
        assert run.speed_mps == protocol.stages[mark.index].speed_mps
        assert run.window_start_s == pytest.approx(mark.end_s - 6.0)
        true = [s for s in sim.true_steps() if run.window_start_s <= s.ic_s < run.window_end_s]
        for side, got in (("left", run.left), ("right", run.right)):
            mine = [s.gct_ms for s in true if s.side == side]
            assert got.steps == len(mine)
            # within one sample: the detector's events follow the force-plate definition,
            # a few ms outside the simulator's half-sine edges
            assert got.gct_ms == pytest.approx(np.mean(mine), abs=1000.0 / FS_HZ)
        _, cadence = sim.gait_at(mark.end_s - 1.0)
        assert run.cadence_spm == pytest.approx(cadence, rel=0.04)
        assert run.left.gct_ms is not None and run.left.gct_ms < previous_gct
        previous_gct = run.left.gct_ms
    # the result is JSON and decodes back to the same structure
    text = msgspec.json.encode(result)
    assert msgspec.json.decode(text, type=ProtocolResult) == result


def test_heel_drops_are_counted_from_the_imu() -> None:
    sim = CalfTaskSimulator(AthleteProfile("a1", "Ada", body_mass_kg=MASS_KG))
    bout = HeelRiseBout("left", 2.0, reps=15, period_s=4.0, angle_deg=25.0, failed=0, drop=True)
    sim.add(bout)
    raw = raw_batches(sim, "a1", 0.0, bout.end_s + 3.0)
    protocol = builtin()["alfredson-heel-drop"]
    result = score(protocol, [StageMark(0, 1.0, bout.end_s + 2.0)], AthleteContext("a1"), raw=raw)
    drop = result.stages[0].heel_drop
    assert drop is not None
    assert drop.reps == 15 and drop.complete and drop.knee == "straight"
    assert drop.mean_drop_deg == pytest.approx(25.0 * (1 - 0.2 / 2), rel=0.08)
    assert result.complete is False  # only the first set ran


@pytest.mark.parametrize("up_share", [0.5, 0.25, 0.75])
def test_imu_heights_hold_for_asymmetric_rises_and_a_gyro_bias(up_share: float) -> None:
    """Quick up / slow down (or the reverse) makes the median rate no gyro bias estimate;
    the still periods between repetitions still are."""
    sim = CalfTaskSimulator(
        AthleteProfile("a1", "Ada", body_mass_kg=MASS_KG),
        foot_length_m=FOOT_M,
        gyro_bias_dps=2.5,
    )
    bout = HeelRiseBout("left", 2.0, reps=15, up_share=up_share, move_share=0.75, failed=0)
    sim.add(bout)
    raw = raw_batches(sim, "a1", 0.0, bout.end_s + 1.0)
    result = score(
        builtin()["heel-rise-endurance"],
        [StageMark(0, 1.0, bout.end_s + 1.0)],
        AthleteContext("a1", MASS_KG, FOOT_M),
        raw=raw,
    )
    hr = result.stages[0].heel_rise
    assert hr is not None and hr.reps == 15 and hr.reps_imu == 15
    heights = [r.height_m for r in hr.rep_list if r.counted]
    assert heights == pytest.approx(sim.true_heights_m(bout), abs=0.004)


def test_heel_rises_from_foot_imus_alone() -> None:
    sim = CalfTaskSimulator(AthleteProfile("a1", "Ada", body_mass_kg=MASS_KG), foot_length_m=FOOT_M)
    bout = HeelRiseBout("right", 2.0, reps=18, failed=2)
    sim.add(bout)
    raw = raw_batches(sim, "a1", 0.0, bout.end_s + 2.0, imu_only=True)
    protocol = builtin()["heel-rise-endurance"]
    result = score(
        protocol,
        [StageMark(2, 1.0, bout.end_s + 2.0)],
        AthleteContext("a1", MASS_KG, FOOT_M),
        raw=raw,
    )
    hr = result.stages[0].heel_rise
    assert hr is not None
    assert hr.source == "imu" and hr.reps_insole is None
    assert hr.reps == 18 and hr.stop_reason == "height"
    assert hr.peak_height_m == pytest.approx(max(sim.true_heights_m(bout)), rel=0.03)


def test_hop_flight_ignores_a_pre_touchdown_ripple() -> None:
    """A 6 ms blip above 40 N just before touchdown (as in real force data, see the data
    README) is neither a contact nor a landing."""
    from calfload.processing.protocols.hops import score_hops
    from calfload.processing.protocols.samples import SideSamples

    fs = 500.0
    t = np.arange(0.0, 4.0, 1 / fs)
    force = np.zeros_like(t)
    force[t < 0.5] = 700.0  # standing, then take-off at 0.5 s
    ics = [0.8, 1.3, 1.8, 2.3]  # contacts of 0.2 s, flights of 0.3 s
    for ic in ics:
        c = (t >= ic) & (t < ic + 0.2)
        force[c] = 2000.0 * np.sin(np.pi * (t[c] - ic) / 0.2)
        blip = (t >= ic - 0.022) & (t < ic - 0.016)
        force[blip] = 55.0
    force[t >= 2.8] = 700.0  # the final landing, then standing
    s = SideSamples(t, fs, force, None, None, None)
    m = score_hops(s, "left", "hop")
    assert m.hops == 4
    # the 40 N level cuts asin(40 / 2000) / π × 200 ms ≈ 1.3 ms off each end of a contact
    for hop in m.hop_list:
        assert hop.contact_ms == pytest.approx(200.0 - 2.5, abs=0.3)
    for hop in m.hop_list[:-1]:
        assert hop.flight_ms == pytest.approx(300.0 + 2.5, abs=0.3)
    # the final landing is a step to standing force: within one sample (2 ms)
    assert m.hop_list[-1].flight_ms == pytest.approx(300.0, abs=2.0)
