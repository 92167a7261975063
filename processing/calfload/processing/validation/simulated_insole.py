"""Insole steps on simulated runs with known truth, standing before and after each run.

Simulator: :class:`calfload.bridge.simulator.GaitSimulator` (half-sine vertical force after
Morin JB et al. 2005, "A simple method for measuring stiffness during running", *J Appl
Biomech* 21(2):167, with an impact transient for rear-foot strikers). Truth: the simulator's
contact start and end (force exactly zero outside contact). Each recording stands 3 s on both
feet (half the body weight each), runs, and stands again for 3 s; the runs go through the
calfload recording writer and reader and ``calfload analyze``'s pipeline (a round trip).
"""

from __future__ import annotations

import itertools
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from calfload.bridge.messages import Side
from calfload.bridge.simulator import AthleteProfile, GaitSimulator, TrueStep
from calfload.processing.analyze import analyze
from calfload.processing.io.calfload_csv import read_recording, write_recording
from calfload.processing.io.recording import Recording, SideSignals
from calfload.processing.messages import StepMessage
from calfload.processing.validation import Section

ORDER = 22
FS_HZ = 100.0
STAND_S = 3.0
RUN_S = 30.0
F64 = npt.NDArray[np.float64]

#: (label, speed m/s, cadence spm, GCT ms, peak BW)
SPEEDS = (
    ("jog 2.5 m/s", 2.5, 160.0, 290.0, 2.2),
    ("run 3.3 m/s", 3.3, 170.0, 240.0, 2.5),
    ("run 4.5 m/s", 4.5, 180.0, 195.0, 2.7),
    ("fast 6.0 m/s", 6.0, 192.0, 150.0, 2.9),
)
STRIKES = (True, False)  # rear-foot, fore-foot
ASYMMETRY_PCT = (0.0, 8.0)
NOISE_BW = (0.0, 0.01, 0.02)


def simulated_recording(
    profile: AthleteProfile, noise_bw: float, seed: int = 0, run_s: float = RUN_S
) -> tuple[Recording, list[TrueStep]]:
    """Standing, running, standing; returns the recording and the true steps of the run."""
    start = STAND_S + 0.5
    sim = GaitSimulator(profile, start_s=start)
    end_run = start + run_s
    total = end_run + 0.5 + STAND_S
    t = np.arange(0.0, total, 1.0 / FS_HZ)
    rng = np.random.default_rng(seed)
    sides: dict[Side, SideSignals] = {}
    truth = []
    both: tuple[Side, Side] = ("left", "right")
    for side in both:
        cells, acc, gyr = sim.insole(side, t)
        mine = [s for s in sim.true_steps(side) if s.ic_s < end_run]
        last_to = max(s.to_s for s in mine)
        truth += mine
        keep = (t < start) | (t <= last_to + 0.05)
        cells = np.where(keep[:, None], cells, 0.0)
        stand = (t < STAND_S) | (t >= end_run + 0.5)
        cells[stand] = sim.weight_n / 2 / cells.shape[1]
        cells = cells + rng.normal(
            0.0, noise_bw * sim.weight_n / np.sqrt(cells.shape[1]), cells.shape
        )
        sides[side] = SideSignals(
            force_n=cells.sum(axis=1), cell_force_n=cells, acc_mps2=acc, gyr_dps=gyr
        )
    meta = {
        "athlete": profile.athlete,
        "body_mass_kg": f"{profile.body_mass_kg:g}",
        "placement": "insole",
        "axis_frame": "x heel->toe, y left, z up (hardware.md)",
    }
    return Recording(t, FS_HZ, sides, meta), sorted(truth, key=lambda s: s.ic_s)


def round_trip(rec: Recording) -> Recording:
    """Write ``rec`` in the calfload format to a temporary file and read it back."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "run.csv"
        write_recording(path, rec)
        return read_recording(path)


@dataclass(frozen=True)
class SimResult:
    label: str
    truth: int
    found: int
    extra: int
    ic_err_ms: F64
    to_err_ms: F64


def match(steps: list[StepMessage], truth: list[TrueStep]) -> tuple[F64, F64, int, int]:
    ic_e, to_e, used = [], [], set()
    for s in truth:
        hits = [
            k
            for k, m in enumerate(steps)
            if m.side == s.side and m.ic_s < s.to_s and m.to_s > s.ic_s
        ]
        if len(hits) == 1:
            used.add(hits[0])
            ic_e.append((steps[hits[0]].ic_s - s.ic_s) * 1000.0)
            to_e.append((steps[hits[0]].to_s - s.to_s) * 1000.0)
    return np.array(ic_e), np.array(to_e), len(ic_e), len(steps) - len(used)


def run_case(
    label: str, profile: AthleteProfile, noise_bw: float, seed: int, *, via_file: bool = True
) -> SimResult:
    rec, truth = simulated_recording(profile, noise_bw, seed)
    if via_file:
        rec = round_trip(rec)
    steps = analyze(rec).steps
    ic, to, found, extra = match(steps, truth)
    return SimResult(label, len(truth), found, extra, ic, to)


def cases() -> list[tuple[str, AthleteProfile, float, int]]:
    out = []
    for k, ((name, v, cad, gct, peak), rear, asym, noise) in enumerate(
        itertools.product(SPEEDS, STRIKES, ASYMMETRY_PCT, NOISE_BW)
    ):
        prof = AthleteProfile(
            "sim",
            "Sim",
            body_mass_kg=70.0,
            speed_mps=v,
            cadence_spm=cad,
            gct_ms=gct,
            peak_force_bw=peak,
            rearfoot=rear,
            asymmetry_pct=asym,
            seed=k,
        )
        label = f"{name}, {'RFS' if rear else 'FFS'}, asym {asym:g} %, noise {noise * 100:g} % BW"
        out.append((label, prof, noise, 1000 + k))
    return out


def run(data_dir: Path) -> Section:
    del data_dir  # simulated
    results = [run_case(*c) for c in cases()]
    period_ms = 1000.0 / FS_HZ
    exact = all(r.found == r.truth and r.extra == 0 for r in results)
    worst = max(max(np.abs(r.ic_err_ms).max(), np.abs(r.to_err_ms).max()) for r in results)
    passed = exact and worst < period_ms
    ic = np.concatenate([r.ic_err_ms for r in results])
    to = np.concatenate([r.to_err_ms for r in results])
    gct = to - ic
    lines = [
        __doc__.split("\n\n")[0].replace("\n", " "),
        "",
        f"{len(results)} recordings (4 speeds × rear/fore-foot strike × 0/8 % asymmetry × "
        f"0/1/2 % BW noise), {RUN_S:g} s running each at {FS_HZ:g} Hz between {STAND_S:g} s of "
        "standing; through the CSV writer/reader and the analyze pipeline.",
        "",
        f"All: {sum(r.truth for r in results)} true steps, found "
        f"{sum(r.found for r in results)}, extra {sum(r.extra for r in results)} (standing "
        f"never counted); IC error {ic.mean():+.2f} / {ic.std():.2f} ms, TO "
        f"{to.mean():+.2f} / {to.std():.2f} ms, GCT {gct.mean():+.2f} / {gct.std():.2f} ms "
        f"(mean / SD); largest |event error| {worst:.2f} ms (target < one sample, "
        f"{period_ms:g} ms) → **{'meets' if passed else 'misses'}**.",
        "",
        "| case | true steps | found | extra | IC mean / max abs | TO mean / max abs |",
        "|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r.label} | {r.truth} | {r.found} | {r.extra} | {r.ic_err_ms.mean():+.2f} / "
            f"{np.abs(r.ic_err_ms).max():.2f} | {r.to_err_ms.mean():+.2f} / "
            f"{np.abs(r.to_err_ms).max():.2f} |"
        )
    return Section(
        "Insole steps on simulated runs with known truth",
        "\n".join(lines),
        {
            "steps": float(sum(r.truth for r in results)),
            "missed": float(sum(r.truth - r.found for r in results)),
            "extra": float(sum(r.extra for r in results)),
            "worst_event_error_ms": float(worst),
            "gct_bias_ms": float(gct.mean()),
            "gct_sd_ms": float(gct.std()),
        },
        passed,
    )
