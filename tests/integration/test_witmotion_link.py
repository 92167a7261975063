"""A virtual WitMotion IMU through bleak's real BleakClient (bumble backend) and SensorLink."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import numpy as np
import pytest
from tests.helpers import wait_until

from calfload.bridge.devices import witmotion
from calfload.bridge.devices.witmotion_twin import WitMotionFaults, WitMotionTwin
from calfload.bridge.link import SensorLink, SensorSpec
from calfload.bridge.messages import RawBatch
from calfload.bridge.simulator import AthleteProfile, GaitSimulator
from calfload.bridge.virtual.bleak_backend import BumbleBleakClient
from calfload.bridge.virtual.radio import VirtualRadio

RATE_HZ = 100


@dataclass
class Rig:
    twin: WitMotionTwin
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


async def poll(predicate, timeout_s: float, what: str) -> None:  # type: ignore[no-untyped-def]
    await asyncio.to_thread(wait_until, predicate, timeout_s, what)


async def make_rig(
    faults: WitMotionFaults, frames_per_notification: int = 1, max_rate_hz: int | None = None
) -> Rig:
    radio = VirtualRadio()
    await radio.power_on()
    sim = GaitSimulator(AthleteProfile(athlete="a1", name="Ada", seed=3))
    twin = WitMotionTwin(
        radio,
        sim,
        "left",
        frames_per_notification=frames_per_notification,
        max_rate_hz=max_rate_hz,
        faults=faults,
    )
    device = await twin.start(asyncio.get_running_loop().time())
    spec = SensorSpec(
        sensor_id="a1-left-wit",
        athlete="a1",
        side="left",
        placement="foot_top",
        family="witmotion",
        device=radio.ble_device(device),
        rate_hz=RATE_HZ,
    )
    return Rig(twin, spec)


@pytest.fixture
async def running() -> AsyncIterator[list[Rig]]:
    """Holds rigs started by a test and always stops them."""
    rigs: list[Rig] = []
    yield rigs
    for rig in rigs:
        rig.link.stop()
        if rig.task is not None:
            await rig.task
        await rig.twin.stop()


async def start(rigs: list[Rig], rig: Rig) -> asyncio.Task[None]:
    rigs.append(rig)
    rig.task = asyncio.create_task(rig.link.run())
    await asyncio.wait_for(rig.link.connected.wait(), 20)
    return rig.task


async def test_unlock_then_rate_and_every_good_frame_arrives(running: list[Rig]) -> None:
    faults = WitMotionFaults(garbage_every=9, split_every=4, register_reply_every=11)
    rig = await make_rig(faults)
    task = await start(running, rig)
    twin, link = rig.twin, rig.link
    # The recipe unlocked, then set 100 Hz; the twin (like the sensor) honours writes
    # only after an unlock, and started at its factory 10 Hz.
    await poll(lambda: twin.rate_hz == RATE_HZ, 10, "the rate command to take effect")
    assert twin.commands[:3] == [
        witmotion.unlock_command(),
        witmotion.set_rate_command(RATE_HZ),
        witmotion.read_register_command(witmotion.REG_RRATE),  # read back what it agreed to
    ]
    assert twin.ignored_writes == 0
    assert twin.saved_rate_hz is None  # never rewrites the sensor's flash
    await poll(lambda: twin.frames_sent >= 300, 30, "three seconds of frames")
    await twin.stop()  # the sensor falls silent; then everything it sent must be in
    await poll(
        lambda: (
            link.stats.gaps.samples_ok == twin.frames_sent
            and link.stats.packets_bad == twin.garbage_sent
        ),
        10,
        "every good frame (also those glued to junk or split in two) to be decoded",
    )
    link.stop()
    await task
    assert twin.garbage_sent >= 3 and twin.splits_sent >= 10 and twin.register_replies_sent >= 3
    assert link.stats.packets_bad == twin.garbage_sent
    assert set(link.stats.bad_by_reason) == {"junk"}
    # Arrival-stamped on a fitted rate: no loss is declared while every frame arrives.
    assert link.stats.gaps.samples_lost == 0
    n = sum(b.n for b in rig.batches)
    assert n == twin.frames_sent
    acc = np.concatenate([np.asarray(b.acc_mps2) for b in rig.batches])
    assert acc.shape == (n, 3)
    # The simulator's IMU: gravity on z while standing/stance.
    assert 8.0 < float(np.median(acc[:, 2])) < 14.0
    assert all(b.family == "witmotion" and b.fs_hz == RATE_HZ for b in rig.batches)


async def test_timing_is_plausible_for_an_arrival_stamped_sensor(running: list[Rig]) -> None:
    rig = await make_rig(WitMotionFaults(), frames_per_notification=2)
    task = await start(running, rig)
    await poll(lambda: rig.twin.rate_hz == RATE_HZ, 10, "the rate command")
    first = len(rig.batches)
    await poll(lambda: len(rig.batches) >= first + 150, 30, "three seconds at 100 Hz")
    rig.link.stop()
    await task
    batches = rig.batches[first:]
    t0 = np.array([b.t0_s for b in batches])
    assert all(b.n == 2 for b in batches)
    # Stamped on the host clock, in order, close to now.
    assert abs(t0[-1] - time.time()) < 2.0
    assert np.all(np.diff(t0) > 0)
    # Two frames per notification at 100 Hz: notifications 20 ms apart on average.
    mean_step = (t0[-1] - t0[0]) / (len(t0) - 1)
    assert mean_step == pytest.approx(0.02, rel=0.1)
    assert rig.link.stats.effective_fs_hz() == pytest.approx(RATE_HZ, rel=0.1)


async def test_link_drop_reconnects_and_resends_unlock_and_rate(running: list[Rig]) -> None:
    rig = await make_rig(WitMotionFaults(), frames_per_notification=2)
    task = await start(running, rig)
    twin, link = rig.twin, rig.link
    await poll(lambda: link.stats.gaps.samples_ok > 100, 20, "data before the drop")
    await twin.drop_link()
    await poll(lambda: link.stats.connects == 2 and link.connected.is_set(), 30, "a reconnect")
    before = link.stats.gaps.samples_ok
    await poll(lambda: link.stats.gaps.samples_ok > before + 100, 20, "data after the reconnect")
    link.stop()
    await task
    assert link.stats.disconnects == 1
    assert (False, "link lost") in rig.states and rig.states.count((True, "")) == 2
    assert twin.commands.count(witmotion.unlock_command()) == 2
    assert twin.commands.count(witmotion.set_rate_command(RATE_HZ)) == 2
    assert link.stats.packets_bad == 0


async def test_a_unit_that_ignores_the_rate_is_decoded_at_its_real_rate(running: list[Rig]) -> None:
    rig = await make_rig(WitMotionFaults(), max_rate_hz=50)  # like a BLE 4.0 part
    task = await start(running, rig)
    twin, link = rig.twin, rig.link
    await poll(lambda: link.stats.gaps.samples_ok >= 25, 20, "2.5 s of data at 10 Hz")
    link.stop()
    await task
    assert twin.ignored_writes == 1 and twin.rate_hz == 10
    # The read-back told the bridge the truth: batches say 10 Hz, not the 100 Hz asked for.
    assert {b.fs_hz for b in rig.batches} == {10.0}
    assert link.stats.effective_fs_hz() == pytest.approx(10, rel=0.15)


async def test_a_rate_the_sensor_cannot_do_is_a_clear_error_not_a_crash(running: list[Rig]) -> None:
    rig = await make_rig(WitMotionFaults())
    rig.spec = dataclasses.replace(rig.spec, rate_hz=30)
    rig.__post_init__()
    running.append(rig)
    rig.task = asyncio.create_task(rig.link.run())
    await poll(
        lambda: rig.link.stats.connects >= 1 and rig.link.stats.last_error != "", 20, "an error"
    )
    assert "cannot stream at 30 Hz" in rig.link.stats.last_error
    assert not rig.task.done()  # the link keeps retrying (and reporting) instead of dying
    assert rig.twin.commands == []  # nothing was written to the sensor
