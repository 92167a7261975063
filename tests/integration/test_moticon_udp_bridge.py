"""Moticon OpenGo live UDP → bridge → real mosquitto → subscriber: nothing lost, nothing invented.

A virtual OpenGo Software replays samples as UDP datagrams (the real walking export
from ``shared/data`` when present, a simulation with known values always), with
datagrams dropped on purpose and garbage in between.
"""

from __future__ import annotations

import asyncio
import itertools
import math
from pathlib import Path

import pytest
from tests.helpers import Collector, wait_until

from calfload.bridge.bridge import Bridge
from calfload.bridge.devices.moticon_udp import MoticonSample
from calfload.bridge.moticon_source import MoticonUdpSource, MoticonUdpSpec
from calfload.bridge.mqtt import BrokerUrl
from calfload.bridge.virtual import moticon_udp_sender

SENSORS = {"left": "moticon-L", "right": "moticon-R"}
DT_S = 0.01


def _expected(samples: list[MoticonSample], dropped: frozenset[int], side: str):
    """Forces the subscriber must see, and the samples missing between them, from the data."""
    got = [
        (s.t_s, s.feet[side].total_force_n)
        for k, s in enumerate(samples)
        if k not in dropped and s.feet[side].total_force_n is not None
    ]
    lost = sum(round((b[0] - a[0]) / DT_S) - 1 for a, b in itertools.pairwise(got))
    return [round(f, 2) for _, f in got], lost  # type: ignore[arg-type]


async def _run(mosquitto, samples: list[MoticonSample], dropped: frozenset[int]) -> None:
    broker = BrokerUrl.parse(mosquitto.url)
    collector = Collector("127.0.0.1", mosquitto.port, ["calfload/raw/#", "calfload/sensor/#"])
    await asyncio.to_thread(collector.start)
    source = MoticonUdpSource(MoticonUdpSpec("runner1", SENSORS, port=0))
    bridge = Bridge(broker, [], [], sources=[source])
    stop = asyncio.Event()
    task = asyncio.create_task(bridge.run(stop))
    try:
        await asyncio.wait_for(bridge.broker_connected.wait(), 20)
        await asyncio.wait_for(source.bound.wait(), 10)
        assert source.port is not None
        report = await moticon_udp_sender.send(
            samples, "127.0.0.1", source.port, drop=dropped, garbage_every=97, pace_s=0.0005
        )
        assert report.dropped == len(dropped) and report.garbage > 0
        await asyncio.to_thread(
            wait_until,
            lambda: source.datagrams_received == report.sent + report.garbage,
            20,
            "every datagram to reach the source",
        )
    finally:
        stop.set()
        await task  # flushes the pending batches and publishes them
    await asyncio.to_thread(
        wait_until,
        lambda: len(collector.payloads("calfload/raw/")) == bridge.batches_published,
        20,
        "every raw batch to reach the subscriber",
    )
    collector.stop()

    raws = collector.payloads("calfload/raw/")
    for side, sensor_id in SENSORS.items():
        batches = sorted((r for r in raws if r["sensor_id"] == sensor_id), key=lambda r: r["seq"])
        assert [b["seq"] for b in batches] == list(range(len(batches)))
        assert all(b["family"] == "moticon-udp" and b["side"] == side for b in batches)
        forces, lost = _expected(samples, dropped, side)
        assert [f for b in batches for f in b["force_n"]] == forces
        assert sum(b["gap_samples"] for b in batches) == lost
        assert all(b["fs_hz"] == 100.0 for b in batches)
        assert all(math.isfinite(x) for b in batches for row in b["acc_mps2"] for x in row)
        stats = source.stats[side]  # type: ignore[index]
        assert stats.bad_by_reason.get("length", 0) + stats.bad_by_reason.get("field", 0) == (
            report.garbage
        )
    qualities = collector.payloads("calfload/sensor/")
    assert {q["sensor_id"] for q in qualities} == set(SENSORS.values())


@pytest.mark.broker
async def test_simulated_stream_arrives_once_with_gaps_counted(mosquitto) -> None:
    samples = moticon_udp_sender.simulated_samples(600)
    await _run(mosquitto, samples, frozenset({5, 6, 7, 250, 599}))


@pytest.mark.broker
async def test_real_walking_export_replayed_over_udp(mosquitto, shared_data: Path) -> None:
    path = shared_data / "moticon_opengo_walking" / "230927_102114.txt.gz"
    samples = moticon_udp_sender.samples_from_text_export(path)
    assert len(samples) > 1500
    await _run(mosquitto, samples, frozenset({100, 101, 900}))
