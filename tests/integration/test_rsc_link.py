"""A virtual RSC footpod through bleak's real BleakClient (bumble backend) and SensorLink."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import numpy as np
import pytest
from tests.helpers import wait_until

from calfload.bridge.devices.rsc_twin import RscFaults, RscTwin
from calfload.bridge.link import SensorLink, SensorSpec
from calfload.bridge.messages import RawBatch
from calfload.bridge.simulator import AthleteProfile, GaitSimulator
from calfload.bridge.virtual.bleak_backend import BumbleBleakClient
from calfload.bridge.virtual.radio import VirtualRadio

INTERVAL_S = 0.2  # faster than a real pod's ~1 s, to keep the test short
PROFILE = AthleteProfile(athlete="a1", name="Ada", speed_mps=3.7, cadence_spm=176.0)


@dataclass
class Rig:
    twin: RscTwin
    spec: SensorSpec
    batches: list[RawBatch] = field(default_factory=list)
    states: list[tuple[bool, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.link = SensorLink(
            self.spec,
            self.batches.append,
            lambda _s, up, why: self.states.append((up, why)),
            backend=BumbleBleakClient,
        )
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.task = asyncio.create_task(self.link.run())
        await asyncio.wait_for(self.link.connected.wait(), 20)


async def poll(predicate, timeout_s: float, what: str) -> None:  # type: ignore[no-untyped-def]
    await asyncio.to_thread(wait_until, predicate, timeout_s, what)


@pytest.fixture
async def rig_factory() -> AsyncIterator[list[Rig]]:
    rigs: list[Rig] = []
    yield rigs
    for rig in rigs:
        rig.link.stop()
        if rig.task is not None:
            await rig.task
        await rig.twin.stop()


async def make_rig(rigs: list[Rig], faults: RscFaults | None = None) -> Rig:
    radio = VirtualRadio()
    await radio.power_on()
    twin = RscTwin(radio, GaitSimulator(PROFILE), interval_s=INTERVAL_S, faults=faults)
    device = await twin.start(asyncio.get_running_loop().time())
    spec = SensorSpec(
        sensor_id="a1-footpod",
        athlete="a1",
        side="left",
        placement="footpod",
        family="rsc",
        device=radio.ble_device(device),
        rate_hz=round(1 / INTERVAL_S),
    )
    rig = Rig(twin, spec)
    rigs.append(rig)
    await rig.start()
    return rig


async def test_footpod_reports_speed_cadence_and_stride(rig_factory: list[Rig]) -> None:
    rig = await make_rig(rig_factory, RscFaults(garbage_every=3))
    twin, link = rig.twin, rig.link
    await poll(lambda: twin.measurements_sent >= 12, 30, "a dozen measurements")
    await twin.stop()
    await poll(
        lambda: (
            link.stats.gaps.samples_ok == twin.measurements_sent
            and link.stats.packets_bad == twin.garbage_sent
        ),
        10,
        "every measurement and every malformed notification to be handled",
    )
    assert twin.feature_reads == 1  # the recipe reads RSC Feature once per connection
    assert twin.garbage_sent >= 4
    assert set(link.stats.bad_by_reason) == {"short", "length"}
    assert len(rig.batches) == twin.measurements_sent
    speed, cadence, stride = twin.truth()
    assert stride == pytest.approx(2 * 3.7 * 60 / 176)
    for b in rig.batches:
        assert (b.n, b.family, b.placement) == (1, "rsc", "footpod")
        assert b.acc_mps2 is None and b.force_n is None
        assert b.speed_mps is not None and b.cadence_spm is not None and b.stride_m is not None
        assert b.speed_mps[0] == pytest.approx(speed, abs=1 / 512 + 0.0005)  # wire, then 1 mm/s
        assert b.cadence_spm[0] == cadence  # steps per minute, as the spec counts foot falls
        assert b.stride_m[0] == pytest.approx(stride, abs=0.005)
    # Arrival-stamped about every INTERVAL_S.
    t0 = np.array([b.t0_s for b in rig.batches])
    assert np.all(np.diff(t0) > 0)
    assert float(np.mean(np.diff(t0))) == pytest.approx(INTERVAL_S, rel=0.15)


async def test_footpod_link_drop_reconnects(rig_factory: list[Rig]) -> None:
    rig = await make_rig(rig_factory)
    twin, link = rig.twin, rig.link
    await poll(lambda: link.stats.gaps.samples_ok >= 3, 20, "measurements before the drop")
    await twin.drop_link()
    await poll(lambda: link.stats.connects == 2 and link.connected.is_set(), 30, "a reconnect")
    before = link.stats.gaps.samples_ok
    await poll(lambda: link.stats.gaps.samples_ok >= before + 3, 20, "measurements after it")
    assert link.stats.disconnects == 1
    assert (False, "link lost") in rig.states
    assert twin.feature_reads == 2 and twin.connections == 2
    assert link.stats.packets_bad == 0
