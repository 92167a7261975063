"""Athlete settings: documented defaults, explicit values win, clear errors."""

from __future__ import annotations

import pytest

from calfload.processing.athlete import (
    DEFAULT_ANKLE_X_FRACTION,
    REFERENCE_FOOT_LENGTH_M,
    REFERENCE_MOMENT_ARM_M,
    AthleteSettings,
    SettingsError,
    foot_length_from_eu_size,
)


def test_moment_arm_defaults_to_the_reference_scaled_by_foot_length() -> None:
    ref = AthleteSettings(body_mass_kg=70.0)
    assert ref.foot_m == pytest.approx(REFERENCE_FOOT_LENGTH_M)
    assert ref.moment_arm_m == pytest.approx(REFERENCE_MOMENT_ARM_M)
    assert ref.moment_arm_is_default
    big = AthleteSettings(body_mass_kg=70.0, foot_length_m=0.30)
    scaled = REFERENCE_MOMENT_ARM_M * 0.30 / REFERENCE_FOOT_LENGTH_M
    assert big.moment_arm_m == pytest.approx(scaled)
    assert big.ankle_m == pytest.approx(DEFAULT_ANKLE_X_FRACTION * 0.30)
    assert big.insole_m == pytest.approx(0.30)


def test_explicit_settings_win_over_derived_ones() -> None:
    s = AthleteSettings(
        body_mass_kg=60.0,
        foot_length_m=0.25,
        shoe_size_eu=45.0,
        insole_length_m=0.26,
        achilles_moment_arm_m=0.052,
        ankle_x_m=0.06,
        height_m=1.70,
        leg_length_m=0.95,
    )
    assert s.foot_m == 0.25  # foot length beats the shoe size
    assert s.insole_m == 0.26
    assert s.moment_arm_m == 0.052 and not s.moment_arm_is_default
    assert s.ankle_m == 0.06
    assert s.leg_m == 0.95
    assert s.weight_n == pytest.approx(60.0 * 9.80665)


def test_shoe_size_and_stature_give_foot_and_leg_length() -> None:
    # EU 42 = 28 cm last = 26.5 cm foot + 1.5 cm allowance.
    assert foot_length_from_eu_size(42.0) == pytest.approx(0.265)
    s = AthleteSettings(body_mass_kg=70.0, shoe_size_eu=42.0, height_m=1.80)
    assert s.foot_m == pytest.approx(0.265)
    assert s.leg_m == pytest.approx(0.53 * 1.80)
    assert AthleteSettings(body_mass_kg=70.0).leg_m is None


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"body_mass_kg": 5.0}, "body_mass_kg must be between 20 and 250 kg"),
        ({"body_mass_kg": float("nan")}, "body_mass_kg"),
        ({"body_mass_kg": 70.0, "achilles_moment_arm_m": 4.0}, "achilles_moment_arm_m"),
        ({"body_mass_kg": 70.0, "foot_length_m": 26.0}, "foot_length_m"),
        ({"body_mass_kg": 70.0, "ankle_x_m": 0.15, "foot_length_m": 0.15}, "inside the insole"),
        ({"body_mass_kg": 70.0, "speed_mps": -1.0}, "speed_mps"),
    ],
)
def test_bad_settings_raise_one_clear_error(kwargs: dict[str, float], words: str) -> None:
    with pytest.raises(SettingsError, match=words):
        AthleteSettings(**kwargs)
