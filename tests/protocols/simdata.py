"""Simulated raw batches and steps for protocol scoring tests (the worker's own pipeline)."""

from __future__ import annotations

import numpy as np

from calfload.bridge.messages import SCHEMA, RawBatch
from calfload.bridge.simulator import GaitSimulator
from calfload.bridge.topics import SIDES
from calfload.processing.messages import StepMessage
from calfload.processing.pipeline import AthletePipeline

FS_HZ = 100.0


def raw_batches(
    sim: GaitSimulator,
    athlete: str,
    t0_s: float,
    t1_s: float,
    *,
    per_batch: int = 5,
    imu_only: bool = False,
) -> list[RawBatch]:
    """Insole batches of both feet (cells, force, IMU) as the bridge would publish them;
    ``imu_only``: foot-top IMU batches instead (angular rate and acceleration only)."""
    out: list[RawBatch] = []
    n = round((t1_s - t0_s) * FS_HZ)
    for side in SIDES:
        t = t0_s + np.arange(n) / FS_HZ
        cells, acc, gyr = sim.insole(side, t)
        for k, a in enumerate(range(0, n, per_batch)):
            b = slice(a, min(n, a + per_batch))
            out.append(
                RawBatch(
                    schema=SCHEMA,
                    sensor_id=f"{athlete}-{side}-{'imu' if imu_only else 'insole'}",
                    athlete=athlete,
                    side=side,
                    placement="foot_top" if imu_only else "insole",
                    family="witmotion" if imu_only else "open-insole",
                    seq=k,
                    t0_s=float(t[a]),
                    fs_hz=FS_HZ,
                    n=b.stop - b.start,
                    force_n=None if imu_only else cells[b].sum(axis=1).tolist(),
                    cell_force_n=None if imu_only else cells[b].tolist(),
                    acc_mps2=acc[b].tolist(),
                    gyr_dps=gyr[b].tolist(),
                )
            )
    out.sort(key=lambda r: r.t0_s)
    return out


def steps_from(batches: list[RawBatch], athlete: str, body_mass_kg: float) -> list[StepMessage]:
    pipe = AthletePipeline(athlete, body_mass_kg)
    steps: list[StepMessage] = []
    for b in batches:
        steps.extend(pipe.on_batch(b))
    return steps
