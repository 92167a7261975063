"""Push-off loading and Achilles-tendon force per ground contact. Pure numpy, no I/O.

Two models, labelled in every result (``ContactLoad.model``):

``"insole-cop"`` — from the contact's insole samples. The plantar-flexor moment is
the quasi-static insole approximation M(t) = F(t) × (x_CoP(t) − x_ankle), vertical
force times the horizontal centre-of-pressure lever about the ankle joint centre
(Hullfish TJ, Baxter JR (2019) "Novel instrumented insole algorithm accurately
approximates plantar flexor loading", bioRxiv doi:10.1101/2019.12.20.885228: within
4.2 % of inverse dynamics on average, waveform Rxy > 0.928 including running). It
ignores foot inertia, shear forces and the true, moving ankle-centre position. The
Achilles-tendon force is F_AT = M / r_AT, the lab convention of inverse-dynamics
studies (science.md §4.1), with the per-athlete moment arm of
:class:`~calfload.processing.athlete.AthleteSettings`.

``"spring-mass"`` — for athletes with foot IMUs only (no force). Peak vertical force
from contact and flight time with the sine-wave spring–mass model of Morin JB,
Dalleau G, Kyröläinen H, Jeannin T, Belli A (2005) "A simple method for measuring
stiffness during running", *J Appl Biomech* 21(2):167–180:
F_max = m g (π/2)(t_f / t_c + 1). The Achilles estimate multiplies F_max by an
effective lever of :data:`SPRING_MASS_LEVER_PER_FOOT` × foot length (peak ankle
moment / peak vertical force on the Dorschky et al. 2019 running mean cycle, derived
from the data here) — lower confidence than the insole model, and labelled so.

Definitions (see ``docs/load.md``):

* forefoot region: insole x ≥ :data:`FOREFOOT_FROM_FRACTION` × insole length — the
  cells under the metatarsal heads and toes (cells 3–7 of the open insole map).
  Without cells, a two-support split of the force between the heel row and the
  metatarsal row by the CoP position (lever rule) stands in for the cell sum.
* push-off phase: the second half of the contact, t ≥ IC + 0.5 × GCT. In running at
  constant speed the fore–aft force turns from braking to propulsive near mid-stance
  (Cavanagh PR, Lafortune MA (1980) "Ground reaction forces in distance running",
  *J Biomech* 13(5):397–406).
* loading rate: mean slope between 20 % and 80 % of the first force peak (the impact
  peak where there is one, else the active peak), crossings interpolated — the
  average vertical loading rate of Milner CE, Ferber R, Pollard CD, Hamill J, Davis IS
  (2006) "Biomechanical factors associated with tibial stress fracture in female
  runners", *Med Sci Sports Exerc* 38(2):323–328.
* impulses: trapezoidal integration over the contact's samples.
* CoP smoothing: the CoP is averaged over a centred :data:`COP_SMOOTH_S` (30 ms)
  window before the lever is formed (own design choice): an unbiased CoP error of
  18 mm (Moticon, running; Morin 2022) otherwise inflates the *peak* moment by ~13 %
  because the maximum of a noisy signal is biased upwards; the window costs < 0.5 %
  on a noise-free stance (``docs/validation.md``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final, Literal

import numpy as np
import numpy.typing as npt

from calfload.processing.athlete import AthleteSettings

LoadModel = Literal["insole-cop", "spring-mass"]
F64 = npt.NDArray[np.float64]

FOREFOOT_FROM_FRACTION: Final = 0.60
HEEL_ROW_FRACTION: Final = 0.10
FOREFOOT_ROW_FRACTION: Final = 0.70
PUSH_OFF_FROM_STANCE: Final = 0.50
FIRST_PEAK_MIN_FRACTION: Final = 0.50
COP_SMOOTH_S: Final = 0.03
SPRING_MASS_LEVER_PER_FOOT: Final = 0.45


class LoadInputError(ValueError):
    """Contact samples that cannot give a load estimate (message says why)."""


@dataclass(frozen=True, slots=True)
class ContactLoad:
    """Loading of one contact. ``None`` where the inputs do not allow the metric."""

    model: LoadModel
    peak_force_n: float
    peak_force_bw: float
    forefoot_peak_n: float | None = None
    push_off_impulse_ns: float | None = None
    loading_rate_bw_s: float | None = None
    pf_moment_nm: float | None = None
    pf_moment_nm_kg: float | None = None
    achilles_force_n: float | None = None
    achilles_force_bw: float | None = None
    achilles_impulse_ns: float | None = None
    achilles_impulse_bws: float | None = None


def _trapz(y: F64, t: F64) -> float:
    if y.size < 2:
        return 0.0
    return float(np.sum(0.5 * (y[1:] + y[:-1]) * np.diff(t)))


def smooth_cop(t_s: F64, cop_x_m: F64, window_s: float = COP_SMOOTH_S) -> F64:
    """Centred moving average of the CoP over ``window_s`` (odd sample count, edges held).

    Samples without a CoP (NaN) count as zero lever: callers fill them beforehand.
    """
    if cop_x_m.size < 3 or t_s.size < 2:
        return cop_x_m
    dt = float(np.median(np.diff(t_s)))
    n = round(window_s / dt) if dt > 0 else 1
    n = min(n + (1 - n % 2), cop_x_m.size - (1 - cop_x_m.size % 2))
    if n < 3:
        return cop_x_m
    h = n // 2
    padded = np.pad(cop_x_m, h, mode="edge")
    out: F64 = np.convolve(padded, np.full(n, 1.0 / n), mode="valid")
    return out


def achilles_force_from_moment(moment_nm: npt.ArrayLike, moment_arm_m: float) -> F64:
    """F_AT = M / r_AT for plantar-flexor moments (N·m, positive); negative moments → 0.

    The inverse-dynamics convention of science.md §4.1 (tendon assumed to carry the
    whole net plantar-flexor moment: no co-contraction, no other plantar flexors).
    """
    if not (math.isfinite(moment_arm_m) and moment_arm_m > 0):
        raise LoadInputError(f"Achilles moment arm must be a positive length, got {moment_arm_m}")
    out: F64 = np.clip(np.asarray(moment_nm, dtype=np.float64), 0.0, None) / moment_arm_m
    return out


def _trapz_from(y: F64, t: F64, t_start: float) -> float:
    """Trapezoid integral of ``y`` from ``t_start`` (interpolated) to the last sample.

    Continuous in ``t_start``, so a boundary that falls on a sample never flips the
    result by a whole sample's area.
    """
    after = t > t_start
    y0 = float(np.interp(t_start, t, y))
    return _trapz(np.concatenate(([y0], y[after])), np.concatenate(([t_start], t[after])))


def cop_x_from_cells(cell_force_n: npt.ArrayLike, cell_x_m: npt.ArrayLike) -> F64:
    """Centre of pressure along the insole (m) as the force-weighted mean cell position.

    Samples with no positive total force get NaN.
    """
    cells = np.clip(np.asarray(cell_force_n, dtype=np.float64), 0.0, None)
    x = np.asarray(cell_x_m, dtype=np.float64)
    if cells.ndim != 2 or cells.shape[1] != x.size:
        raise LoadInputError(
            f"cell forces have shape {cells.shape}; expected (samples, {x.size}) for this cell map"
        )
    total = cells.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        cop: F64 = np.where(total > 0.0, cells @ x / np.where(total > 0.0, total, 1.0), np.nan)
    return cop


def forefoot_force_from_cells(
    cell_force_n: npt.ArrayLike, cell_x_m: npt.ArrayLike, boundary_m: float
) -> F64:
    """Sum of the cells at or in front of ``boundary_m`` (N, per sample)."""
    cells = np.clip(np.asarray(cell_force_n, dtype=np.float64), 0.0, None)
    front = np.asarray(cell_x_m, dtype=np.float64) >= boundary_m
    out: F64 = cells[:, front].sum(axis=1)
    return out


def forefoot_force_from_cop(
    force_n: npt.ArrayLike, cop_x_m: npt.ArrayLike, heel_x_m: float, forefoot_x_m: float
) -> F64:
    """Forefoot share of the force when only the CoP is known (two-support lever rule).

    The force is split between a heel support at ``heel_x_m`` and a forefoot support
    at ``forefoot_x_m`` so that their resultant acts at the CoP (statics of a beam on
    two supports); CoP behind the heel support → 0, in front of the forefoot support
    → all of it.
    """
    f = np.asarray(force_n, dtype=np.float64)
    cop = np.asarray(cop_x_m, dtype=np.float64)
    share = np.clip((cop - heel_x_m) / (forefoot_x_m - heel_x_m), 0.0, 1.0)
    out: F64 = f * np.nan_to_num(share, nan=0.0)
    return out


def loading_rate_bw_s(t_s: npt.ArrayLike, force_bw: npt.ArrayLike) -> float | None:
    """Average loading rate (BW/s) from 20 % to 80 % of the first force peak.

    The first peak is the first local maximum reaching 50 % of the contact's maximum
    (the impact transient where there is one). ``None`` when the rising edge has
    fewer than two samples below that peak.
    """
    t = np.asarray(t_s, dtype=np.float64)
    f = np.asarray(force_bw, dtype=np.float64)
    if f.size < 3:
        return None
    top = float(f.max())
    if top <= 0.0:
        return None
    interior = (f[1:-1] >= f[:-2]) & (f[1:-1] > f[2:]) & (f[1:-1] >= FIRST_PEAK_MIN_FRACTION * top)
    cand = np.flatnonzero(interior) + 1
    k = int(cand[0]) if cand.size else int(np.argmax(f))
    if k < 2:
        return None
    peak = float(f[k])
    t20 = _rise_time(t[: k + 1], f[: k + 1], 0.2 * peak)
    t80 = _rise_time(t[: k + 1], f[: k + 1], 0.8 * peak)
    if t20 is None or t80 is None or t80 <= t20:
        return None
    return 0.6 * peak / (t80 - t20)


def _rise_time(t: F64, f: F64, level: float) -> float | None:
    """Last upward crossing of ``level`` before the end of ``f`` (interpolated)."""
    below = np.flatnonzero(f < level)
    if below.size == 0:
        return None  # already above the level at the first sample
    i = int(below[-1])
    if i + 1 >= f.size:
        return None
    f0, f1 = f[i], f[i + 1]
    return float(t[i] + (level - f0) / (f1 - f0) * (t[i + 1] - t[i]))


def contact_load(
    t_s: npt.ArrayLike,
    force_n: npt.ArrayLike,
    settings: AthleteSettings,
    *,
    cell_force_n: npt.ArrayLike | None = None,
    cell_x_fraction: npt.ArrayLike | None = None,
    cop_x_m: npt.ArrayLike | None = None,
) -> ContactLoad:
    """Loading metrics of one contact from its samples (model ``"insole-cop"``).

    Parameters
    ----------
    t_s, force_n
        Sample times and summed vertical force of the contact (IC to toe-off).
    settings
        The athlete's settings (body mass, insole length, ankle position, r_AT).
    cell_force_n, cell_x_fraction
        Per-cell forces (samples × cells) and the cells' x positions as fractions of
        the insole length; give these, or ``cop_x_m``, for the moment and forefoot
        metrics. Without either, only force metrics are returned.
    cop_x_m
        Centre of pressure along the insole frame's x axis (m from the heel edge).
    """
    t = np.asarray(t_s, dtype=np.float64)
    f = np.asarray(force_n, dtype=np.float64)
    if t.ndim != 1 or t.shape != f.shape:
        raise LoadInputError(f"time has shape {t.shape} but force has shape {f.shape}")
    if f.size < 2:
        raise LoadInputError(f"a contact needs at least 2 samples, got {f.size}")
    if not (np.all(np.isfinite(f)) and np.all(np.isfinite(t))):
        raise LoadInputError("contact samples contain NaN or infinite values")
    w = settings.weight_n
    peak_n = float(f.max())
    lr = loading_rate_bw_s(t, f / w)
    insole = settings.insole_m
    if cell_force_n is not None:
        if cell_x_fraction is None:
            raise LoadInputError("cell forces need the cell map (cell_x_fraction)")
        cell_x = np.asarray(cell_x_fraction, dtype=np.float64) * insole
        cells = np.asarray(cell_force_n, dtype=np.float64)
        if cells.shape[:1] != f.shape:
            raise LoadInputError(f"cell forces have {cells.shape[0]} samples, force has {f.size}")
        cop = cop_x_from_cells(cells, cell_x)
        fore = forefoot_force_from_cells(cells, cell_x, FOREFOOT_FROM_FRACTION * insole)
    elif cop_x_m is not None:
        cop = np.asarray(cop_x_m, dtype=np.float64)
        if cop.shape != f.shape:
            raise LoadInputError(f"CoP has shape {cop.shape} but force has shape {f.shape}")
        fore = forefoot_force_from_cop(
            f, cop, HEEL_ROW_FRACTION * insole, FOREFOOT_ROW_FRACTION * insole
        )
    else:
        return ContactLoad(
            model="insole-cop",
            peak_force_n=peak_n,
            peak_force_bw=peak_n / w,
            loading_rate_bw_s=lr,
        )
    cop = smooth_cop(t, np.where(np.isfinite(cop), cop, settings.ankle_m))
    lever = cop - settings.ankle_m
    moment = np.clip(f, 0.0, None) * lever
    at_force = achilles_force_from_moment(moment, settings.moment_arm_m)
    push_from_s = t[0] + PUSH_OFF_FROM_STANCE * (t[-1] - t[0])
    pf_peak = max(float(moment.max()), 0.0)
    at_peak = float(at_force.max())
    at_impulse = _trapz(at_force, t)
    return ContactLoad(
        model="insole-cop",
        peak_force_n=peak_n,
        peak_force_bw=peak_n / w,
        forefoot_peak_n=float(fore.max()),
        push_off_impulse_ns=_trapz_from(fore, t, push_from_s),
        loading_rate_bw_s=lr,
        pf_moment_nm=pf_peak,
        pf_moment_nm_kg=pf_peak / settings.body_mass_kg,
        achilles_force_n=at_peak,
        achilles_force_bw=at_peak / w,
        achilles_impulse_ns=at_impulse,
        achilles_impulse_bws=at_impulse / w,
    )


@dataclass(frozen=True, slots=True)
class SpringMass:
    """Morin et al. (2005) sine-wave model outputs for one step."""

    peak_force_n: float
    peak_force_bw: float
    com_drop_m: float
    k_vert_n_m: float
    k_leg_n_m: float | None


def spring_mass(
    gct_s: float,
    flight_s: float,
    body_mass_kg: float,
    *,
    speed_mps: float | None = None,
    leg_length_m: float | None = None,
) -> SpringMass:
    """Sine-wave spring–mass model of Morin et al. (2005), *J Appl Biomech* 21:167–180.

    F_max = m g (π/2)(t_f/t_c + 1); Δy_c = F_max t_c² / (m π²) − g t_c² / 8;
    k_vert = F_max / Δy_c; with speed v and leg length L:
    ΔL = L − √(L² − (v t_c / 2)²) + Δy_c and k_leg = F_max / ΔL.
    """
    if not (math.isfinite(gct_s) and 0.05 <= gct_s <= 1.0):
        raise LoadInputError(f"contact time must be 50–1000 ms for the spring–mass model: {gct_s}")
    if not (math.isfinite(flight_s) and 0.0 <= flight_s <= 1.0):
        raise LoadInputError(
            f"flight time must be 0–1000 ms for the spring–mass model (running only): {flight_s}"
        )
    g = 9.80665
    f_max = body_mass_kg * g * (math.pi / 2.0) * (flight_s / gct_s + 1.0)
    drop = f_max * gct_s**2 / (body_mass_kg * math.pi**2) - g * gct_s**2 / 8.0
    k_vert = f_max / drop if drop > 0 else math.inf
    k_leg = None
    if speed_mps is not None and leg_length_m is not None:
        half = speed_mps * gct_s / 2.0
        if half < leg_length_m:
            dl = leg_length_m - math.sqrt(leg_length_m**2 - half**2) + drop
            k_leg = f_max / dl if dl > 0 else None
    return SpringMass(f_max, f_max / (body_mass_kg * g), drop, k_vert, k_leg)


def spring_mass_load(gct_s: float, flight_s: float, settings: AthleteSettings) -> ContactLoad:
    """Lower-confidence load estimate for IMU-only athletes (model ``"spring-mass"``).

    Peak force from :func:`spring_mass`; peak plantar-flexor moment ≈ F_max × an
    effective lever of :data:`SPRING_MASS_LEVER_PER_FOOT` × foot length; Achilles
    force = moment / r_AT; Achilles impulse assumes a half-sine tendon force over the
    contact (2/π × peak × t_c). Forefoot and loading-rate metrics need force and are
    ``None``.
    """
    sm = spring_mass(gct_s, flight_s, settings.body_mass_kg)
    w = settings.weight_n
    moment = sm.peak_force_n * SPRING_MASS_LEVER_PER_FOOT * settings.foot_m
    at_peak = moment / settings.moment_arm_m
    at_impulse = 2.0 / math.pi * at_peak * gct_s
    return ContactLoad(
        model="spring-mass",
        peak_force_n=sm.peak_force_n,
        peak_force_bw=sm.peak_force_bw,
        pf_moment_nm=moment,
        pf_moment_nm_kg=moment / settings.body_mass_kg,
        achilles_force_n=at_peak,
        achilles_force_bw=at_peak / w,
        achilles_impulse_ns=at_impulse,
        achilles_impulse_bws=at_impulse / w,
    )
