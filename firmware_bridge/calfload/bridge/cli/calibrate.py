"""``calfload calibrate``: guided calibration of DIY insoles over the live bridge stream.

The bridge must be streaming the insoles (flashed with the default ``calibration.h``,
so each cell reports its raw conductance). This command prompts the runner through
the trials of ``hardware.md`` ("DIY insole: calibration"), collects each insole's
``cell_force_n`` from the raw topic, fits per-cell gains and zeros with
:func:`calfload.bridge.calibration.fit_cell_calibration`, and writes one
``calibration_<side>.h`` per insole for the firmware.
"""

from __future__ import annotations

import argparse
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import paho.mqtt.client as mqtt

from calfload.bridge import topics
from calfload.bridge.calibration import (
    CalibrationError,
    CalibrationTrial,
    FloatArray,
    c_header,
    fit_cell_calibration,
)
from calfload.bridge.messages import MessageError, RawBatch, decode
from calfload.bridge.mqtt import BrokerUrl, make_client

G0_MPS2 = 9.80665
SETTLE_SAMPLES = 50


@dataclass
class _Stream:
    """Timed cell rows of one sensor while a trial is being recorded."""

    t_s: list[float] = field(default_factory=list)
    cells: list[list[float]] = field(default_factory=list)
    without_cells: int = 0


COMMAND = "calibrate"


def pair_by_time(
    a_t: FloatArray, a: FloatArray, b_t: FloatArray, b: FloatArray, fs_hz: float
) -> tuple[FloatArray, FloatArray]:
    """Rows of ``a`` and ``b`` taken within half a sample period of each other."""
    if len(a_t) == 0 or len(b_t) == 0:
        return a[:0], b[:0]
    order = np.argsort(b_t)
    b_t, b = b_t[order], b[order]
    idx = (
        np.clip(np.searchsorted(b_t, a_t), 1, len(b_t) - 1)
        if len(b_t) > 1
        else np.zeros(len(a_t), dtype=int)
    )
    if len(b_t) > 1:
        left_closer = np.abs(a_t - b_t[idx - 1]) <= np.abs(a_t - b_t[idx])
        idx = np.where(left_closer, idx - 1, idx)
    ok = np.abs(a_t - b_t[idx]) <= 0.5 / fs_hz
    return a[ok], b[idx[ok]]


class Recorder:
    """Subscribes to the sensors' raw topics and records while a trial is open."""

    def __init__(self, broker: BrokerUrl, base: str, sensors: Mapping[str, str]) -> None:
        self.sensors = dict(sensors)  # side -> sensor id
        self.fs_hz = 100.0
        self._lock = threading.Lock()
        self._streams: dict[str, _Stream] | None = None
        self.subscribed = threading.Event()
        self.bad_messages = 0
        self._client = make_client(broker, role="calibrate")
        filters = [(f"{base}/raw/+/+/{sid}", 1) for sid in self.sensors.values()]
        self._client.on_connect = lambda c, *a: c.subscribe(filters)
        self._client.on_subscribe = lambda *a: self.subscribed.set()
        self._client.on_message = self._on_message
        self._client.connect_async(broker.host, broker.port)
        self._client.loop_start()

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()

    def _on_message(self, _c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        try:
            batch = decode(msg.payload, RawBatch)
        except MessageError:
            self.bad_messages += 1
            return
        side = next((s for s, sid in self.sensors.items() if sid == batch.sensor_id), None)
        with self._lock:
            if self._streams is None or side is None:
                return
            stream = self._streams[side]
            if batch.cell_force_n is None:
                stream.without_cells += 1
                return
            self.fs_hz = batch.fs_hz
            stream.t_s += [batch.t0_s + i / batch.fs_hz for i in range(batch.n)]
            stream.cells += batch.cell_force_n

    def record(
        self, samples: int, timeout_s: float, settle: int = SETTLE_SAMPLES
    ) -> dict[str, tuple[FloatArray, FloatArray]]:
        """Record until every insole has ``samples`` rows after ``settle`` rows (dropped:
        the runner is still moving into position and older batches are still arriving);
        return (times, cells) per side."""
        samples += settle
        with self._lock:
            self._streams = {side: _Stream() for side in self.sensors}
        done = threading.Event()

        def enough() -> bool:
            with self._lock:
                assert self._streams is not None
                return all(len(s.cells) >= samples for s in self._streams.values())

        waited = 0.0
        while not enough() and waited < timeout_s:
            done.wait(0.05)
            waited += 0.05
        with self._lock:
            streams, self._streams = self._streams, None
        assert streams is not None
        for side, s in streams.items():
            if s.without_cells:
                raise CalibrationError(
                    f"sensor {self.sensors[side]} sends no per-cell values; calibrate an "
                    "open-insole with the default calibration.h"
                )
            if len(s.cells) < samples:
                raise CalibrationError(
                    f"only {max(0, len(s.cells) - settle)} samples from sensor "
                    f"{self.sensors[side]} in {timeout_s:.0f} s: is the bridge streaming it?"
                )
        return {
            side: (
                np.asarray(s.t_s[settle:], dtype=np.float64),
                np.asarray(s.cells[settle:], dtype=np.float64),
            )
            for side, s in streams.items()
        }


@dataclass(frozen=True)
class Step:
    prompt: str
    loads_n: Mapping[str, float]  # side -> load on that insole alone, or "both" -> total


def steps(sides: list[str], body_mass_kg: float, extra_kg: float) -> list[Step]:
    """The trials of hardware.md for the insoles being calibrated."""
    bw = body_mass_kg * G0_MPS2
    out: list[Step] = []
    rock = "rock slowly heel -> toes -> outer edge -> inner edge, touching nothing"
    for side in sides:
        other = "right" if side == "left" else "left"
        loads = {side: bw}
        if other in sides:
            loads[other] = 0.0
        out.append(
            Step(f"Stand on your {side.upper()} foot only ({other} foot lifted); {rock}.", loads)
        )
        if other not in sides:
            out.append(
                Step(f"Stand on your {other.upper()} foot only ({side} foot lifted).", {side: 0.0})
            )
    if len(sides) == 2:
        out.append(
            Step("Stand on both feet; shift your weight slowly in every direction.", {"both": bw})
        )
    if extra_kg > 0:
        heavy = (body_mass_kg + extra_kg) * G0_MPS2
        for side in sides:
            out.append(
                Step(
                    f"Hold the extra {extra_kg:g} kg and stand on your {side.upper()} foot "
                    f"only; {rock}.",
                    {side: heavy},
                )
            )
    return out


def trials_from_recording(
    step: Step, data: Mapping[str, tuple[FloatArray, FloatArray]], fs_hz: float
) -> list[CalibrationTrial]:
    """Turn one recorded step into calibration trials."""
    if "both" in step.loads_n:
        (lt, lc), (rt, rc) = data["left"], data["right"]
        left, right = pair_by_time(lt, lc, rt, rc, fs_hz)
        return [CalibrationTrial(step.prompt, step.loads_n["both"], {"left": left, "right": right})]
    return [
        CalibrationTrial(f"{step.prompt} [{side}]", load, {side: data[side][1]})
        for side, load in step.loads_n.items()
    ]


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "calibrate", help="guided per-cell calibration of DIY open insoles (hardware.md)"
    )
    p.add_argument("--broker", default="mqtt://127.0.0.1:1883", metavar="URL")
    p.add_argument("--base-topic", default=topics.DEFAULT_BASE, metavar="TOPIC")
    p.add_argument("--left", metavar="SENSOR_ID", help="sensor id of the left insole")
    p.add_argument("--right", metavar="SENSOR_ID", help="sensor id of the right insole")
    p.add_argument("--body-mass-kg", type=float, required=True, help="runner's mass in shoes")
    p.add_argument(
        "--extra-kg", type=float, default=0.0, help="known extra mass to hold (optional)"
    )
    p.add_argument("--samples", type=int, default=1000, help="samples per insole per trial (1000)")
    p.add_argument("--out-dir", type=Path, default=Path("."), help="where calibration_<side>.h go")


def run(args: argparse.Namespace, ask: Callable[[str], str] = input) -> int:
    sensors = {side: sid for side, sid in (("left", args.left), ("right", args.right)) if sid}
    if not sensors:
        raise ValueError("give --left and/or --right with the insoles' sensor ids")
    if not 20.0 <= args.body_mass_kg <= 250.0 or args.extra_kg < 0 or args.samples < 50:
        raise ValueError("body mass must be 20-250 kg, extra mass >= 0, samples >= 50")
    recorder = Recorder(BrokerUrl.parse(args.broker), topics.check_base(args.base_topic), sensors)
    try:
        if not recorder.subscribed.wait(20):
            raise RuntimeError(f"could not subscribe on broker {args.broker}")
        trials: list[CalibrationTrial] = []
        for k, step in enumerate(steps(sorted(sensors), args.body_mass_kg, args.extra_kg), 1):
            ask(f"[{k}] {step.prompt} Press Enter when ready… ")
            data = recorder.record(args.samples, timeout_s=60.0 + args.samples / 20)
            trials += trials_from_recording(step, data, recorder.fs_hz)
            print(f"    recorded {args.samples} samples per insole")
        fits = fit_cell_calibration(trials)
    except CalibrationError as exc:
        print(f"calfload calibrate: {exc}")
        return 1
    finally:
        recorder.close()
    args.out_dir.mkdir(parents=True, exist_ok=True)
    for side, cal in fits.items():
        path = args.out_dir / f"calibration_{side}.h"
        path.write_text(c_header(cal))
        print(f"{side}: residual {cal.residual_rms_n:.1f} N RMS; wrote {path}")
    return 0
