"""``score``: a protocol, its stage boundaries and the athlete's data → a result. Pure.

This is the one entry point the runner, the dashboard and a report generator call; the
same inputs always give the same :class:`~calfload.processing.protocols.results.ProtocolResult`
(live, or later from a recording). Each stage is scored by its task:

=============  ==========================================  =============================
task           data used                                    module
=============  ==========================================  =============================
``run``        steps in the steady-state window             :mod:`.treadmill`
``heel-rise``  raw insole cells and/or IMU of the side      :mod:`.heelrise`
``hop``        raw insole force of the side                 :mod:`.hops`
``drop-jump``  raw insole force of the side                 :mod:`.hops`
``heel-drop``  raw IMU (sagittal gyro) of the side          :mod:`.heelrise` (inverted)
``rest``       nothing                                      —
=============  ==========================================  =============================
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import msgspec
import numpy as np

from calfload.bridge.messages import SCHEMA, RawBatch, Side
from calfload.bridge.simulator import CELL_XY_FRACTION
from calfload.bridge.topics import SIDES
from calfload.processing.messages import StepMessage
from calfload.processing.protocols import heelrise
from calfload.processing.protocols.definition import Protocol, Stage
from calfload.processing.protocols.hops import score_hops
from calfload.processing.protocols.results import (
    HeelDropSet,
    HeelRiseMetrics,
    HopMetrics,
    ProtocolResult,
    StageResult,
)
from calfload.processing.protocols.samples import SideSamples, side_samples
from calfload.processing.protocols.treadmill import score_run

Sex = Literal["male", "female"]


@dataclass(frozen=True, slots=True)
class StageMark:
    """When a stage ran (seconds on the session clock); the runner publishes these."""

    index: int
    start_s: float
    end_s: float


@dataclass(frozen=True, slots=True)
class AthleteContext:
    """What scoring needs to know about the athlete (all optional but the id)."""

    athlete: str
    body_mass_kg: float | None = None
    foot_length_m: float | None = None
    sex: Sex | None = None
    age_y: float | None = None
    involved: Side | None = None


def score_stage(
    stage: Stage,
    mark: StageMark,
    protocol: Protocol,
    athlete: AthleteContext,
    steps: Sequence[StepMessage],
    samples: dict[Side, SideSamples | None],
) -> StageResult:
    """Score one stage (see the module table)."""
    base = StageResult(
        index=mark.index,
        name=stage.name,
        task=stage.task,
        start_s=round(mark.start_s, 4),
        end_s=round(mark.end_s, 4),
    )
    if stage.task == "run":
        start = max(mark.start_s, mark.end_s - stage.steady_s)
        run = score_run(
            steps,
            window_start_s=start,
            window_end_s=mark.end_s,
            speed_mps=stage.speed_mps,
            slope_deg=stage.slope_deg,
        )
        note = "" if run.steps else "no steps in the steady-state window"
        return replace_stage(base, run=run, note=note)
    if stage.task == "rest" or stage.side not in ("left", "right"):
        return base
    side: Side = stage.side
    raw = samples.get(side)
    if raw is None:
        return replace_stage(base, note=f"no {side} sensor data")
    s = raw.window(mark.start_s, mark.end_s)
    if s.n == 0:
        return replace_stage(base, note=f"no {side} sensor data in this stage")
    if stage.task == "heel-rise":
        hr = heelrise.score_heel_rises(
            s,
            side,
            period_s=stage.rep_period_s,
            rules=protocol.heel_rise,
            body_mass_kg=athlete.body_mass_kg,
            foot_length_m=athlete.foot_length_m,
            cell_x_fraction=CELL_XY_FRACTION[:, 0],
            added_load_kg=stage.added_load_kg,
            target_reps=stage.reps,
            apply_stop_rules=stage.stop_on_fail and stage.reps is None,
            end_s=mark.end_s,
        )
        log = None
        if stage.reps is not None:
            log = HeelDropSet(
                side=side,
                reps=hr.reps,
                target_reps=stage.reps,
                complete=hr.reps >= stage.reps,
                knee=stage.knee,
                added_load_kg=stage.added_load_kg,
            )
        return replace_stage(base, heel_rise=hr, heel_drop=log)
    if stage.task in ("hop", "drop-jump"):
        hops: HopMetrics = score_hops(s, side, "hop" if stage.task == "hop" else "drop-jump")
        return replace_stage(base, hops=hops)
    # heel-drop: the same cycle counter on the inverted lift angle (a drop is a dip)
    if s.gyr_dps is None:
        return replace_stage(base, note="heel drops are counted from the IMU; none on this side")
    flipped = SideSamples(s.t_s, s.fs_hz, s.force_n, None, -s.gyr_dps, None)
    reps = heelrise.imu_reps(flipped, stage.rep_period_s)
    if stage.reps is not None:
        reps = reps[: stage.reps]
    drop_deg = [r.angle_deg for r in reps if r.angle_deg is not None]
    return replace_stage(
        base,
        heel_drop=HeelDropSet(
            side=side,
            reps=len(reps),
            target_reps=stage.reps,
            complete=stage.reps is None or len(reps) >= stage.reps,
            knee=stage.knee,
            added_load_kg=stage.added_load_kg,
            mean_drop_deg=round(float(np.mean(drop_deg)), 2) if drop_deg else None,
        ),
    )


def replace_stage(base: StageResult, **changes: object) -> StageResult:
    return msgspec.structs.replace(base, **changes)


def score(
    protocol: Protocol,
    marks: Sequence[StageMark],
    athlete: AthleteContext,
    *,
    steps: Sequence[StepMessage] = (),
    raw: Sequence[RawBatch] = (),
) -> ProtocolResult:
    """Score every stage that ran (``marks``), then the protocol-level symmetry and norms.

    ``steps`` are the athlete's step messages (run stages); ``raw`` the athlete's raw
    batches (heel-rise, hop and heel-drop stages). Stages without a mark did not run;
    the result is then ``complete = False``.
    """
    raw = [b for b in raw if b.athlete == athlete.athlete]
    steps = [s for s in steps if s.athlete == athlete.athlete]
    samples: dict[Side, SideSamples | None] = {side: side_samples(raw, side) for side in SIDES}
    results: list[StageResult] = []
    for mark in sorted(marks, key=lambda m: m.index):
        if not 0 <= mark.index < len(protocol.stages):
            raise ValueError(f"stage mark {mark.index} is not a stage of {protocol.name}")
        results.append(
            score_stage(protocol.stages[mark.index], mark, protocol, athlete, steps, samples)
        )
    symmetry: dict[str, float | None] = {}
    norms = []
    hr: dict[Side, HeelRiseMetrics] = {}
    for r in results:
        if r.heel_rise is not None and r.heel_rise.side not in hr:
            hr[r.heel_rise.side] = r.heel_rise
    if len(hr) == 2:
        left, right = hr["left"], hr["right"]
        symmetry["heel_rise_reps_lsi_pct"] = heelrise.limb_symmetry_pct(
            left.reps, right.reps, athlete.involved
        )
        symmetry["heel_rise_work_lsi_pct"] = heelrise.limb_symmetry_pct(
            left.total_work_j, right.total_work_j, athlete.involved
        )
        symmetry["heel_rise_height_lsi_pct"] = heelrise.limb_symmetry_pct(
            left.peak_height_m, right.peak_height_m, athlete.involved
        )
    if protocol.kind == "heel-rise":
        for side in SIDES:
            m = hr.get(side)
            if m is not None:
                norm = heelrise.compare_norm(m.reps, athlete.sex, athlete.age_y)
                if norm is not None:
                    norms.append(msgspec.structs.replace(norm, side=side))
    hops: dict[tuple[str, Side], HopMetrics] = {}
    for r in results:
        if r.hops is not None and (r.hops.task, r.hops.side) not in hops:
            hops[(r.hops.task, r.hops.side)] = r.hops
    for task in ("hop", "drop-jump"):
        left_h, right_h = hops.get((task, "left")), hops.get((task, "right"))
        if left_h is not None and right_h is not None:
            key = task.replace("-", "_")
            symmetry[f"{key}_height_lsi_pct"] = heelrise.limb_symmetry_pct(
                left_h.height_m, right_h.height_m, athlete.involved
            )
            symmetry[f"{key}_rsi_lsi_pct"] = heelrise.limb_symmetry_pct(
                left_h.rsi, right_h.rsi, athlete.involved
            )
            symmetry[f"{key}_contact_lsi_pct"] = heelrise.limb_symmetry_pct(
                left_h.contact_ms, right_h.contact_ms, athlete.involved
            )
    started = min((m.start_s for m in marks), default=0.0)
    ended = max((m.end_s for m in marks), default=0.0)
    return ProtocolResult(
        schema=SCHEMA,
        protocol=protocol.name,
        title=protocol.title,
        athlete=athlete.athlete,
        started_s=round(started, 4),
        ended_s=round(ended, 4),
        stages=results,
        symmetry=symmetry,
        norms=norms,
        complete=len({m.index for m in marks}) == len(protocol.stages),
    )
