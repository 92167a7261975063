"""The loading-magnitude validation on the real files: the targets of docs/validation.md."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from calfload.processing.validation import biomac_load as v


def test_peak_vertical_force_of_every_mean_cycle_is_in_the_published_range(
    shared_data: Path,
) -> None:
    peaks = v.peak_grf_bw(shared_data)
    assert set(peaks) == set(v.CYCLES)
    lo, hi = v.PEAK_GRF_RANGE_BW
    assert all(lo <= p <= hi for p in peaks.values()), peaks
    assert peaks["P01_normrunning"] == pytest.approx(2.66, abs=0.01)  # data README §2


def test_p01_moment_to_achilles_force_reproduces_the_reference_arithmetic(
    shared_data: Path,
) -> None:
    p01 = v.p01_achilles(shared_data)
    assert p01.peak_moment_nm == pytest.approx(227.4, abs=0.1)
    assert p01.peak_moment_nm_kg == pytest.approx(3.12, abs=0.01)
    assert p01.at_force_n[0.04] == pytest.approx(5690.0, rel=2e-3)
    assert p01.bw(0.04) == pytest.approx(7.9, abs=0.05)
    assert p01.bw(0.05) == pytest.approx(6.4, abs=0.05)
    # ±1 cm of moment arm ≈ 25 % (science.md §4.3).
    assert p01.at_force_n[0.04] / p01.at_force_n[0.05] == pytest.approx(1.25)
    lo, hi = v.ACHILLES_RANGE_BW
    assert all(lo <= p01.bw(a) <= hi for a in p01.at_force_n)


def test_cop_lever_method_recovers_a_known_ankle_moment(shared_data: Path) -> None:
    exact, noisy, cells = v.simulated_cop_contact(shared_data, seeds=20)
    assert abs(exact.moment_err_pct) < 5.0 and abs(exact.impulse_err_pct) < 5.0
    assert abs(noisy.moment_err_pct) < 10.0 and noisy.moment_err_sd_pct < 12.0
    assert abs(cells.moment_err_pct) < 10.0


def test_force_plate_contacts_match_the_data_readme(shared_data: Path) -> None:
    grf, info = v.read_treadmill(shared_data)
    counts = [len(v.force_plate_contacts(row)) for row in grf]
    assert sum(counts) == 237 and min(counts) == 13 and max(counts) == 17  # data README §1
    assert len(info) == grf.shape[0] == 16


def test_spring_mass_peak_force_against_the_force_treadmill(shared_data: Path) -> None:
    r = v.spring_mass_vs_force_plate(shared_data)
    assert r.diff_bw.size == 237 - 16  # one per contact that has a complete one before it
    # Within 10 % of the mean measured peak on level running, with a per-step SD alike.
    mean_peak = float(r.measured_bw[r.level].mean())
    assert abs(float(r.diff_bw[r.level].mean())) < 0.10 * mean_peak
    assert float(np.std(r.diff_bw[r.level], ddof=1)) < 0.10 * mean_peak


def test_loading_rate_and_peak_survive_100_hz_sampling(shared_data: Path) -> None:
    r = v.sampling_100hz(shared_data)
    assert r.truth_lr_bw_s.size > 1000
    pct = 100.0 * r.lr_err_bw_s / r.truth_lr_bw_s
    assert abs(pct.mean()) < 15.0 and pct.std() < 15.0
    # A subset of the samples can never show a higher maximum than all of them.
    assert abs(r.peak_err_bw.mean()) < 0.02 and float(r.peak_err_bw.max()) <= 1e-12


def test_section_passes_and_reports_its_numbers(shared_data: Path) -> None:
    section = v.run(shared_data)
    assert section.passed
    assert section.metrics["p01_at_force_bw_4cm"] == pytest.approx(7.94, abs=0.02)
    assert "Spring–mass" in section.markdown
