"""A virtual footpod → Bridge (real BleakClient) → mosquitto → subscriber and worker."""

from __future__ import annotations

import asyncio

import pytest
from tests.helpers import Collector, wait_until

from calfload.bridge.bridge import Bridge
from calfload.bridge.devices.rsc_twin import RscTwin
from calfload.bridge.link import SensorSpec
from calfload.bridge.messages import SCHEMA, AthleteInfo
from calfload.bridge.mqtt import BrokerUrl
from calfload.bridge.simulator import AthleteProfile, GaitSimulator
from calfload.bridge.virtual.bleak_backend import BumbleBleakClient
from calfload.bridge.virtual.radio import VirtualRadio
from calfload.processing.worker import Worker

PROFILE = AthleteProfile(athlete="a7", name="Gus", speed_mps=4.1, cadence_spm=182.0)


@pytest.mark.broker
async def test_footpod_raw_batches_reach_the_broker(mosquitto) -> None:  # type: ignore[no-untyped-def]
    broker = BrokerUrl.parse(mosquitto.url)
    collector = Collector("127.0.0.1", mosquitto.port, ["calfload/raw/#"])
    await asyncio.to_thread(collector.start)
    worker = Worker(broker)
    worker.start()
    radio = VirtualRadio()
    await radio.power_on()
    twin = RscTwin(radio, GaitSimulator(PROFILE), name="SIM-STRIDE", interval_s=0.25)
    device = await twin.start(asyncio.get_running_loop().time())
    spec = SensorSpec(
        sensor_id="a7-footpod",
        athlete="a7",
        side="right",
        placement="footpod",
        family="rsc",
        device=radio.ble_device(device),
        rate_hz=4,
    )
    info = AthleteInfo(schema=SCHEMA, athlete="a7", name="Gus", body_mass_kg=70.0, sensors=[])
    bridge = Bridge(broker, [spec], [info], backend=BumbleBleakClient)
    stop = asyncio.Event()
    task = asyncio.create_task(bridge.run(stop))
    try:
        await asyncio.to_thread(
            wait_until,
            lambda: len(collector.payloads("calfload/raw/")) >= 6,
            30,
            "six footpod batches at the subscriber",
        )
    finally:
        stop.set()
        await task
        await twin.stop()
    await asyncio.to_thread(
        wait_until,
        lambda: worker.stats.batches_ok == bridge.batches_published,
        10,
        "the worker to read every footpod batch",
    )
    worker.stop()
    collector.stop()

    raws = collector.payloads("calfload/raw/")
    speed, cadence, stride = twin.truth()
    for raw in raws:
        assert (raw["family"], raw["placement"], raw["sensor_id"], raw["n"]) == (
            "rsc",
            "footpod",
            "a7-footpod",
            1,
        )
        # Wire resolution 1/256 m/s, then the raw batch rounds to 1 mm/s.
        assert raw["speed_mps"] == [pytest.approx(speed, abs=1 / 512 + 0.0005)]
        assert raw["cadence_spm"] == [cadence]
        assert raw["stride_m"] == [pytest.approx(stride, abs=0.005)]
        assert raw.get("force_n") is None and raw.get("acc_mps2") is None
    assert worker.stats.batches_rejected == 0
