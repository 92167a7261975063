"""Polar PMD: the SDK's own test vectors, control point, delta frames, round trips, fuzzing."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from calfload.bridge.devices import polar_pmd as pmd
from calfload.bridge.devices.registry import FAMILIES
from calfload.bridge.errors import PacketError

# Vectors below come from polarofficial/polar-ble-sdk@0aabf34, Android unit tests under
# sources/Android/android-communications/library/src/test/java/.../gatt/client/pmd/.
# AccDataTest.kt "process acc raw data frame type 1" (first two of its samples): header
# 02 | 00 94 35 77 00 00 00 00 (2 000 000 000 ns) | 01, samples (-9, -1, 999), (-8, -2, 997) mG.
ACC_RAW_TYPE1 = bytes.fromhex("02 0094357700000000 01 F7FF FFFF E703 F8FF FEFF E503")
# AccDataTest.kt "process acc compressed data type 1": reference (-15, 20, 1008), one block
# of width 6 and count 1: 7B 0F 08 → deltas (-5, -3, 0).
ACC_DELTA_TYPE1 = bytes.fromhex("02 6500000000000000 81 F1FF 1400 F003 06 01 7B0F08")
# GyrDataTest.kt "process gyro compressed data type 0": reference (-22, 8, 13), width 3,
# count 1, DF 00 → deltas (-1, +3, +3).
GYR_DELTA_TYPE0 = bytes.fromhex("05 FFFFFFFFFFFFFF7F 80 EAFF 0800 0D00 03 01 DF00")
# GyrDataTest.kt "process gyro compressed data type 1": float32 bit patterns 1.0, 10.0, 20.0
# plus 28-bit deltas → 10.0, 20.0, 1.1.
GYR_DELTA_TYPE1 = bytes.fromhex(
    "05 0094357700000000 81 0000803F 00002041 0000A041 1C 01 0000A001 000008CD CCEC0D"
)
# AccDataTest.kt "process acc compressed data type 0", shortened to its first delta sample:
# reference (1905, 27376, -29282), width 10 (0x0A), count 1, bits BE 5C BE BA → (+190, -105, -85).
ACC_DELTA_TYPE0 = bytes.fromhex("02 0094357700000000 80 7107 F06A 9E8D 0A 01 BE5CBEBA")


def test_sdk_vectors_decode_to_the_sdk_values() -> None:
    f = pmd.decode_frame(ACC_RAW_TYPE1)
    assert (f.measurement, f.timestamp_ns, f.compressed) == (pmd.ACC, 2_000_000_000, False)
    np.testing.assert_array_equal(f.samples, [[-9, -1, 999], [-8, -2, 997]])
    np.testing.assert_array_equal(
        pmd.decode_frame(ACC_DELTA_TYPE1).samples, [[-15, 20, 1008], [-20, 17, 1008]]
    )
    gyr = pmd.decode_frame(GYR_DELTA_TYPE0)
    assert gyr.timestamp_ns == 2**63 - 1
    np.testing.assert_array_equal(gyr.samples, [[-22, 8, 13], [-23, 11, 16]])
    np.testing.assert_allclose(
        pmd.decode_frame(GYR_DELTA_TYPE1).samples, [[1, 10, 20], [10, 20, 1.1]], rtol=1e-7
    )
    np.testing.assert_array_equal(
        pmd.decode_frame(ACC_DELTA_TYPE0).samples,
        [[1905, 27376, -29282], [2095, 27271, -29367]],
    )


def test_h10_raw_frame_to_si_with_last_sample_timing() -> None:
    decoder = pmd.PolarDecoder(rate_hz=200.0)
    (block,) = decoder.feed(ACC_RAW_TYPE1)
    assert block.acc_mps2 is not None and block.gyr_dps is None
    np.testing.assert_allclose(block.acc_mps2[0], np.array([-9, -1, 999]) * 9.80665e-3)
    # The frame timestamp is the last sample; the first is one period (5 ms) earlier.
    assert block.t0_sensor_us == 2_000_000 - 5_000


def test_factor_scales_delta_frames() -> None:
    (acc,) = pmd.PolarDecoder(rate_hz=52.0, acc_factor=0.5).feed(ACC_DELTA_TYPE1)
    np.testing.assert_allclose(acc.acc_mps2[1], np.array([-20, 17, 1008]) * 0.5 * 9.80665e-3)
    # ACC compressed type 0 carries g: × factor × 1000 (AccData.kt).
    (acc0,) = pmd.PolarDecoder(rate_hz=52.0, acc_factor=2.44e-4).feed(ACC_DELTA_TYPE0)
    np.testing.assert_allclose(acc0.acc_mps2[0, 0], 1905 * 2.44e-4 * 9.80665, rtol=1e-9)


def test_acc_and_gyro_are_paired_by_time() -> None:
    decoder = pmd.PolarDecoder(rate_hz=100.0, acc_factor=1.0, gyr_factor=0.5, pair=True)
    t_ns = 10_000_000_000
    acc = np.arange(30).reshape(10, 3)
    gyr = -np.arange(30).reshape(10, 3)
    assert decoder.feed(pmd.encode_delta(pmd.ACC, t_ns, acc)) == []
    (block,) = decoder.feed(pmd.encode_delta(pmd.GYRO, t_ns, gyr))
    assert block.n == 10 and block.t0_sensor_us == 10_000_000 - 90_000
    np.testing.assert_allclose(block.gyr_dps, gyr * 0.5)
    # The gyro starts one frame later: the first acc frame goes out alone, then pairs.
    decoder = pmd.PolarDecoder(rate_hz=100.0, pair=True)
    assert decoder.feed(pmd.encode_delta(pmd.ACC, t_ns, acc)) == []
    assert decoder.feed(pmd.encode_delta(pmd.ACC, t_ns + 100_000_000, acc)) == []
    blocks = decoder.feed(pmd.encode_delta(pmd.GYRO, t_ns + 100_000_000, gyr))
    assert [(b.n, b.gyr_dps is None) for b in blocks] == [(10, True), (10, False)]
    assert blocks[1].t0_sensor_us - blocks[0].t0_sensor_us == 100_000


def test_control_point_bytes() -> None:
    # The H10 ACC start of sensors.md §3 / bleakheart: 200 Hz, 16 bit, ±8 g.
    cmd = pmd.start_command(pmd.ACC, {pmd.SAMPLE_RATE: 200, pmd.RESOLUTION: 16, pmd.RANGE: 8})
    assert cmd == bytes.fromhex("02 02 00 01 C8 00 01 01 10 00 02 01 08 00")
    assert pmd.start_command(pmd.SDK_MODE) == b"\x02\x09"
    assert pmd.stop_command(pmd.ACC) == b"\x03\x02"
    # BlePmdClientControlPointResponseTest.kt: success with params, and an error reply.
    ok = pmd.parse_response(bytes.fromhex("F0 01 02 00 00 FF FF FF"))
    assert (ok.op, ok.measurement, ok.ok, ok.more, ok.params) == (1, 2, True, False, b"\xff" * 3)
    err = pmd.parse_response(bytes.fromhex("F0 01 06 07 00"))
    assert (err.status, err.params) == (7, b"")
    assert pmd.status_text(8) == "error 8 INVALID SAMPLE RATE"
    # PmdSettingTest.kt: 52 Hz, 16 bit, ranges 245/500/1000/2000, 3 channels.
    s = pmd.parse_settings(
        bytes.fromhex("00 01 3400 01 01 1000 02 04 F500 F401 E803 D007 04 01 03")
    )
    assert s == {0: [52], 1: [16], 2: [245, 500, 1000, 2000], 4: [3]}
    assert pmd.parse_settings(pmd.encode_settings({pmd.FACTOR: [0.5]})) == {pmd.FACTOR: [0.5]}
    assert pmd.parse_features(pmd.encode_features({pmd.ACC, pmd.GYRO, pmd.SDK_MODE})) == {
        pmd.ACC,
        pmd.GYRO,
        pmd.SDK_MODE,
    }


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"\x02\x00\x00", "short"),
        (b"\x00" + ACC_RAW_TYPE1[1:], "type"),  # ECG: not started by this bridge
        (ACC_RAW_TYPE1[:-1], "length"),
        (ACC_DELTA_TYPE1[:-1], "length"),
        (ACC_DELTA_TYPE1[:-4], "length"),  # block header without its bits
        (ACC_RAW_TYPE1[:9] + b"\x07" + ACC_RAW_TYPE1[10:], "type"),
    ],
)
def test_bad_frames_raise_packet_error(payload: bytes, reason: str) -> None:
    with pytest.raises(PacketError) as info:
        pmd.PolarDecoder(rate_hz=200.0).feed(payload)
    assert info.value.reason == reason
    assert "PMD" in str(info.value)


def test_registry_and_decode_options() -> None:
    family = FAMILIES["polar"]
    decoder = family.decoder(rate_hz=52, acc_factor=0.5)  # type: ignore[call-arg]
    assert isinstance(decoder, pmd.PolarDecoder)
    assert (decoder.rate_hz, decoder.acc_factor, decoder.gyr_factor) == (52.0, 0.5, 1.0)
    assert family.decoder().rate_hz == 200.0  # type: ignore[attr-defined]
    # `calfload decode polar --scale F` passes scale=F: the START reply's factor.
    scaled = family.decoder(scale=0.25)  # type: ignore[call-arg]
    assert (scaled.acc_factor, scaled.gyr_factor) == (0.25, 0.25)  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match="positive"):
        family.decoder(scale=-1.0)  # type: ignore[call-arg]
    # Pasted frames decode one by one: a GYRO frame alone gives angular rate at once.
    (gyr,) = family.decoder(gyr_factor=0.5).feed(GYR_DELTA_TYPE0)  # type: ignore[call-arg]
    assert gyr.acc_mps2 is None and gyr.gyr_dps is not None
    np.testing.assert_allclose(gyr.gyr_dps[1], [-11.5, 5.5, 8.0])
    assert family.matches("Polar Sense B5A1E12F", [])
    assert pmd.choose_rate(200, [26, 52, 104, 208, 416]) == 208
    assert pmd.choose_rate(500, [25, 50, 100, 200]) == 500


@given(
    n=st.integers(1, 600),
    amplitude=st.sampled_from([1, 7, 300, 32767]),
    data=st.data(),
)
@settings(max_examples=150, deadline=None)
def test_delta_round_trip(n: int, amplitude: int, data: st.DataObject) -> None:
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    counts = rng.integers(-amplitude, amplitude + 1, (n, 3))
    frame = pmd.encode_delta(pmd.ACC, 123, counts)
    np.testing.assert_array_equal(pmd.decode_frame(frame).samples, counts)


@given(st.lists(st.binary(max_size=260), max_size=6), st.booleans())
@settings(max_examples=400, deadline=None)
def test_fuzz_random_bytes_only_raise_packet_error(payloads: list[bytes], pair: bool) -> None:
    decoder = pmd.PolarDecoder(rate_hz=208.0, pair=pair)
    for payload in payloads:
        try:
            blocks = decoder.feed(payload)
        except PacketError:
            continue
        for block in blocks:
            assert block.n > 0
