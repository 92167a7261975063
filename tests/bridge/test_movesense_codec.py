"""Movesense GSP / IMU6: hand-worked vectors, split packets, round trips, fuzzing."""

from __future__ import annotations

import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from calfload.bridge.devices import movesense as ms
from calfload.bridge.devices.registry import FAMILIES
from calfload.bridge.errors import PacketError

# Worked by hand from imu.yaml (IMU6Data: u32 ms timestamp of the first sample, ArrayAcc
# in m/s², ArrayGyro in dps, written as blocks) and the GSP framing (type 2, ref 99):
# one sample, timestamp 0x000003E8 = 1000 ms, acc (1.0, -2.0, 9.5) m/s², gyro (0.5, 0, -250) dps.
# float32 LE: 1.0 = 0000803F, -2.0 = 000000C0, 9.5 = 00001841, 0.5 = 0000003F,
# 0.0 = 00000000, -250.0 = 00007AC3.
HAND_VECTOR = bytes.fromhex("02 63 E8030000 0000803F 000000C0 00001841 0000003F 00000000 00007AC3")


def test_hand_vector_decodes_to_si_units() -> None:
    (block,) = ms.MovesenseDecoder(208).feed(HAND_VECTOR)
    assert block.n == 1 and block.fs_hz == 208.0
    assert block.t0_sensor_us == 1_000_000
    assert block.acc_mps2 is not None and block.gyr_dps is not None
    np.testing.assert_array_equal(block.acc_mps2, [[1.0, -2.0, 9.5]])
    np.testing.assert_array_equal(block.gyr_dps, [[0.5, 0.0, -250.0]])


def test_encoder_produces_the_hand_vector() -> None:
    (packet,) = ms.encode_imu6(
        reference=99, timestamp_ms=1000, acc_mps2=[[1.0, -2.0, 9.5]], gyr_dps=[[0.5, 0, -250]]
    )
    assert packet == HAND_VECTOR


def test_arrays_are_blocks_not_interleaved() -> None:
    # Two samples: acc block (sample 0, sample 1) then gyro block, as the vendor sample reads.
    acc = [[1, 2, 3], [4, 5, 6]]
    gyr = [[7, 8, 9], [10, 11, 12]]
    (packet,) = ms.encode_imu6(reference=99, timestamp_ms=0, acc_mps2=acc, gyr_dps=gyr)
    floats = struct.unpack("<12f", packet[6:])
    assert floats == (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12)
    (block,) = ms.MovesenseDecoder(208).feed(packet)
    np.testing.assert_array_equal(block.acc_mps2, acc)
    np.testing.assert_array_equal(block.gyr_dps, gyr)


def test_commands_are_the_documented_bytes() -> None:
    assert ms.subscribe_command(99, ms.imu6_path(208)) == b"\x01\x63/Meas/IMU6/208"
    assert ms.unsubscribe_command(99) == b"\x02\x63"
    # The vendor firmware writes 507 as 01 FB; a little-endian firmware would write FB 01.
    assert ms.parse_status(b"\x01\x63\x01\xfb") == 507
    assert ms.parse_status(b"\x01\x63\xfb\x01") == 507
    assert ms.parse_status(ms.command_result(99, 501)) == 501
    assert ms.parse_status(b"\x01\x63Hello") is None


def test_split_packet_joins_and_counts_samples() -> None:
    rng = np.random.default_rng(3)
    acc, gyr = rng.normal(0, 20, (8, 3)), rng.normal(0, 300, (8, 3))
    parts = ms.encode_imu6(reference=99, timestamp_ms=5000, acc_mps2=acc, gyr_dps=gyr)
    assert [len(p) for p in parts] == [155, 45]  # 2 + 4 + 8 × 24 = 198 bytes: 155 + 2 + 43
    assert parts[1][:2] == b"\x03\x63"
    decoder = ms.MovesenseDecoder(208)
    assert decoder.feed(parts[0]) == []  # waits for DATA_PART2
    assert decoder.pending == 155
    (block,) = decoder.feed(parts[1])
    assert decoder.pending == 0
    assert block.n == 8 and block.t0_sensor_us == 5_000_000
    np.testing.assert_allclose(block.acc_mps2, acc.astype(np.float32))
    np.testing.assert_allclose(block.gyr_dps, gyr.astype(np.float32))


def test_three_part_packet_at_416_hz() -> None:
    n = ms.samples_per_notification(416)
    parts = ms.encode_imu6(
        reference=99, timestamp_ms=1, acc_mps2=np.ones((n, 3)), gyr_dps=np.ones((n, 3))
    )
    assert len(parts) == 3
    decoder = ms.MovesenseDecoder(416)
    blocks = [b for p in parts for b in decoder.feed(p)]
    assert [b.n for b in blocks] == [n]


def test_clock_wrap_is_unwrapped() -> None:
    decoder = ms.MovesenseDecoder(208)
    t = []
    for ts in (0xFFFFFF00, 0x00000010):
        (packet,) = ms.encode_imu6(
            reference=99, timestamp_ms=ts, acc_mps2=np.zeros((1, 3)), gyr_dps=np.zeros((1, 3))
        )
        t.append(decoder.feed(packet)[0].t0_sensor_us)
    assert t[1] - t[0] == (0x100 + 0x10) * 1000


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"\x02", "short"),
        (b"\x02\x63\x00\x00", "short"),
        (b"\x07\x63" + HAND_VECTOR[2:], "type"),
        (b"\x02\x64" + HAND_VECTOR[2:], "reference"),
        (b"\x03\x63" + bytes(10), "orphan"),
        (HAND_VECTOR[:6] + struct.pack("<6f", *([float("nan")] * 6)), "value"),
        (HAND_VECTOR[:6] + struct.pack("<6f", *([1e9] * 6)), "value"),
    ],
)
def test_bad_packets_raise_packet_error(payload: bytes, reason: str) -> None:
    with pytest.raises(PacketError) as info:
        ms.MovesenseDecoder(208).feed(payload)
    assert info.value.reason == reason
    assert "Movesense" in str(info.value)


def test_command_results_on_the_data_characteristic_are_not_data() -> None:
    assert ms.MovesenseDecoder(208).feed(ms.command_result(99, 200)) == []


def test_a_first_part_without_continuation_is_counted_and_the_next_packet_kept() -> None:
    parts = ms.encode_imu6(
        reference=99, timestamp_ms=0, acc_mps2=np.zeros((8, 3)), gyr_dps=np.zeros((8, 3))
    )
    decoder = ms.MovesenseDecoder(208)
    decoder.feed(parts[0])
    (block,) = decoder.feed(HAND_VECTOR)
    assert block.n == 1 and decoder.stale_parts == 1


def test_registry_and_decode_defaults() -> None:
    family = FAMILIES["movesense"]
    decoder = family.decoder()
    assert isinstance(decoder, ms.MovesenseDecoder)
    assert decoder.rate_hz == 208 and decoder.reference is None  # pasted payloads: any ref
    assert family.decoder(rate_hz=104).feed(HAND_VECTOR)[0].fs_hz == 104.0
    assert family.matches("Movesense 204730000081", [])


@given(
    n=st.integers(1, 16),
    ts=st.integers(0, 0xFFFFFFFF),
    limit=st.sampled_from([20, 155, 244]),
    data=st.data(),
)
@settings(max_examples=150, deadline=None)
def test_round_trip(n: int, ts: int, limit: int, data: st.DataObject) -> None:
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    acc, gyr = rng.uniform(-150, 150, (n, 3)), rng.uniform(-2000, 2000, (n, 3))
    parts = ms.encode_imu6(
        reference=7, timestamp_ms=ts, acc_mps2=acc, gyr_dps=gyr, max_notify_bytes=limit
    )
    decoder = ms.MovesenseDecoder(208, reference=7)
    blocks = [b for p in parts for b in decoder.feed(p)]
    assert len(blocks) == 1 and blocks[0].n == n and blocks[0].t0_sensor_us == ts * 1000
    np.testing.assert_allclose(blocks[0].acc_mps2, acc, rtol=1e-6)
    np.testing.assert_allclose(blocks[0].gyr_dps, gyr, rtol=1e-6)


@given(st.lists(st.binary(max_size=300), max_size=8))
@settings(max_examples=400, deadline=None)
def test_fuzz_random_bytes_only_raise_packet_error(payloads: list[bytes]) -> None:
    decoder = ms.MovesenseDecoder(208, reference=None)
    for payload in payloads:
        try:
            blocks = decoder.feed(payload)
        except PacketError:
            continue
        for block in blocks:
            assert block.acc_mps2 is not None and np.isfinite(block.acc_mps2).all()
