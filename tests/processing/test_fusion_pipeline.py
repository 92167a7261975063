"""Fusion of insole and IMU contacts, and the pipeline's IMU and fused paths (simulated truth)."""

from __future__ import annotations

import msgspec
import numpy as np
import pytest

from calfload.bridge.messages import SCHEMA, Placement, RawBatch, Side
from calfload.bridge.simulator import AthleteProfile, GaitSimulator
from calfload.processing.events import Contact
from calfload.processing.fusion import ContactFusion, FusionParams
from calfload.processing.imu_events import ImuFrame, ImuParams, SpeedCorrection
from calfload.processing.messages import StepMessage
from calfload.processing.pipeline import AthletePipeline

INSOLE_HZ = 100.0
IMU_HZ = 200.0
SECONDS = 30.0


def _c(ic: float, to: float) -> Contact:
    return Contact(ic, to, 1000.0, 200.0)


def test_agreeing_sources_are_fused_and_disagreeing_ones_suspect() -> None:
    fusion = ContactFusion(FusionParams(limit_ms=40.0, gross_limit_ms=120.0, release_after_s=9.0))
    fusion.add_imu([], 0.5)  # an IMU is worn on this foot
    insole = [_c(1.0 + k, 1.25 + k) for k in range(6)]
    assert fusion.add_insole(insole, 6.3) == []  # waits for the IMU
    # The IMU sees contact 50 ms before the insole (a systematic offset, as in walking), and
    # step 4's toe-off is 70 ms off that pattern.
    imu = [_c(c.ic_s - 0.05, c.to_s + (0.07 if k == 4 else 0.0)) for k, c in enumerate(insole)]
    out = fusion.add_imu(imu, 6.6)
    assert [f.source for f in out] == ["fused"] * 6
    assert [f.quality for f in out] == ["ok"] * 4 + ["suspect", "ok"]
    assert out[0].contact.ic_s == 1.0  # events come from the insole
    assert out[5].ic_offset_ms == pytest.approx(-50.0)
    assert out[4].to_diff_ms == pytest.approx(70.0)
    assert fusion.suspect == 1


def test_gross_disagreement_is_suspect_from_the_first_step() -> None:
    fusion = ContactFusion()
    fusion.add_imu([], 0.5)
    fusion.add_insole([_c(1.0, 1.25)], 1.3)
    out = fusion.add_imu([_c(1.13, 1.25)], 2.0)  # 130 ms > 120 ms outright limit
    assert [(f.source, f.quality) for f in out] == [("fused", "suspect")]


def test_unmatched_insole_contact_is_released_unchecked() -> None:
    fusion = ContactFusion(FusionParams(release_after_s=2.5))
    fusion.add_imu([], 0.5)
    assert fusion.add_insole([_c(1.0, 1.25)], 1.3) == []
    assert fusion.add_imu([], 3.0) == []  # the IMU could still report it
    out = fusion.add_imu([], 3.8)
    assert [(f.source, f.quality) for f in out] == [("insole", "ok")]
    assert fusion.unchecked == 1


def test_without_any_imu_insole_contacts_pass_at_once() -> None:
    out = ContactFusion().add_insole([_c(1.0, 1.25)], 1.3)
    assert [(f.source, f.quality) for f in out] == [("insole", "ok")]


def _batches(
    sim: GaitSimulator,
    side: Side,
    placement: Placement,
    fs: float,
    n_per: int,
    *,
    shift_s: float = 0.0,
) -> list[RawBatch]:
    t = np.arange(0.0, SECONDS, 1.0 / fs)
    out = []
    if placement == "insole":
        cells, acc, gyr = sim.insole(side, t)
        force = cells.sum(axis=1)
    else:
        acc, gyr = sim.foot_imu(side, t - shift_s)
        force = None
    for seq, k in enumerate(range(0, t.size, n_per)):
        sl = slice(k, k + n_per)
        out.append(
            RawBatch(
                schema=SCHEMA,
                sensor_id=f"{placement}-{side}",
                athlete="a1",
                side=side,
                placement=placement,
                family="test",
                seq=seq,
                t0_s=float(t[k]),
                fs_hz=fs,
                n=int(t[sl].size),
                force_n=None if force is None else force[sl].tolist(),
                acc_mps2=acc[sl].tolist(),
                gyr_dps=gyr[sl].tolist(),
            )
        )
    return out


def _run(pipe: AthletePipeline, streams: list[list[RawBatch]]) -> list[StepMessage]:
    """Interleave the streams by batch start time, as a broker would deliver them."""
    batches = sorted((b for s in streams for b in s), key=lambda b: b.t0_s + b.n / b.fs_hz)
    steps: list[StepMessage] = []
    for b in batches:
        steps += pipe.on_batch(b)
    return steps


def _profile(**kw: float | bool) -> AthleteProfile:
    return AthleteProfile("a1", "A", seed=5, **kw)  # type: ignore[arg-type]


def test_imu_only_athlete_gets_imu_steps_matching_truth() -> None:
    sim = GaitSimulator(_profile(speed_mps=3.5, cadence_spm=172.0, gct_ms=230.0))
    pipe = AthletePipeline("a1", body_mass_kg=70.0)
    streams = [_batches(sim, s, "foot_top", IMU_HZ, 8) for s in ("left", "right")]
    steps = _run(pipe, streams)
    assert steps and all(s.source == "imu" for s in steps)
    # No measured force: any force is the labelled spring-mass estimate (needs a flight time).
    assert all(s.load_model in (None, "spring-mass") for s in steps)
    assert all((s.peak_force_n is None) == (s.load_model is None) for s in steps)
    assert sum(s.load_model == "spring-mass" for s in steps) >= len(steps) - 2
    for side in ("left", "right"):
        truth = [t for t in sim.true_steps(side) if t.ic_s >= 1.0 and t.to_s <= SECONDS - 1.0]
        mine = [s for s in steps if s.side == side and s.ic_s >= 1.0 and s.to_s <= SECONDS - 1.0]
        assert len(mine) == len(truth)
        for s, t in zip(mine, truth, strict=True):
            assert abs(s.gct_ms - t.gct_ms) < 1000.0 / IMU_HZ * 2
    summary = pipe.summary(SECONDS)
    assert summary.left.steps > 10 and summary.left.peak_force_bw_mean is None


def test_insole_plus_foot_imu_gives_fused_steps() -> None:
    sim = GaitSimulator(_profile())
    pipe = AthletePipeline("a1", body_mass_kg=70.0)
    streams = [_batches(sim, "left", "insole", INSOLE_HZ, 5)]
    streams.append(_batches(sim, "left", "foot_top", IMU_HZ, 8))
    steps = _run(pipe, streams)
    fused = [s for s in steps if s.source == "fused"]
    assert len(fused) >= len(steps) - 3 > 30  # the first step(s) precede the IMU's first swing
    # The insole detector flags only the first contact (no swing seen before it).
    assert all(s.quality == "ok" for s in fused[1:])
    assert not any("imu_disagrees" in s.quality_reason for s in fused)
    assert all(s.sensor_id == "insole-left" and s.peak_force_n for s in fused)
    truth = {round(t.ic_s, 2): t for t in sim.true_steps("left")}
    for s in fused:
        t = min(truth.values(), key=lambda t: abs(t.ic_s - s.ic_s))
        assert abs(s.gct_ms - t.gct_ms) < 1000.0 / INSOLE_HZ  # insole timing, not IMU


def test_imu_far_out_of_step_with_the_insole_flags_suspect() -> None:
    sim = GaitSimulator(_profile())
    pipe = AthletePipeline("a1")
    streams = [_batches(sim, "left", "insole", INSOLE_HZ, 5)]
    streams.append(_batches(sim, "left", "foot_top", IMU_HZ, 8, shift_s=0.13))
    steps = _run(pipe, streams)
    fused = [s for s in steps if s.source == "fused"]
    assert len(fused) > 30 and all(s.quality == "suspect" for s in fused)


def test_insole_own_imu_can_be_the_check() -> None:
    sim = GaitSimulator(_profile())
    pipe = AthletePipeline("a1")
    pipe.imu.check_insole_imu = True
    steps = _run(pipe, [_batches(sim, "right", "insole", INSOLE_HZ, 5)])
    fused = [s for s in steps if s.source == "fused"]
    assert len(fused) > 30 and all(s.quality == "ok" for s in fused[1:])
    assert not any("imu_disagrees" in s.quality_reason for s in fused)


def test_footpod_speed_drives_the_imu_speed_correction() -> None:
    sim = GaitSimulator(_profile(speed_mps=4.0))
    imu = _batches(sim, "left", "foot_top", IMU_HZ, 8)
    plain = _run(AthletePipeline("a1"), [imu])
    corrected_pipe = AthletePipeline("a1")
    corrected_pipe.imu.params = ImuParams(
        speed_correction=SpeedCorrection(to_slope_ms_per_mps=10.0, ref_speed_mps=3.0)
    )
    pod = RawBatch(
        schema=SCHEMA,
        sensor_id="pod",
        athlete="a1",
        side="left",
        placement="footpod",
        family="rsc",
        seq=0,
        t0_s=0.0,
        fs_hz=1.0,
        n=1,
        speed_mps=[4.0],
    )
    assert corrected_pipe.on_batch(pod) == []
    corrected = _run(corrected_pipe, [imu])
    assert len(corrected) == len(plain) > 10
    for a, b in zip(corrected, plain, strict=True):
        assert a.ic_s == pytest.approx(b.ic_s)
        assert a.to_s - b.to_s == pytest.approx(0.010, abs=1e-6)  # (4.0 − 3.0) m/s × 10 ms


def test_a_sensor_with_its_own_axes_is_mapped_by_its_frame() -> None:
    sim = GaitSimulator(_profile(speed_mps=3.5, cadence_spm=172.0, gct_ms=230.0))
    plain = _run(AthletePipeline("a1"), [_batches(sim, "left", "foot_top", IMU_HZ, 8)])
    # The same sensor mounted with its x axis to the athlete's right (x = −left, y = forward):
    rotated = [
        msgspec.structs.replace(
            b,
            gyr_dps=[[-g[1], g[0], g[2]] for g in (b.gyr_dps or [])],
        )
        for b in _batches(sim, "left", "foot_top", IMU_HZ, 8)
    ]
    unmapped = _run(AthletePipeline("a1"), [rotated])
    pipe = AthletePipeline("a1")
    pipe.imu.frames["foot_top-left"] = ImuFrame(ml_axis=0, ml_sign=-1)
    mapped = _run(pipe, [rotated])
    assert len(mapped) == len(plain) > 20
    assert [s.ic_s for s in mapped] == pytest.approx([s.ic_s for s in plain])
    assert len(unmapped) < len(plain) // 2  # without the mapping the swing is not found
