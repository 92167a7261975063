"""Heel-rise repetitions from the insole and from the foot IMU, stop rules, height, work,
limb symmetry and norms. Pure numpy.

Sources (science.md §5.1):

* Test and norms: Hébert-Losier K, Wessman C, Alricsson M, Svantesson U (2017) "Updated
  reliability and normative values for the standing heel-rise test in healthy adults",
  *Physiotherapy* 103(4):446–452 — single-leg rises to fatigue on a 10° incline,
  metronome 60 beats/min; median 24 repetitions (men) and 21 (women), n = 566,
  20–81 years; between-day limits of agreement about ±6 repetitions.
* Stop rules: the heel can no longer be lifted, the metronome pace is lost, more than
  fingertip support; a prompt at the first violation and the test ends after two
  consecutive unanswered prompts (Sleeswijk Visser thesis ch. 3, as summarised in
  science.md §5.1).
* Outcomes beyond the count — heel-rise height and total positive work (body weight ×
  height, summed) — as measured by linear encoders and the Calf Raise App (Ashnai et
  al. 2024, *KSSTA*; linear-encoder reliability: *J Electromyogr Kinesiol*, NDORMS
  record 708358: work and maximum height more reliable than the count).
* Limb symmetry index LSI = involved / uninvolved × 100 (as in the hop-test batteries,
  Gustavsson 2006, science.md §5.3); without an involved side, left / right × 100.

Methods (own design, tested on simulated truth in ``tests/protocols``):

* **Insole**: the heel share of the insole force (heel cells, x < 0.3 × foot length,
  over the total) falls when the heel leaves the board and the pressure moves to the
  forefoot. A repetition opens when the share drops below :data:`HEEL_UNLOADED` and
  closes when it rises above :data:`HEEL_RELOADED` (hysteresis), lasting at least
  :data:`MIN_REP_S`.
* **IMU**: the heel-lift (plantarflexion) angle is the integral of the sagittal angular
  rate (``gyr_dps[:, 1]``, +y to the athlete's left, so heel up is positive) after
  removing the gyro bias (the most common rate of the still samples,
  :func:`gyro_bias_dps`); slow drift and the board's incline are removed by
  subtracting a running minimum over :data:`BASELINE_PERIODS` repetition periods (the
  foot returns flat between rises). A repetition is an excursion above
  :data:`ANGLE_ON_DEG` that returns below :data:`ANGLE_OFF_DEG`.
* **Height**: h = L × sin θ_peak with L the lever from the metatarsal heads (the pivot)
  to the back of the heel, :data:`MTP_FRACTION` × foot length (cell map, hardware.md).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal

import numpy as np
import numpy.typing as npt
from numpy.lib.stride_tricks import sliding_window_view

from calfload.bridge.messages import Side
from calfload.processing.protocols.definition import HeelRiseRules
from calfload.processing.protocols.results import HeelRiseMetrics, Norm, Rep, StopReason
from calfload.processing.protocols.samples import SideSamples, segments

F64 = npt.NDArray[np.float64]
G0_MPS2: Final = 9.80665
HEEL_CELL_MAX_FRACTION: Final = 0.30
HEEL_UNLOADED: Final = 0.08
HEEL_RELOADED: Final = 0.20
MIN_FOOT_FORCE_N: Final = 50.0
MIN_REP_S: Final = 0.25
ANGLE_ON_DEG: Final = 4.0
ANGLE_OFF_DEG: Final = 2.0
BASELINE_PERIODS: Final = 2.5
STILL_WINDOW_S: Final = 0.2
STILL_SD_DPS: Final = 3.0
DEFAULT_PERIOD_S: Final = 2.0
MTP_FRACTION: Final = 0.70
DEFAULT_FOOT_LENGTH_M: Final = 0.263
MATCH_TOLERANCE_S: Final = 0.6

#: Hébert-Losier et al. (2017): median repetitions to fatigue, healthy adults 20–81 y.
NORM_MEDIAN_REPS: Final[dict[str, float]] = {"male": 24.0, "female": 21.0}
NORM_LOA_REPS: Final = 6.0
NORM_SOURCE: Final = (
    "Hébert-Losier K, Wessman C, Alricsson M, Svantesson U (2017) Physiotherapy 103(4):446-452"
)
Sex = Literal["male", "female"]


@dataclass(frozen=True, slots=True)
class RawRep:
    start_s: float
    top_s: float
    end_s: float
    angle_deg: float | None = None


def _hysteresis(x: F64, on: float, off: float, rising: bool) -> list[tuple[int, int]]:
    """Index intervals where ``x`` crosses ``on`` and later ``off`` (both directions)."""
    active = False
    start = 0
    out: list[tuple[int, int]] = []
    s = x if rising else -x
    on_, off_ = (on, off) if rising else (-on, -off)
    above_on = s >= on_
    below_off = s < off_
    # walk only the threshold crossings
    idx = np.flatnonzero(np.diff(above_on.astype(np.int8)) > 0) + 1
    ends = np.flatnonzero(np.diff(below_off.astype(np.int8)) > 0) + 1
    events = sorted([(int(i), 0) for i in idx] + [(int(i), 1) for i in ends])
    if above_on.size and above_on[0]:
        active, start = True, 0
    for i, kind in events:
        if kind == 0 and not active:
            active, start = True, i
        elif kind == 1 and active:
            out.append((start, i))
            active = False
    return out


def heel_share(cells_n: F64, cell_x_fraction: F64) -> F64:
    """Share of the insole force on the heel cells (NaN where the foot is unloaded)."""
    cells = np.clip(cells_n, 0.0, None)
    total = cells.sum(axis=1)
    heel = cells[:, cell_x_fraction < HEEL_CELL_MAX_FRACTION].sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(total >= MIN_FOOT_FORCE_N, heel / total, np.nan)
    return np.asarray(share, dtype=np.float64)


def insole_reps(s: SideSamples, cell_x_fraction: F64) -> list[RawRep]:
    """Repetitions from the heel share of the insole force (see the module doc)."""
    if s.cells_n is None or s.n == 0:
        return []
    out: list[RawRep] = []
    for seg in segments(s.t_s, s.fs_hz):
        t = s.t_s[seg]
        share = heel_share(s.cells_n[seg], cell_x_fraction)
        # An unloaded foot (NaN) neither opens nor closes a repetition: hold the last value.
        filled = _ffill(share, 1.0)
        for a, b in _hysteresis(filled, HEEL_UNLOADED, HEEL_RELOADED, rising=False):
            if t[b] - t[a] >= MIN_REP_S:
                mid = a + int(np.argmin(filled[a:b]))
                out.append(RawRep(float(t[a]), float(t[mid]), float(t[b])))
    return out


def _ffill(x: F64, first: float) -> F64:
    idx = np.where(np.isfinite(x), np.arange(x.size), 0)
    np.maximum.accumulate(idx, out=idx)
    out = x[idx]
    out[~np.isfinite(out)] = first
    return out


def lift_angle_deg(s: SideSamples, period_s: float | None) -> F64 | None:
    """Heel-lift angle (°) from the sagittal gyro, bias- and drift-corrected."""
    if s.gyr_dps is None or s.n < 2:
        return None
    out = np.zeros(s.n)
    window = max(3, round(BASELINE_PERIODS * (period_s or DEFAULT_PERIOD_S) * s.fs_hz))
    for seg in segments(s.t_s, s.fs_hz):
        w = s.gyr_dps[seg, 1]
        w = w - gyro_bias_dps(w, s.fs_hz)
        angle = np.cumsum(w) / s.fs_hz
        out[seg] = angle - running_min(angle, window)
    return out


def running_min(x: F64, window: int) -> F64:
    """Centred running minimum over ``window`` samples (edges held)."""
    h = window // 2
    padded = np.pad(x, (h, window - 1 - h), mode="edge")
    out: F64 = sliding_window_view(padded, window).min(axis=1)
    return out


def gyro_bias_dps(rate_dps: F64, fs_hz: float) -> float:
    """The gyro's bias: the most common rate among *still* samples (local standard
    deviation over :data:`STILL_WINDOW_S` below :data:`STILL_SD_DPS`), refined as the
    median within ±1 °/s of that mode; the plain median when nothing is still.

    Why not the plain median: with a quick rise and a slow lowering the median rate is
    far from zero. Why the mode: the flat rests between repetitions all sit at the bias,
    while the slow ends of a movement, also quiet, spread over many rates (tested)."""
    n = max(3, round(STILL_WINDOW_S * fs_hz))
    if rate_dps.size < n:
        return float(np.median(rate_dps)) if rate_dps.size else 0.0
    sd = sliding_window_view(rate_dps, n).std(axis=1)
    quiet = sliding_window_view(rate_dps, n).mean(axis=1)[sd < STILL_SD_DPS]
    if quiet.size < n:
        return float(np.median(rate_dps))
    lo, hi = float(quiet.min()), float(quiet.max())
    bins = max(1, int(np.ceil((hi - lo) / 0.25)))
    counts, edges = np.histogram(quiet, bins=bins, range=(lo, hi + 1e-9))
    k = int(np.argmax(counts))
    mode = 0.5 * (edges[k] + edges[k + 1])
    near = quiet[np.abs(quiet - mode) <= 1.0]
    return float(np.median(near))


def imu_reps(s: SideSamples, period_s: float | None) -> list[RawRep]:
    angle = lift_angle_deg(s, period_s)
    if angle is None:
        return []
    out: list[RawRep] = []
    for seg in segments(s.t_s, s.fs_hz):
        t, a = s.t_s[seg], angle[seg]
        for i, j in _hysteresis(a, ANGLE_ON_DEG, ANGLE_OFF_DEG, rising=True):
            if t[j] - t[i] < MIN_REP_S:
                continue
            top = i + int(np.argmax(a[i:j]))
            # start / end where the angle leaves / regains the flat position (< off level)
            before = np.flatnonzero(a[:i] < ANGLE_OFF_DEG * 0.5)
            start = int(before[-1]) if before.size else i
            start = max(start, i - round(0.6 * (period_s or DEFAULT_PERIOD_S) * s.fs_hz))
            out.append(RawRep(float(t[start]), float(t[top]), float(t[j]), float(a[top])))
    return out


def merge_reps(insole: list[RawRep], imu: list[RawRep]) -> list[RawRep]:
    """IMU repetitions (they carry the angle) where both exist; insole ones otherwise."""
    if not imu:
        return insole
    return imu


def _mean_force(s: SideSamples, rep: RawRep) -> float | None:
    if s.force_n is None:
        return None
    sel = (s.t_s >= rep.start_s) & (s.t_s <= rep.end_s)
    return float(np.mean(s.force_n[sel])) if np.any(sel) else None


def score_heel_rises(
    s: SideSamples,
    side: Side,
    *,
    period_s: float | None,
    rules: HeelRiseRules,
    body_mass_kg: float | None,
    foot_length_m: float | None,
    cell_x_fraction: F64,
    added_load_kg: float = 0.0,
    target_reps: int | None = None,
    apply_stop_rules: bool = True,
    end_s: float | None = None,
) -> HeelRiseMetrics:
    """Count, check and measure the heel rises in one stage's samples of one side."""
    r_insole = insole_reps(s, cell_x_fraction)
    r_imu = imu_reps(s, period_s)
    raw = merge_reps(r_insole, r_imu)
    source: Literal["insole", "imu", "insole+imu"] = (
        "insole+imu" if r_imu and s.cells_n is not None else ("imu" if r_imu else "insole")
    )
    lever_m = MTP_FRACTION * (foot_length_m or DEFAULT_FOOT_LENGTH_M)
    weight_n = body_mass_kg * G0_MPS2 if body_mass_kg else None
    reps_in: list[Rep] = []
    for r in raw:
        height = lever_m * math.sin(math.radians(r.angle_deg)) if r.angle_deg else None
        force = _mean_force(s, r)
        reps_in.append(
            Rep(
                start_s=round(r.start_s, 4),
                top_s=round(r.top_s, 4),
                end_s=round(r.end_s, 4),
                height_m=None if height is None else round(height, 4),
                angle_deg=None if r.angle_deg is None else round(r.angle_deg, 2),
                mean_force_bw=None
                if (force is None or not weight_n)
                else round(force / weight_n, 3),
            )
        )
    reps, stop_reason, stopped_s = apply_rules(
        reps_in, period_s, rules, apply_stop_rules, target_reps, end_s
    )
    counted = [r for r in reps if r.counted]
    heights = [r.height_m for r in counted if r.height_m is not None]
    total_h = float(sum(heights)) if heights else None
    work = None
    if total_h is not None and body_mass_kg:
        work = (body_mass_kg + added_load_kg) * G0_MPS2 * total_h
    decline = None
    if len(heights) >= 6:
        first, last = float(np.mean(heights[:3])), float(np.mean(heights[-3:]))
        decline = round(100.0 * (1.0 - last / first), 1) if first > 0 else None
    return HeelRiseMetrics(
        side=side,
        source=source,
        reps=len(counted),
        reps_insole=len(r_insole) if s.cells_n is not None else None,
        reps_imu=len(r_imu) if s.gyr_dps is not None else None,
        stop_reason=stop_reason,
        stopped_s=stopped_s,
        rep_period_s=period_s,
        peak_height_m=round(max(heights), 4) if heights else None,
        mean_height_m=round(float(np.mean(heights)), 4) if heights else None,
        total_height_m=None if total_h is None else round(total_h, 4),
        total_work_j=None if work is None else round(work, 1),
        height_decline_pct=decline,
        rep_list=reps,
    )


def apply_rules(
    reps: Sequence[Rep],
    period_s: float | None,
    rules: HeelRiseRules,
    apply_stop_rules: bool = True,
    target_reps: int | None = None,
    end_s: float | None = None,
) -> tuple[list[Rep], StopReason, float | None]:
    """Mark each repetition counted or faulted and find where the test stopped.

    A fault (height, pace, support) is a prompt; ``rules.prompts_to_stop`` consecutive
    prompts end the test at the first of them. Without stop rules (a training set)
    faulted repetitions are still marked but never end the set.
    """
    ref = [r.height_m for r in reps[:3] if r.height_m is not None]
    ref_h = max(ref) if ref else None
    out: list[Rep] = []
    prompts: list[int] = []
    prev_start: float | None = None
    counted = 0
    for rep in reps:
        fault = ""
        if (
            period_s
            and prev_start is not None
            and (rep.start_s - prev_start > (1.0 + rules.pace_tolerance) * period_s)
        ):
            fault = "pace"
        elif (
            ref_h and rep.height_m is not None and rep.height_m < rules.min_height_fraction * ref_h
        ):
            fault = "height"
        elif rep.mean_force_bw is not None and rep.mean_force_bw < rules.min_support_bw:
            fault = "support"
        prev_start = rep.start_s
        if fault:
            out.append(_with(rep, counted=False, fault=fault))
            prompts.append(len(out) - 1)
            if apply_stop_rules and len(prompts) >= rules.prompts_to_stop:
                first = out[prompts[0]]
                return out, _reason(first.fault), first.start_s
            continue
        prompts = []
        out.append(rep)
        counted += 1
        if target_reps is not None and counted >= target_reps:
            return out, "target", rep.end_s
    if apply_stop_rules and period_s and end_s is not None and prev_start is not None:
        silent = end_s - prev_start
        if silent > (1.0 + rules.pace_tolerance) * period_s * rules.prompts_to_stop:
            return out, "pace", round(prev_start + (1.0 + rules.pace_tolerance) * period_s, 4)
    return out, "end", None


def _reason(fault: str) -> StopReason:
    return "height" if fault == "height" else ("support" if fault == "support" else "pace")


def _with(rep: Rep, *, counted: bool, fault: str) -> Rep:
    return Rep(
        start_s=rep.start_s,
        top_s=rep.top_s,
        end_s=rep.end_s,
        height_m=rep.height_m,
        angle_deg=rep.angle_deg,
        mean_force_bw=rep.mean_force_bw,
        counted=counted,
        fault=fault,
    )


def limb_symmetry_pct(
    left: float | None, right: float | None, involved: Side | None = None
) -> float | None:
    """LSI = involved / uninvolved × 100 (left / right × 100 without an involved side)."""
    if left is None or right is None:
        return None
    num, den = (right, left) if involved == "right" else (left, right)
    return round(100.0 * num / den, 1) if den > 0 else None


def compare_norm(reps: int, sex: Sex | None, age_y: float | None = None) -> Norm | None:
    """Repetitions against the median of healthy adults of the same sex (Hébert-Losier 2017).

    ``band`` is ``within`` when the count lies within the between-day limits of
    agreement (±6 repetitions) of the median, else ``below`` / ``above``. Age: the paper
    gives regression norms on sex, age, BMI and activity, which calfload's reference
    does not reproduce; the note says so and flags the over-60 finding.
    """
    if sex not in NORM_MEDIAN_REPS:
        return None
    median = NORM_MEDIAN_REPS[sex]
    diff = reps - median
    band = "within" if abs(diff) <= NORM_LOA_REPS else ("below" if diff < 0 else "above")
    note = "median of healthy adults 20-81 y; age-specific regression norms not applied"
    if age_y is not None and age_y > 60:
        note += "; over 60, women outperformed men in this cohort"
    return Norm(
        metric="heel_rise_reps",
        value=float(reps),
        norm=median,
        pct_of_norm=round(100.0 * reps / median, 1),
        band=band,
        source=NORM_SOURCE,
        note=note,
    )
