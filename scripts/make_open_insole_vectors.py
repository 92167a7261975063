"""Write the open insole profile v1 test vectors shared by the firmware and the bridge.

Inputs are physical values; the expected bytes come from the project's Python encoder
(``calfload.bridge.devices.open_insole.encode``). The firmware's C encoder must produce
the same bytes (``tests/firmware/test_firmware_vectors.py``). Run from the repository root::

    .venv/bin/python scripts/make_open_insole_vectors.py
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from calfload.bridge.devices import open_insole

OUT = Path("firmware_bridge/firmware/open_insole/test_vectors.json")
STEP_ACC = open_insole.ACC_MPS2_PER_COUNT
STEP_GYR = open_insole.GYR_DPS_PER_COUNT


def _case(
    name: str,
    seq: int,
    t0_us: int,
    dt_us: int,
    cells: list[list[float]],
    acc: list[list[float]] | None = None,
    gyr: list[list[float]] | None = None,
) -> dict[str, Any]:
    payload = open_insole.encode(
        seq=seq, t0_us=t0_us, dt_us=dt_us, cell_force_n=cells, acc_mps2=acc, gyr_dps=gyr
    )
    return {
        "name": name,
        "seq": seq,
        "t0_us": t0_us,
        "dt_us": dt_us,
        "cell_force_n": cells,
        "acc_mps2": acc,
        "gyr_dps": gyr,
        "hex": payload.hex(),
    }


def build() -> dict[str, Any]:
    g = open_insole.G0_MPS2
    cases = [
        _case(
            "hardware.md worked example", 258, 16, 10000, [[100.0, 0.0]], [[g, 0, -g]], [[10, 0, 0]]
        ),
        _case("forces only, one cell", 0, 0, 10000, [[12.34]]),
        _case(
            "clipping: negative and huge forces, IMU beyond ±16 g / ±2000 dps",
            65535,
            0xFFFFFFFF,
            2500,
            [[-5.0, 7000.0, 6553.5, 6553.6]],
            [[200.0, -200.0, 16 * g]],
            [[2500.0, -2500.0, 1999.0]],
        ),
        _case(
            "ties round to even (2.5 and 3.5 counts)",
            7,
            1000,
            10000,
            [[0.25, 0.35]],
            [[2.5 * STEP_ACC, 3.5 * STEP_ACC, -2.5 * STEP_ACC]],
            [[2.5 * STEP_GYR, 3.5 * STEP_GYR, -3.5 * STEP_GYR]],
        ),
    ]
    rng = np.random.default_rng(20261125)
    shapes = [
        (5, 8, True),
        (16, 16, False),
        (3, 4, True),
        (8, 8, True),
        (1, 16, True),
        (16, 1, False),
    ]
    for n_samples, n_cells, imu in shapes:
        cells = rng.uniform(-10.0, 900.0, (n_samples, n_cells)).round(4).tolist()
        acc = rng.normal(0.0, 60.0, (n_samples, 3)).tolist() if imu else None
        gyr = rng.normal(0.0, 700.0, (n_samples, 3)).tolist() if imu else None
        cases.append(
            _case(
                f"random {n_samples} samples x {n_cells} cells{' + IMU' if imu else ''}",
                int(rng.integers(0, 65536)),
                int(rng.integers(0, 2**32)),
                int(rng.choice([2000, 4000, 5000, 10000, 20000])),
                cells,
                acc,
                gyr,
            )
        )
    return {
        "profile": "calfload open insole v1 (hardware.md)",
        "generator": "scripts/make_open_insole_vectors.py (Python open_insole.encode)",
        "units": {"cell_force_n": "N", "acc_mps2": "m/s^2", "gyr_dps": "deg/s"},
        "vectors": cases,
    }


def main() -> None:
    OUT.write_text(json.dumps(build(), indent=1) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
