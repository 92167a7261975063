"""Insole contact detection against simulated truth and hand-made edge cases."""

from __future__ import annotations

import numpy as np
import pytest

from calfload.bridge.simulator import AthleteProfile, GaitSimulator
from calfload.processing.events import ContactParams, InsoleContactDetector, detect_contacts

FS_HZ = 100.0


def _simulated(seconds: float = 60.0, seed: int = 3) -> tuple[np.ndarray, GaitSimulator]:
    sim = GaitSimulator(AthleteProfile("a1", "A", seed=seed, asymmetry_pct=5.0))
    t = np.arange(0.0, seconds, 1.0 / FS_HZ)
    cells, _, _ = sim.insole("left", t)
    return cells.sum(axis=1), sim


def test_every_true_contact_found_within_one_sample() -> None:
    force, sim = _simulated()
    found = detect_contacts(force, fs_hz=FS_HZ)
    truth = [s for s in sim.true_steps("left") if s.to_s < 60.0 - 0.01]
    assert len(found) == len(truth)
    for c, s in zip(found, truth, strict=True):
        assert abs(c.ic_s - s.ic_s) < 1.0 / FS_HZ
        assert abs(c.to_s - s.to_s) < 1.0 / FS_HZ
        assert abs(c.gct_ms - s.gct_ms) < 1000.0 / FS_HZ
        assert c.peak_force_n == pytest.approx(s.peak_force_n, rel=0.3)
    errors = np.array([c.gct_ms - s.gct_ms for c, s in zip(found, truth, strict=True)])
    # The event level (7 % of body weight) sits above the half-sine's zero start: GCT reads
    # slightly short, but well within one sample period.
    assert abs(errors.mean()) < 1000.0 / FS_HZ and errors.std() < 3.0


@pytest.mark.parametrize("chunk", [1, 2, 5, 7, 64, 1000])
def test_chunk_size_does_not_change_the_contacts(chunk: int) -> None:
    force, _ = _simulated(20.0)
    whole = detect_contacts(force, fs_hz=FS_HZ, t0_s=100.0)
    detector = InsoleContactDetector()
    pieces = []
    for k in range(0, force.size, chunk):
        pieces += detector.feed(100.0 + k / FS_HZ, FS_HZ, force[k : k + chunk])
    assert len(pieces) == len(whole) > 10
    for a, b in zip(pieces, whole, strict=True):
        assert a.ic_s == pytest.approx(b.ic_s, abs=1e-9)
        assert a.to_s == pytest.approx(b.to_s, abs=1e-9)
        assert a.peak_force_n == pytest.approx(b.peak_force_n, abs=1e-9)
        assert a.impulse_ns == pytest.approx(b.impulse_ns, rel=1e-9)


def test_ripple_and_edge_contacts_are_not_steps() -> None:
    fs = 100.0
    f = np.zeros(300)
    f[:20] = 800.0  # begins mid-contact: start unknown → not a step
    f[50:53] = 100.0  # 30 ms ripple above both thresholds → too short
    f[100:125] = 900.0  # a real 250 ms contact
    f[290:] = 700.0  # still in contact at the end → not closed
    found = detect_contacts(f, fs_hz=fs)
    assert len(found) == 1
    # 25 samples at 900 N: ramps interpolated at 7 % of body weight, plus the event offsets.
    assert found[0].gct_ms == pytest.approx(255.0, abs=10.0)


def test_hysteresis_ignores_dips_between_thresholds() -> None:
    f = np.zeros(100)
    f[10:40] = 500.0
    f[25] = 50.0  # dips below on_n (60) but not below off_n (40)
    found = detect_contacts(f, fs_hz=100.0)
    assert len(found) == 1


def test_standing_is_reported_but_not_a_step() -> None:
    f = np.zeros(500)
    f[10:400] = 700.0  # 3.9 s of standing
    found = detect_contacts(f, fs_hz=100.0, params=ContactParams(max_contact_ms=1500.0))
    assert [c.kind for c in found] == ["standing"]


def test_nan_input_is_refused_with_a_clear_error() -> None:
    with pytest.raises(ValueError, match="NaN"):
        detect_contacts([0.0, float("nan"), 100.0], fs_hz=100.0)
