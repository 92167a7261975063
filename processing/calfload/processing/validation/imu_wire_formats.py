"""Do the Movesense and Polar wire formats carry a real foot IMU signal intact?

A real foot-mounted IMU recording (gaitmap example data, walking, 204.8 Hz; see
``../shared/data/README.md`` §3) is pushed through each family's encoder and the
bridge's decoder, packet by packet, exactly as the virtual twins send it. Reported:
the largest round-trip error (float32 for Movesense, 16-bit counts for Polar) and
the share of samples beyond each device's measuring range, which the real sensor
would clip (the codecs themselves do not clip within the int16 / float32 span).
"""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt

from calfload.bridge.devices import movesense as ms
from calfload.bridge.devices import polar_pmd as pmd
from calfload.processing.validation import Section

ORDER: Final = 80
G0: Final = 9.80665
FloatArray = npt.NDArray[np.float64]
#: Targets: the round trip may only lose what the wire format's resolution loses.
MOVESENSE_MAX_REL_ERROR: Final = 1e-6  # float32
VERITY_ACC_COUNT_MPS2: Final = 16 * G0 / 32768  # ±16 g in 16 bit
VERITY_GYR_COUNT_DPS: Final = 2000 / 32768


def load_foot_imu(data_dir: Path) -> dict[str, tuple[FloatArray, FloatArray]]:
    """{side: (acc m/s² (n, 3), gyro deg/s (n, 3))} of the gaitmap example."""
    path = data_dir / "gaitmap_walking_foot_imu" / "imu_sample.csv.gz"
    with gzip.open(path, "rt") as fh:
        sensors = fh.readline().strip().split(",")[1:]
        axes = fh.readline().strip().split(",")[1:]
        values = np.loadtxt(fh, delimiter=",")[:, 1:]
    out = {}
    for side in ("left", "right"):
        cols = {
            a: i for i, (s, a) in enumerate(zip(sensors, axes, strict=True)) if s.startswith(side)
        }
        acc = values[:, [cols["acc_x"], cols["acc_y"], cols["acc_z"]]]
        gyr = values[:, [cols["gyr_x"], cols["gyr_y"], cols["gyr_z"]]]
        out[side] = (acc, gyr)
    return out


def movesense_round_trip(acc: FloatArray, gyr: FloatArray) -> tuple[FloatArray, FloatArray]:
    decoder = ms.MovesenseDecoder(208)
    blocks = []
    for k in range(0, len(acc) - 7, 8):
        for part in ms.encode_imu6(
            reference=ms.REFERENCE,
            timestamp_ms=round(k * 1000 / 208),
            acc_mps2=acc[k : k + 8],
            gyr_dps=gyr[k : k + 8],
        ):
            blocks += decoder.feed(part)
    acc_out = np.concatenate([b.acc_mps2 for b in blocks if b.acc_mps2 is not None])
    gyr_out = np.concatenate([b.gyr_dps for b in blocks if b.gyr_dps is not None])
    return acc_out, gyr_out


def verity_round_trip(acc: FloatArray, gyr: FloatArray) -> tuple[FloatArray, FloatArray]:
    acc_factor, gyr_factor = 16000 / 32768, 2000 / 32768
    decoder = pmd.PolarDecoder(208.0, acc_factor, gyr_factor, pair=True)
    blocks = []
    for k in range(0, len(acc) - 17, 18):
        ts = round((k + 17) * 1e9 / 208) + 10**18
        blocks += decoder.feed(
            pmd.encode_delta(pmd.ACC, ts, acc[k : k + 18] / G0 * 1000 / acc_factor)
        )
        blocks += decoder.feed(pmd.encode_delta(pmd.GYRO, ts, gyr[k : k + 18] / gyr_factor))
    acc_out = np.concatenate([b.acc_mps2 for b in blocks if b.acc_mps2 is not None])
    gyr_out = np.concatenate([b.gyr_dps for b in blocks if b.gyr_dps is not None])
    return acc_out, gyr_out


def beyond(values: FloatArray, limit: float) -> float:
    """Percentage of samples with any axis beyond ±limit."""
    return float(100.0 * np.mean(np.abs(values).max(axis=1) > limit))


def run(data_dir: Path) -> Section:
    metrics: dict[str, float] = {}
    rows = []
    passed = True
    for side, (acc, gyr) in load_foot_imu(data_dir).items():
        m_acc, m_gyr = movesense_round_trip(acc, gyr)
        n = len(m_acc)
        m_err = max(
            float(np.max(np.abs(m_acc - acc[:n]) / np.maximum(np.abs(acc[:n]), 1e-3))),
            float(np.max(np.abs(m_gyr - gyr[:n]) / np.maximum(np.abs(gyr[:n]), 1e-3))),
        )
        v_acc, v_gyr = verity_round_trip(acc, gyr)
        k = len(v_acc)
        in_range = np.abs(acc[:k]).max(axis=1) < 16 * G0
        v_acc_err = float(np.max(np.abs(v_acc - acc[:k])[in_range]))
        v_gyr_err = float(np.max(np.abs(v_gyr - gyr[:k])))
        h10_out = beyond(acc, 8 * G0)
        verity_out = beyond(acc, 16 * G0)
        metrics |= {
            f"{side}_movesense_max_rel_error": m_err,
            f"{side}_verity_acc_max_error_mps2": v_acc_err,
            f"{side}_verity_gyr_max_error_dps": v_gyr_err,
            f"{side}_beyond_8g_pct": h10_out,
            f"{side}_beyond_16g_pct": verity_out,
        }
        ok = (
            m_err <= MOVESENSE_MAX_REL_ERROR
            and v_acc_err <= VERITY_ACC_COUNT_MPS2 / 2 + 1e-9
            and v_gyr_err <= VERITY_GYR_COUNT_DPS / 2 + 1e-9
            and n >= len(acc) - 8
            and k >= len(acc) - 18
        )
        passed &= ok
        rows.append(
            f"| {side} | {len(acc)} | {m_err:.1e} | {v_acc_err * 1000:.2f} / {v_gyr_err:.3f} | "
            f"{h10_out:.2f} % | {verity_out:.2f} % | {'pass' if ok else 'FAIL'} |"
        )
    intro = " ".join(
        [
            "Real foot IMU (gaitmap example, walking, 204.8 Hz) through each family's encoder",
            "and the bridge's decoder in the packet sizes the twins use. Targets: Movesense",
            f"float32 loses at most {MOVESENSE_MAX_REL_ERROR:g} relative; Polar Verity Sense",
            "(±16 g, ±2000 °/s, 16-bit delta frames) at most half a count (2.4 mm/s², 0.031 °/s)",
            "wherever the signal is inside the range. The last two columns are what the real",
            "sensors would clip: the H10 measures ±8 g at most, the Verity Sense ±16 g. Brief",
            "foot-impact peaks exceed both even in this walking recording; running impacts are",
            "larger, so expect clipped peaks from a foot-mounted Polar sensor.",
        ]
    )
    markdown = "\n".join(
        [
            intro,
            "",
            "| foot | samples | Movesense max rel. error | Verity max error acc mm/s² / gyro °/s "
            "| beyond ±8 g (H10) | beyond ±16 g (Verity) | result |",
            "|---|---|---|---|---|---|---|",
            *rows,
        ]
    )
    return Section(
        "IMU wire formats (Movesense, Polar) on a real foot IMU", markdown, metrics, passed
    )
