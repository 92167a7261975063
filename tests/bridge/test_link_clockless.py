"""Arrival-stamped sensors (no clock of their own): smoothed times, fitted rate, gaps.

Drives :meth:`SensorLink.process` directly with a decoder that reports no sensor
time, as WitMotion IMUs and RSC footpods do; times are synthetic, nothing sleeps.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
from bleak.backends.device import BLEDevice

from calfload.bridge.devices.base import SampleBlock
from calfload.bridge.link import LOSS_CONFIRM_S, SensorLink, SensorSpec

NOMINAL_HZ = 100.0
TRUE_HZ = 98.7  # a cheap IMU's real rate differs from its nominal one by ~1 %


@dataclass
class ClocklessDecoder:
    n: int = 1
    fs_hz: float = NOMINAL_HZ

    def feed(self, payload: bytes) -> list[SampleBlock]:
        return [SampleBlock(n=self.n, fs_hz=self.fs_hz, acc_mps2=np.zeros((self.n, 3)))]


def make_link() -> SensorLink:
    spec = SensorSpec(
        sensor_id="wit-left",
        athlete="a1",
        side="left",
        placement="foot_top",
        family="open-insole",
        device=BLEDevice("AA:BB:CC:DD:EE:FF", "WT901", None),
        rate_hz=100,
    )
    link = SensorLink(spec, lambda b: None, lambda *a: None)
    link._decoder = ClocklessDecoder()
    return link


def run(
    drop: set[int],
    seconds: float = 600.0,
    true_hz: float = TRUE_HZ,
    nominal_hz: float = NOMINAL_HZ,
    delay: dict[int, float] | None = None,
) -> tuple[np.ndarray, np.ndarray, SensorLink]:
    """Feed ``seconds`` of one-sample packets; return (stamped, true) first-sample times."""
    rng = np.random.default_rng(7)
    link = make_link()
    link._decoder = ClocklessDecoder(fs_hz=nominal_hz)
    k = np.arange(int(seconds * true_hz))
    t_true = 1_764_000_000.0 + k / true_hz
    late = np.zeros(k.size)
    for i, d in (delay or {}).items():
        late[i] = d
    arrival = np.maximum.accumulate(t_true + 0.002 + rng.exponential(0.012, k.size) + late)
    stamped, truth = [], []
    for i in k:
        if int(i) in drop:
            continue
        (batch,) = link.process(float(arrival[i]), b"x")
        stamped.append(batch.t0_s)
        truth.append(t_true[i])
    return np.array(stamped), np.array(truth), link


def test_clockless_times_are_smoother_than_arrivals_and_follow_the_true_rate() -> None:
    stamped, truth, link = run(drop=set())
    err = stamped - truth
    late = slice(len(err) // 10, None)  # after the first minute
    # BLE jitter here has a 12 ms spread; the fitted times carry far less of it.
    assert float(np.std(np.diff(err[late]))) < 0.001
    assert float(np.ptp(err[late])) < 0.012
    assert float(np.min(np.diff(stamped))) > 0.0  # never backwards
    eff = (len(stamped) - 1) / (stamped[-1] - stamped[0])
    assert abs(eff - TRUE_HZ) < 0.05
    assert link.stats.gaps.samples_lost == 0


def test_clockless_gap_is_counted_not_filled() -> None:
    lost = set(range(30_000, 30_050))  # half a second of samples never arrives
    stamped, truth, link = run(drop=lost)
    assert 45 <= link.stats.gaps.samples_lost <= 55
    assert link.stats.gaps.samples_ok == len(stamped)
    assert float(np.min(np.diff(stamped))) > 0.0
    err = stamped - truth
    # Confirmed after LOSS_CONFIRM_S of lateness; from then on times are right again.
    after = truth > truth[0] + 30_050 / TRUE_HZ + LOSS_CONFIRM_S + 0.5
    assert float(np.max(np.abs(err[after]))) < 0.03


def test_a_late_burst_is_delay_not_loss() -> None:
    # 0.6 s of retransmissions: 60 packets held back, then delivered in a burst.
    held = {i: 0.6 - (i - 20_000) / TRUE_HZ for i in range(20_000, 20_060)}
    stamped, truth, link = run(drop=set(), seconds=300.0, delay=held)
    assert link.stats.gaps.samples_lost == 0
    err = stamped - truth
    assert float(np.max(np.abs(err[truth > truth[0] + 100]))) < 0.03


def test_a_nominal_rate_far_off_the_real_one_still_gives_true_times() -> None:
    # A footpod configured at 1 Hz that notifies twice a second.
    stamped, truth, link = run(drop=set(), seconds=120.0, true_hz=2.0, nominal_hz=1.0)
    step = float(np.mean(np.diff(stamped[len(stamped) // 2 :])))
    assert step == pytest.approx(0.5, rel=0.02)
    assert float(np.max(np.abs((stamped - truth)[truth > truth[0] + 30]))) < 0.05
    assert link.stats.gaps.samples_lost == 0
