"""A simulated session for recorder tests: raw batches on the live clock with known content."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from calfload.bridge.messages import SCHEMA, AthleteInfo, RawBatch
from calfload.bridge.simulator import AthleteProfile
from calfload.processing.io.recording import Recording, SideSignals
from calfload.processing.validation.simulated_insole import simulated_recording

G0 = 9.80665


@dataclass(frozen=True)
class SimSession:
    athlete: str
    info: AthleteInfo
    recording: Recording
    batches: list[RawBatch]
    jump_landings_s: list[float]
    """True landing instants of the two sync jumps (session clock)."""


def add_jump(rec: Recording, weight_n: float, takeoff_s: float, flight_s: float) -> float:
    """Both feet off for ``flight_s`` from ``takeoff_s``, then a 2.4 BW two-foot landing
    decaying to standing; returns the landing time (seconds from the recording's start)."""
    t = rec.time_s
    land = takeoff_s + flight_s
    off = (t >= takeoff_s) & (t < land)
    after = t >= land
    shape = np.where(after, np.exp(-np.clip(t - land, 0, None) / 0.08), 0.0)
    for side in rec.sides.values():
        assert side.cell_force_n is not None
        per_cell = side.cell_force_n.shape[1]
        window = after & (t < land + 1.0)
        side.cell_force_n[off] = 0.0
        side.cell_force_n[window] += (1.2 * weight_n * shape[window] / per_cell)[:, None]
        side.force_n[:] = side.cell_force_n.sum(axis=1)
    return land


def session(
    athlete: str = "r1",
    *,
    run_s: float = 8.0,
    t0_s: float = 1_764_091_000.0,
    seed: int = 3,
    jumps: bool = True,
    right_offset_s: float = 0.0037,
) -> SimSession:
    """Standing (with a jump), running, standing (with a jump): both insoles as 5-sample
    batches at 100 Hz, the right insole sampled ``right_offset_s`` after the left one."""
    prof = AthleteProfile(athlete, "Runner", body_mass_kg=68.0, asymmetry_pct=3.0, seed=seed)
    rec, _ = simulated_recording(prof, 0.01, seed, run_s=run_s)
    weight = prof.body_mass_kg * G0
    landings = []
    if jumps:
        landings.append(add_jump(rec, weight, 0.6, 0.35))
        end = float(rec.time_s[-1])
        landings.append(add_jump(rec, weight, end - 1.6, 0.35))
    batches: list[RawBatch] = []
    for side, sig in rec.sides.items():
        assert sig.cell_force_n is not None and sig.acc_mps2 is not None and sig.gyr_dps is not None
        offset = right_offset_s if side == "right" else 0.0
        for seq, k in enumerate(range(0, rec.time_s.size, 5)):
            sl = slice(k, k + 5)
            n = sig.force_n[sl].size
            batches.append(
                RawBatch(
                    schema=SCHEMA,
                    sensor_id=f"{athlete}-{side}-insole",
                    athlete=athlete,
                    side=side,
                    placement="insole",
                    family="open-insole",
                    seq=seq,
                    t0_s=t0_s + offset + float(rec.time_s[k]),
                    fs_hz=rec.fs_hz,
                    n=n,
                    force_n=sig.force_n[sl].tolist(),
                    cell_force_n=sig.cell_force_n[sl].tolist(),
                    acc_mps2=sig.acc_mps2[sl].tolist(),
                    gyr_dps=sig.gyr_dps[sl].tolist(),
                )
            )
    batches.sort(key=lambda b: b.t0_s + b.n / b.fs_hz)
    info = AthleteInfo(
        schema=SCHEMA,
        athlete=athlete,
        name="Runner",
        body_mass_kg=prof.body_mass_kg,
        sensors=[f"{athlete}-left-insole", f"{athlete}-right-insole"],
    )
    return SimSession(athlete, info, rec, batches, [t0_s + x for x in landings])


def side_signals(rec: Recording, side: str) -> SideSignals:
    return rec.sides["left" if side == "left" else "right"]
