"""Offset-and-drift time base on synthetic 3-hour runs with known truth (pure, no sleeping).

The delay model follows BLE: a packet leaves at the next connection event after its
last sample (15 ms interval), some packets wait for retransmission (1-4 more
intervals), a few stall for 50-300 ms, and the host adds sub-millisecond scheduling
jitter. Sensor crystals run at ±50-100 ppm with a slow thermal wander.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from calfload.bridge.timebase import SensorClock, lower_envelope_line

FS_HZ = 100.0
PER_PACKET = 5
CI_S = 0.015
RUN_S = 3 * 3600.0
T_START = 1_764_000_000.0  # host epoch seconds at the start of the run


def ble_arrivals(
    t_last: npt.NDArray[np.float64], rng: np.random.Generator
) -> npt.NDArray[np.float64]:
    """Host arrival times of packets whose last sample was taken at true time ``t_last``."""
    phase = rng.uniform(0, CI_S)
    wait = CI_S - np.mod(t_last - phase, CI_S)  # until the next connection event
    retries = np.where(rng.random(t_last.size) < 0.05, rng.integers(1, 5, t_last.size), 0)
    stall = np.where(rng.random(t_last.size) < 0.001, rng.uniform(0.05, 0.3, t_last.size), 0.0)
    host = 0.0004 + rng.exponential(0.0003, t_last.size)
    arrival = t_last + wait + retries * CI_S + stall + host
    return np.maximum.accumulate(arrival)  # a BLE link delivers in order


def true_time(s: npt.NDArray[np.float64], ppm: float, offset_s: float) -> npt.NDArray[np.float64]:
    """True (host) time at which a crystal running ``ppm`` fast, with a slow ±5 ppm
    thermal wander, reads ``s`` (the sensor samples on its own crystal's grid)."""
    rel = (s - offset_s) / (1 + ppm * 1e-6)
    wander = 5e-6 * (RUN_S / (2 * np.pi * 2)) * np.sin(2 * np.pi * 2 * rel / RUN_S)
    return T_START + rel - wander


def mapped_errors(ppm: float, offset_s: float, seed: int) -> tuple[npt.NDArray[np.float64], ...]:
    """Run one foot through a SensorClock; return (true time, session time − true time,
    uncertainty estimate, session time) per packet (of its first sample)."""
    rng = np.random.default_rng(seed)
    s0 = offset_s + rng.uniform(0, 0.01) + np.arange(0, RUN_S, PER_PACKET / FS_HZ)
    s_last = s0 + (PER_PACKET - 1) / FS_HZ
    t0 = true_time(s0, ppm, offset_s)
    arrival = ble_arrivals(true_time(s_last, ppm, offset_s), rng)
    clock = SensorClock()
    mapped = np.empty_like(t0)
    unc = np.full_like(t0, np.nan)
    for i in range(t0.size):
        offset = clock.observe(float(s_last[i]), float(arrival[i]))
        mapped[i] = s0[i] + offset
        if i % 100 == 0:
            unc[i] = clock.uncertainty_s()
    return t0, mapped - t0, unc, mapped


@pytest.fixture(scope="module")
def feet() -> dict[str, tuple[npt.NDArray[np.float64], ...]]:
    return {
        "left": mapped_errors(+85.0, 12.345, seed=1),
        "right": mapped_errors(-60.0, 4000.5, seed=2),
    }


def test_left_and_right_line_up_within_a_few_ms_over_three_hours(feet) -> None:  # type: ignore[no-untyped-def]
    t_l, err_l, _, _ = feet["left"]
    t_r, err_r, _, _ = feet["right"]
    # Compare both feet at the same true times (interpolating the right foot's error).
    sync = err_l - np.interp(t_l, t_r, err_r)
    settled = t_l > T_START + 30.0
    p99 = float(np.percentile(np.abs(sync[settled]), 99))
    warm = t_l > T_START + 120.0
    worst = float(np.max(np.abs(sync[warm])))
    print(f"left/right sync over 3 h: p99 {p99 * 1e3:.2f} ms, max after 2 min {worst * 1e3:.2f} ms")
    assert p99 < 0.003
    # Until the BLE connection events have swept the sample grid (~1-3 min at this drift)
    # the minimum delay is not yet seen: the error stays under one connection interval.
    assert float(np.max(np.abs(sync[settled]))) < CI_S
    assert worst < 0.002
    # Without the drift term the same run would be off by seconds: 145 ppm × 3 h ≈ 1.6 s.
    assert abs(err_l[-1] - err_l[settled][0]) < 0.005


def test_each_foot_stays_close_to_true_time(feet) -> None:  # type: ignore[no-untyped-def]
    for t, err, _, _ in feet.values():
        settled = t > T_START + 30.0
        # The envelope sits at the minimum transport delay (under a few ms) above truth.
        assert float(np.min(err[settled])) > -0.002
        assert float(np.max(err[settled])) < 0.008


def test_session_time_never_runs_backwards(feet) -> None:  # type: ignore[no-untyped-def]
    for _, _, _, mapped in feet.values():
        step = np.diff(mapped)
        nominal = PER_PACKET / FS_HZ
        assert float(np.min(step)) > nominal * (1 - 3e-3)


def test_uncertainty_estimate_covers_the_true_error(feet) -> None:  # type: ignore[no-untyped-def]
    t_l, err_l, unc_l, _ = feet["left"]
    t_r, err_r, unc_r, _ = feet["right"]
    sync = np.abs(err_l - np.interp(t_l, t_r, err_r))
    has_l, has_r = ~np.isnan(unc_l), ~np.isnan(unc_r)
    combined = np.hypot(unc_l, np.interp(t_l, t_r[has_r], unc_r[has_r]))
    settled = (t_l > T_START + 60.0) & has_l
    covered = np.mean(sync[settled] <= combined[settled] + 0.001)
    print(f"sync error estimate: median {np.median(combined[settled]) * 1e3:.2f} ms")
    assert covered > 0.95
    assert float(np.median(combined[settled])) < 0.005


def test_envelope_line_is_below_every_point_and_finds_a_known_line() -> None:
    rng = np.random.default_rng(3)
    x = np.sort(rng.uniform(0, 600, 400))
    true_alpha, true_beta = 5.0, 80e-6
    y = true_alpha + true_beta * x + rng.exponential(0.01, x.size)
    alpha, beta = lower_envelope_line(x.tolist(), y.tolist())
    assert np.all(y >= alpha + beta * x - 1e-12)
    assert beta == pytest.approx(true_beta, abs=5e-6)
    assert alpha == pytest.approx(true_alpha, abs=1e-3)


def test_a_rebooted_sensor_restarts_the_fit() -> None:
    clock = SensorClock()
    for k in range(100):
        clock.observe(100.0 + k * 0.05, 1000.0 + k * 0.05 + 0.01)
    clock.observe(0.5, 1005.02)  # the sensor clock started over
    assert clock.resets == 1
    assert clock.offset_s == pytest.approx(1004.52)
