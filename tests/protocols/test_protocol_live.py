"""Virtual athletes perform protocols end to end: insole twins → bridge (real BleakClient)
→ mosquitto → worker → protocol runner, following the runner's cues; scored = truth."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import msgspec
import numpy as np
import pytest

from calfload.bridge.bridge import Bridge
from calfload.bridge.devices.open_insole_twin import OpenInsoleTwin
from calfload.bridge.link import SensorSpec
from calfload.bridge.messages import SCHEMA, AthleteInfo, RawBatch
from calfload.bridge.mqtt import BrokerUrl
from calfload.bridge.sim_protocols import CalfTaskSimulator, HeelRiseBout, StagedGaitSimulator
from calfload.bridge.simulator import AthleteProfile, GaitSimulator
from calfload.bridge.topics import SIDES
from calfload.bridge.virtual.bleak_backend import BumbleBleakClient
from calfload.bridge.virtual.radio import VirtualRadio
from calfload.processing.protocols.definition import load
from calfload.processing.protocols.messages import ProtocolEvent, marks_from_events
from calfload.processing.protocols.results import ProtocolResult
from calfload.processing.protocols.runner import ProtocolRunner
from calfload.processing.protocols.scoring import AthleteContext, score
from calfload.processing.worker import Worker
from tests.helpers import Collector, wait_until

MASS_KG = 64.0
FOOT_M = 0.255

HEEL_RISE = """
name = "hret-short"
title = "Short heel-rise test"
kind = "heel-rise"
[[stage]]
name = "left"
task = "heel-rise"
side = "left"
duration_s = 25
metronome_bpm = 120
[[stage]]
name = "rest"
task = "rest"
duration_s = 1.5
[[stage]]
name = "right"
task = "heel-rise"
side = "right"
duration_s = 25
metronome_bpm = 120
"""

TREADMILL = """
name = "treadmill-short"
title = "Three short treadmill stages"
kind = "treadmill"
[[stage]]
name = "2.5"
task = "run"
duration_s = 7
speed_mps = 2.5
steady_last_s = 4
[[stage]]
name = "3.5"
task = "run"
duration_s = 7
speed_mps = 3.5
steady_last_s = 4
[[stage]]
name = "4.5"
task = "run"
duration_s = 7
speed_mps = 4.5
steady_last_s = 4
"""


class Athlete:
    """One virtual athlete: a twin per foot on the radio, fed by ``sim``."""

    def __init__(self, sim: GaitSimulator) -> None:
        self.sim = sim
        self.radio = VirtualRadio()
        self.twins: list[OpenInsoleTwin] = []
        self.specs: list[SensorSpec] = []
        self.epoch0 = 0.0

    async def start(self) -> AthleteInfo:
        await self.radio.power_on()
        loop = asyncio.get_running_loop()
        origin = loop.time()
        self.epoch0 = time.time() - (loop.time() - origin)  # session clock at sim t = 0
        p = self.sim.profile
        for side in SIDES:
            twin = OpenInsoleTwin(self.radio, self.sim, side, name=f"INSOLE-{side}")
            device = await twin.start(origin)
            self.twins.append(twin)
            self.specs.append(
                SensorSpec(
                    sensor_id=f"{p.athlete}-{side}-insole",
                    athlete=p.athlete,
                    side=side,
                    placement="insole",
                    family="open-insole",
                    device=self.radio.ble_device(device),
                    rate_hz=100,
                )
            )
        return AthleteInfo(
            schema=SCHEMA,
            athlete=p.athlete,
            name=p.name,
            body_mass_kg=p.body_mass_kg,
            sensors=[s.sensor_id for s in self.specs],
            foot_length_m=FOOT_M,
        )

    def sim_t(self, t_s: float) -> float:
        return t_s - self.epoch0

    async def stop(self) -> None:
        await asyncio.gather(*(t.stop() for t in self.twins))


async def _perform(
    mosquitto, tmp_path: Path, sim: GaitSimulator, text: str, react
) -> tuple[ProtocolResult, list[ProtocolEvent], Collector, Athlete]:
    broker = BrokerUrl.parse(mosquitto.url)
    collector = Collector(
        "127.0.0.1", mosquitto.port, ["calfload/protocol/#", "calfload/raw/#", "calfload/steps/#"]
    )
    await asyncio.to_thread(collector.start)
    worker = Worker(broker)
    worker.start()
    athlete = Athlete(sim)
    info = await athlete.start()
    bridge = Bridge(broker, athlete.specs, [info], backend=BumbleBleakClient)
    stop = asyncio.Event()
    task = asyncio.create_task(bridge.run(stop))
    file = tmp_path / "protocol.toml"
    file.write_text(text)
    loop = asyncio.get_running_loop()
    runner = ProtocolRunner(
        broker,
        load(file),
        AthleteContext(sim.profile.athlete, sex="female"),
        on_event=lambda e: loop.call_soon_threadsafe(react, athlete, e),
    )
    try:
        for link in bridge.links:
            await asyncio.wait_for(link.connected.wait(), 20)
        result = await asyncio.to_thread(runner.run)
    finally:
        stop.set()
        await task
        await athlete.stop()
        worker.stop()
    await asyncio.to_thread(
        wait_until,
        lambda: (
            any(t.endswith("/result") for t, _ in collector.messages)
            and any(p.get("kind") == "end" for _, p in collector.messages)
        ),
        10,
        "the retained result and the end event",
    )
    collector.stop()
    return result, runner.events, collector, athlete


@pytest.mark.broker
async def test_heel_rise_test_performed_live_counts_every_rep(mosquitto, tmp_path: Path) -> None:
    sim = CalfTaskSimulator(
        AthleteProfile("a7", "Ida", body_mass_kg=MASS_KG, seed=7), foot_length_m=FOOT_M
    )
    reps = {"left": 9, "right": 6}
    bouts: dict[str, HeelRiseBout] = {}

    def react(athlete: Athlete, e: ProtocolEvent) -> None:
        if e.kind == "stage-start" and e.task == "heel-rise" and e.side is not None:
            bout = HeelRiseBout(
                e.side, athlete.sim_t(e.t_s) + 0.8, reps=reps[e.side], period_s=1.0, failed=2
            )
            bouts[e.side] = bout
            sim.add(bout)

    result, events, collector, _athlete = await _perform(mosquitto, tmp_path, sim, HEEL_RISE, react)
    hr = {s.heel_rise.side: s.heel_rise for s in result.stages if s.heel_rise is not None}
    assert hr["left"].reps == 9 and hr["right"].reps == 6
    assert hr["left"].stop_reason == hr["right"].stop_reason == "height"
    assert hr["left"].source == "insole+imu"
    truth = sim.true_heights_m(bouts["left"])
    assert hr["left"].peak_height_m == pytest.approx(max(truth), rel=0.05)
    assert hr["left"].total_work_j == pytest.approx(MASS_KG * 9.80665 * sum(truth), rel=0.06)
    assert result.symmetry["heel_rise_reps_lsi_pct"] == pytest.approx(150.0)
    assert {n.side for n in result.norms} == {"left", "right"}
    # the stop rule ended each heel-rise stage early, long before its 25 s
    ends = [e for e in events if e.kind == "stage-end" and e.task == "heel-rise"]
    assert all(e.reason == "stop rule: height" for e in ends)
    assert [e.reps for e in ends] == [9, 6]
    # everything went over MQTT: events in order, a retained result that decodes
    kinds = [p["kind"] for t, p in collector.messages if t.endswith("/events")]
    assert kinds[0] == "start" and kinds[-1] == "end" and "progress" in kinds
    published = next(p for t, p in collector.messages if t.endswith("/result"))
    assert msgspec.convert(published, ProtocolResult) == result
    # the recorded events alone give the same stage boundaries back
    decoded = [
        msgspec.convert(p, ProtocolEvent) for t, p in collector.messages if t.endswith("/events")
    ]
    marks = marks_from_events(decoded)
    assert [m.index for m in marks] == [0, 1, 2]
    # re-analysis: the recorded messages alone give the very same result
    raw = [msgspec.convert(p, RawBatch) for t, p in collector.messages if "/raw/" in t]
    again = score(
        load(tmp_path / "protocol.toml"),
        marks,
        AthleteContext("a7", MASS_KG, FOOT_M, "female"),
        raw=raw,
    )
    assert again == result


@pytest.mark.broker
async def test_treadmill_protocol_performed_live_scores_each_stage(
    mosquitto, tmp_path: Path
) -> None:
    sim = StagedGaitSimulator(
        AthleteProfile("a8", "Tom", body_mass_kg=MASS_KG, speed_mps=2.0, seed=8)
    )

    def react(athlete: Athlete, e: ProtocolEvent) -> None:
        if e.kind == "stage-start" and e.speed_mps is not None:
            sim.set_speed(athlete.sim_t(e.t_s), e.speed_mps)

    result, events, _, athlete = await _perform(mosquitto, tmp_path, sim, TREADMILL, react)
    starts = [e for e in events if e.kind == "stage-start"]
    assert [e.speed_mps for e in starts] == [2.5, 3.5, 4.5]
    gcts = []
    for stage in result.stages:
        run = stage.run
        assert run is not None
        lo, hi = athlete.sim_t(run.window_start_s), athlete.sim_t(run.window_end_s)
        true = [s for s in sim.true_steps() if lo <= s.ic_s < hi]
        assert abs(run.steps - len(true)) <= 1
        for side, got in (("left", run.left), ("right", run.right)):
            # within one sample at 100 Hz, the standard of the live pipeline test
            assert got.gct_ms == pytest.approx(
                np.mean([s.gct_ms for s in true if s.side == side]), abs=10.0
            )
        expected_gct, expected_cadence = sim.gait_at(hi - 0.5)
        assert run.cadence_spm == pytest.approx(expected_cadence, rel=0.05)
        assert run.left.gct_ms == pytest.approx(expected_gct, rel=0.08)
        gcts.append(run.left.gct_ms)
        # the worker's loading fields reach the stage metrics (body mass from the athlete info)
        for got in (run.left, run.right):
            assert got.achilles_force_bw is not None and got.achilles_force_bw > 1.0
            assert got.push_off_impulse_ns is not None and got.push_off_impulse_ns > 0.0
        assert run.symmetry_pct["achilles_force_bw"] is not None
    assert gcts[0] > gcts[1] > gcts[2]
    assert result.complete
