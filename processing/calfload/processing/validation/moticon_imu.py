"""Insole IMU vs insole force on the Moticon walking recording: the real-data check of fusion.

Data: ``moticon_opengo_walking`` (Moticon OpenGo export, Apache-2.0; data README §4):
100 Hz insoles with 3-axis acc (g) and gyro (dps) inside the insole, total force (N) and
Moticon's own heel-strike / toe-off events; walking with standing before and after. No
force plate, so this is source-vs-source agreement, not accuracy.

The insole's ``angular Y`` is its medio-lateral axis with calfload's sign (toes-down
positive) — read off this recording's swing pattern; the automatic sign detector returns no
decision here because an insole-borne IMU at 100 Hz shows no sharp impacts. Rows with a
missing value split the recording (the detectors are reset; nothing is interpolated).
"""

from __future__ import annotations

import gzip
import itertools
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from calfload.processing.events import Contact, InsoleContactDetector
from calfload.processing.fusion import ContactFusion, FusedContact
from calfload.processing.imu_events import ImuContactDetector, ImuFrame, ImuParams
from calfload.processing.validation import Section

ORDER = 22
FOLDER = "moticon_opengo_walking"
FILE = "230927_102114.txt.gz"
FS_HZ = 100.0
G0_MPS2 = 9.80665
EVENT_CODES = {"left": (11, 15), "right": (21, 25)}
MATCH_S = 0.15

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class SideResult:
    side: str
    moticon_steps: int
    imu_found: int
    imu_vs_moticon_ic_ms: FloatArray
    imu_vs_moticon_to_ms: FloatArray
    imu_vs_insole_ic_ms: FloatArray
    imu_vs_insole_to_ms: FloatArray
    fused: list[FusedContact]


def load(folder: Path) -> tuple[FloatArray, dict[str, dict[str, FloatArray]]]:
    """Time (s) and, per side, acc (m/s², n×3), gyr (dps, n×3), force (N) and step codes."""
    with gzip.open(folder / FILE, "rt", encoding="utf-8") as f:
        lines = f.read().splitlines()
    header = [ln for ln in lines if ln.startswith("#")]
    names = header[-1].lstrip("# ").split("\t")
    rows = [ln.split("\t") for ln in lines if ln and not ln.startswith("#")]
    width = len(names)
    table = np.full((len(rows), width), np.nan)
    for i, row in enumerate(rows):
        for j, v in enumerate(row[:width]):
            if v.strip():
                table[i, j] = float(v)
    col = {n.split("[")[0].strip(): j for j, n in enumerate(names)}
    out: dict[str, dict[str, FloatArray]] = {}
    for side in ("left", "right"):
        out[side] = {
            "acc": table[:, [col[f"{side} acceleration {a}"] for a in "XYZ"]] * G0_MPS2,
            "gyr": table[:, [col[f"{side} angular {a}"] for a in "XYZ"]],
            "force": table[:, col[f"{side} total force"]],
            "steps": table[:, col[f"{side} steps"]],
        }
    return table[:, col["time"]], out


def _segments(t: FloatArray, ok: npt.NDArray[np.bool_]) -> list[tuple[int, int]]:
    """Runs of usable rows with no missing value and no time gap."""
    good = ok.copy()
    cut = np.flatnonzero(np.abs(np.diff(t) - 1.0 / FS_HZ) > 0.5 / FS_HZ) + 1
    d = np.diff(good.astype(np.int8), prepend=0, append=0)
    starts: list[int] = np.flatnonzero(d == 1).tolist()
    ends: list[int] = np.flatnonzero(d == -1).tolist()
    segs: list[tuple[int, int]] = []
    for s0, e0 in zip(starts, ends, strict=True):
        inner: list[int] = [c for c in cut.tolist() if s0 < c < e0]
        bounds = [s0, *inner, e0]
        segs += [(a, b) for a, b in itertools.pairwise(bounds) if b > a]
    return segs


def _nearest(contacts: list[Contact], ic_s: float) -> Contact | None:
    best = min(contacts, key=lambda c: abs(c.ic_s - ic_s), default=None)
    return best if best is not None and abs(best.ic_s - ic_s) <= MATCH_S else None


def evaluate(data_dir: Path) -> list[SideResult]:
    t, sides = load(data_dir / FOLDER)
    results = []
    for side, d in sides.items():
        ok = np.all(np.isfinite(d["acc"]), 1) & np.all(np.isfinite(d["gyr"]), 1)
        ok &= np.isfinite(d["force"]) & np.isfinite(t)
        imu_det = ImuContactDetector(ImuParams(frame=ImuFrame(ml_axis=1, ml_sign=1)))
        insole_det = InsoleContactDetector()
        fusion = ContactFusion()
        imu: list[Contact] = []
        insole: list[Contact] = []
        fused: list[FusedContact] = []
        for a, b in _segments(t, ok):
            imu_det.reset()
            insole_det.reset()
            t0, end = float(t[a]), float(t[b - 1]) + 1.0 / FS_HZ
            new_imu = imu_det.feed(t0, FS_HZ, d["acc"][a:b], d["gyr"][a:b])
            new_insole = [
                c for c in insole_det.feed(t0, FS_HZ, d["force"][a:b]) if c.kind == "step"
            ]
            imu += new_imu
            insole += new_insole
            fused += fusion.add_imu(new_imu, end)
            fused += fusion.add_insole(new_insole, end)
        fused += fusion.add_imu([], float(t[-1]) + 10.0)  # end of file: release the rest
        hs_code, to_code = EVENT_CODES[side]
        hs = t[d["steps"] == hs_code]
        to = t[d["steps"] == to_code]
        vm_ic, vm_to, vi_ic, vi_to = [], [], [], []
        found = 0
        for h, o in zip(hs, to, strict=True):
            c = _nearest(imu, float(h))
            if c is None:
                continue
            found += 1
            vm_ic.append((c.ic_s - h) * 1000.0)
            vm_to.append((c.to_s - o) * 1000.0)
        for c in imu:
            m = _nearest(insole, c.ic_s)
            if m is not None:
                vi_ic.append((c.ic_s - m.ic_s) * 1000.0)
                vi_to.append((c.to_s - m.to_s) * 1000.0)
        results.append(
            SideResult(
                side,
                int(hs.size),
                found,
                np.array(vm_ic),
                np.array(vm_to),
                np.array(vi_ic),
                np.array(vi_to),
                fused,
            )
        )
    return results


def _fmt(x: FloatArray) -> str:
    if x.size == 0:
        return "–"
    sd = x.std(ddof=1) if x.size > 1 else 0.0
    return f"{x.mean():+.0f} ± {sd:.0f} [{x.min():+.0f}, {x.max():+.0f}]"


def run(data_dir: Path) -> Section:
    results = evaluate(data_dir)
    rows = [
        "| foot | Moticon steps | found by IMU | IMU − Moticon IC / TO (ms) "
        "| IMU − calfload insole IC / TO (ms) | fused ok / suspect / unchecked |",
        "|---|---|---|---|---|---|",
    ]
    metrics: dict[str, float] = {}
    for r in results:
        q = [f.quality for f in r.fused if f.source == "fused"]
        unchecked = sum(1 for f in r.fused if f.source == "insole")
        rows.append(
            f"| {r.side} | {r.moticon_steps} | {r.imu_found} "
            f"| {_fmt(r.imu_vs_moticon_ic_ms)} / {_fmt(r.imu_vs_moticon_to_ms)} "
            f"| {_fmt(r.imu_vs_insole_ic_ms)} / {_fmt(r.imu_vs_insole_to_ms)} "
            f"| {q.count('ok')} / {q.count('suspect')} / {unchecked} |"
        )
        metrics[f"{r.side}_imu_found"] = r.imu_found
        metrics[f"{r.side}_moticon_steps"] = r.moticon_steps
        if r.imu_vs_insole_ic_ms.size:
            metrics[f"{r.side}_imu_minus_insole_ic_ms"] = round(
                float(r.imu_vs_insole_ic_ms.mean()), 1
            )
            metrics[f"{r.side}_imu_minus_insole_to_ms"] = round(
                float(r.imu_vs_insole_to_ms.mean()), 1
            )
        metrics[f"{r.side}_suspect"] = q.count("suspect")
    md = f"""
Data: `{FOLDER}` (walking, Moticon OpenGo insoles, 100 Hz, IMU inside the insole). Source
agreement, not accuracy: Moticon's events come from its own software, calfload's insole
contacts from `calfload.processing.events` (60/40 N hysteresis) on the total force, IMU
contacts from `calfload.processing.imu_events` on the insole's own IMU (`angular Y` =
medio-lateral, sign +1). Values: mean ± SD [min, max]. Rows with a missing value split the
file (detectors reset, nothing interpolated), which loses the strides around them.

{chr(10).join(rows)}

What it shows: the IMU's initial contact **leads** both force-based ICs by 29–73 ms in this
walk (likely because the swing rotation stops before the heel load reaches a force threshold),
while IMU and calfload-insole toe-offs agree within 8 ms on the right foot and on 3 of 5 left
steps (two left toe-offs differ by 52–56 ms). Moticon's own toe-off comes 15–27 ms earlier on
average than both. A fixed IMU−insole limit of a few tens of ms would flag most walking steps;
`calfload.processing.fusion` therefore judges each step against the foot's recent median
offset (40 ms) plus an outright 120 ms limit. Suspect steps above are steps whose
difference departs from that pattern.
"""
    return Section(
        "Insole IMU vs insole force (Moticon walking; report, no target)", md, metrics, True
    )
