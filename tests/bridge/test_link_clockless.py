"""Arrival-stamped sensors (no clock of their own): smoothed times, fitted rate, gaps.

Drives :meth:`SensorLink.process` directly with a decoder that reports no sensor
time, as WitMotion IMUs and RSC footpods do; times are synthetic, nothing sleeps.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from bleak.backends.device import BLEDevice

from calfload.bridge.devices.base import SampleBlock
from calfload.bridge.link import SensorLink, SensorSpec

NOMINAL_HZ = 100.0
TRUE_HZ = 98.7  # a cheap IMU's real rate differs from its nominal one by ~1 %


@dataclass
class ClocklessDecoder:
    n: int = 1

    def feed(self, payload: bytes) -> list[SampleBlock]:
        return [SampleBlock(n=self.n, fs_hz=NOMINAL_HZ, acc_mps2=np.zeros((self.n, 3)))]


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


def run(drop: set[int], seconds: float = 600.0) -> tuple[np.ndarray, np.ndarray, SensorLink]:
    rng = np.random.default_rng(7)
    link = make_link()
    k = np.arange(int(seconds * TRUE_HZ))
    t_true = 1_764_000_000.0 + k / TRUE_HZ
    arrival = np.maximum.accumulate(t_true + 0.002 + rng.exponential(0.012, k.size))
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
    err = stamped - truth
    after = truth > truth[0] + 30_100 / TRUE_HZ
    assert float(np.max(np.abs(err[after]))) < 0.03
