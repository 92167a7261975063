"""``calfload calibrate`` against a real mosquitto: simulated insoles with known gains."""

from __future__ import annotations

import re
import threading
from pathlib import Path

import numpy as np
import pytest

from calfload.bridge import topics
from calfload.bridge.cli import calibrate as cli_calibrate
from calfload.bridge.messages import SCHEMA, RawBatch, encode
from calfload.bridge.mqtt import BrokerUrl, make_client
from calfload.cli.main import _parser

N_CELLS = 8
BODY_KG = 70.0
EXTRA_KG = 10.0
G0 = 9.80665


class SimulatedInsoles:
    """Publishes raw batches whose per-cell values follow the step the runner is on."""

    def __init__(self, port: int, gains: dict[str, np.ndarray], zeros: dict[str, np.ndarray]):
        self.gains, self.zeros = gains, zeros
        self.loads = {"left": 0.0, "right": 0.0}
        self.both = False
        self.stop = threading.Event()
        self.rng = np.random.default_rng(11)
        self.client = make_client(BrokerUrl("127.0.0.1", port), role="test-insoles")
        self.client.connect(  # blocking connect, then the network loop in a thread
            "127.0.0.1", port
        )
        self.client.loop_start()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def set_step(self, prompt: str) -> str:
        bw = BODY_KG * G0
        heavy = (BODY_KG + EXTRA_KG) * G0
        load = heavy if "extra" in prompt else bw
        self.both = "both feet" in prompt
        if self.both:
            self.loads = {"left": bw, "right": bw}
        elif "LEFT foot only" in prompt:
            self.loads = {"left": load, "right": 0.0}
        else:
            self.loads = {"left": 0.0, "right": load}
        return ""

    def _run(self) -> None:
        k = 0
        while not self.stop.is_set():
            n = 10
            split = self.rng.uniform(0.3, 0.7, n) if self.both else np.ones(n)
            for j, side in enumerate(("left", "right")):
                share = split if j == 0 or not self.both else 1 - split
                total = self.loads[side] * share
                weights = self.rng.dirichlet(np.full(N_CELLS, 0.6), size=n)
                force = weights * total[:, None]
                signal = self.zeros[side] + force / self.gains[side]
                batch = RawBatch(
                    schema=SCHEMA,
                    sensor_id=f"ins-{side[0]}",
                    athlete="a1",
                    side=side,
                    placement="insole",
                    family="open-insole",
                    seq=k,
                    t0_s=1000.0 + k * n / 100,
                    fs_hz=100.0,
                    n=n,
                    force_n=signal.sum(axis=1).round(2).tolist(),
                    cell_force_n=signal.round(2).tolist(),
                )
                self.client.publish(
                    topics.raw("calfload", "a1", side, batch.sensor_id), encode(batch)
                )
            k += 1
            self.stop.wait(0.01)  # about real-time pacing of the simulated stream

    def close(self) -> None:
        self.stop.set()
        self.thread.join(10)
        self.client.disconnect()
        self.client.loop_stop()


@pytest.mark.broker
def test_guided_calibration_writes_headers_with_the_true_gains(mosquitto, tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    gains = {s: rng.uniform(0.5, 2.0, N_CELLS) for s in ("left", "right")}
    zeros = {s: rng.uniform(0.0, 30.0, N_CELLS) for s in ("left", "right")}
    insoles = SimulatedInsoles(mosquitto.port, gains, zeros)
    prompts: list[str] = []

    def ask(prompt: str) -> str:
        prompts.append(prompt)
        return insoles.set_step(prompt)

    args = _parser().parse_args(
        [
            "calibrate",
            "--broker",
            mosquitto.url,
            "--left",
            "ins-l",
            "--right",
            "ins-r",
            "--body-mass-kg",
            str(BODY_KG),
            "--extra-kg",
            str(EXTRA_KG),
            "--samples",
            "200",
            "--out-dir",
            str(tmp_path),
        ]
    )
    try:
        assert cli_calibrate.run(args, ask=ask) == 0
    finally:
        insoles.close()
    assert len(prompts) == 5  # left only, right only, both feet, and the extra mass per foot
    for side in ("left", "right"):
        header = (tmp_path / f"calibration_{side}.h").read_text()
        fitted = re.search(r"INSOLE_CAL_GAIN_N_PER_US \{(.*)\}", header)
        zero = re.search(r"INSOLE_CAL_ZERO_US \{(.*)\}", header)
        assert fitted and zero
        np.testing.assert_allclose(
            [float(v) for v in fitted.group(1).split(",")], gains[side], rtol=0.02
        )
        np.testing.assert_allclose(
            [float(v) for v in zero.group(1).split(",")], zeros[side], atol=0.1
        )


def test_calibrate_needs_an_insole() -> None:
    args = _parser().parse_args(["calibrate", "--body-mass-kg", "70"])
    with pytest.raises(ValueError, match="give --left and/or --right"):
        cli_calibrate.run(args)


def test_pairing_keeps_only_samples_taken_together() -> None:
    t = np.arange(10) / 100
    a = np.arange(10.0)[:, None]
    b_t = np.r_[t[:5], t[6:] + 0.001]  # b misses one sample and is 1 ms late after it
    b = np.arange(9.0)[:, None] + 100
    pa, pb = cli_calibrate.pair_by_time(t, a, b_t, b, 100.0)
    assert pa[:, 0].tolist() == [0, 1, 2, 3, 4, 6, 7, 8, 9]
    assert pb[:, 0].tolist() == [100, 101, 102, 103, 104, 105, 106, 107, 108]


def test_steps_for_one_insole_include_its_unloaded_trial() -> None:
    bw = BODY_KG * G0
    one = cli_calibrate.steps(["left"], BODY_KG, 0.0)
    assert [s.loads_n for s in one] == [{"left": bw}, {"left": 0.0}]
    both = cli_calibrate.steps(["left", "right"], BODY_KG, EXTRA_KG)
    assert [s.loads_n for s in both] == [
        {"left": bw, "right": 0.0},
        {"right": bw, "left": 0.0},
        {"both": bw},
        {"left": (BODY_KG + EXTRA_KG) * G0},
        {"right": (BODY_KG + EXTRA_KG) * G0},
    ]
