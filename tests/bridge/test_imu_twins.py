"""Movesense and Polar twins through bleak's real BleakClient (bumble backend) and the
bridge's SensorLink: start, sample count and timing, split and delta frames, error
replies, garbage, lost packets and a dropped link."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import numpy as np
import pytest
from bleak import BleakClient

from calfload.bridge.devices import movesense as ms
from calfload.bridge.devices import polar_pmd as pmd
from calfload.bridge.devices.base import DeviceError, SampleBlock
from calfload.bridge.devices.imu_twin import FloatArray, ImuTwin, TwinFaults, foot_imu
from calfload.bridge.devices.movesense_twin import MovesenseTwin
from calfload.bridge.devices.polar_twin import PolarTwin
from calfload.bridge.link import SensorLink, SensorSpec
from calfload.bridge.messages import RawBatch
from calfload.bridge.simulator import AthleteProfile, GaitSimulator
from calfload.bridge.virtual.bleak_backend import BumbleBleakClient
from calfload.bridge.virtual.radio import VirtualRadio


@dataclass
class Rig:
    radio: VirtualRadio
    sim: GaitSimulator
    origin: float
    twins: list[ImuTwin] = field(default_factory=list)

    async def add(self, twin: ImuTwin) -> ImuTwin:
        await twin.start(self.origin)
        self.twins.append(twin)
        return twin

    def client(self, twin: ImuTwin) -> BleakClient:
        assert twin.device is not None
        return BleakClient(
            self.radio.ble_device(twin.device), backend=BumbleBleakClient, timeout=20
        )

    def spec(self, twin: ImuTwin, family: str, rate_hz: int) -> SensorSpec:
        assert twin.device is not None
        return SensorSpec(
            sensor_id=f"{family}-1",
            athlete="a1",
            side="left",
            placement="foot_top",
            family=family,
            device=self.radio.ble_device(twin.device),
            rate_hz=rate_hz,
        )


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    radio = VirtualRadio()
    await radio.power_on()
    r = Rig(radio, GaitSimulator(AthleteProfile("a1", "Ada")), asyncio.get_running_loop().time())
    yield r
    for twin in r.twins:
        await twin.stop()


async def wait_for(predicate: Callable[[], bool], what: str, timeout_s: float = 20.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


async def start_link(
    rig: Rig, twin: ImuTwin, family: str, rate_hz: int
) -> tuple[SensorLink, asyncio.Task[None], list[RawBatch], list[tuple[bool, str]]]:
    """A SensorLink on ``twin`` running in a task, collecting batches and states."""
    batches: list[RawBatch] = []
    states: list[tuple[bool, str]] = []
    link = SensorLink(
        rig.spec(twin, family, rate_hz),
        batches.append,
        lambda _s, online, reason: states.append((online, reason)),
        backend=BumbleBleakClient,
    )
    return link, asyncio.create_task(link.run()), batches, states


async def finish(link: SensorLink, task: asyncio.Task[None], twin: ImuTwin) -> None:
    """Stop the twin, wait until the link has every sample that was on air, stop the link."""
    twin.end_stream()
    await wait_for(
        lambda: link.stats.gaps.samples_ok >= twin.samples_sent - twin.samples_per_packet,
        "every sample the twin sent",
    )
    await asyncio.sleep(0.2)  # let a last in-flight notification land before comparing
    link.stop()
    await asyncio.wait_for(task, 20)


def truth(rig: Rig, twin: ImuTwin, block: SampleBlock) -> tuple[FloatArray, FloatArray]:
    """The simulator's values at the twin's sample instants for ``block``."""
    assert block.t0_sensor_us is not None
    t_sensor = block.t0_sensor_us / 1e6 + np.arange(block.n) / block.fs_hz
    t_sim = (t_sensor - twin.clock_offset_s) / (1 + twin.faults.clock_drift_ppm * 1e-6)
    # Snap to the twin's sample grid (Movesense stamps whole milliseconds).
    return foot_imu(rig.sim, "left", np.round(t_sim * block.fs_hz) / block.fs_hz)


# --- Movesense --------------------------------------------------------------------------


async def test_movesense_start_split_packets_and_true_values(rig: Rig) -> None:
    twin = await rig.add(MovesenseTwin(rig.radio, rig.sim, "left"))
    async with rig.client(twin) as client:
        notes: list[bytes] = []
        decoder = await ms.Movesense().start(client, notes.append, 208)
        assert twin.commands[0] == b"\x01\x63/Meas/IMU6/208"
        await wait_for(lambda: twin.samples_sent >= 208, "one second of samples")
        twin.end_stream()
        await wait_for(lambda: len(notes) >= twin.notifications_sent, "all notifications")
    blocks = [b for note in notes for b in decoder.feed(note)]
    # 8 samples = 198 bytes > 155: every packet came as DATA + DATA_PART2 and was joined.
    assert twin.notifications_sent == 2 * twin.packets_sent
    assert sum(b.n for b in blocks) == twin.samples_sent and decoder.stale_parts == 0
    assert {b.n for b in blocks} == {8} and {b.fs_hz for b in blocks} == {208.0}
    starts = np.array([b.t0_sensor_us for b in blocks], dtype=np.float64)
    # ms timestamps: consecutive packets 8 / 208 s = 38.46 ms apart, to the millisecond.
    assert np.abs(np.diff(starts) - 8e6 / 208).max() <= 1000
    for block in blocks[::5]:
        acc, gyr = truth(rig, twin, block)
        np.testing.assert_allclose(block.acc_mps2, acc, rtol=1e-6, atol=1e-5)  # float32
        np.testing.assert_allclose(block.gyr_dps, gyr, rtol=1e-6, atol=1e-4)


async def test_movesense_error_reply_is_a_clear_error(rig: Rig) -> None:
    twin = await rig.add(MovesenseTwin(rig.radio, rig.sim, "left"))
    async with rig.client(twin) as client:
        with pytest.raises(DeviceError, match=r"IMU6/500: 501 .*208, 416"):
            await ms.Movesense().start(client, lambda _b: None, 500)
        assert twin.replies == [b"\x01\x63\x01\xf5"]
        assert client.is_connected
        # The same connection still subscribes at a supported rate.
        await ms.Movesense().start(client, lambda _b: None, 104)
        assert twin.rate_hz == 104


async def test_movesense_link_counts_garbage_drops_and_reconnects(rig: Rig) -> None:
    twin = await rig.add(
        MovesenseTwin(
            rig.radio,
            rig.sim,
            "left",
            faults=TwinFaults(garbage_every=3, drop_every=7, clock_drift_ppm=300),
        )
    )
    link, task, batches, states = await start_link(rig, twin, "movesense", 208)
    await wait_for(lambda: twin.packets_sent >= 30, "30 packets")
    await twin.drop_link()
    await wait_for(lambda: link.stats.connects == 2 and twin.packets_sent >= 60, "a reconnect")
    await finish(link, task, twin)
    assert [s for s in states if s[0]] == [(True, "")] * 2 and (False, "link lost") in states
    assert sum(c == b"\x01\x63/Meas/IMU6/208" for c in twin.commands) == 2  # resubscribed
    # (one garbage notification may be lost with the link at the moment it drops)
    assert twin.garbage_sent - 1 <= link.stats.packets_bad <= twin.garbage_sent
    assert link.stats.packets_bad > 5
    assert set(link.stats.bad_by_reason) == {"short", "type", "orphan", "reference"}
    # Every good sample arrived; every dropped packet is a counted gap of 8 samples.
    assert twin.samples_sent - 8 <= link.stats.gaps.samples_ok <= twin.samples_sent
    # (a packet dropped just before the link drop is not seen: continuity resets on reconnect)
    assert (
        8 * (twin.packets_dropped - 1) <= link.stats.gaps.samples_lost <= 8 * twin.packets_dropped
    )
    assert link.stats.gaps.samples_lost > 0
    assert sum(b.gap_samples for b in batches) == link.stats.gaps.samples_lost
    assert {b.fs_hz for b in batches} == {208.0}


async def test_movesense_link_survives_a_refused_subscription(rig: Rig) -> None:
    twin = await rig.add(MovesenseTwin(rig.radio, rig.sim, "left"))
    link, task, _batches, _states = await start_link(rig, twin, "movesense", 500)
    await wait_for(lambda: link.stats.connects >= 2, "a retry after the refusal")
    assert "501 Not Implemented" in link.stats.last_error
    assert not task.done()  # no crash: the link keeps trying with backoff
    link.stop()
    await asyncio.wait_for(task, 20)


# --- Polar ------------------------------------------------------------------------------


async def test_verity_sdk_mode_delta_frames_and_true_values(rig: Rig) -> None:
    twin = await rig.add(PolarTwin(rig.radio, rig.sim, "left", model="verity"))
    assert isinstance(twin, PolarTwin)
    async with rig.client(twin) as client:
        notes: list[bytes] = []
        decoder = await pmd.PolarPmd().start(client, notes.append, 200)
        # SDK mode first, then ACC and GYRO at the offered 208 Hz, 16 bit, widest range.
        assert twin.commands[0] == b"\x02\x09"
        assert tuple(twin.commands[2][:2]) == (pmd.OP_START, pmd.ACC)
        assert twin.active == {
            pmd.ACC: {0: 208, 1: 16, 2: 16, 4: 3},
            pmd.GYRO: {0: 208, 1: 16, 2: 2000, 4: 3},
        }
        assert decoder.rate_hz == 208.0 and decoder.pair
        assert decoder.acc_factor == pytest.approx(16000 / 32768)  # from the START reply
        assert decoder.gyr_factor == pytest.approx(2000 / 32768)
        await wait_for(lambda: twin.samples_sent >= 208, "one second of samples")
        twin.end_stream()
        await wait_for(lambda: len(notes) >= twin.notifications_sent, "all notifications")
    assert {n[9] for n in notes} <= {0x80, 0x81}  # delta-compressed GYRO and ACC frames
    blocks = [b for note in notes for b in decoder.feed(note)]
    paired = [b for b in blocks if b.acc_mps2 is not None and b.gyr_dps is not None]
    assert sum(b.n for b in blocks if b.acc_mps2 is not None) == sum(
        b.n for b in blocks if b.gyr_dps is not None
    )
    assert sum(b.n for b in paired) >= twin.samples_sent - twin.samples_per_packet
    for block in paired[::3]:
        acc, gyr = truth(rig, twin, block)
        np.testing.assert_allclose(block.acc_mps2, acc, atol=0.005)  # 0.49 mG per count
        np.testing.assert_allclose(block.gyr_dps, gyr, atol=0.04)  # 0.061 dps per count


async def test_h10_raw_frames_and_error_reply(rig: Rig) -> None:
    # Settings replies in two indications exercise the control point's "more" frames.
    twin = await rig.add(PolarTwin(rig.radio, rig.sim, "left", model="h10", split_replies=True))
    assert isinstance(twin, PolarTwin)
    async with rig.client(twin) as client:
        with pytest.raises(
            DeviceError, match=r"ACC at 500 Hz: error 8 INVALID SAMPLE RATE .*25, 50, 100, 200 Hz"
        ):
            await pmd.PolarPmd().start(client, lambda _b: None, 500)
        assert twin.replies[-1] == bytes.fromhex("F0 02 02 08")
        assert twin.replies[0][4] == 1 and twin.replies[1][0] == 0  # settings: more, then last
        assert client.is_connected and not twin.streaming
        notes: list[bytes] = []
        decoder = await pmd.PolarPmd().start(client, notes.append, 200)
        assert twin.commands[-1] == bytes.fromhex("02 02 00 01 C8 00 01 01 10 00 02 01 08 00")
        assert not decoder.pair and decoder.rate_hz == 200.0
        await wait_for(lambda: twin.samples_sent >= 200, "one second of samples")
        await pmd.PolarPmd().stop(client)
        await wait_for(lambda: len(notes) >= twin.notifications_sent, "all notifications")
    assert not twin.streaming
    blocks = [b for note in notes for b in decoder.feed(note)]
    assert sum(b.n for b in blocks) == twin.samples_sent
    assert {n[9] for n in notes} == {0x01}  # raw int16 mG frames
    for block in blocks[::4]:
        acc, _ = truth(rig, twin, block)
        np.testing.assert_allclose(block.acc_mps2, acc, atol=0.006)  # 1 mG per count


async def test_polar_link_counts_garbage_drops_and_reconnects(rig: Rig) -> None:
    twin = await rig.add(
        PolarTwin(
            rig.radio,
            rig.sim,
            "left",
            model="verity",
            faults=TwinFaults(garbage_every=3, drop_every=6),
        )
    )
    link, task, batches, _states = await start_link(rig, twin, "polar", 208)
    await wait_for(lambda: twin.packets_sent >= 20, "20 packets")
    await twin.drop_link()
    await wait_for(lambda: link.stats.connects == 2 and twin.packets_sent >= 40, "a reconnect")
    await finish(link, task, twin)
    assert sum(c == b"\x02\x09" for c in twin.commands) == 2  # SDK mode again after the drop
    # (one garbage notification may be lost with the link at the moment it drops)
    assert twin.garbage_sent - 1 <= link.stats.packets_bad <= twin.garbage_sent
    assert link.stats.packets_bad > 5
    assert set(link.stats.bad_by_reason) == {"short", "type", "length"}
    spp = twin.samples_per_packet
    assert spp * (twin.packets_dropped - 1) <= link.stats.gaps.samples_lost
    assert link.stats.gaps.samples_lost <= spp * twin.packets_dropped
    assert link.stats.gaps.samples_lost > 0
    both = sum(b.n for b in batches if b.acc_mps2 is not None and b.gyr_dps is not None)
    assert both >= 0.9 * twin.samples_sent
    assert {b.fs_hz for b in batches} == {208.0}
