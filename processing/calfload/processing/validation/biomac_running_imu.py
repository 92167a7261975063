"""Foot and shank rules on a running mean cycle: a plausibility check, not a timing validation.

Data: ``biomac_running_mean_cycles/P01_normrunning_mean_cycle.csv`` (Dorschky E et al. 2019,
*J Biomech* 95:109278, via BioMAC-Sim-Toolbox, Apache-2.0; data README §2): the mean of
participant P01's strides at 3.47 m/s, 100 samples over 0.7335 s (≈ 136 Hz), 2-D sagittal
IMU signals of the right foot and tibia and the right vertical GRF. The cycle is repeated 20
times and run through the streaming detector; truth = GRF above 0.05 BW (interpolated).

Caveats, stated where the numbers are: a mean cycle smears peaks (toe-off features most),
it is one runner, and the shank rule's toe-off trough was chosen while looking at this very
cycle. The only running check of the IMU rules on real data in ``../shared/data``; per-step
running accuracy is unknown until a running IMU recording with force truth is added.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from calfload.processing.imu_events import ImuParams, ImuPlacement, detect_imu_contacts
from calfload.processing.validation import Section

ORDER = 23
FILE = "biomac_running_mean_cycles/P01_normrunning_mean_cycle.csv"
CYCLE_S = 0.7335
REPEATS = 20
THRESHOLD_BW = 0.05


def evaluate(
    data_dir: Path, placements: dict[str, ImuPlacement] | None = None
) -> dict[str, tuple[float, float, float, float]]:
    """Per segment: (IC error ms, TO error ms, GCT ms detected, GCT ms from GRF)."""
    with open(data_dir / FILE, encoding="utf-8") as f:
        rows = list(csv.reader(f))
    names = rows[0]
    table = np.array([[float(v) for v in r] for r in rows[1:]])

    def col(name: str) -> np.ndarray:
        return table[:, names.index(name)]

    n = table.shape[0]
    fs = n / CYCLE_S
    grf = col("GRF:GRF_y_r[BW]_mean")
    up = int(np.flatnonzero((grf[:-1] <= THRESHOLD_BW) & (grf[1:] > THRESHOLD_BW))[0])
    dn = int(np.flatnonzero((grf[:-1] > THRESHOLD_BW) & (grf[1:] <= THRESHOLD_BW))[0])
    on_s = (up + (THRESHOLD_BW - grf[up]) / (grf[up + 1] - grf[up])) / fs
    off_s = (dn + (grf[dn] - THRESHOLD_BW) / (grf[dn] - grf[dn + 1])) / fs
    out = {}
    placements = placements or {"foot_r": "foot_top", "tibia_r": "shank"}
    for seg, placement in placements.items():
        # 2-D frame: z is out of the sagittal plane with the swing positive → sign −1.
        g = -np.degrees(np.tile(col(f"gyro:{seg}_z[rad/s]_mean"), REPEATS))
        gyr = np.column_stack((np.zeros_like(g), g, np.zeros_like(g)))
        acc = np.column_stack(
            (
                np.tile(col(f"acc:{seg}_x[m/s^2]_mean"), REPEATS),
                np.tile(col(f"acc:{seg}_y[m/s^2]_mean"), REPEATS),
                np.zeros_like(g),
            )
        )
        found = detect_imu_contacts(acc, gyr, fs_hz=fs, params=ImuParams(placement=placement))
        inner = found[1:-1]
        ic = np.array([(c.ic_s % CYCLE_S) - on_s for c in inner]) * 1000.0
        to = np.array([(c.to_s % CYCLE_S) - off_s for c in inner]) * 1000.0
        gct = float(np.mean([c.gct_ms for c in inner]))
        out[seg] = (float(ic.mean()), float(to.mean()), gct, (off_s - on_s) * 1000.0)
    return out


def run(data_dir: Path) -> Section:
    res = evaluate(data_dir)
    rows = ["| segment (rule) | IC − GRF (ms) | TO − GRF (ms) | GCT detected / GRF (ms) |"]
    rows.append("|---|---|---|---|")
    metrics: dict[str, float] = {}
    for seg, label in (("foot_r", "foot (`foot_top`)"), ("tibia_r", "tibia (`shank`)")):
        ic, to, gct, ref = res[seg]
        rows.append(f"| {label} | {ic:+.1f} | {to:+.1f} | {gct:.1f} / {ref:.1f} |")
        metrics[f"{seg}_ic_ms"] = round(ic, 1)
        metrics[f"{seg}_to_ms"] = round(to, 1)
    md = f"""
**Plausibility only.** Dorschky 2019 P01 running mean cycle (3.47 m/s), repeated {REPEATS}×
at ≈ 136 Hz; truth = right vertical GRF above {THRESHOLD_BW} BW. A mean cycle is not a set of
steps (peaks are smeared, toe-off features most), and the shank toe-off rule (the trough before
the early-swing hump) was chosen while looking at this cycle.

{chr(10).join(rows)}

Per-step shank timing in running is far looser than this suggests: Kiernan et al. 2023 report
95 % limits of agreement of about ±115 ms (IC) and ±147 ms (TC) for the best shank methods.
"""
    return Section(
        "Foot and shank rules on a running mean cycle (Dorschky P01; plausibility, no target)",
        md,
        metrics,
    )
