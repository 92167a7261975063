"""A virtual athlete over MQTT without radios: streams both insoles of a simulator in real
time (simulator time = session clock) and performs heel rises or hops on the runner's cues."""

from __future__ import annotations

import json
import threading
import time

import numpy as np
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from calfload.bridge import topics
from calfload.bridge.messages import SCHEMA, RawBatch
from calfload.bridge.sim_protocols import CalfTaskSimulator, HeelRiseBout, HopBout
from tests.dashboard.conftest import Publisher

FS_HZ = 100.0


class VirtualAthlete:
    """Streams both insoles of ``sim`` in real time (simulator time = session clock) and
    starts heel rises when the runner's cue for that side arrives."""

    def __init__(
        self,
        port: int,
        sim: CalfTaskSimulator,
        reps: dict[str, int],
        hop: dict[str, float] | None = None,
    ) -> None:
        self.sim = sim
        self.reps = reps
        self.hop = hop or {"contact_s": 0.2, "flight_s": 0.3}
        self.publisher = Publisher(port)
        self.stop = threading.Event()
        self.listener = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
        self.listener.on_connect = lambda c, *a: c.subscribe("calfload/protocol/+/events", 1)
        self.listener.on_message = self._cue
        self.listener.connect("127.0.0.1", port)
        self.listener.loop_start()
        self.thread = threading.Thread(target=self._stream, daemon=True)
        self.thread.start()

    def _cue(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        e = json.loads(msg.payload)
        if e["kind"] != "stage-start":
            return
        side = e.get("side")
        if e.get("task") == "heel-rise":
            self.sim.add(HeelRiseBout(side, e["t_s"] + 0.8, reps=self.reps[side], period_s=1.0))
        elif e.get("task") == "hop":
            self.sim.add(HopBout(side, e["t_s"] + 1.0, self.reps[side], **self.hop))

    def _stream(self) -> None:
        athlete = self.sim.profile.athlete
        next_t = time.time()
        seq = 0
        while not self.stop.is_set():
            n = int((time.time() - next_t) * FS_HZ)
            if n >= 5:
                t = next_t + np.arange(n) / FS_HZ
                for side in topics.SIDES:
                    cells, acc, gyr = self.sim.insole(side, t)
                    batch = RawBatch(
                        schema=SCHEMA,
                        sensor_id=f"{athlete}-{side}",
                        athlete=athlete,
                        side=side,
                        placement="insole",
                        family="open-insole",
                        seq=seq,
                        t0_s=float(t[0]),
                        fs_hz=FS_HZ,
                        n=n,
                        force_n=cells.sum(axis=1).tolist(),
                        cell_force_n=cells.tolist(),
                        acc_mps2=acc.tolist(),
                        gyr_dps=gyr.tolist(),
                    )
                    self.publisher.message(
                        topics.raw("calfload", athlete, side, batch.sensor_id), batch
                    )
                seq += 1
                next_t += n / FS_HZ
            self.stop.wait(0.05)  # the sensor's own pace: one batch per 50 ms

    def close(self) -> None:
        self.stop.set()
        self.thread.join(5)
        self.listener.loop_stop()
        self.listener.disconnect()
        self.publisher.close()
