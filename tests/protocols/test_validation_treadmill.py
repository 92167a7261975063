"""The treadmill-stage validation (docs/validation.md) meets its targets on the real
Alcantara 2022 trials and on simulated stages."""

from __future__ import annotations

from pathlib import Path

from calfload.processing.validation import protocol_treadmill_stages as v


def test_real_treadmill_trials_scored_as_stages_match_the_force_reference(
    shared_data: Path,
) -> None:
    stages = v.real_stages(shared_data)
    assert len(stages) == 16
    for s in stages:
        assert s["steps"] == s["ref_steps"]
        assert abs(s["gct_ms"] - s["ref_gct_ms"]) <= v.GCT_TOL_MS
        assert abs(s["cadence_spm"] / s["ref_cadence_spm"] - 1) * 100 <= v.CADENCE_TOL_PCT
    section = v.run(shared_data)
    assert section.passed, section.markdown


def test_simulated_template_stages_match_true_steps() -> None:
    rows = v.simulated_stages()
    assert {r["speed_mps"] for r in rows} == {2.5, 3.5, 4.5}
    for r in rows:
        assert r["steps"] == r["true_steps"]
        assert abs(r["gct_ms"] - r["true_gct_ms"]) <= v.SIM_GCT_TOL_MS
