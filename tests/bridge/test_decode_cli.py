"""``calfload decode``: payload syntax, every family through the registry, bad input."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from typing import Any, ClassVar

import numpy as np
import pytest
from bleak import BleakClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from calfload.bridge.cli import decode as decode_cli
from calfload.bridge.devices import open_insole, registry, rsc, witmotion
from calfload.bridge.devices.base import DataCallback, DeviceFamily, SampleBlock
from calfload.bridge.messages import Placement
from calfload.bridge.simulator import AthleteProfile, GaitSimulator
from calfload.cli.main import main

# Hand-worked vectors from the codec tests (layouts in the device modules' docstrings).
WIT_FRAME = "5561 0008 00f8 0000 0001 00ff 0000 0040 00c0 0000"
RSC_FULL = "07 8003 AA E900 39300000"
G0 = 9.80665


def decode(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[dict[str, Any]], str]:
    code = main(["decode", *argv])
    captured = capsys.readouterr()
    samples = [json.loads(line) for line in captured.out.splitlines()]
    return code, samples, captured.err


@pytest.mark.parametrize(
    "text",
    [
        "55610008",
        "55 61 00 08",
        "0x55 0x61 0x00 0x08",
        "0x55610008",
        "55:61:00:08",
        "55-61-00-08",
        "(0x) 55-61-00-08",
        "0x55,0x61,0x00,0x08",
        "  55 61\t00 08  ",
    ],
)
def test_payload_syntax_of_common_ble_tools(text: str) -> None:
    assert decode_cli.parse_hex(text) == bytes.fromhex("55610008")


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("556", "odd number"),
        ("55 6 1", "odd number"),
        ("55zz", "'z'"),
        ("0x", "empty"),
        ("", "empty"),
    ],
)
def test_unreadable_payloads_say_why(text: str, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        decode_cli.parse_hex(text)


def test_witmotion_samples_in_si_units_with_relative_time(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, samples, err = decode(capsys, "witmotion", "--rate-hz", "50", WIT_FRAME * 2, WIT_FRAME)
    assert (code, err) == (0, "")
    assert [s["t_s"] for s in samples] == [0.0, 0.02, 0.04]
    assert [s["payload"] for s in samples] == [1, 1, 2]
    assert samples[0]["acc_mps2"] == pytest.approx([G0, -G0, 0.0])
    assert samples[0]["gyr_dps"] == pytest.approx([15.625, -15.625, 0.0])
    assert set(samples[0]) == {"t_s", "payload", "acc_mps2", "gyr_dps"}


def test_rsc_sample_has_footpod_fields(capsys: pytest.CaptureFixture[str]) -> None:
    code, samples, _ = decode(capsys, "rsc", RSC_FULL, "00 0001 78")
    assert code == 0
    assert samples[0] == {
        "t_s": 0.0,
        "payload": 1,
        "speed_mps": 3.5,
        "cadence_spm": 170.0,
        "stride_m": 2.33,
    }
    assert samples[1] == {"t_s": 1.0, "payload": 2, "speed_mps": 1.0, "cadence_spm": 120.0}


def test_open_insole_time_comes_from_the_sensor_clock(capsys: pytest.CaptureFixture[str]) -> None:
    cells = np.array([[100.0, 0.0], [200.0, 5.0]])
    first = open_insole.encode(seq=1, t0_us=1_000_000, dt_us=10_000, cell_force_n=cells)
    # The next packet starts 50 ms later: three samples were lost in between.
    second = open_insole.encode(seq=3, t0_us=1_050_000, dt_us=10_000, cell_force_n=cells)
    code, samples, _ = decode(capsys, "open-insole", first.hex(), second.hex(" "))
    assert code == 0
    assert [s["t_s"] for s in samples] == [0.0, 0.01, 0.05, 0.06]
    assert samples[1]["force_n"] == 205.0 and samples[1]["cell_force_n"] == [200.0, 5.0]


def test_split_frames_on_stdin_are_joined(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    raw = bytes.fromhex(WIT_FRAME) * 2
    lines = f"# from nRF Connect\n{raw[:13].hex('-')}\n\n{raw[13:].hex(':')}\n"
    monkeypatch.setattr(sys, "stdin", io.StringIO(lines))
    code, samples, _ = decode(capsys, "witmotion", "-")
    assert code == 0
    assert [s["payload"] for s in samples] == [2, 2]


def test_simulated_stream_round_trips(capsys: pytest.CaptureFixture[str]) -> None:
    sim = GaitSimulator(AthleteProfile(athlete="a1", name="Ada", seed=5))
    t = np.arange(40) / 100.0
    _cells, acc, gyr = sim.insole("right", t)
    payloads = [
        witmotion.encode_frames(acc[i : i + 4], gyr[i : i + 4]).hex() for i in range(0, 40, 4)
    ]
    code, samples, _ = decode(capsys, "witmotion", *payloads)
    assert code == 0
    got = np.array([s["acc_mps2"] for s in samples])
    np.testing.assert_allclose(got, acc, atol=witmotion.ACC_MPS2_PER_COUNT / 2 + 1e-6)
    np.testing.assert_allclose([s["t_s"] for s in samples], t, atol=1e-9)


def test_bad_payload_is_named_good_ones_still_decoded(capsys: pytest.CaptureFixture[str]) -> None:
    code, samples, err = decode(capsys, "rsc", RSC_FULL, "07 80", "12 3", RSC_FULL)
    assert code == 2
    assert [s["payload"] for s in samples] == [1, 4]
    lines = err.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("calfload decode: payload 2: rsc measurement is 2 bytes")
    assert lines[1].startswith("calfload decode: payload 3 (12 3) is not hex")


def test_junk_between_frames_is_reported_and_frames_kept(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, samples, err = decode(capsys, "witmotion", WIT_FRAME + "0102" + WIT_FRAME)
    assert code == 2 and len(samples) == 2
    assert "payload 1" in err and "outside any 55 61" in err


def test_incomplete_last_frame_is_an_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, samples, err = decode(capsys, "witmotion", WIT_FRAME[:9])
    assert (code, samples) == (2, [])
    assert "no later payload completes" in err


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["polarr", "00"], "unknown device 'polarr'; known: "),
        (["rsc", "--scale", "2", RSC_FULL], "rsc payloads need no --scale"),
        (["witmotion", "--rate-hz", "0", WIT_FRAME], "must be positive"),
    ],
)
def test_bad_options_give_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], argv: list[str], words: str
) -> None:
    code, samples, err = decode(capsys, *argv)
    assert (code, samples) == (2, [])
    assert len(err.splitlines()) == 1 and words in err


class _ScaledDecoder:
    def __init__(self, scale: float) -> None:
        self.scale = scale

    def feed(self, payload: bytes) -> list[SampleBlock]:
        acc = np.frombuffer(payload, dtype="<i2").reshape(-1, 3) * self.scale
        return [SampleBlock(n=acc.shape[0], fs_hz=200.0, t0_sensor_us=5_000, acc_mps2=acc)]


class _ScaledFamily(DeviceFamily):
    """Stands for a family another branch adds (e.g. Polar, whose frames need a scale)."""

    name = "scaled-test"
    label = "test family"
    default_rate_hz = 200
    placements: ClassVar[tuple[Placement, ...]] = ("shank",)

    def decoder(self, *, rate_hz: int | None = None, scale: float = 1.0) -> _ScaledDecoder:
        return _ScaledDecoder(scale)

    async def start(
        self, client: BleakClient, on_data: DataCallback, rate_hz: int
    ) -> _ScaledDecoder:
        raise NotImplementedError


def test_any_registered_family_works_and_gets_scale(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(registry.FAMILIES, "scaled-test", _ScaledFamily())
    code, samples, _ = decode(
        capsys, "scaled-test", "--scale", "0.5", "0200 0400 FAFF 0000 0000 0200"
    )
    assert code == 0
    assert [s["acc_mps2"] for s in samples] == [[1.0, 2.0, -3.0], [0.0, 0.0, 1.0]]
    assert [s["t_s"] for s in samples] == [0.0, 0.005]


def test_as_a_subprocess() -> None:
    cmd = [sys.executable, "-m", "calfload.cli", "decode", "rsc", RSC_FULL]
    ok = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout) == {
        "t_s": 0.0,
        "payload": 1,
        "speed_mps": 3.5,
        "cadence_spm": 170.0,
        "stride_m": 2.33,
    }
    bad = subprocess.run([*cmd, "07"], capture_output=True, text=True, timeout=60, check=False)
    assert bad.returncode == 2
    assert bad.stderr.count("\n") == 1 and "payload 2" in bad.stderr
    assert rsc.decode_measurement(bytes.fromhex(RSC_FULL)).cadence_spm == 170.0


@given(st.text(max_size=60))
@settings(max_examples=500, deadline=None)
def test_any_text_gives_bytes_or_a_value_error(text: str) -> None:
    try:
        data = decode_cli.parse_hex(text)
    except ValueError as exc:
        message = str(exc)
        data = b""
    else:
        message = ""
    assert bool(data) != bool(message)  # bytes, or a reason, never both or neither


@pytest.mark.parametrize("device", sorted(registry.FAMILIES))
@given(payloads=st.lists(st.binary(min_size=1, max_size=60), min_size=1, max_size=5))
@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_every_family_turns_any_payloads_into_samples_or_one_line_errors(
    capsys: pytest.CaptureFixture[str], device: str, payloads: list[bytes]
) -> None:
    code, samples, err = decode(capsys, device, *(p.hex(" ") for p in payloads))
    assert code in (0, 2)
    assert (code == 2) == bool(err)
    assert all(line.startswith("calfload decode: ") for line in err.splitlines())
    assert len(err.splitlines()) <= len(payloads) + 1
    assert all(s["payload"] in range(1, len(payloads) + 1) for s in samples)
