"""Bridge CPU for arrival-stamped sensors: decoding alone and the link's whole per-notification
path (decode + time stamping + RawBatch), for a WitMotion IMU at 100 Hz (one 20-byte frame per
notification, the default-MTU case) and an RSC footpod at 1 Hz, on one simulated hour each.

Run: .venv/bin/python benchmarks/bench_witmotion_rsc.py
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
from bleak.backends.device import BLEDevice

from calfload.bridge.devices import rsc, witmotion
from calfload.bridge.link import SensorLink, SensorSpec
from calfload.bridge.simulator import AthleteProfile, GaitSimulator

SECONDS = 3600
WIT_HZ = 100


def per_call_us(
    feed: Callable[[float, bytes], object], payloads: list[bytes], rate_hz: float
) -> float:
    t0 = time.perf_counter()
    for k, payload in enumerate(payloads):
        feed(k / rate_hz, payload)
    return (time.perf_counter() - t0) / len(payloads) * 1e6


def link(family: str, rate_hz: int) -> SensorLink:
    spec = SensorSpec(
        sensor_id="bench",
        athlete="a1",
        side="left",
        placement="foot_top",
        family=family,
        device=BLEDevice("00:00:00:00:00:00", "bench", None),
        rate_hz=rate_hz,
    )
    return SensorLink(spec, lambda _b: None, lambda *_: None)


def main() -> None:
    sim = GaitSimulator(AthleteProfile("bench", "Bench", seed=7))
    t = np.arange(SECONDS * WIT_HZ) / WIT_HZ
    acc = np.empty((t.size, 3))
    gyr = np.empty((t.size, 3))
    for k in range(0, t.size, 100_000):
        _, acc[k : k + 100_000], gyr[k : k + 100_000] = sim.insole("left", t[k : k + 100_000])
    stream = witmotion.encode_frames(acc, gyr)
    wit = [stream[i : i + 20] for i in range(0, len(stream), 20)]
    pod = [
        rsc.encode_measurement(speed_mps=3.3, cadence_spm=170, stride_m=2.33, total_distance_m=d)
        for d in np.arange(SECONDS) * 3.3
    ]
    wit_decoder = witmotion.WitMotionDecoder(WIT_HZ)
    rsc_decoder = rsc.RscDecoder(1)
    rows = [
        (
            "WitMotion, decoder only",
            per_call_us(lambda _t, p: wit_decoder.feed(p), wit, WIT_HZ),
            WIT_HZ,
        ),
        (
            "WitMotion, link path",
            per_call_us(link("witmotion", WIT_HZ).process, wit, WIT_HZ),
            WIT_HZ,
        ),
        ("RSC, decoder only", per_call_us(lambda _t, p: rsc_decoder.feed(p), pod, 1), 1),
        ("RSC, link path", per_call_us(link("rsc", 1).process, pod, 1), 1),
    ]
    print(f"{'path':28} {'µs/notification':>16} {'% of one core':>14}")
    for name, us, per_s in rows:
        print(f"{name:28} {us:16.1f} {us * per_s / 1e4:14.3f}")


if __name__ == "__main__":
    main()
