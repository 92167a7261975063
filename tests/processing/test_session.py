"""Session totals, symmetry and the 30-day comparison, against hand-computed truth."""

from __future__ import annotations

import pytest

from calfload.processing.session import (
    HISTORY_WINDOW_S,
    SYMMETRY_METRICS,
    PastSession,
    SessionLoad,
    compare_with_history,
    symmetry_pct,
)

G = 9.80665
DAY = 86400.0
LR = "achilles_impulse_ns"


def test_symmetry_index_of_robinson_1987() -> None:
    assert symmetry_pct(110.0, 90.0) == pytest.approx(20.0)
    assert symmetry_pct(90.0, 110.0) == pytest.approx(-20.0)
    assert symmetry_pct(5.0, 5.0) == 0.0
    assert symmetry_pct(None, 3.0) is None
    assert symmetry_pct(0.0, 0.0) is None
    assert symmetry_pct(float("nan"), 1.0) is None


def test_totals_from_known_steps() -> None:
    session = SessionLoad(body_mass_kg=70.0, budget_bw_s=100.0)
    for _ in range(10):
        session.add("left", {"gct_ms": 250.0, "achilles_force_bw": 7.0, LR: 600.0})
        session.add("right", {"gct_ms": 230.0, "achilles_force_bw": 6.0, LR: 500.0})
    session.add_distance(30.0)
    session.add_distance(float("nan"))  # ignored, never poisons the sum
    tot = session.totals()
    assert tot.steps == 20
    assert tot.achilles_impulse_ns == pytest.approx(11000.0)
    bws = 11000.0 / (70.0 * G)
    assert tot.achilles_impulse_bws == pytest.approx(bws)
    assert tot.weighted_load_bw == pytest.approx((10 * 7.0**4 + 10 * 6.0**4) ** 0.25)
    assert tot.distance_m == pytest.approx(30.0)
    assert tot.achilles_impulse_bws_per_km == pytest.approx(bws / 0.030)
    assert tot.budget_used_pct == pytest.approx(bws)
    assert tot.symmetry_pct["gct_ms"] == pytest.approx(100 * 20 / 240)
    assert tot.symmetry_pct["achilles_impulse_ns"] == pytest.approx(100 * 100 / 550)
    assert tot.symmetry_pct["loading_rate_bw_s"] is None  # never measured
    assert set(tot.symmetry_pct) == set(SYMMETRY_METRICS)
    assert tot.means_left["gct_ms"] == 250.0


def test_weighted_load_rewards_magnitude_over_count() -> None:
    few_heavy = SessionLoad(body_mass_kg=70.0)
    many_light = SessionLoad(body_mass_kg=70.0)
    for _ in range(100):
        few_heavy.add("left", {"achilles_force_bw": 8.0, "achilles_impulse_ns": 500.0})
    for _ in range(200):
        many_light.add("left", {"achilles_force_bw": 4.0, "achilles_impulse_ns": 250.0})
    a, b = few_heavy.totals(), many_light.totals()
    assert a.achilles_impulse_ns == pytest.approx(b.achilles_impulse_ns)  # same cumulative load
    assert a.weighted_load_bw > 1.6 * b.weighted_load_bw  # 2 × 2^(-1/4) ≈ 1.68


def test_no_distance_means_no_load_per_km() -> None:
    s = SessionLoad(body_mass_kg=70.0)
    s.add("left", {"achilles_impulse_ns": 500.0})
    assert s.totals().distance_m is None
    assert s.totals().achilles_impulse_bws_per_km is None
    assert s.totals().budget_used_pct is None


@pytest.mark.parametrize(
    ("current", "band", "hrr"),
    [
        (10_500.0, "within", 1.0),
        (11_000.0, "within", 1.0),
        (12_000.0, "spike-10-30", 1.64),
        (15_000.0, "spike-30-100", 1.52),
        (25_000.0, "spike-over-100", 2.28),
    ],
)
def test_session_against_the_longest_of_the_last_30_days(
    current: float, band: str, hrr: float
) -> None:
    now = 100 * DAY
    past = [
        PastSession(now - 3 * DAY, distance_m=8000.0),
        PastSession(now - 20 * DAY, distance_m=10_000.0),
        PastSession(now - 31 * DAY, distance_m=30_000.0),  # outside the window
        PastSession(now + DAY, distance_m=50_000.0),  # in the future: ignored
        PastSession(now - 2 * DAY, distance_m=None),  # metric missing: ignored
    ]
    c = compare_with_history(now, current, past)
    assert c.reference_max == 10_000.0
    assert c.sessions_in_window == 2
    assert c.band == band and c.hazard_ratio == hrr
    assert c.excess_pct == pytest.approx(100 * (current - 10_000.0) / 10_000.0)
    assert not c.extrapolated


def test_history_comparison_of_achilles_load_is_marked_as_extrapolated() -> None:
    now = 50 * DAY
    c = compare_with_history(
        now,
        40.0,
        [PastSession(now - DAY, achilles_impulse_bws=30.0)],
        metric="achilles_impulse_bws",
    )
    assert c.band == "spike-30-100" and c.extrapolated
    empty = compare_with_history(now, 40.0, [PastSession(now - HISTORY_WINDOW_S - 1, 9.0)])
    assert empty.band == "no-history" and empty.hazard_ratio is None
    with pytest.raises(ValueError, match="non-negative"):
        compare_with_history(now, -1.0, [])
