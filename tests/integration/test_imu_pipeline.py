"""A Movesense and a Polar Verity Sense twin → Bridge (real BleakClient) → mosquitto.

The raw batches that reach an MQTT subscriber carry the agreed rate and, sample for
sample, the simulator's foot IMU in SI units (to the contract's rounding).
"""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from tests.helpers import Collector, wait_until

from calfload.bridge.bridge import Bridge
from calfload.bridge.devices.imu_twin import FloatArray, ImuTwin, foot_imu
from calfload.bridge.devices.movesense_twin import MovesenseTwin
from calfload.bridge.devices.polar_twin import PolarTwin
from calfload.bridge.link import SensorSpec
from calfload.bridge.messages import SCHEMA, AthleteInfo
from calfload.bridge.mqtt import BrokerUrl
from calfload.bridge.simulator import AthleteProfile, GaitSimulator
from calfload.bridge.virtual.bleak_backend import BumbleBleakClient
from calfload.bridge.virtual.radio import VirtualRadio

RUN_S = 4.0


def _aligned_truth(
    sim: GaitSimulator, fs_hz: float, acc: FloatArray, gyr: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """The simulator's foot IMU on the twin's sample grid, aligned to the received
    samples (the twin starts at an arbitrary grid index when it is subscribed)."""
    grid = np.arange(int((RUN_S + 30) * fs_hz)) / fs_hz
    truth_acc, truth_gyr = foot_imu(sim, "left", grid)
    m = 200  # about one stride, so the match is unique
    windows = np.lib.stride_tricks.sliding_window_view(truth_gyr[:, 1], m)
    k0 = int(np.argmin(np.abs(windows - gyr[:m, 1]).max(axis=1)))
    return truth_acc[k0 : k0 + len(acc)], truth_gyr[k0 : k0 + len(gyr)]


@pytest.mark.broker
async def test_movesense_and_polar_raw_batches_reach_the_broker(mosquitto) -> None:  # type: ignore[no-untyped-def]
    broker = BrokerUrl.parse(mosquitto.url)
    collector = Collector("127.0.0.1", mosquitto.port, ["calfload/raw/#"])
    await asyncio.to_thread(collector.start)
    radio = VirtualRadio()
    await radio.power_on()
    sim = GaitSimulator(AthleteProfile("a1", "Ada", seed=4))
    origin = asyncio.get_running_loop().time()
    twins: dict[str, ImuTwin] = {
        "a1-left-movesense": MovesenseTwin(radio, sim, "left"),
        "a1-left-polar": PolarTwin(radio, sim, "left", model="verity"),
    }
    specs = []
    for sensor_id, twin in twins.items():
        device = await twin.start(origin)
        specs.append(
            SensorSpec(
                sensor_id=sensor_id,
                athlete="a1",
                side="left",
                placement="foot_top",
                family=sensor_id.split("-")[-1],
                device=radio.ble_device(device),
                rate_hz=208,
            )
        )
    info = AthleteInfo(
        schema=SCHEMA, athlete="a1", name="Ada", body_mass_kg=70.0, sensors=list(twins)
    )
    bridge = Bridge(broker, specs, [info], backend=BumbleBleakClient)
    stop = asyncio.Event()
    task = asyncio.create_task(bridge.run(stop))
    try:
        for link in bridge.links:
            await asyncio.wait_for(link.connected.wait(), 20)
        await asyncio.sleep(RUN_S)
        for twin in twins.values():
            twin.end_stream()
        await asyncio.sleep(0.3)
    finally:
        stop.set()
        await task
        for twin in twins.values():
            await twin.stop()
    await asyncio.to_thread(
        wait_until,
        lambda: len(collector.payloads("calfload/raw/")) == bridge.batches_published,
        10,
        "every raw batch at the subscriber",
    )
    collector.stop()

    raws = collector.payloads("calfload/raw/")
    for link in bridge.links:
        sensor_id = link.spec.sensor_id
        twin = twins[sensor_id]
        mine = sorted((r for r in raws if r["sensor_id"] == sensor_id), key=lambda r: r["seq"])
        assert mine, sensor_id
        assert {r["fs_hz"] for r in mine} == {208.0}
        assert {r["family"] for r in mine} == {link.spec.family}
        assert link.stats.packets_bad == 0 and link.stats.gaps.samples_lost == 0
        acc = np.array([s for r in mine for s in r["acc_mps2"]])
        gyr = np.array([s for r in mine for s in r["gyr_dps"]])
        assert len(acc) == len(gyr) == sum(r["n"] for r in mine) == link.stats.gaps.samples_ok
        assert len(acc) >= twin.samples_sent - twin.samples_per_packet
        # Batches follow each other on the session clock at 1/208 s per sample.
        t0 = np.array([r["t0_s"] for r in mine])
        n = np.array([r["n"] for r in mine])
        assert np.abs(np.diff(t0) - n[:-1] / 208.0).max() < 0.004
        truth_acc, truth_gyr = _aligned_truth(sim, 208.0, acc, gyr)
        np.testing.assert_allclose(acc, truth_acc, atol=0.006)  # contract rounds to 1 mm/s²
        np.testing.assert_allclose(gyr, truth_gyr, atol=0.04)  # Polar: 0.061 dps per count
