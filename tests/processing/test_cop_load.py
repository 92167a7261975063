"""Centre of pressure as the moment lever when cells are absent (offline and live)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from calfload.bridge.messages import Side
from calfload.bridge.simulator import CELL_XY_FRACTION, AthleteProfile, GaitSimulator
from calfload.processing.analyze import analyze, read_any
from calfload.processing.athlete import DEFAULT_FOOT_LENGTH_M, AthleteSettings
from calfload.processing.io.recording import Recording, SideSignals
from calfload.processing.load import cop_x_from_cells
from calfload.processing.messages import StepMessage

FS_HZ = 100.0
MASS_KG = 70.0
MOTICON = "moticon_opengo_walking/230927_102114.txt.gz"
MOMENT_FIELDS = ("pf_moment_nm", "pf_moment_nm_kg", "achilles_force_n", "achilles_force_bw")


def _recordings(seconds: float = 20.0) -> tuple[Recording, Recording]:
    """The same simulated run twice: with the 8-cell forces, and with only force + CoP."""
    sim = GaitSimulator(AthleteProfile("a1", "A", seed=5))
    t = np.arange(0.0, seconds, 1.0 / FS_HZ)
    x_m = CELL_XY_FRACTION[:, 0] * DEFAULT_FOOT_LENGTH_M  # offline default insole = foot
    with_cells: dict[Side, SideSignals] = {}
    with_cop: dict[Side, SideSignals] = {}
    for side in ("left", "right"):
        cells = sim.insole(side, t)[0]
        force = cells.sum(axis=1)
        with_cells[side] = SideSignals(force_n=force, cell_force_n=cells)
        with_cop[side] = SideSignals(force_n=force, cop_x_m=cop_x_from_cells(cells, x_m))
    meta = {"body_mass_kg": str(MASS_KG)}
    return Recording(t, FS_HZ, with_cells, meta), Recording(t, FS_HZ, with_cop, meta)


def _by_step(steps: list[StepMessage]) -> dict[tuple[str, int], StepMessage]:
    return {(s.side, s.step_index): s for s in steps}


def test_cop_only_gives_the_moments_of_the_cell_path() -> None:
    rec_cells, rec_cop = _recordings()
    a = _by_step(analyze(rec_cells).steps)
    b = _by_step(analyze(rec_cop, chunk_samples=7).steps)
    assert a.keys() == b.keys() and len(a) > 40
    for key, sa in a.items():
        sb = b[key]
        assert sb.load_model == "insole-cop"
        for name in MOMENT_FIELDS:
            va, vb = getattr(sa, name), getattr(sb, name)
            assert va is not None and vb is not None, (key, name)
            # Same CoP, same force: only the output rounding (0.01 N·m, 0.1 N) may differ.
            assert vb == pytest.approx(va, rel=1e-4, abs=0.11), (key, name)


def test_mismatched_cells_fall_back_to_the_cop() -> None:
    rec_cells, rec_cop = _recordings(10.0)
    extra = {
        side: SideSignals(
            force_n=sig.force_n,
            cell_force_n=np.ones((sig.force_n.size, 16)),  # not the 8-cell map
            cop_x_m=rec_cop.sides[side].cop_x_m,
        )
        for side, sig in rec_cells.sides.items()
    }
    mixed = Recording(rec_cop.time_s, FS_HZ, extra, rec_cop.meta)
    got = _by_step(analyze(mixed).steps)
    want = _by_step(analyze(rec_cop).steps)
    assert got.keys() == want.keys()
    for key, s in got.items():
        assert s.pf_moment_nm == want[key].pf_moment_nm is not None


def test_without_cells_or_cop_there_is_no_moment() -> None:
    rec_cells, _ = _recordings(8.0)
    bare = Recording(
        rec_cells.time_s,
        FS_HZ,
        {s: SideSignals(force_n=sig.force_n) for s, sig in rec_cells.sides.items()},
        rec_cells.meta,
    )
    steps = analyze(bare).steps
    assert steps and all(s.pf_moment_nm is None for s in steps)


def test_moticon_walking_gets_plausible_moments_and_achilles_force(shared_data: Path) -> None:
    rec = read_any(shared_data / MOTICON)
    standing_n = 810.0  # summed force while standing (data README), i.e. about 82.6 kg
    mass = standing_n / 9.80665
    steps = analyze(rec, body_mass_kg=mass).steps
    assert len(steps) == 14
    settings = AthleteSettings(body_mass_kg=mass)
    for s in steps:
        assert s.load_model == "insole-cop"
        assert s.pf_moment_nm is not None and s.achilles_force_bw is not None
        assert s.achilles_force_n == pytest.approx(s.pf_moment_nm / settings.moment_arm_m, 1e-3)
    moment_nm_kg = np.median([s.pf_moment_nm_kg for s in steps])
    at_bw = np.median([s.achilles_force_bw for s in steps])
    # science.md §4.3: walking peak ankle torque 1.72 N·m/kg (1.34 m/s, tensiometry study);
    # walking Achilles force 2.7–3.95 BW (Demangeot 2023 review; moment arms vary).
    assert 1.3 < moment_nm_kg < 2.3
    assert 2.7 * 0.8 < at_bw < 3.95 * 1.35


def test_live_batches_with_a_cop_fraction_equal_offline(shared_data: Path) -> None:
    """RawBatch.cop_x_frac (what the Moticon UDP bridge sends) gives the offline steps."""
    from calfload.bridge.messages import SCHEMA, RawBatch
    from calfload.processing.analyze import blocks
    from calfload.processing.pipeline import AthletePipeline

    rec = read_any(shared_data / MOTICON)
    mass = 810.0 / 9.80665
    offline = analyze(rec, body_mass_kg=mass).steps
    live = AthletePipeline("file", mass)
    steps: list[StepMessage] = []
    for seq, (_, b) in enumerate(blocks(rec, 100)):  # analyze's default: 1 s
        assert b.cop_x_m is not None
        batch = RawBatch(
            schema=SCHEMA, sensor_id=b.sensor_id, athlete="file", side=b.side,
            placement="insole", family="moticon-udp", seq=seq, t0_s=b.t0_s, fs_hz=b.fs_hz,
            n=b.force_n.size, force_n=b.force_n.tolist(),
            cop_x_frac=(b.cop_x_m / DEFAULT_FOOT_LENGTH_M).tolist(),
        )  # fmt: skip
        steps += live.on_batch(batch)
    steps += live.flush()
    steps.sort(key=lambda s: (s.ic_s, s.side))
    assert len(steps) == len(offline) == 14
    for got, want in zip(steps, offline, strict=True):
        assert (got.side, got.ic_s, got.to_s) == (want.side, want.ic_s, want.to_s)
        for name in MOMENT_FIELDS:
            assert getattr(got, name) == pytest.approx(getattr(want, name), rel=1e-6), name


def test_validation_section_meets_its_targets(shared_data: Path) -> None:
    from calfload.processing.validation import moticon_load

    section = moticon_load.run(shared_data)
    assert section.passed, section.markdown
    assert section.metrics["sim_max_rel_diff"] <= moticon_load.EQUAL_REL
    lo, hi = moticon_load.MOMENT_NM_KG_RANGE
    assert lo < section.metrics["moticon_moment_nm_kg_median"] < hi
