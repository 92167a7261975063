"""Foot-IMU detector against the simulator's known contacts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from calfload.bridge.simulator import AthleteProfile, GaitSimulator
from calfload.processing.validation import simulated_imu


@pytest.mark.parametrize(
    "cond", simulated_imu.conditions(), ids=lambda c: f"{c.label}-{c.noise_dps}-{c.fs_hz}"
)
def test_exact_counts_and_sub_sample_errors(cond: simulated_imu.Condition) -> None:
    o = simulated_imu.simulate(cond)
    assert o.truth > 20
    assert o.missed == 0 and o.extra == 0
    if cond.noise_dps >= simulated_imu.STRESS_NOISE_DPS:
        period_ms = 1500.0 / cond.fs_hz  # stress level: within 1.5 sample periods
    else:
        period_ms = 1000.0 / cond.fs_hz
    assert np.abs(o.ic_err_ms).max() < period_ms
    assert np.abs(o.to_err_ms).max() < period_ms


def test_validation_section_passes() -> None:
    section = simulated_imu.run(Path("."))
    assert section.passed
    assert section.metrics["worst_error_sample_periods"] < 1.0


def test_imu_signal_fits_the_open_insole_ranges() -> None:
    sim = GaitSimulator(AthleteProfile("a", "A", speed_mps=6.0, cadence_spm=195, gct_ms=160))
    acc, gyr = sim.foot_imu("right", np.arange(0.0, 10.0, 0.01))
    assert np.abs(acc).max() < 16 * 9.80665
    assert np.abs(gyr).max() < 2000.0
    # Chunked calls give the same samples (the twin asks for 5 samples at a time).
    t = np.arange(0.0, 3.0, 0.01)
    whole = sim.foot_imu("left", t)[1]
    parts = np.vstack([sim.foot_imu("left", t[k : k + 5])[1] for k in range(0, t.size, 5)])
    np.testing.assert_allclose(parts, whole, atol=1e-9)
