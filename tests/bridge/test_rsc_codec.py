"""Running Speed and Cadence measurement and feature: hand-worked vectors, rejection, fuzz."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from calfload.bridge.devices import rsc
from calfload.bridge.devices.registry import get_family
from calfload.bridge.errors import PacketError

# Worked by hand from the RSC Measurement layout (RSC Service 1.0; GATT Specification
# Supplement: speed 1/256 m/s, cadence 1/min, stride 1/100 m, distance 1/10 m):
# flags 0x07 (stride, distance, running); speed 0x0380 = 896 → 3.5 m/s; cadence 0xAA =
# 170 foot falls/min; stride 0x00E9 = 233 → 2.33 m; distance 0x00003039 = 12345 → 1234.5 m.
FULL = bytes.fromhex("07 8003 AA E900 39300000")
# Mandatory fields only: walking, 0x0100 = 256 → 1.0 m/s, 0x78 = 120/min.
MINIMAL = bytes.fromhex("00 0001 78")


def test_hand_worked_full_measurement() -> None:
    m = rsc.decode_measurement(FULL)
    assert m.speed_mps == pytest.approx(3.5)
    assert m.cadence_spm == 170.0  # foot falls of either foot per minute = steps/min
    assert m.stride_m == pytest.approx(2.33)
    assert m.total_distance_m == pytest.approx(1234.5)
    assert m.running is True
    # A consistent stride is two steps long: speed ≈ stride × steps/min / 120.
    assert m.stride_m * m.cadence_spm / 120 == pytest.approx(3.3, abs=0.05)


def test_hand_worked_minimal_measurement() -> None:
    m = rsc.decode_measurement(MINIMAL)
    assert (m.speed_mps, m.cadence_spm, m.stride_m, m.total_distance_m, m.running) == (
        1.0,
        120.0,
        None,
        None,
        False,
    )


def test_distance_without_stride() -> None:
    m = rsc.decode_measurement(bytes.fromhex("06 0002 B4 0A000000"))
    assert (m.speed_mps, m.cadence_spm, m.stride_m, m.total_distance_m) == (2.0, 180.0, None, 1.0)


def test_encoder_produces_the_hand_worked_bytes() -> None:
    raw = rsc.encode_measurement(
        speed_mps=3.5, cadence_spm=170, stride_m=2.33, total_distance_m=1234.5, running=True
    )
    assert raw == FULL
    assert rsc.encode_measurement(speed_mps=1.0, cadence_spm=120, running=False) == MINIMAL


@pytest.mark.parametrize(
    ("payload", "reason", "words"),
    [
        (b"", "short", "needs at least 4"),
        (FULL[:3], "short", "needs at least 4"),
        (FULL[:5], "short", "flags 0x07 need 10"),
        (FULL[:-1], "short", "flags 0x07 need 10"),
        (MINIMAL + b"\x00", "length", "imply 4"),
        (FULL + b"\x01\x02", "length", "imply 10"),
    ],
)
def test_malformed_measurements_raise_a_typed_clear_error(
    payload: bytes, reason: str, words: str
) -> None:
    with pytest.raises(PacketError) as info:
        rsc.decode_measurement(payload)
    assert info.value.reason == reason
    assert words in str(info.value)
    assert "rsc" in str(info.value)


def test_reserved_flag_bits_are_ignored_and_allow_future_fields() -> None:
    m = rsc.decode_measurement(bytes([0x80 | 0x04]) + MINIMAL[1:] + b"\xde\xad")
    assert (m.speed_mps, m.cadence_spm, m.running) == (1.0, 120.0, True)


def test_feature_bits() -> None:
    every = rsc.decode_feature(bytes.fromhex("1F00"))
    assert every == rsc.RscFeature(True, True, True, True, True)
    some = rsc.decode_feature(bytes.fromhex("0500"))
    assert some == rsc.RscFeature(True, False, True, False, False)
    assert rsc.encode_feature(some) == bytes.fromhex("0500")
    with pytest.raises(PacketError, match="needs 2"):
        rsc.decode_feature(b"\x01")


def test_decoder_block_carries_footpod_fields_without_a_clock() -> None:
    decoder = get_family("rsc").decoder()
    (block,) = decoder.feed(FULL)
    assert (block.n, block.fs_hz, block.t0_sensor_us) == (1, 1.0, None)
    assert block.speed_mps is not None and block.cadence_spm is not None
    assert block.stride_m is not None
    np.testing.assert_allclose(
        [block.speed_mps[0], block.cadence_spm[0], block.stride_m[0]], [3.5, 170, 2.33]
    )
    assert block.acc_mps2 is None and block.force_n is None
    (bare,) = decoder.feed(MINIMAL)
    assert bare.stride_m is None


def test_service_uuids_are_on_the_sig_base() -> None:
    assert rsc.SERVICE_UUID == "00001814-0000-1000-8000-00805f9b34fb"
    assert rsc.MEASUREMENT_UUID == "00002a53-0000-1000-8000-00805f9b34fb"
    assert rsc.FEATURE_UUID == "00002a54-0000-1000-8000-00805f9b34fb"
    assert get_family("rsc").matches(None, [rsc.SERVICE_UUID.upper()])


@given(
    speed=st.floats(0, 255),
    cadence=st.integers(0, 255),
    stride=st.none() | st.floats(0, 655),
    distance=st.none() | st.floats(0, 4e8),
    running=st.booleans(),
)
@settings(max_examples=300, deadline=None)
def test_round_trip_within_wire_resolution(
    speed: float, cadence: int, stride: float | None, distance: float | None, running: bool
) -> None:
    raw = rsc.encode_measurement(
        speed_mps=speed,
        cadence_spm=cadence,
        stride_m=stride,
        total_distance_m=distance,
        running=running,
    )
    m = rsc.decode_measurement(raw)
    assert m.speed_mps == pytest.approx(speed, abs=1 / 512 + 1e-9)
    assert m.cadence_spm == cadence
    assert m.running is running
    if stride is None:
        assert m.stride_m is None
    else:
        assert m.stride_m == pytest.approx(stride, abs=0.005 + 1e-9)
    if distance is None:
        assert m.total_distance_m is None
    else:
        assert m.total_distance_m == pytest.approx(distance, abs=0.05 + 1e-6)


@given(st.binary(max_size=40))
@settings(max_examples=1500, deadline=None)
def test_any_bytes_give_a_measurement_or_a_packet_error(payload: bytes) -> None:
    decoder = rsc.RscDecoder(1)
    try:
        (block,) = decoder.feed(payload)
    except PacketError:
        return
    assert block.speed_mps is not None and block.cadence_spm is not None
    assert 0 <= block.speed_mps[0] < 256 and 0 <= block.cadence_spm[0] <= 255
