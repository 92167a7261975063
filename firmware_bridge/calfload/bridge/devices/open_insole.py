"""The calfload open insole GATT profile, version 1: pure encoder and decoder.

The profile is the project's own, documented in ``hardware.md`` ("Open insole
profile"). All integers are little-endian.

Notification on the data characteristic::

    offset size  field
    0      1     version            = 1
    1      1     n_samples          1..16 samples in this notification
    2      2     seq                u16 notification counter, wraps at 65536
    4      4     t0_us              u32 sensor clock of the first sample, µs, wraps
    8      2     dt_us              u16 sample period in µs (10000 = 100 Hz)
    10     1     n_cells            1..16 force cells
    11     1     flags              bit 0: every sample carries a 6-axis IMU block
    12     …     samples            n_samples × sample

    sample = n_cells × u16 cell force, 0.1 N per count
             [if flags bit 0] 3 × i16 acceleration, 1/2048 g per count (±16 g)
                              3 × i16 angular rate, 1/16.4 dps per count (±2000 dps)

IMU axes follow the insole frame: x forward (heel → toe), y left, z up.
The control characteristic takes ``01`` (start streaming), ``00`` (stop) and
``02 <u16 rate_hz>`` (set the sample rate).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import ClassVar, Final

import numpy as np
import numpy.typing as npt
from bleak import BleakClient

from calfload.bridge.devices.base import DataCallback, DeviceFamily, SampleBlock
from calfload.bridge.errors import PacketError
from calfload.bridge.messages import Placement
from calfload.bridge.timebase import CounterUnwrapper

SERVICE_UUID: Final = "c0a1f000-0d5e-4c8a-9b1e-5e4f0a7c1a00"
DATA_CHAR_UUID: Final = "c0a1f001-0d5e-4c8a-9b1e-5e4f0a7c1a00"
CONTROL_CHAR_UUID: Final = "c0a1f002-0d5e-4c8a-9b1e-5e4f0a7c1a00"
NAME_PREFIX: Final = "CALF-INSOLE"

VERSION: Final = 1
HEADER: Final = struct.Struct("<BBHIHBB")
HEADER_LEN: Final = HEADER.size  # 12
FLAG_IMU: Final = 0x01
MAX_SAMPLES: Final = 16
MAX_CELLS: Final = 16

CELL_N_PER_COUNT: Final = 0.1
G0_MPS2: Final = 9.80665
ACC_MPS2_PER_COUNT: Final = G0_MPS2 / 2048.0
GYR_DPS_PER_COUNT: Final = 1.0 / 16.4

CMD_STOP: Final = b"\x00"
CMD_START: Final = b"\x01"
CMD_SET_RATE: Final = 0x02


@dataclass(frozen=True, slots=True)
class InsolePacket:
    """One decoded notification.

    Arrays have one row per sample; ``acc_mps2`` and ``gyr_dps`` are ``None``
    when the insole carries no IMU.
    """

    seq: int
    t0_us: int
    dt_us: int
    cell_force_n: npt.NDArray[np.float64]  # (n_samples, n_cells)
    acc_mps2: npt.NDArray[np.float64] | None  # (n_samples, 3)
    gyr_dps: npt.NDArray[np.float64] | None  # (n_samples, 3)

    @property
    def n_samples(self) -> int:
        return int(self.cell_force_n.shape[0])

    @property
    def fs_hz(self) -> float:
        return 1e6 / self.dt_us


def sample_size(n_cells: int, has_imu: bool) -> int:
    """Bytes per sample for a given cell count."""
    return 2 * n_cells + (12 if has_imu else 0)


def decode(payload: bytes | bytearray) -> InsolePacket:
    """Decode one data notification; raise :class:`PacketError` on any defect."""
    data = bytes(payload)
    if len(data) < HEADER_LEN:
        raise PacketError(
            "short", f"open-insole packet is {len(data)} bytes, shorter than its header", data
        )
    version, n_samples, seq, t0_us, dt_us, n_cells, flags = HEADER.unpack_from(data)
    if version != VERSION:
        raise PacketError(
            "version", f"open-insole packet has version {version}, expected {VERSION}", data
        )
    if not 1 <= n_samples <= MAX_SAMPLES:
        raise PacketError("field", f"open-insole packet claims {n_samples} samples", data)
    if not 1 <= n_cells <= MAX_CELLS:
        raise PacketError("field", f"open-insole packet claims {n_cells} cells", data)
    if dt_us == 0:
        raise PacketError("field", "open-insole packet has a zero sample period", data)
    has_imu = bool(flags & FLAG_IMU)
    per_sample = sample_size(n_cells, has_imu)
    expected = HEADER_LEN + n_samples * per_sample
    if len(data) != expected:
        raise PacketError(
            "length",
            f"open-insole packet is {len(data)} bytes, its header implies {expected}",
            data,
        )
    # One structured view over the body: cells as u16, IMU as i16.
    fields: list[tuple[str, str, tuple[int, ...]]] = [("cells", "<u2", (n_cells,))]
    if has_imu:
        fields += [("acc", "<i2", (3,)), ("gyr", "<i2", (3,))]
    body = np.frombuffer(data, dtype=np.dtype(fields), offset=HEADER_LEN, count=n_samples)
    cells = body["cells"].astype(np.float64) * CELL_N_PER_COUNT
    acc = body["acc"].astype(np.float64) * ACC_MPS2_PER_COUNT if has_imu else None
    gyr = body["gyr"].astype(np.float64) * GYR_DPS_PER_COUNT if has_imu else None
    return InsolePacket(seq, t0_us, dt_us, cells, acc, gyr)


def encode(
    *,
    seq: int,
    t0_us: int,
    dt_us: int,
    cell_force_n: npt.ArrayLike,
    acc_mps2: npt.ArrayLike | None = None,
    gyr_dps: npt.ArrayLike | None = None,
) -> bytes:
    """Encode samples into one data notification (what the firmware and twin send).

    Values are rounded to the wire resolution and clipped to its range.
    """
    cells = np.atleast_2d(np.asarray(cell_force_n, dtype=np.float64))
    n_samples, n_cells = cells.shape
    if not 1 <= n_samples <= MAX_SAMPLES or not 1 <= n_cells <= MAX_CELLS:
        raise ValueError(f"cannot encode {n_samples} samples of {n_cells} cells")
    has_imu = acc_mps2 is not None and gyr_dps is not None
    fields: list[tuple[str, str, tuple[int, ...]]] = [("cells", "<u2", (n_cells,))]
    if has_imu:
        fields += [("acc", "<i2", (3,)), ("gyr", "<i2", (3,))]
    body = np.zeros(n_samples, dtype=np.dtype(fields))
    body["cells"] = np.clip(np.rint(cells / CELL_N_PER_COUNT), 0, 0xFFFF)
    if has_imu:
        acc = np.asarray(acc_mps2, dtype=np.float64).reshape(n_samples, 3)
        gyr = np.asarray(gyr_dps, dtype=np.float64).reshape(n_samples, 3)
        body["acc"] = np.clip(np.rint(acc / ACC_MPS2_PER_COUNT), -32768, 32767)
        body["gyr"] = np.clip(np.rint(gyr / GYR_DPS_PER_COUNT), -32768, 32767)
    header = HEADER.pack(
        VERSION,
        n_samples,
        seq & 0xFFFF,
        t0_us & 0xFFFFFFFF,
        dt_us,
        n_cells,
        FLAG_IMU if has_imu else 0,
    )
    return header + body.tobytes()


def set_rate_command(rate_hz: int) -> bytes:
    """Control-characteristic payload that sets the sample rate."""
    if not 1 <= rate_hz <= 1000:
        raise ValueError(f"rate {rate_hz} Hz is outside 1..1000 Hz")
    return struct.pack("<BH", CMD_SET_RATE, rate_hz)


class OpenInsoleDecoder:
    """Per-connection decoder: unwraps the u32 µs sensor clock across packets."""

    def __init__(self) -> None:
        self._clock = CounterUnwrapper(bits=32)

    def feed(self, payload: bytes) -> list[SampleBlock]:
        packet = decode(payload)
        t0_us = self._clock.unwrap(packet.t0_us)
        cells = packet.cell_force_n
        return [
            SampleBlock(
                n=packet.n_samples,
                fs_hz=packet.fs_hz,
                t0_sensor_us=t0_us,
                seq=packet.seq,
                force_n=cells.sum(axis=1),
                cell_force_n=cells,
                acc_mps2=packet.acc_mps2,
                gyr_dps=packet.gyr_dps,
            )
        ]


class OpenInsole(DeviceFamily):
    """GATT recipe: subscribe to data, set the rate, send start; stop sends ``00``."""

    name = "open-insole"
    label = "calfload open insole (profile v1)"
    service_uuids = (SERVICE_UUID,)
    name_prefixes = (NAME_PREFIX,)
    default_rate_hz = 100
    placements: ClassVar[tuple[Placement, ...]] = ("insole",)

    def decoder(self, *, rate_hz: int | None = None) -> OpenInsoleDecoder:
        return OpenInsoleDecoder()  # every packet carries its own rate

    async def start(
        self, client: BleakClient, on_data: DataCallback, rate_hz: int
    ) -> OpenInsoleDecoder:
        decoder = OpenInsoleDecoder()
        await client.start_notify(DATA_CHAR_UUID, lambda _c, data: on_data(bytes(data)))
        await client.write_gatt_char(CONTROL_CHAR_UUID, set_rate_command(rate_hz), response=True)
        await client.write_gatt_char(CONTROL_CHAR_UUID, CMD_START, response=True)
        return decoder

    async def stop(self, client: BleakClient) -> None:
        await client.write_gatt_char(CONTROL_CHAR_UUID, CMD_STOP, response=True)
