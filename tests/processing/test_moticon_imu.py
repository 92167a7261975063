"""Insole IMU against insole force on the real Moticon walking recording."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from calfload.processing.validation import moticon_imu


def test_insole_imu_finds_the_walking_steps_and_agrees_with_force(shared_data: Path) -> None:
    results = moticon_imu.evaluate(shared_data)
    for r in results:
        assert r.moticon_steps == 7
        assert r.imu_found >= 5  # the others are cut by missing samples
        # The IMU's IC leads force-based IC (documented): every step, by 20–80 ms.
        assert np.all((r.imu_vs_insole_ic_ms < -20) & (r.imu_vs_insole_ic_ms > -80))
        assert abs(float(np.median(r.imu_vs_insole_to_ms))) < 10.0
        fused = [f for f in r.fused if f.source == "fused"]
        assert len(fused) >= 4
        assert sum(f.quality == "suspect" for f in fused) <= 1
        assert all(f.contact.peak_force_n > 0 for f in r.fused)  # events from the insole
    section = moticon_imu.run(shared_data)
    assert "Moticon" in section.title and section.metrics["right_imu_found"] >= 5
