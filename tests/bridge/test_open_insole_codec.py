"""The open insole profile v1: byte layout, round trip, and rejection of bad packets."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from calfload.bridge.devices import open_insole
from calfload.bridge.errors import PacketError

# Worked by hand from the layout in hardware.md ("Open insole profile"):
# version 1, 1 sample, seq 0x0102, t0 16 µs, dt 10000 µs (0x2710), 2 cells, IMU flag;
# cells 1000 counts (100.0 N) and 0; acc +2048, 0, -2048 counts (+1 g, 0, -1 g);
# gyro 164 counts (10 dps), 0, 0.
HAND_VECTOR = bytes.fromhex(
    "01 01 0201 10000000 1027 02 01 e803 0000 0008 0000 00f8 a400 0000 0000"
)


def test_hand_worked_vector_decodes_to_si_units() -> None:
    p = open_insole.decode(HAND_VECTOR)
    assert (p.seq, p.t0_us, p.dt_us, p.n_samples) == (0x0102, 16, 10000, 1)
    assert p.fs_hz == pytest.approx(100.0)
    np.testing.assert_allclose(p.cell_force_n, [[100.0, 0.0]])
    assert p.acc_mps2 is not None and p.gyr_dps is not None
    np.testing.assert_allclose(p.acc_mps2, [[9.80665, 0.0, -9.80665]])
    np.testing.assert_allclose(p.gyr_dps, [[10.0, 0.0, 0.0]])


def test_encoder_produces_the_hand_worked_bytes() -> None:
    packet = open_insole.encode(
        seq=0x0102,
        t0_us=16,
        dt_us=10000,
        cell_force_n=[[100.0, 0.0]],
        acc_mps2=[[9.80665, 0.0, -9.80665]],
        gyr_dps=[[10.0, 0.0, 0.0]],
    )
    assert packet == HAND_VECTOR


@given(
    n_samples=st.integers(1, 16),
    n_cells=st.integers(1, 16),
    imu=st.booleans(),
    seq=st.integers(0, 0xFFFF),
    t0=st.integers(0, 0xFFFFFFFF),
    data=st.data(),
)
@settings(max_examples=200, deadline=None)
def test_round_trip_within_wire_resolution(
    n_samples: int, n_cells: int, imu: bool, seq: int, t0: int, data: st.DataObject
) -> None:
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    cells = rng.uniform(0, 6000, (n_samples, n_cells))
    acc = rng.uniform(-150, 150, (n_samples, 3)) if imu else None
    gyr = rng.uniform(-1900, 1900, (n_samples, 3)) if imu else None
    raw = open_insole.encode(
        seq=seq, t0_us=t0, dt_us=4808, cell_force_n=cells, acc_mps2=acc, gyr_dps=gyr
    )
    p = open_insole.decode(raw)
    assert (p.seq, p.t0_us, p.dt_us) == (seq, t0, 4808)
    np.testing.assert_allclose(p.cell_force_n, cells, atol=0.05 + 1e-9)
    if imu:
        assert p.acc_mps2 is not None and p.gyr_dps is not None
        np.testing.assert_allclose(p.acc_mps2, acc, atol=open_insole.ACC_MPS2_PER_COUNT / 2 + 1e-9)
        np.testing.assert_allclose(p.gyr_dps, gyr, atol=open_insole.GYR_DPS_PER_COUNT / 2 + 1e-9)
    else:
        assert p.acc_mps2 is None and p.gyr_dps is None


@pytest.mark.parametrize(
    ("payload", "reason", "words"),
    [
        (HAND_VECTOR[:5], "short", "shorter than its header"),
        (b"", "short", "shorter than its header"),
        (b"\x02" + HAND_VECTOR[1:], "version", "version 2"),
        (HAND_VECTOR + b"\x00", "length", "header implies"),
        (HAND_VECTOR[:-1], "length", "header implies"),
        (HAND_VECTOR[:1] + b"\x00" + HAND_VECTOR[2:], "field", "0 samples"),
        (HAND_VECTOR[:10] + b"\x00" + HAND_VECTOR[11:], "field", "0 cells"),
        (HAND_VECTOR[:8] + b"\x00\x00" + HAND_VECTOR[10:], "field", "zero sample period"),
    ],
)
def test_malformed_packets_raise_a_typed_clear_error(
    payload: bytes, reason: str, words: str
) -> None:
    with pytest.raises(PacketError) as info:
        open_insole.decode(payload)
    assert info.value.reason == reason
    assert words in str(info.value)
    assert "open-insole" in str(info.value)


@given(st.binary(max_size=300))
@settings(max_examples=1500, deadline=None)
def test_any_bytes_give_a_packet_or_a_packet_error(payload: bytes) -> None:
    try:
        p = open_insole.decode(payload)
    except PacketError:
        return
    assert p.cell_force_n.shape[0] == p.n_samples >= 1
    assert np.all(np.isfinite(p.cell_force_n))


def test_set_rate_command_bytes() -> None:
    assert open_insole.set_rate_command(100) == bytes.fromhex("026400")
    with pytest.raises(ValueError, match="outside"):
        open_insole.set_rate_command(0)
