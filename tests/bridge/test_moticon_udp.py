"""Moticon OpenGo live UDP: datagram decoder and the batching source (no sockets)."""

from __future__ import annotations

import contextlib
import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from calfload.bridge.devices import moticon_udp
from calfload.bridge.devices.moticon_udp import FULL_LAYOUT, parse_layout
from calfload.bridge.errors import PacketError
from calfload.bridge.moticon_source import MoticonUdpSource, MoticonUdpSpec
from calfload.bridge.virtual.moticon_udp_sender import simulated_samples

# Worked by hand from the index table in the module docstring (after hermes-moticon's
# producer.py and OpenSimRT's MoticonReceiver.cpp): time 12.34 s; left acc (0, 0, 1) g,
# left gyro (10, 20, 30) dps, left COP (0.1, -0.2), left pressures 1..16 N/cm²,
# left total force 700 N; right acc (0.5, 0, -1) g, gyro (-1, -2, -3), COP (0, 0.4),
# pressures all 0.5, total force 0.
HAND_DATAGRAM = (
    "12.34 0 0 1 10 20 30 0.1 -0.2 "
    + " ".join(str(i) for i in range(1, 17))
    + " 700 0.5 0 -1 -1 -2 -3 0 0.4 "
    + " ".join(["0.5"] * 16)
    + " 0\n"
).encode()


def test_hand_worked_datagram_decodes_to_si_units() -> None:
    s = moticon_udp.decode(HAND_DATAGRAM)
    assert s.t_s == 12.34
    left, right = s.feet["left"], s.feet["right"]
    assert left.acc_mps2 is not None and right.acc_mps2 is not None
    np.testing.assert_allclose(left.acc_mps2, [0, 0, 9.80665])
    np.testing.assert_allclose(left.gyr_dps, [10, 20, 30])
    np.testing.assert_allclose(left.cop, [0.1, -0.2])
    np.testing.assert_allclose(left.pressure_ncm2, np.arange(1, 17))
    assert left.total_force_n == 700.0
    np.testing.assert_allclose(right.acc_mps2, [0.5 * 9.80665, 0, -9.80665])
    np.testing.assert_allclose(right.gyr_dps, [-1, -2, -3])
    np.testing.assert_allclose(right.pressure_ncm2, np.full(16, 0.5))
    assert right.total_force_n == 0.0
    assert FULL_LAYOUT.n_values == 51


def test_encode_decode_round_trip() -> None:
    for sample in simulated_samples(20):
        back = moticon_udp.decode(moticon_udp.encode(sample))
        assert back.t_s == sample.t_s
        for side in ("left", "right"):
            a, b = sample.feet[side], back.feet[side]
            assert b.total_force_n == a.total_force_n
            np.testing.assert_allclose(b.acc_mps2, a.acc_mps2, rtol=1e-12)  # type: ignore[arg-type]
            np.testing.assert_array_equal(b.pressure_ncm2, a.pressure_ncm2)  # type: ignore[arg-type]


def test_a_custom_layout_reads_fewer_channels() -> None:
    layout = parse_layout("time right.total_force right.acc")
    s = moticon_udp.decode(b"1.5 321.5 0 0 -1", layout)
    assert s.feet["right"].total_force_n == 321.5
    assert s.feet["right"].gyr_dps is None and "left" not in s.feet
    with pytest.raises(ValueError, match="starts with 'time'"):
        parse_layout("left.acc time")
    with pytest.raises(ValueError, match="unknown Moticon channel group"):
        parse_layout("time left.magnet")


def test_non_finite_values_mark_only_that_group_missing() -> None:
    words = HAND_DATAGRAM.decode().split()
    words[25] = "nan"  # left total force
    s = moticon_udp.decode(" ".join(words).encode())
    assert s.feet["left"].total_force_n is None
    assert s.feet["left"].acc_mps2 is not None and s.feet["right"].total_force_n == 0.0


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"", "length"),
        (b"1 2 3", "length"),
        (HAND_DATAGRAM + b" 7", "length"),
        (HAND_DATAGRAM.replace(b"700", b"seven"), "field"),
        (HAND_DATAGRAM.replace(b"12.34", b"nan"), "field"),
        (HAND_DATAGRAM.replace(b"12.34", b"-1"), "field"),
        (b"\xff" + HAND_DATAGRAM, "field"),
        (b"1 " * 3000, "length"),
    ],
)
def test_bad_datagrams_raise_typed_errors(payload: bytes, reason: str) -> None:
    with pytest.raises(PacketError) as err:
        moticon_udp.decode(payload)
    assert err.value.reason == reason


@settings(max_examples=300, deadline=None)
@given(
    st.binary(max_size=600)
    | st.lists(st.floats(), max_size=60).map(lambda xs: " ".join(map(str, xs)).encode())
)
def test_fuzz_any_bytes_give_a_sample_or_a_packet_error(payload: bytes) -> None:
    with contextlib.suppress(PacketError):
        moticon_udp.decode(payload)


def _source(**kw: object) -> MoticonUdpSource:
    spec = MoticonUdpSpec("a1", {"left": "mot-L", "right": "mot-R"}, port=0, **kw)  # type: ignore[arg-type]
    return MoticonUdpSource(spec)


def test_source_batches_every_sample_once_and_counts_gaps() -> None:
    samples = simulated_samples(95)
    src = _source(samples_per_batch=10)
    lost = {30, 31, 32, 60}
    batches = []
    for k, s in enumerate(samples):
        if k in lost:
            continue
        batches += src.process(1000.0 + k / 100, moticon_udp.encode(s))
    batches += src.flush()
    for side, sensor_id in (("left", "mot-L"), ("right", "mot-R")):
        mine = [b for b in batches if b.side == side]
        assert all(b.sensor_id == sensor_id and b.family == "moticon-udp" for b in mine)
        assert [b.seq for b in mine] == list(range(len(mine)))
        forces = [f for b in mine for f in (b.force_n or [])]
        truth = [s.feet[side].total_force_n for k, s in enumerate(samples) if k not in lost]
        assert forces == truth  # every received sample once, in order, none invented
        assert sum(b.gap_samples for b in mine) == len(lost)
        assert all(b.fs_hz == 100.0 and b.n <= 10 for b in mine)
        acc = [row for b in mine for row in (b.acc_mps2 or [])]
        assert len(acc) == len(truth)
        # session times: consecutive batches keep the sensor's spacing across the gap
        t0 = [b.t0_s for b in mine]
        assert all(b > a for a, b in itertools.pairwise(t0))
        q = {x.sensor_id: x for x in src.quality()}[sensor_id]
        assert q.samples_lost == len(lost) and q.samples_ok == len(truth)


def test_source_counts_bad_repeated_and_missing_samples_without_losing_good_ones() -> None:
    samples = simulated_samples(30)
    src = _source(samples_per_batch=5)
    batches = []
    for k, s in enumerate(samples):
        batches += src.process(float(k), moticon_udp.encode(s))
        if k == 10:
            batches += src.process(float(k), b"garbage")
            batches += src.process(float(k), moticon_udp.encode(s))  # repeated datagram
    batches += src.flush()
    for side in ("left", "right"):
        forces = [f for b in batches if b.side == side for f in (b.force_n or [])]
        assert forces == [s.feet[side].total_force_n for s in samples]
        stats = src.stats[side]  # type: ignore[index]
        assert stats.bad_by_reason == {"length": 1, "order": 1}
    assert src.datagrams_bad == 1


def test_spec_rejects_a_layout_without_the_insole() -> None:
    with pytest.raises(ValueError, match="no channels for left"):
        MoticonUdpSpec("a1", {"left": "x"}, layout=parse_layout("time right.total_force"))
    with pytest.raises(ValueError, match=r"must include left\.total_force"):
        MoticonUdpSpec("a1", {"left": "x"}, layout=parse_layout("time left.acc"))


def test_a_repeat_at_a_batch_boundary_is_not_counted_twice() -> None:
    samples = simulated_samples(20)
    src = _source(samples_per_batch=5)
    batches = []
    for k, s in enumerate(samples):
        batches += src.process(float(k), moticon_udp.encode(s))
        if k == 4:  # sample 4 closes the first batch; its repeat must be dropped
            batches += src.process(float(k), moticon_udp.encode(s))
    batches += src.flush()
    forces = [f for b in batches if b.side == "left" for f in (b.force_n or [])]
    assert forces == [s.feet["left"].total_force_n for s in samples]
    assert src.stats["left"].bad_by_reason == {"order": 1}  # type: ignore[index]


def test_a_new_opengo_recording_starts_a_new_time_base_without_losing_samples() -> None:
    first = simulated_samples(30, t0_s=50.0)
    second = simulated_samples(30, t0_s=0.0)  # OpenGo restarted: time back to 0
    src = _source(samples_per_batch=10)
    batches = []
    for k, s in enumerate(first + second):
        batches += src.process(1000.0 + k / 100, moticon_udp.encode(s))
    batches += src.flush()
    left = [b for b in batches if b.side == "left"]
    assert sum(b.n for b in left) == 60  # nothing dropped as "out of order"
    assert sum(b.gap_samples for b in left) == 0  # and no fake gap across the restart
    assert src.restarts == {"left": 1, "right": 1}
    t0 = [b.t0_s for b in left]
    assert t0 == sorted(t0)  # session time keeps running forward


_SOURCE = _source(samples_per_batch=3)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.binary(max_size=300)
        | st.builds(
            lambda t, f: moticon_udp.encode(simulated_samples(1, t0_s=t)[0]).replace(
                b" 0.0 ", f" {f} ".encode(), 1
            ),
            st.floats(0, 1e6, allow_nan=False),
            st.sampled_from(["nan", "inf", "-1e308", "x"]),
        ),
        max_size=20,
    )
)
def test_fuzz_the_source_never_raises(datagrams: list[bytes]) -> None:
    for d in datagrams:
        for batch in _SOURCE.process(0.0, d):
            assert batch.n >= 1 and len(batch.force_n or []) == batch.n


def test_implausible_values_mark_only_that_group_missing() -> None:
    words = HAND_DATAGRAM.decode().split()
    words[2] = "1e308"  # left acceleration y: overflows once converted to m/s²
    words[9] = "-5000"  # left pressure 1
    s = moticon_udp.decode(" ".join(words).encode())
    left = s.feet["left"]
    assert left.acc_mps2 is None and left.pressure_ncm2 is None
    assert left.gyr_dps is not None and left.total_force_n == 700.0


def test_source_sends_the_cop_as_a_fraction_of_the_insole_length() -> None:
    samples = simulated_samples(40)
    src = _source(samples_per_batch=10)
    batches = []
    for k, s in enumerate(samples):
        batches += src.process(1000.0 + k / 100, moticon_udp.encode(s))
    batches += src.flush()
    for side in ("left", "right"):
        got = [c for b in batches if b.side == side for c in (b.cop_x_frac or [])]
        cops = [s.feet[side].cop for s in samples]
        assert all(c is not None for c in cops)
        want = [float(c[0]) + 0.5 for c in cops if c is not None]  # −0.5 heel … +0.5 toe
        assert got == pytest.approx(want, abs=1e-4)
    datagram = HAND_DATAGRAM.decode().split()
    datagram[7] = "nan"  # the left CoP of this sample is missing
    one = _source(samples_per_batch=1).process(1.0, " ".join(datagram).encode())
    left = [b for b in one if b.side == "left"]
    assert left and left[0].force_n == [700.0] and left[0].cop_x_frac is None
