"""The Movesense and Polar wire formats carry a real foot IMU recording intact
(same code and targets as the validation section in docs/validation.md)."""

from __future__ import annotations

from pathlib import Path

from calfload.processing.validation import imu_wire_formats as check


def test_real_foot_imu_survives_the_wire_formats(shared_data: Path) -> None:
    section = check.run(shared_data)
    assert section.passed, section.markdown
    for side in ("left", "right"):
        m = section.metrics
        assert m[f"{side}_movesense_max_rel_error"] <= check.MOVESENSE_MAX_REL_ERROR
        assert m[f"{side}_verity_acc_max_error_mps2"] <= check.VERITY_ACC_COUNT_MPS2 / 2 + 1e-9
        assert m[f"{side}_verity_gyr_max_error_dps"] <= check.VERITY_GYR_COUNT_DPS / 2 + 1e-9
        # The recording's impact peaks (~158 m/s²) exceed the H10's ±8 g: the check sees it.
        assert m[f"{side}_beyond_8g_pct"] > m[f"{side}_beyond_16g_pct"] > 0


def test_round_trip_keeps_every_whole_packet(shared_data: Path) -> None:
    imu = check.load_foot_imu(shared_data)
    acc, gyr = imu["left"]
    m_acc, _ = check.movesense_round_trip(acc, gyr)
    v_acc, v_gyr = check.verity_round_trip(acc, gyr)
    assert len(m_acc) == len(acc) // 8 * 8
    assert len(v_acc) == len(v_gyr) == len(acc) // 18 * 18
