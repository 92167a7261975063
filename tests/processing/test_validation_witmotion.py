"""The WitMotion codec on the real foot-IMU recordings (same code as docs/validation.md)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from calfload.bridge.devices import witmotion
from calfload.processing.validation import witmotion_codec_real_imu as check


def test_real_foot_imu_survives_the_wire_format(shared_data: Path) -> None:
    section = check.run(shared_data)
    assert section.passed
    assert section.metrics["samples_lost"] == 0
    assert section.metrics["max_acc_error_mps2"] <= witmotion.ACC_MPS2_PER_COUNT / 2 + 1e-9
    assert section.metrics["max_gyr_error_dps"] <= witmotion.GYR_DPS_PER_COUNT / 2 + 1e-9
    # The walking recording's impact peaks (~158 m/s²) exceed ±16 g: a few samples clip.
    assert 0 < section.metrics["max_clipped_pct"] < 1


def test_out_of_range_samples_saturate_with_their_sign(shared_data: Path) -> None:
    (_, acc, gyr), _ = check.load_gaitmap(shared_data)
    got_acc, got_gyr = check.transport(acc, gyr, 244)
    over = np.abs(acc) >= check.ACC_RANGE_MPS2
    assert over.any()
    limit = 32767 * witmotion.ACC_MPS2_PER_COUNT
    np.testing.assert_allclose(got_acc[over], np.sign(acc[over]) * limit)
    assert got_gyr.shape == gyr.shape
