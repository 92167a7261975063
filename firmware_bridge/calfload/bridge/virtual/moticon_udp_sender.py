"""A virtual OpenGo Software: sends Moticon live-UDP datagrams for tests and demos.

Samples come from a Moticon text export (``samples_from_text_export``, e.g. the
walking recording in ``shared/data/moticon_opengo_walking``) or from a simple
simulation with known values (``simulated_samples``). Faults: dropped datagrams
and garbage datagrams, so tests can prove they are counted and never invented.
"""

from __future__ import annotations

import asyncio
import gzip
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from calfload.bridge.devices import moticon_udp
from calfload.bridge.devices.moticon_udp import (
    FULL_LAYOUT,
    Layout,
    MoticonFoot,
    MoticonSample,
    Side,
)

SIDES: tuple[Side, Side] = ("left", "right")


def _foot(values: dict[str, float], side: str) -> MoticonFoot:
    def group(names: Sequence[str]) -> np.ndarray | None:
        arr = np.array([values.get(f"{side} {n}", math.nan) for n in names])
        return arr if np.all(np.isfinite(arr)) else None

    acc = group(["acceleration X[g]", "acceleration Y[g]", "acceleration Z[g]"])
    total = values.get(f"{side} total force[N]", math.nan)
    return MoticonFoot(
        acc_mps2=None if acc is None else acc * moticon_udp.G0_MPS2,
        gyr_dps=group(["angular X[dps]", "angular Y[dps]", "angular Z[dps]"]),
        cop=group(["center of pressure X[-0.5...+0.5]", "center of pressure Y[-0.5...+0.5]"]),
        pressure_ncm2=group([f"pressure {i}[N/cm²]" for i in range(1, 17)]),
        total_force_n=total if math.isfinite(total) else None,
    )


def samples_from_text_export(path: Path) -> list[MoticonSample]:
    """Read a Moticon OpenGo text export (``.txt`` or ``.txt.gz``; ``sensors.md`` §7.2)."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as f:
        lines = f.read().splitlines()
    names = [ln for ln in lines if ln.startswith("#")][-1][2:].split("\t")
    out = []
    for ln in lines:
        if ln.startswith("#") or not ln.strip():
            continue
        fields = ln.split("\t")
        values = {
            n: float(v) if v.strip() else math.nan for n, v in zip(names, fields, strict=False)
        }
        out.append(MoticonSample(values["time"], {s: _foot(values, s) for s in SIDES}))
    return out


def simulated_samples(n: int, fs_hz: float = 100.0, t0_s: float = 0.0) -> list[MoticonSample]:
    """Alternating stance of both feet with distinct, known values per sample."""
    out = []
    for k in range(n):
        t = t0_s + k / fs_hz
        feet: dict[Side, MoticonFoot] = {}
        for j, side in enumerate(SIDES):
            force = max(0.0, 800.0 * math.sin(2 * math.pi * 0.8 * t + j * math.pi))
            feet[side] = MoticonFoot(
                acc_mps2=np.array([0.1 * k, -0.2 * j, 9.8]),
                gyr_dps=np.array([1.0 * k, 2.0, -3.0 * j]),
                cop=np.array([0.1, -0.1]),
                pressure_ncm2=np.full(16, force / 160.0),
                total_force_n=round(force, 2),
            )
        out.append(MoticonSample(round(t, 6), feet))
    return out


@dataclass
class SendReport:
    sent: int = 0
    dropped: int = 0
    garbage: int = 0


async def send(
    samples: Iterable[MoticonSample],
    host: str,
    port: int,
    *,
    layout: Layout = FULL_LAYOUT,
    drop: frozenset[int] = frozenset(),
    garbage_every: int = 0,
    pace_s: float = 0.001,
) -> SendReport:
    """Send one datagram per sample to ``host:port`` like OpenGo Software.

    ``drop`` holds sample indices that are never sent (a lossy network);
    ``garbage_every`` > 0 sends a malformed datagram after every that many samples.
    ``pace_s`` spaces the datagrams (time-compressed replay).
    """
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(
        asyncio.DatagramProtocol, remote_addr=(host, port)
    )
    report = SendReport()
    try:
        for k, sample in enumerate(samples):
            if k in drop:
                report.dropped += 1
            else:
                transport.sendto(moticon_udp.encode(sample, layout))
                report.sent += 1
            if garbage_every and (k + 1) % garbage_every == 0:
                transport.sendto(b"\xff garbage " + str(k).encode())
                report.garbage += 1
            await asyncio.sleep(pace_s)
    finally:
        transport.close()
    return report
