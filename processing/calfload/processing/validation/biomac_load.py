"""Loading magnitudes: peak force, moment → Achilles force, CoP-lever method, spring–mass.

Checks, on the public files in ``../shared/data``:

1. Peak vertical GRF of the four running mean cycles (Dorschky et al. 2019 P01;
   Fukuchi et al. 2017 S001–S003) against the published range for running at
   3.5 m/s (Keller TS et al. 1996, *Clin Biomech* 11(5):253–259: ~2.5 BW near
   6 m/s; science.md §4.3: 2.40–2.72 BW on these files).
2. P01's inverse-dynamics ankle moment → Achilles force with
   :func:`~calfload.processing.load.achilles_force_from_moment` (r_AT 4 and 5 cm, and
   the foot-length-scaled default), against the arithmetic of science.md §4.3
   (227 N·m / 0.04 m = 5.69 kN = 7.9 BW) and the published running range of 4–10 BW
   (Demangeot et al. 2023; shear-wave tensiometry, PMC11096059).
3. The insole CoP-lever method (:func:`~calfload.processing.load.contact_load`) on a
   simulated contact whose ankle moment is known: P01's force and moment define the
   true CoP (x_ankle + M / F); the contact is sampled at 100 Hz as a CoP signal
   (exact, and with the 18 mm AP error reported for Moticon insoles in running,
   Morin 2022) and as 8 open-insole cells (pressure spread as in the gait simulator).
4. Loading rate and peak force from 100 Hz samples of the 500 Hz force-treadmill
   contacts of Alcantara et al. 2022, against the 500 Hz values.
5. The spring–mass model (Morin et al. 2005) against the 500 Hz force treadmill of
   Alcantara et al. 2022: each complete contact's peak force from its contact and
   flight (before it) times, compared with the measured peak.
"""

from __future__ import annotations

import csv
import gzip
import itertools
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt

from calfload.bridge.simulator import CELL_XY_FRACTION
from calfload.processing.athlete import G0_MPS2, AthleteSettings
from calfload.processing.load import (
    SPRING_MASS_LEVER_PER_FOOT,
    achilles_force_from_moment,
    contact_load,
    loading_rate_bw_s,
    spring_mass,
    spring_mass_load,
)
from calfload.processing.validation import Section

ORDER: Final = 40
BIOMAC: Final = "biomac_running_mean_cycles"
ALCANTARA: Final = "alcantara2022_treadmill_grf"
F64 = npt.NDArray[np.float64]

P01_MASS_KG: Final = 73.0
P01_HEIGHT_M: Final = 1.73
P01_CYCLE_S: Final = 0.7335
CYCLES: Final = {
    "P01_normrunning": "Dorschky P01, 3.47 m/s",
    "RBDS001runT35": "Fukuchi S001, 3.5 m/s",
    "RBDS002runT35": "Fukuchi S002, 3.5 m/s",
    "RBDS003runT35": "Fukuchi S003, 3.5 m/s",
}
#: Published range for peak vertical GRF in running near 3.5 m/s (BW), science.md §4.3.
PEAK_GRF_RANGE_BW: Final = (2.2, 2.9)
#: Running peak Achilles force (BW): Demangeot 2023 review low end to tensiometry high end.
ACHILLES_RANGE_BW: Final = (4.0, 10.2)
MOTICON_COP_SD_M: Final = 0.018
INSOLE_FS_HZ: Final = 100.0
TREADMILL_FS_HZ: Final = 500.0


def read_mean_cycle(path: Path) -> dict[str, F64]:
    """Columns of a ``*_mean_cycle.csv`` file as float arrays, keyed by header name."""
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    header, body = rows[0], np.array(rows[1:], dtype=np.float64)
    return {name: body[:, i] for i, name in enumerate(header)}


def peak_grf_bw(data_dir: Path) -> dict[str, float]:
    """Peak right vertical GRF (BW) of each mean cycle."""
    out = {}
    for stem in CYCLES:
        cols = read_mean_cycle(data_dir / BIOMAC / f"{stem}_mean_cycle.csv")
        out[stem] = float(cols["GRF:GRF_y_r[BW]_mean"].max())
    return out


@dataclass(frozen=True)
class P01Achilles:
    peak_moment_nm: float
    peak_moment_nm_kg: float
    at_force_n: dict[float, float]  # moment arm (m) → peak Achilles force (N)
    default_moment_arm_m: float

    def bw(self, arm_m: float) -> float:
        return self.at_force_n[arm_m] / (P01_MASS_KG * G0_MPS2)


def p01_achilles(data_dir: Path) -> P01Achilles:
    """P01 peak plantar-flexor moment and the resulting Achilles force."""
    cols = read_mean_cycle(data_dir / BIOMAC / "P01_normrunning_mean_cycle.csv")
    pf = -cols["moment:ankle_angle_r[Nm]_mean"]  # negative = plantar-flexor in the file
    settings = AthleteSettings(body_mass_kg=P01_MASS_KG, foot_length_m=0.152 * P01_HEIGHT_M)
    arms = (0.04, 0.05, settings.moment_arm_m)
    forces = {a: float(achilles_force_from_moment(pf, a).max()) for a in arms}
    peak = float(pf.max())
    return P01Achilles(peak, peak / P01_MASS_KG, forces, settings.moment_arm_m)


@dataclass(frozen=True)
class CopCase:
    name: str
    moment_err_pct: float
    at_err_pct: float
    impulse_err_pct: float
    moment_err_sd_pct: float = 0.0


def _p01_truth() -> tuple[AthleteSettings, float]:
    settings = AthleteSettings(body_mass_kg=P01_MASS_KG, foot_length_m=0.152 * P01_HEIGHT_M)
    return settings, P01_CYCLE_S / 100.0


def simulated_cop_contact(data_dir: Path, *, seeds: int = 50) -> list[CopCase]:
    """CoP-lever method on P01's stance with a known ankle moment (see module doc)."""
    cols = read_mean_cycle(data_dir / BIOMAC / "P01_normrunning_mean_cycle.csv")
    settings, dt = _p01_truth()
    w = settings.weight_n
    f_bw = cols["GRF:GRF_y_r[BW]_mean"]
    pf = -cols["moment:ankle_angle_r[Nm]_mean"]
    stance = np.flatnonzero(f_bw > 0.05)
    a, b = int(stance[0]), int(stance[-1])
    t_cycle = np.arange(f_bw.size) * dt
    # Fine truth grid (0.1 ms) by linear interpolation of the mean cycle.
    t_fine = np.arange(t_cycle[a], t_cycle[b], 1e-4)
    m_fine = np.interp(t_fine, t_cycle, pf)
    true_peak_m = float(m_fine.max())
    true_at = achilles_force_from_moment(m_fine, settings.moment_arm_m)
    true_at_peak = float(true_at.max())
    true_at_imp = float(np.sum(0.5 * (true_at[1:] + true_at[:-1])) * 1e-4)
    # 100 Hz insole samples within stance.
    t = np.arange(t_cycle[a], t_cycle[b], 1.0 / INSOLE_FS_HZ)
    f = np.interp(t, t_cycle, f_bw) * w
    m = np.interp(t, t_cycle, pf)
    cop_true = settings.ankle_m + m / f

    def errors(name: str, **kw: npt.ArrayLike) -> CopCase:
        load = contact_load(t, f, settings, **kw)
        assert load.pf_moment_nm is not None and load.achilles_force_n is not None
        assert load.achilles_impulse_ns is not None
        return CopCase(
            name,
            100.0 * (load.pf_moment_nm - true_peak_m) / true_peak_m,
            100.0 * (load.achilles_force_n - true_at_peak) / true_at_peak,
            100.0 * (load.achilles_impulse_ns - true_at_imp) / true_at_imp,
        )

    cases = [errors("CoP exact, 100 Hz", cop_x_m=cop_true)]
    rng = np.random.default_rng(7)
    noisy = [
        errors("noisy", cop_x_m=cop_true + rng.normal(0.0, MOTICON_COP_SD_M, cop_true.size))
        for _ in range(seeds)
    ]
    me = np.array([c.moment_err_pct for c in noisy])
    cases.append(
        CopCase(
            "CoP + 18 mm noise (Moticon running), 100 Hz, mean of 50",
            float(me.mean()),
            float(np.mean([c.at_err_pct for c in noisy])),
            float(np.mean([c.impulse_err_pct for c in noisy])),
            float(me.std(ddof=1)),
        )
    )
    x_cells = CELL_XY_FRACTION[:, 0] * settings.insole_m
    spread = 0.12 * settings.insole_m  # as in calfload.bridge.simulator.GaitSimulator.insole
    wts = np.exp(-((x_cells[None, :] - cop_true[:, None]) ** 2) / (2 * spread**2))
    cells = f[:, None] * wts / wts.sum(axis=1, keepdims=True)
    cases.append(
        errors(
            "8 open-insole cells (Gaussian pressure, σ = 0.12 L), 100 Hz",
            cell_force_n=cells,
            cell_x_fraction=CELL_XY_FRACTION[:, 0],
        )
    )
    return cases


def read_treadmill(data_dir: Path) -> tuple[F64, list[dict[str, str]]]:
    """Alcantara et al. 2022: 16 trials × 2480 samples of normal GRF (BW), and trial info."""
    with gzip.open(data_dir / ALCANTARA / "grf_trials.csv.gz", "rt") as fh:
        grf = np.loadtxt(fh, delimiter=",")
    with (data_dir / ALCANTARA / "trial_info.csv").open(newline="") as fh:
        info = list(csv.DictReader(fh))
    return grf, info


def force_plate_contacts(
    force_bw: F64,
    fs_hz: float = TREADMILL_FS_HZ,
    threshold_bw: float = 0.05,
    merge_gap_s: float = 0.030,
    min_contact_s: float = 0.080,
) -> list[tuple[int, int]]:
    """Force-plate truth contacts as (first, last) sample indices (science.md §6.1 rule).

    Above ``threshold_bw``; gaps shorter than ``merge_gap_s`` merged; contacts shorter
    than ``min_contact_s`` dropped; contacts touching either edge of the record dropped.
    """
    above = np.concatenate(([False], force_bw > threshold_bw, [False]))
    edges = np.flatnonzero(np.diff(above.astype(np.int8)))
    starts, ends = edges[0::2], edges[1::2] - 1
    merged: list[list[int]] = []
    for s, e in zip(starts.tolist(), ends.tolist(), strict=True):
        if merged and (s - merged[-1][1] - 1) / fs_hz < merge_gap_s:
            merged[-1][1] = e
        else:
            merged.append([s, e])
    n = force_bw.size
    return [
        (s, e) for s, e in merged if (e - s + 1) / fs_hz >= min_contact_s and s > 0 and e < n - 1
    ]


@dataclass(frozen=True)
class SpringMassResult:
    diff_bw: F64  # model − measured peak, per contact with a complete contact before it
    measured_bw: F64
    level: npt.NDArray[np.bool_]


def spring_mass_vs_force_plate(data_dir: Path) -> SpringMassResult:
    """Morin (2005) peak force from each contact's t_c and preceding t_f vs measured peak."""
    grf, info = read_treadmill(data_dir)
    diffs, meas, level = [], [], []
    for row, trial in zip(grf, info, strict=True):
        contacts = force_plate_contacts(row)
        for (_, e_prev), (s, e) in itertools.pairwise(contacts):
            # Flight before the contact, as the pipeline's flight_ms (IC − other foot's TO).
            tc = (e - s + 1) / TREADMILL_FS_HZ
            tf = (s - e_prev - 1) / TREADMILL_FS_HZ
            model = spring_mass(tc, tf, 1.0).peak_force_bw
            peak = float(row[s : e + 1].max())
            diffs.append(model - peak)
            meas.append(peak)
            level.append(float(trial["Slope"]) == 0.0)
    return SpringMassResult(np.array(diffs), np.array(meas), np.array(level))


@dataclass(frozen=True)
class SamplingResult:
    truth_lr_bw_s: F64  # loading rate at 500 Hz, per contact × sampling phase
    lr_err_bw_s: F64  # 100 Hz − 500 Hz
    peak_err_bw: F64  # 100 Hz − 500 Hz peak force


def sampling_100hz(data_dir: Path) -> SamplingResult:
    """Loading rate and peak force from every 5th sample (100 Hz, all 5 phases) vs 500 Hz."""
    grf, _ = read_treadmill(data_dir)
    truth, lr_err, peak_err = [], [], []
    for row in grf:
        t = np.arange(row.size) / TREADMILL_FS_HZ
        for s, e in force_plate_contacts(row):
            lr_true = loading_rate_bw_s(t[s : e + 1], row[s : e + 1])
            peak = float(row[s : e + 1].max())
            for phase in range(5):
                idx = np.arange(s + phase, e + 1, 5)
                peak_err.append(float(row[idx].max()) - peak)
                lr = loading_rate_bw_s(t[idx], row[idx])
                if lr_true is not None and lr is not None:
                    truth.append(lr_true)
                    lr_err.append(lr - lr_true)
    return SamplingResult(np.array(truth), np.array(lr_err), np.array(peak_err))


def p01_spring_mass(data_dir: Path) -> tuple[float, float, float, float]:
    """Spring–mass on P01's mean cycle: (model peak BW, measured BW, model F_AT BW, ID F_AT BW)."""
    cols = read_mean_cycle(data_dir / BIOMAC / "P01_normrunning_mean_cycle.csv")
    settings, dt = _p01_truth()
    f_bw = cols["GRF:GRF_y_r[BW]_mean"]
    tc = float(np.count_nonzero(f_bw > 0.05)) * dt
    tf = P01_CYCLE_S / 2.0 - tc  # symmetric steps: half a stride minus one contact
    load = spring_mass_load(tc, tf, settings)
    assert load.achilles_force_bw is not None
    truth = p01_achilles(data_dir)
    return (
        load.peak_force_bw,
        float(f_bw.max()),
        load.achilles_force_bw,
        truth.bw(truth.default_moment_arm_m),
    )


def _default_note(arm_m: float, default_m: float) -> str:
    return " (= the default for P01's foot length)" if arm_m == default_m else ""


def run(data_dir: Path) -> Section:
    peaks = peak_grf_bw(data_dir)
    p01 = p01_achilles(data_dir)
    cop = simulated_cop_contact(data_dir)
    sm = spring_mass_vs_force_plate(data_dir)
    sm_p01 = p01_spring_mass(data_dir)
    smp = sampling_100hz(data_dir)
    lr_pct = 100.0 * smp.lr_err_bw_s / smp.truth_lr_bw_s
    lo, hi = PEAK_GRF_RANGE_BW
    peaks_ok = all(lo <= v <= hi for v in peaks.values())
    at4 = p01.at_force_n[0.04]
    arith_ok = math.isclose(at4, 5690.0, rel_tol=2e-3) and math.isclose(
        p01.bw(0.04), 7.9, abs_tol=0.05
    )
    at_ok = all(ACHILLES_RANGE_BW[0] <= p01.bw(a) <= ACHILLES_RANGE_BW[1] for a in p01.at_force_n)
    cop_ok = abs(cop[0].moment_err_pct) < 5.0 and abs(cop[0].at_err_pct) < 5.0
    d_all, d_lvl = sm.diff_bw, sm.diff_bw[sm.level]
    lines = [
        "Peak vertical GRF of the running mean cycles "
        f"(target: inside {lo}–{hi} BW, the published range near 3.5 m/s; science.md §4.3):",
        "",
        "| cycle | peak GRF (BW) |",
        "|---|---|",
        *[f"| {CYCLES[k]} | {v:.2f} |" for k, v in peaks.items()],
        "",
        f"P01 ({P01_MASS_KG:.0f} kg): peak plantar-flexor moment {p01.peak_moment_nm:.1f} N·m "
        f"({p01.peak_moment_nm_kg:.2f} N·m/kg; published running range ~3–3.7 N·m/kg). "
        "Achilles force = moment / moment arm "
        f"(target: 227 N·m / 0.04 m = 5.69 kN = 7.9 BW, and {ACHILLES_RANGE_BW[0]}–"
        f"{ACHILLES_RANGE_BW[1]} BW):",
        "",
        "| moment arm | peak Achilles force | in BW |",
        "|---|---|---|",
        *[
            f"| {a * 100:.2f} cm{_default_note(a, p01.default_moment_arm_m)}"
            f" | {v / 1000:.2f} kN | {p01.bw(a):.2f} |"
            for a, v in p01.at_force_n.items()
        ],
        "",
        "CoP-lever method on a simulated contact with a known ankle moment (P01's stance: "
        "true CoP = ankle + M/F, ankle at 0.20 × foot length; errors of the 100 Hz estimate "
        "against the 0.1 ms truth; target for the exact-CoP case: within ±5 %):",
        "",
        "| input | peak moment error | peak F_AT error | F_AT impulse error |",
        "|---|---|---|---|",
        *[
            f"| {c.name} | {c.moment_err_pct:+.1f} %"
            + (f" (SD {c.moment_err_sd_pct:.1f} %)" if c.moment_err_sd_pct else "")
            + f" | {c.at_err_pct:+.1f} % | {c.impulse_err_pct:+.1f} % |"
            for c in cop
        ],
        "",
        "The estimate averages the CoP over 30 ms before forming the lever (without it the "
        "noisy case's peak moment is biased about +13 %). "
        "These isolate sampling, CoP and cell-map errors; the quasi-static method itself is "
        "within 4.2 % of inverse dynamics on average (Hullfish & Baxter 2019), and the moment "
        "arm adds ±25 % per ±1 cm (science.md §4.3).",
        "",
        "Loading rate and peak force at 100 Hz (every 5th sample, all 5 sampling phases) against "
        "the same 500 Hz force-treadmill contacts (already low-passed at 30 Hz by the authors, so "
        "real impact transients will lose more at 100 Hz). No target: reported.",
        "",
        "| metric | contacts × phases | 500 Hz value | 100 Hz − 500 Hz |",
        "|---|---|---|---|",
        f"| loading rate, 20–80 % of first peak (BW/s) | {smp.truth_lr_bw_s.size} | median "
        f"{np.median(smp.truth_lr_bw_s):.1f} (range {smp.truth_lr_bw_s.min():.1f}–"
        f"{smp.truth_lr_bw_s.max():.1f}) | {smp.lr_err_bw_s.mean():+.2f} ± "
        f"{smp.lr_err_bw_s.std(ddof=1):.2f} BW/s "
        f"({lr_pct.mean():+.1f} ± {lr_pct.std(ddof=1):.1f} %) |",
        f"| peak force (BW) | {smp.peak_err_bw.size} | — | {smp.peak_err_bw.mean():+.4f} ± "
        f"{smp.peak_err_bw.std(ddof=1):.4f} BW |",
        "",
        "These rates are impact-peak average loading rates (Milner 2006 definition); the 8–30 BW/s "
        "of Keller 1996 (science.md §0) is a different, slower definition and is not comparable.",
        "",
        "Spring–mass peak force (Morin et al. 2005, from contact time and the flight before it) vs "
        "the 500 Hz force treadmill (Alcantara 2022; 5 % BW contacts, gaps < 30 ms merged, "
        "< 80 ms dropped). No target: reported for the IMU-only estimate's uncertainty.",
        "",
        "| trials | contacts | bias (BW) | SD (BW) | mean measured peak (BW) |",
        "|---|---|---|---|---|",
        f"| level (0°) | {d_lvl.size} | {d_lvl.mean():+.3f} | {d_lvl.std(ddof=1):.3f} | "
        f"{sm.measured_bw[sm.level].mean():.2f} |",
        f"| all 16 (slopes −10…+10°, normal force) | {d_all.size} | {d_all.mean():+.3f} | "
        f"{d_all.std(ddof=1):.3f} | {sm.measured_bw.mean():.2f} |",
        "",
        f"On P01's mean cycle the spring–mass model gives {sm_p01[0]:.2f} BW peak force "
        f"(measured {sm_p01[1]:.2f} BW) and {sm_p01[2]:.2f} BW Achilles force (inverse "
        f"dynamics with the default moment arm: {sm_p01[3]:.2f} BW); its effective lever "
        f"({SPRING_MASS_LEVER_PER_FOOT} × foot length) was taken from this cycle, so the "
        "Achilles comparison is not independent.",
    ]
    return Section(
        title="Loading magnitudes (peak force, Achilles force, spring–mass)",
        markdown="\n".join(lines),
        metrics={
            "p01_at_force_kn_4cm": at4 / 1000.0,
            "p01_at_force_bw_4cm": p01.bw(0.04),
            "cop_exact_moment_err_pct": cop[0].moment_err_pct,
            "cop_noisy_moment_err_sd_pct": cop[1].moment_err_sd_pct,
            "cells_moment_err_pct": cop[2].moment_err_pct,
            "spring_mass_bias_bw_level": float(d_lvl.mean()),
            "spring_mass_sd_bw_level": float(d_lvl.std(ddof=1)),
            "spring_mass_bias_bw_all": float(d_all.mean()),
            "spring_mass_sd_bw_all": float(d_all.std(ddof=1)),
            "spring_mass_contacts": float(d_all.size),
            "loading_rate_100hz_bias_pct": float(lr_pct.mean()),
            "loading_rate_100hz_sd_pct": float(lr_pct.std(ddof=1)),
        },
        passed=peaks_ok and arith_ok and at_ok and cop_ok,
    )
