"""WitMotion BLE 5.0 frames and commands: hand-worked vectors, stream reassembly, junk, fuzz."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from calfload.bridge.devices import witmotion
from calfload.bridge.devices.registry import get_family
from calfload.bridge.errors import PacketError

# Worked by hand from the 0x61 layout (WT901BLECL 5.0 manual §6.1.1; vendor SDK
# device_model.py processData): ax = 0x0800 = 2048 → 2048/32768 × 16 g = 1 g,
# ay = 0xF800 = −1 g, az = 0; wx = 0x0100 = 256 → 256/32768 × 2000 = 15.625 °/s,
# wy = 0xFF00 = −15.625 °/s, wz = 0; roll = 0x4000 → 90°, pitch = 0xC000 → −90°, yaw 0.
HAND_FRAME = bytes.fromhex("5561 0008 00f8 0000 0001 00ff 0000 0040 00c0 0000")
# The manual's own register-reply example (§6.1.2.1, magnetometer read FF AA 27 3A 00).
MANUAL_REG_REPLY = bytes.fromhex("55 71 3A 00 68 01 69 00 7A 00 00 00 00 00 00 00 00 00 00 00")
G0 = 9.80665


def frame(k: int) -> bytes:
    """A distinct valid frame per k (acc x = k counts)."""
    return witmotion.encode_frames([[k * witmotion.ACC_MPS2_PER_COUNT, 0, 0]], [[0, 0, 0]])


def acc_x_counts(blocks: list) -> list[int]:
    acc = [b.acc_mps2[:, 0] for b in blocks]
    values = np.concatenate(acc) if acc else np.zeros(0)
    return [round(v / witmotion.ACC_MPS2_PER_COUNT) for v in values]


def test_hand_worked_frame_decodes_to_si_units() -> None:
    assert len(HAND_FRAME) == witmotion.FRAME_LEN
    frames = witmotion.frames_from_bodies(HAND_FRAME[2:])
    np.testing.assert_allclose(frames.acc_mps2, [[G0, -G0, 0.0]])
    np.testing.assert_allclose(frames.gyr_dps, [[15.625, -15.625, 0.0]])
    np.testing.assert_allclose(frames.angle_deg, [[90.0, -90.0, 0.0]])
    (block,) = witmotion.WitMotionDecoder(100).feed(HAND_FRAME)
    assert (block.n, block.fs_hz, block.t0_sensor_us) == (1, 100.0, None)
    np.testing.assert_allclose(block.acc_mps2, [[G0, -G0, 0.0]])
    np.testing.assert_allclose(block.gyr_dps, [[15.625, -15.625, 0.0]])


def test_encoder_produces_the_hand_worked_bytes() -> None:
    raw = witmotion.encode_frames([[G0, -G0, 0.0]], [[15.625, -15.625, 0.0]], [[90.0, -90.0, 0.0]])
    assert raw == HAND_FRAME


def test_several_frames_in_one_notification_keep_their_order() -> None:
    (block,) = witmotion.WitMotionDecoder(100).feed(frame(1) + frame(2) + frame(3))
    assert block.n == 3
    assert acc_x_counts([block]) == [1, 2, 3]


@pytest.mark.parametrize("cut", range(1, 40))
def test_frames_split_across_notifications_are_joined(cut: int) -> None:
    stream = frame(7) + frame(8)
    decoder = witmotion.WitMotionDecoder(50)
    blocks = decoder.feed(stream[:cut]) + decoder.feed(stream[cut:])
    assert acc_x_counts(blocks) == [7, 8]
    assert decoder.pending == 0


def test_register_replies_are_recognised_and_skipped() -> None:
    decoder = witmotion.WitMotionDecoder(100)
    blocks = decoder.feed(frame(1) + MANUAL_REG_REPLY + frame(2))
    assert acc_x_counts(blocks) == [1, 2]
    assert decoder.register_replies == 1
    assert decoder.feed(MANUAL_REG_REPLY) == []
    assert decoder.register_replies == 2


def test_junk_between_frames_is_reported_and_good_frames_are_salvaged() -> None:
    decoder = witmotion.WitMotionDecoder(100)
    with pytest.raises(PacketError) as info:
        decoder.feed(frame(1) + b"\x00\x13\x55\x99" + frame(2))
    assert info.value.reason == "junk"
    assert "4 byte(s) outside" in str(info.value)
    assert acc_x_counts(list(info.value.salvaged)) == [1, 2]
    # The decoder stays in step afterwards.
    assert acc_x_counts(decoder.feed(frame(3))) == [3]


def test_pure_junk_is_a_packet_error_without_samples() -> None:
    with pytest.raises(PacketError) as info:
        witmotion.WitMotionDecoder(100).feed(b"\x01\x02\x03")
    assert info.value.salvaged == ()
    assert "witmotion" in str(info.value)


def test_a_split_frame_whose_continuation_was_lost_is_abandoned() -> None:
    decoder = witmotion.WitMotionDecoder(100)
    assert decoder.feed(frame(5)[:7]) == []
    assert decoder.pending == 7
    with pytest.raises(PacketError) as info:
        decoder.feed(frame(6))  # a whole frame: the 7 waiting bytes were an orphan
    assert acc_x_counts(list(info.value.salvaged)) == [6]
    assert decoder.pending == 0
    assert decoder.junk_bytes == 7


def test_register_value_is_found_in_a_reply() -> None:
    # The manual's example: magnetometer x = 0x0168 = 360 at register 0x3A.
    assert witmotion.register_in_reply(MANUAL_REG_REPLY, 0x3A) == 360
    assert witmotion.register_in_reply(frame(1) + MANUAL_REG_REPLY, 0x3A) == 360
    assert witmotion.register_in_reply(MANUAL_REG_REPLY, 0x03) is None
    assert witmotion.register_in_reply(MANUAL_REG_REPLY[:5], 0x3A) is None


def test_command_bytes_match_the_vendor_protocol() -> None:
    # Vendor SDK: unlock = write register 0x69 with 0xB588; save = register 0 ← 0.
    assert witmotion.unlock_command() == bytes.fromhex("FF AA 69 88 B5")
    assert witmotion.save_command() == bytes.fromhex("FF AA 00 00 00")
    assert witmotion.read_register_command(0x3A) == bytes.fromhex("FF AA 27 3A 00")
    # RRATE codes from the register map: 0x08 = 50 Hz, 0x09 = 100 Hz, 0x0B = 200 Hz.
    assert witmotion.set_rate_command(50) == bytes.fromhex("FF AA 03 08 00")
    assert witmotion.set_rate_command(100) == bytes.fromhex("FF AA 03 09 00")
    assert witmotion.set_rate_command(200) == bytes.fromhex("FF AA 03 0B 00")
    assert witmotion.rate_from_code(0x06) == 10
    with pytest.raises(ValueError, match="cannot stream at 30 Hz"):
        witmotion.set_rate_command(30)


def test_family_uses_the_vendor_uuid_base_not_the_sig_base() -> None:
    family = get_family("witmotion")
    assert family.service_uuids == ("0000ffe5-0000-1000-8000-00805f9a34fb",)
    for uuid in (witmotion.NOTIFY_CHAR_UUID, witmotion.WRITE_CHAR_UUID):
        assert uuid.endswith("-0000-1000-8000-00805f9a34fb")
    assert family.matches("WT901BLE67", [])
    assert family.matches(None, ["0000FFE5-0000-1000-8000-00805F9A34FB"])
    assert not family.matches(None, ["0000ffe5-0000-1000-8000-00805f9b34fb"])


@given(
    n=st.integers(1, 30),
    chunk=st.integers(1, 80),
    data=st.data(),
)
@settings(max_examples=200, deadline=None)
def test_round_trip_through_any_fixed_notification_size(
    n: int, chunk: int, data: st.DataObject
) -> None:
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    acc = rng.uniform(-150, 150, (n, 3))
    gyr = rng.uniform(-1990, 1990, (n, 3))
    stream = witmotion.encode_frames(acc, gyr)
    decoder = witmotion.WitMotionDecoder(100)
    blocks = []
    for i in range(0, len(stream), chunk):
        blocks += decoder.feed(stream[i : i + chunk])
    got_acc = np.concatenate([b.acc_mps2 for b in blocks])
    got_gyr = np.concatenate([b.gyr_dps for b in blocks])
    np.testing.assert_allclose(got_acc, acc, atol=witmotion.ACC_MPS2_PER_COUNT / 2 + 1e-9)
    np.testing.assert_allclose(got_gyr, gyr, atol=witmotion.GYR_DPS_PER_COUNT / 2 + 1e-9)
    assert decoder.pending == 0


@given(st.lists(st.binary(max_size=70), max_size=12))
@settings(max_examples=1500, deadline=None)
def test_any_notifications_give_samples_or_a_packet_error(payloads: list[bytes]) -> None:
    decoder = witmotion.WitMotionDecoder(100)
    for payload in payloads:
        try:
            blocks = decoder.feed(payload)
        except PacketError as exc:
            blocks = list(exc.salvaged)
        assert decoder.pending < witmotion.FRAME_LEN
        for b in blocks:
            assert b.acc_mps2 is not None and b.gyr_dps is not None
            assert b.acc_mps2.shape == b.gyr_dps.shape == (b.n, 3)
            assert np.all(np.abs(b.acc_mps2) <= 16 * G0)
            assert np.all(np.abs(b.gyr_dps) <= 2000)
