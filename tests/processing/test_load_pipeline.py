"""Load fields through the streaming pipeline: truth, chunking, gaps, bounds, settings."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from calfload.bridge.messages import SCHEMA, AthleteInfo, RawBatch, Side
from calfload.bridge.simulator import CELL_XY_FRACTION, AthleteProfile, GaitSimulator
from calfload.processing.athlete import AthleteSettings, SettingsError
from calfload.processing.load_stream import (
    LOAD_FIELDS,
    RING_CAPACITY,
    SampleRing,
    settings_from_info,
)
from calfload.processing.messages import StepMessage
from calfload.processing.pipeline import AthletePipeline

FS_HZ = 100.0
SETTINGS = AthleteSettings(body_mass_kg=70.0, foot_length_m=0.27, achilles_moment_arm_m=0.045)


Signals = tuple[np.ndarray, dict[Side, np.ndarray], GaitSimulator]


def _signals(profile: AthleteProfile, seconds: float) -> Signals:
    sim = GaitSimulator(profile)
    t = np.arange(0.0, seconds, 1.0 / FS_HZ)
    return t, {s: sim.insole(s, t)[0] for s in ("left", "right")}, sim


def _batch(side: Side, t0: float, cells: np.ndarray, seq: int, gap: int = 0) -> RawBatch:
    return RawBatch(
        schema=SCHEMA, sensor_id=f"a1-{side}", athlete="a1", side=side, placement="insole",
        family="open-insole", seq=seq, t0_s=t0, fs_hz=FS_HZ, n=len(cells), gap_samples=gap,
        force_n=cells.sum(axis=1).tolist(), cell_force_n=cells.tolist(),
    )  # fmt: skip


def _run(
    t: np.ndarray, cells: dict[Side, np.ndarray], chunks: list[int]
) -> tuple[list[StepMessage], AthletePipeline]:
    p = AthletePipeline("a1", SETTINGS.body_mass_kg)
    p.load.set_settings(SETTINGS)
    steps: list[StepMessage] = []
    k = 0
    for i, n in enumerate(chunks):
        for side in ("left", "right"):
            steps += p.on_batch(_batch(side, float(t[k]), cells[side][k : k + n], i))
        k += n
    return steps, p


def _true_peak_moment(sim: GaitSimulator, side: Side, ic: float, to: float) -> float:
    """The simulated insole's ankle moment on a 0.06 ms grid: the physical CoP of its
    cell forces (what the pressure under the foot really is in the simulator)."""
    tt = np.linspace(ic, to, 4001)[1:-1]
    cells = sim.insole(side, tt)[0]
    x = CELL_XY_FRACTION[:, 0] * SETTINGS.insole_m
    total = cells.sum(axis=1)
    on = total > 0
    cop = cells[on] @ x / total[on]
    return float(np.max(total[on] * (cop - SETTINGS.ankle_m)))


def test_every_step_carries_load_close_to_the_simulated_moment() -> None:
    t, cells, sim = _signals(AthleteProfile("a1", "A", seed=4), 30.0)
    steps, p = _run(t, cells, [5] * (t.size // 5))
    assert len(steps) > 70
    errors = []
    for s in steps:
        assert s.load_model == "insole-cop"
        assert s.achilles_force_n is not None and s.pf_moment_nm is not None
        assert s.achilles_force_n == pytest.approx(s.pf_moment_nm / 0.045, rel=1e-3)
        at_bw = s.achilles_force_n / SETTINGS.weight_n
        assert s.achilles_force_bw == pytest.approx(at_bw, rel=1e-3)
        assert s.forefoot_peak_n is not None and 0 < s.forefoot_peak_n <= s.peak_force_n + 1e-6
        assert s.push_off_impulse_ns is not None and s.loading_rate_bw_s is not None
        truth = _true_peak_moment(sim, s.side, s.ic_s, s.to_s)
        errors.append(100.0 * (s.pf_moment_nm - truth) / truth)
    e = np.array(errors)
    # Only 100 Hz sampling and the 30 ms CoP smoothing stand between the two.
    assert abs(e.mean()) < 2.0 and e.std() < 2.0
    summary = p.summary(30.0)
    assert summary.load is not None and summary.load.steps == len(steps)
    total = sum(s.achilles_impulse_ns or 0.0 for s in steps)
    assert summary.load.achilles_impulse_ns == pytest.approx(total, rel=1e-3)


def test_random_chunks_give_identical_load_fields() -> None:
    t, cells, _ = _signals(AthleteProfile("a1", "A", seed=9, rearfoot=False), 12.0)
    whole, _ = _run(t, cells, [t.size])
    rng = np.random.default_rng(1)
    sizes = []
    while sum(sizes) < t.size:
        sizes.append(int(rng.integers(1, 40)))
    pieces, _ = _run(t, cells, sizes)
    assert len(pieces) == len(whole) > 20
    # Compare per foot (feed order across feet differs between the two runs).
    names = ("ic_s", "to_s", "peak_force_n", "load_model", *LOAD_FIELDS)
    key = lambda s: (s.side, s.step_index)  # noqa: E731
    for a, b in zip(sorted(pieces, key=key), sorted(whole, key=key), strict=True):
        assert key(a) == key(b)
        assert {n: getattr(a, n) for n in names} == {n: getattr(b, n) for n in names}


def test_asymmetric_runner_shows_in_the_symmetry_indices() -> None:
    t, cells, _ = _signals(AthleteProfile("a1", "A", seed=2, asymmetry_pct=8.0), 30.0)
    steps, p = _run(t, cells, [5] * (t.size // 5))
    load = p.summary(30.0).load
    assert load is not None
    gct_si = load.symmetry_pct["gct_ms"]
    assert gct_si is not None and 5.0 < gct_si < 11.0  # left contacts ~8 % longer
    left = np.mean([s.gct_ms for s in steps if s.side == "left"])
    right = np.mean([s.gct_ms for s in steps if s.side == "right"])
    assert gct_si == pytest.approx(200 * (left - right) / (left + right), abs=0.01)


def test_a_gap_never_gives_a_load_from_missing_samples() -> None:
    t, cells, _ = _signals(AthleteProfile("a1", "A", seed=5), 6.0)
    p = AthletePipeline("a1", 70.0)
    p.load.set_settings(SETTINGS)
    steps: list[StepMessage] = []
    k, seq = 0, 0
    while k < t.size:
        n = 5
        if 200 <= k < 210:  # lose 10 samples (100 ms) mid-run on the left foot
            k += 10
            gap = 10
        else:
            gap = 0
        steps += p.on_batch(_batch("left", float(t[k]), cells["left"][k : k + n], seq, gap))
        k += n
        seq += 1
    assert steps and all(s.achilles_force_n is not None for s in steps)
    lost = (t[200], t[210])
    assert not any(s.ic_s <= lost[1] and s.to_s >= lost[0] for s in steps)


def test_sample_ring_keeps_a_bounded_window() -> None:
    ring = SampleRing(capacity=64)
    for k in range(100):
        t = k * 10 + np.arange(10, dtype=float)
        ring.append(t, t * 2.0, np.stack([t, -t], axis=1))
    assert len(ring) == 64
    tt, ff, cc = ring.window(990.0, 995.0)
    np.testing.assert_array_equal(tt, np.arange(990.0, 996.0))
    np.testing.assert_array_equal(ff, 2 * tt)
    assert cc is not None and cc.shape == (6, 2)
    assert not ring.covers(900.0) and ring.covers(940.0)
    ring.append(np.array([1000.0]), np.array([1.0]), None)  # cells stopped arriving
    assert ring.window(990.0, 1000.0)[2] is None


def test_long_run_memory_is_bounded_by_the_ring() -> None:
    t, cells, _ = _signals(AthleteProfile("a1", "A", seed=6), 40.0)
    _, p = _run(t, cells, [10] * (t.size // 10))
    for ring in p.load.rings.values():
        # Storage is the ring plus the largest batch, never the session length.
        assert len(ring) == ring.capacity == RING_CAPACITY + 10
        assert ring._t.size == RING_CAPACITY + 10


def test_imu_only_steps_get_a_labelled_spring_mass_estimate() -> None:
    p = AthletePipeline("a1", 70.0)
    fields = p.load.imu_fields(240.0, 110.0, 70.0)
    assert fields["load_model"] == "spring-mass"
    assert 2.0 < fields["peak_force_bw"] < 3.0
    assert fields["achilles_force_bw"] > 0
    assert p.load.imu_fields(600.0, -80.0, 70.0) == {}  # walking: model does not apply


def test_settings_reach_the_tracker_from_the_athlete_info_message() -> None:
    info = AthleteInfo(
        schema=SCHEMA, athlete="a1", name="A", body_mass_kg=64.0, sensors=[],
        foot_length_m=0.25, achilles_moment_arm_m=0.05, load_budget_bw_s=400.0, speed_mps=3.0,
    )  # fmt: skip
    s = settings_from_info(info)
    assert (s.body_mass_kg, s.foot_m, s.moment_arm_m, s.speed_mps) == (64.0, 0.25, 0.05, 3.0)
    old = AthleteInfo(schema=SCHEMA, athlete="a1", name="A", body_mass_kg=64.0, sensors=[])
    assert settings_from_info(old).moment_arm_is_default  # old bridges stay readable
    with pytest.raises(SettingsError, match="achilles_moment_arm_m"):
        settings_from_info(
            AthleteInfo(
                schema=SCHEMA,
                athlete="a1",
                name="A",
                body_mass_kg=64.0,
                sensors=[],
                achilles_moment_arm_m=0.5,
            )
        )


def test_speed_setting_gives_distance_and_load_per_km() -> None:
    t, cells, _ = _signals(AthleteProfile("a1", "A", seed=8, speed_mps=3.3), 20.0)
    p = AthletePipeline("a1", 70.0)
    p.load.set_settings(AthleteSettings(body_mass_kg=70.0, speed_mps=3.3, load_budget_bw_s=1000.0))
    for k in range(0, t.size, 5):
        for side in ("left", "right"):
            p.on_batch(_batch(side, float(t[k]), cells[side][k : k + 5], k))
    load = p.summary(20.0).load
    assert load is not None and load.distance_m is not None
    steps = p.streams["left"].steps + p.streams["right"].steps
    assert load.distance_m == pytest.approx(3.3 * (steps - 1) * 60 / 170, rel=0.05)
    assert load.achilles_impulse_bws_per_km == pytest.approx(
        load.achilles_impulse_bws / (load.distance_m / 1000), rel=0.01
    )
    assert load.budget_used_pct == pytest.approx(load.achilles_impulse_bws / 10.0, rel=0.01)


def test_contract_examples_agree_with_the_load_code() -> None:
    """The IMU-only step example of the contract is what the code computes."""
    path = Path(__file__).resolve().parents[2] / "docs/schemas/examples/StepMessage.imu.json"
    example = json.loads(path.read_text())
    assert example["load_model"] == "spring-mass"
    fields = AthletePipeline("a2", 70.0).load.imu_fields(
        example["gct_ms"], example["flight_ms"], 70.0
    )
    for name, value in fields.items():
        assert example[name] == value, name


def test_malformed_cells_keep_the_force_and_are_counted() -> None:
    t, cells, _ = _signals(AthleteProfile("a1", "A", seed=5), 8.0)
    p = AthletePipeline("a1", 70.0)
    good = bad = 0
    for k in range(0, t.size, 5):
        b = _batch("left", float(t[k]), cells["left"][k : k + 5], k)
        rows = b.cell_force_n
        assert rows is not None
        if k % 10 == 0:  # every other batch: a ragged cell row
            rows[0] = rows[0][:-1]
        steps = p.on_batch(b)
        good += len(steps)
        bad += sum(1 for s in steps if s.achilles_force_n is None)
    assert good > 5
    assert bad == good  # no moment from incomplete cells, but every step and its force kept
    assert p.load.errors > 0 and "cells per sample" in p.load.last_error
