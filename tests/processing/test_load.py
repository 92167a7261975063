"""Load formulas against simulated truth with known answers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from calfload.processing.athlete import AthleteSettings
from calfload.processing.load import (
    FOREFOOT_ROW_FRACTION,
    HEEL_ROW_FRACTION,
    SPRING_MASS_LEVER_PER_FOOT,
    LoadInputError,
    achilles_force_from_moment,
    contact_load,
    cop_x_from_cells,
    forefoot_force_from_cells,
    forefoot_force_from_cop,
    loading_rate_bw_s,
    spring_mass,
    spring_mass_load,
)

G = 9.80665
SETTINGS = AthleteSettings(body_mass_kg=70.0, foot_length_m=0.26, achilles_moment_arm_m=0.05)


def _half_sine(peak_n: float, gct_s: float, fs_hz: float) -> tuple[np.ndarray, np.ndarray]:
    t = np.arange(0.0, gct_s + 1e-12, 1.0 / fs_hz)
    return t, peak_n * np.sin(np.pi * t / gct_s)


def test_cop_is_the_force_weighted_cell_position() -> None:
    x = np.array([0.02, 0.10, 0.20])
    cells = np.array([[100.0, 0.0, 0.0], [50.0, 0.0, 50.0], [0.0, 0.0, 0.0], [0.0, 30.0, 10.0]])
    cop = cop_x_from_cells(cells, x)
    assert cop[0] == pytest.approx(0.02)
    assert cop[1] == pytest.approx(0.11)
    assert math.isnan(cop[2])  # no load, no CoP
    assert cop[3] == pytest.approx((30 * 0.10 + 10 * 0.20) / 40)
    with pytest.raises(LoadInputError, match="expected \\(samples, 3\\)"):
        cop_x_from_cells(np.ones((2, 4)), x)


def test_forefoot_force_from_cells_and_from_the_cop_lever_rule() -> None:
    x = np.array([0.02, 0.10, 0.20])
    cells = np.array([[10.0, 20.0, 30.0]])
    assert forefoot_force_from_cells(cells, x, 0.10)[0] == pytest.approx(50.0)
    f = np.full(5, 800.0)
    cop = np.array([0.00, 0.03, 0.09, 0.15, 0.30])
    share = forefoot_force_from_cop(f, cop, 0.03, 0.15)
    np.testing.assert_allclose(share, [0.0, 0.0, 400.0, 800.0, 800.0])


def test_loading_rate_is_the_slope_between_20_and_80_percent_of_the_first_peak() -> None:
    fs = 1000.0
    t = np.arange(0.0, 0.25, 1.0 / fs)
    # Impact ramp at 40 BW/s up to 1.6 BW at 40 ms, dip, then the active peak 2.5 BW.
    f = np.where(t <= 0.04, 40.0 * t, 0.0)
    f = np.where((t > 0.04) & (t <= 0.06), 1.6 - 10.0 * (t - 0.04), f)
    active = 2.5 * np.sin(np.pi * np.clip((t - 0.02) / 0.23, 0, 1))
    f = np.where(t > 0.06, np.maximum(active, 1.4), f)
    assert loading_rate_bw_s(t, f) == pytest.approx(40.0, rel=0.01)
    # No impact peak: the rate of the rise to the single peak.
    t2, f2 = _half_sine(2.5, 0.25, fs)
    expected = 0.6 * 2.5 / ((math.asin(0.8) - math.asin(0.2)) * 0.25 / math.pi)
    assert loading_rate_bw_s(t2, f2) == pytest.approx(expected, rel=0.01)


def test_moment_and_achilles_force_with_a_known_lever() -> None:
    # CoP held 0.10 m in front of the ankle: M = 0.10 F, F_AT = M / r_AT.
    fs, peak, gct = 1000.0, 1800.0, 0.24
    t, f = _half_sine(peak, gct, fs)
    cop = np.full(t.size, SETTINGS.ankle_m + 0.10)
    load = contact_load(t, f, SETTINGS, cop_x_m=cop)
    assert load.model == "insole-cop"
    assert load.peak_force_n == pytest.approx(peak, rel=1e-4)
    assert load.peak_force_bw == pytest.approx(peak / (70.0 * G), rel=1e-4)
    assert load.pf_moment_nm == pytest.approx(0.10 * peak, rel=1e-3)
    assert load.pf_moment_nm_kg == pytest.approx(0.10 * peak / 70.0, rel=1e-3)
    assert load.achilles_force_n == pytest.approx(0.10 * peak / 0.05, rel=1e-3)
    assert load.achilles_force_bw == pytest.approx(0.10 * peak / 0.05 / (70.0 * G), rel=1e-3)
    impulse = 0.10 / 0.05 * peak * 2.0 * gct / math.pi
    assert load.achilles_impulse_ns == pytest.approx(impulse, rel=1e-3)
    # The CoP at the forefoot row: all force is forefoot; push-off = second half.
    insole = SETTINGS.insole_m
    fore = contact_load(t, f, SETTINGS, cop_x_m=np.full(t.size, FOREFOOT_ROW_FRACTION * insole))
    assert fore.forefoot_peak_n == pytest.approx(peak, rel=1e-4)
    assert fore.push_off_impulse_ns == pytest.approx(peak * gct / math.pi, rel=1e-3)
    heel = contact_load(t, f, SETTINGS, cop_x_m=np.full(t.size, HEEL_ROW_FRACTION * insole))
    assert heel.forefoot_peak_n == 0.0
    assert heel.achilles_force_n == 0.0  # CoP behind the ankle: dorsiflexor moment only


def test_cells_give_the_same_moment_as_their_cop() -> None:
    fs = 100.0
    t, f = _half_sine(1500.0, 0.25, fs)
    frac = np.array([0.1, 0.7])
    phase = t / 0.25
    share = np.clip(phase, 0, 1)  # load rolls from the heel cell to the forefoot cell
    cells = np.stack([f * (1 - share), f * share], axis=1)
    by_cells = contact_load(t, f, SETTINGS, cell_force_n=cells, cell_x_fraction=frac)
    cop = (0.1 * (1 - share) + 0.7 * share) * SETTINGS.insole_m
    by_cop = contact_load(t, f, SETTINGS, cop_x_m=cop)
    assert by_cells.pf_moment_nm == pytest.approx(by_cop.pf_moment_nm, rel=1e-9)
    assert by_cells.forefoot_peak_n == pytest.approx(float(np.max(f * share)), rel=1e-9)


def test_force_only_contacts_give_force_metrics_only() -> None:
    t, f = _half_sine(1500.0, 0.25, 100.0)
    load = contact_load(t, f, SETTINGS)
    assert load.peak_force_n == pytest.approx(1500.0, rel=0.01)
    assert load.loading_rate_bw_s is not None
    assert load.achilles_force_n is None and load.pf_moment_nm is None


@pytest.mark.parametrize(
    ("t", "f", "words"),
    [
        (np.arange(3.0), np.array([1.0, np.nan, 1.0]), "NaN"),
        (np.arange(3.0), np.ones(4), "shape"),
        (np.arange(1.0), np.ones(1), "at least 2 samples"),
    ],
)
def test_bad_contact_samples_raise_load_input_error(
    t: np.ndarray, f: np.ndarray, words: str
) -> None:
    with pytest.raises(LoadInputError, match=words):
        contact_load(t, f, SETTINGS)


def test_achilles_force_from_moment_reproduces_the_reference_arithmetic() -> None:
    # science.md §4.3: 227 N·m / 0.04 m = 5.69 kN = 7.9 BW for 73 kg.
    f_at = float(achilles_force_from_moment(np.array([-10.0, 227.4]), 0.04).max())
    assert f_at == pytest.approx(5685.0, rel=1e-3)
    assert f_at / (73.0 * G) == pytest.approx(7.94, abs=0.01)
    with pytest.raises(LoadInputError, match="positive length"):
        achilles_force_from_moment(np.array([1.0]), 0.0)


def test_spring_mass_matches_a_sine_contact_with_balanced_impulse() -> None:
    # A half-sine contact whose impulse carries the body over contact + flight.
    m, tc, peak_bw = 70.0, 0.22, 2.6
    fmax = peak_bw * m * G
    tf = fmax * 2 * tc / math.pi / (m * G) - tc
    sm = spring_mass(tc, tf, m, speed_mps=4.0, leg_length_m=0.92)
    assert sm.peak_force_bw == pytest.approx(peak_bw, rel=1e-9)
    # Centre-of-mass drop by integrating a = F/m - g over the first half of contact.
    dt = 1e-5
    t = np.arange(0.0, tc / 2, dt)
    a = fmax / m * np.sin(np.pi * t / tc) - G
    v = -G * tf / 2 + np.cumsum(a) * dt  # touchdown velocity after a ballistic flight
    drop = -float(np.sum(v) * dt)
    assert sm.com_drop_m == pytest.approx(drop, rel=1e-3)
    assert sm.k_vert_n_m == pytest.approx(fmax / drop, rel=1e-3)
    assert sm.k_leg_n_m is not None and sm.k_leg_n_m < sm.k_vert_n_m
    with pytest.raises(LoadInputError, match="flight time"):
        spring_mass(0.25, -0.05, m)


def test_spring_mass_load_is_labelled_and_uses_the_settings() -> None:
    load = spring_mass_load(0.24, 0.12, SETTINGS)
    assert load.model == "spring-mass"
    sm = spring_mass(0.24, 0.12, 70.0)
    assert load.peak_force_n == pytest.approx(sm.peak_force_n)
    moment = sm.peak_force_n * SPRING_MASS_LEVER_PER_FOOT * 0.26
    assert load.pf_moment_nm == pytest.approx(moment)
    assert load.achilles_force_n == pytest.approx(moment / 0.05)
    assert load.achilles_impulse_ns == pytest.approx(2 / math.pi * moment / 0.05 * 0.24)
    assert load.forefoot_peak_n is None and load.loading_rate_bw_s is None
