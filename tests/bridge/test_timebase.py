"""Sensor clock unwrapping, offset estimation and gap counting."""

from __future__ import annotations

import pytest

from calfload.bridge.timebase import U32_WRAP, CounterUnwrapper, GapTracker, SensorClock


def test_u32_clock_unwraps_across_the_wrap() -> None:
    clock = CounterUnwrapper(bits=32)
    assert clock.unwrap(U32_WRAP - 10_000) == U32_WRAP - 10_000
    assert clock.unwrap(5_000) == U32_WRAP + 5_000
    assert clock.unwrap(15_000) == U32_WRAP + 15_000
    # a late, slightly older packet is not a wrap
    assert clock.unwrap(14_000) == U32_WRAP + 14_000


def test_offset_targets_the_minimum_delay_and_slews_towards_it() -> None:
    clock = SensorClock(max_slew_ppm=2000.0)
    assert clock.observe(10.0, 1000.030) == pytest.approx(990.030)
    # a faster packet lowers the target; the applied offset moves ≤ 2 ms per second
    assert clock.observe(10.05, 1000.065) == pytest.approx(990.030 - 0.0001)
    assert clock.line_s(10.05) == pytest.approx(990.015)
    # a late packet does not move the target
    assert clock.observe(20.0, 1010.200) == pytest.approx(990.015)
    assert clock.line_s(10.05) == pytest.approx(990.015)


def test_gap_tracker_counts_missing_samples_and_longest_gap() -> None:
    gaps = GapTracker()
    assert gaps.step(0, 10_000, 5) == 0
    assert gaps.step(50_000, 10_000, 5) == 0
    assert gaps.step(150_000, 10_000, 5) == 5  # one packet of five samples lost
    assert (gaps.samples_ok, gaps.samples_lost) == (15, 5)
    assert gaps.longest_gap_s == 0.05
