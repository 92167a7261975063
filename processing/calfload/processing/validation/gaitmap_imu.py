"""Foot-IMU contact events against motion capture on the gaitmap walking recording.

Data: ``gaitmap_walking_foot_imu`` (MaD Lab gaitmap example data, MIT; see the data
README §3): two foot IMUs at 204.8 Hz in gaitmap's sensor frame, whose y axis is
calfload's medio-lateral axis with the same sign (toes-down positive) on both feet, and
mocap-derived events as IMU sample indices. A contact is ``pre_ic`` → ``tc`` of one stride
(strides run mid-stance → mid-stance, so a stride's own ``ic`` opens the next contact);
sample *i* is at *i* / 204.8 s. Left ``s_id`` 13 (2.28 s, the turn) is excluded, as the
data README advises. No offset is fitted to this recording: the detector runs with its defaults.

Issue 4 target: IC and TO bias within ±10 ms, SD under 8 ms, stance bias under 10 ms.
"""

from __future__ import annotations

import csv
import gzip
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from calfload.processing.imu_events import ImuFrame, ImuParams, detect_imu_contacts
from calfload.processing.validation import Section

ORDER = 20
FOLDER = "gaitmap_walking_foot_imu"
FS_HZ = 204.8
EXCLUDED = {("left", 13)}
MATCH_S = 0.15
TARGET_BIAS_MS = 10.0
TARGET_SD_MS = 8.0
TARGET_STANCE_BIAS_MS = 10.0


@dataclass(frozen=True)
class FootResult:
    side: str
    truth: int
    matched: int
    missed: int
    extra: int
    ic_err_ms: npt.NDArray[np.float64]
    to_err_ms: npt.NDArray[np.float64]

    @property
    def stance_err_ms(self) -> npt.NDArray[np.float64]:
        return self.to_err_ms - self.ic_err_ms


def load_imu(folder: Path) -> dict[str, tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]]:
    """(acc m/s² n×3, gyr deg/s n×3) per side, in the file's sensor frame."""
    with gzip.open(folder / "imu_sample.csv.gz", "rt", encoding="utf-8") as f:
        reader = csv.reader(f)
        sensors = next(reader)[1:]
        axes = next(reader)[1:]
        values = np.array([[float(v) for v in row[1:]] for row in reader])
    column = {(s, a): i for i, (s, a) in enumerate(zip(sensors, axes, strict=True))}
    out = {}
    for side in ("left", "right"):
        s = f"{side}_sensor"
        acc = values[:, [column[(s, f"acc_{k}")] for k in "xyz"]]
        gyr = values[:, [column[(s, f"gyr_{k}")] for k in "xyz"]]
        out[side] = (acc, gyr)
    return out


def load_truth(folder: Path) -> dict[str, list[tuple[float, float, float, float]]]:
    """Per side: (ic_s, to_s, stride_start_s, stride_end_s) of every included stride."""
    out: dict[str, list[tuple[float, float, float, float]]] = {"left": [], "right": []}
    with open(folder / "stride_events_sample.csv", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            side = row["foot"]
            if (side, int(row["s_id"])) in EXCLUDED:
                continue
            ic, tc = float(row["pre_ic"]) / FS_HZ, float(row["tc"]) / FS_HZ
            start, end = float(row["start"]) / FS_HZ, float(row["end"]) / FS_HZ
            out[side].append((ic, tc, start, end))
    return out


def evaluate(data_dir: Path, params: ImuParams | None = None) -> list[FootResult]:
    folder = data_dir / FOLDER
    imu = load_imu(folder)
    truth = load_truth(folder)
    results = []
    params = params or ImuParams(frame=ImuFrame(ml_axis=1, ml_sign=1))
    for side in ("left", "right"):
        acc, gyr = imu[side]
        found = detect_imu_contacts(acc, gyr, fs_hz=FS_HZ, params=params)
        used: set[int] = set()
        ic_err, to_err = [], []
        for ic, tc, _, _ in truth[side]:
            best = min(
                (k for k in range(len(found)) if k not in used),
                key=lambda k: abs(found[k].ic_s - ic),
                default=None,
            )
            if best is None or abs(found[best].ic_s - ic) > MATCH_S:
                continue
            used.add(best)
            ic_err.append((found[best].ic_s - ic) * 1000.0)
            to_err.append((found[best].to_s - tc) * 1000.0)
        # Extra: unmatched detections inside an included stride's contact window
        # (pre_ic − 0.15 s … tc + 0.15 s); steps in the excluded turn are not counted.
        extra = sum(
            1
            for k, c in enumerate(found)
            if k not in used
            and any(ic - MATCH_S <= c.ic_s <= tc + MATCH_S for ic, tc, _, _ in truth[side])
        )
        n = len(truth[side])
        results.append(
            FootResult(
                side, n, len(ic_err), n - len(ic_err), extra, np.array(ic_err), np.array(to_err)
            )
        )
    return results


def _stats(x: npt.NDArray[np.float64]) -> tuple[float, float]:
    return float(x.mean()), float(x.std(ddof=1))


def run(data_dir: Path) -> Section:
    results = evaluate(data_dir)
    rows = [
        "| foot | contacts | missed | extra | IC bias ± SD (ms) | TO bias ± SD (ms) "
        "| stance bias ± SD (ms) |",
        "|---|---|---|---|---|---|---|",
    ]
    metrics: dict[str, float] = {}
    passed = True
    for r in results:
        cells = []
        for name, err in (("ic", r.ic_err_ms), ("to", r.to_err_ms), ("stance", r.stance_err_ms)):
            bias, sd = _stats(err)
            metrics[f"{r.side}_{name}_bias_ms"] = round(bias, 2)
            metrics[f"{r.side}_{name}_sd_ms"] = round(sd, 2)
            cells.append(f"{bias:+.1f} ± {sd:.1f}")
            limit = TARGET_STANCE_BIAS_MS if name == "stance" else TARGET_BIAS_MS
            passed = passed and abs(bias) <= limit and (name == "stance" or sd < TARGET_SD_MS)
        metrics[f"{r.side}_missed"] = r.missed
        metrics[f"{r.side}_extra"] = r.extra
        passed = passed and r.missed == 0 and r.extra == 0
        rows.append(
            f"| {r.side} | {r.truth} | {r.missed} | {r.extra} | " + " | ".join(cells) + " |"
        )
    # For comparison: IC at the first-half extreme itself (Falbriard's feature, also the
    # shank rule), i.e. without the zero-crossing anchor.
    peak = evaluate(data_dir, ImuParams(placement="shank"))
    peak_rows = []
    for r in peak:
        bias, sd = _stats(r.ic_err_ms)
        metrics[f"{r.side}_ic_bias_at_peak_ms"] = round(bias, 2)
        peak_rows.append(f"{r.side} {bias:+.1f} ± {sd:.1f} ms")
    md = f"""
Data: `{FOLDER}` (walking, 2 × 20 m, foot IMUs at {FS_HZ} Hz, mocap IC/TC). Detector:
`calfload.processing.imu_events` with its default settings, sensor y axis = medio-lateral
(sign +1); no offset fitted (see below). Contact = `pre_ic` → `tc` of a stride; left
`s_id` 13 (the turn) excluded; a detection matches when its IC is within {MATCH_S * 1000:.0f} ms.
Error = detected − mocap. Target (issue 4): IC and TO bias within ±{TARGET_BIAS_MS:.0f} ms,
SD < {TARGET_SD_MS:.0f} ms, stance bias < {TARGET_STANCE_BIAS_MS:.0f} ms; gaitmap's own detectors
put IC 26–48 ms late and stance ~30 ms short on this file.

{chr(10).join(rows)}

Timing IC at the foot-slap extreme of the pitch rate instead (the first-half feature of
Falbriard et al. 2018, which is also the shank rule) gives IC {"; ".join(peak_rows)} on
this file, later still than gaitmap's detectors; the zero crossing before the extreme removes
that lateness.

How independent this is: the detector's rules were shaped while looking at this recording
(the 50 dps swing threshold that finds the first step after standing, the impact limits that
ignore a mid-swing knock, the last-major-peak rule for a double-humped turning push-off); no
offset or threshold was fitted to the error numbers, but with one subject and one recording
this is development data, not a held-out test.

Toe-off comes out ≈ 1 sample (4.9 ms) early: the mocap TC lies one sample after the push-off
peak of the pitch rate. It is reported, not calibrated away (one recording, one subject).
**Walking only**: no running IMU recording with force truth is in `../shared/data`; running is
checked on simulated data (next section) and the speed correction stays at identity.

Reproduce: `.venv/bin/python scripts/validate.py`; test: `tests/processing/test_imu_events.py`.
"""
    return Section("Foot IMU events vs mocap (gaitmap walking)", md, metrics, passed)
