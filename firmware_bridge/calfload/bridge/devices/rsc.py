"""Bluetooth SIG Running Speed and Cadence (RSC) footpods: pure codec and GATT recipe.

Sources: Bluetooth SIG, "Running Speed and Cadence Service 1.0" (2012) and the GATT
Specification Supplement's RSC Measurement / RSC Feature definitions [spec]; the
field semantics are quoted verbatim in several SIG-derived SDK headers (e.g. the
Nordic nRF5 SDK ``ble_rscs`` documentation and Nordic's Android nRF Toolbox
``RSCMeasurementParser``) [vendor code].

RSC Measurement 0x2A53 (notify), little-endian::

    flags   u8   bit 0 instantaneous stride length present
                 bit 1 total distance present
                 bit 2 0 = walking (or not supported), 1 = running
                 bits 3–7 reserved for future use
    speed   u16  1/256 m/s
    cadence u8   1/min — "the number of times per minute a foot fall occurs"
    stride  u16  1/100 m, if bit 0 — "the distance between two successive contacts
                 of the same foot to the ground"
    distance u32 1/10 m, if bit 1 — since the sensor started or was reset

Cadence. The spec counts foot falls of *either* foot per minute, so the field is
already steps per minute: ``cadence_spm`` = the field value × 1 (a runner at 90
strides/min reports 180). Stride length, in contrast, is one full gait cycle (two
steps): at constant pace ``speed ≈ stride_m × cadence_spm / 120``. Pods are known
to differ (some report strides/min or step length; Stryd can place power/10 in the
cadence field), so treat footpod data as pace context, never as a step detector.

RSC Feature 0x2A54 (read), u16: bit 0 stride length, bit 1 total distance, bit 2
walking/running status, bit 3 calibration procedure, bit 4 multiple sensor
locations (nRF5 SDK ``BLE_RSCS_FEATURE_*``).

Receivers ignore reserved flag bits; a payload longer than its flags imply is
accepted only when reserved bits are set (a future field), rejected otherwise.
Footpods have no clock: blocks carry ``t0_sensor_us=None`` and are stamped on
arrival; they notify about once per second.
"""

from __future__ import annotations

import contextlib
import struct
from dataclasses import dataclass
from typing import ClassVar, Final

import numpy as np
from bleak import BleakClient
from bleak.exc import BleakCharacteristicNotFoundError

from calfload.bridge.devices.base import DataCallback, DeviceFamily, SampleBlock
from calfload.bridge.errors import PacketError
from calfload.bridge.messages import Placement


def sig_uuid(short: int) -> str:
    """A 16-bit SIG UUID on the Bluetooth base UUID, as bleak writes it."""
    return f"0000{short:04x}-0000-1000-8000-00805f9b34fb"


SERVICE_UUID: Final = sig_uuid(0x1814)
MEASUREMENT_UUID: Final = sig_uuid(0x2A53)
FEATURE_UUID: Final = sig_uuid(0x2A54)
SENSOR_LOCATION_UUID: Final = sig_uuid(0x2A5D)

FLAG_STRIDE: Final = 0x01
FLAG_DISTANCE: Final = 0x02
FLAG_RUNNING: Final = 0x04
FLAGS_RESERVED: Final = 0xF8

SPEED_MPS_PER_COUNT: Final = 1.0 / 256.0
#: The field counts foot falls of either foot per minute: already steps per minute.
CADENCE_SPM_PER_COUNT: Final = 1.0
STRIDE_M_PER_COUNT: Final = 0.01
DISTANCE_M_PER_COUNT: Final = 0.1
BASE: Final = struct.Struct("<BHB")

FEATURE_STRIDE: Final = 0x01
FEATURE_DISTANCE: Final = 0x02
FEATURE_WALK_RUN: Final = 0x04
FEATURE_CALIBRATION: Final = 0x08
FEATURE_MULTIPLE_LOCATIONS: Final = 0x10


@dataclass(frozen=True, slots=True)
class RscMeasurement:
    speed_mps: float
    cadence_spm: float
    stride_m: float | None
    total_distance_m: float | None
    running: bool


@dataclass(frozen=True, slots=True)
class RscFeature:
    stride: bool
    total_distance: bool
    walking_running: bool
    calibration: bool
    multiple_locations: bool


def decode_measurement(payload: bytes | bytearray) -> RscMeasurement:
    """Decode one RSC Measurement; raise :class:`PacketError` on a defect."""
    data = bytes(payload)
    if len(data) < BASE.size:
        raise PacketError(
            "short", f"rsc measurement is {len(data)} bytes, needs at least {BASE.size}", data
        )
    flags, speed, cadence = BASE.unpack_from(data)
    need = BASE.size + 2 * bool(flags & FLAG_STRIDE) + 4 * bool(flags & FLAG_DISTANCE)
    if len(data) < need:
        raise PacketError(
            "short",
            f"rsc measurement is {len(data)} bytes, its flags 0x{flags:02x} need {need}",
            data,
        )
    if len(data) > need and not flags & FLAGS_RESERVED:
        raise PacketError(
            "length",
            f"rsc measurement is {len(data)} bytes, its flags 0x{flags:02x} imply {need}",
            data,
        )
    offset = BASE.size
    stride_m = None
    if flags & FLAG_STRIDE:
        stride_m = int.from_bytes(data[offset : offset + 2], "little") * STRIDE_M_PER_COUNT
        offset += 2
    distance_m = None
    if flags & FLAG_DISTANCE:
        distance_m = int.from_bytes(data[offset : offset + 4], "little") * DISTANCE_M_PER_COUNT
    return RscMeasurement(
        speed_mps=speed * SPEED_MPS_PER_COUNT,
        cadence_spm=cadence * CADENCE_SPM_PER_COUNT,
        stride_m=stride_m,
        total_distance_m=distance_m,
        running=bool(flags & FLAG_RUNNING),
    )


def encode_measurement(
    *,
    speed_mps: float,
    cadence_spm: float,
    stride_m: float | None = None,
    total_distance_m: float | None = None,
    running: bool = True,
) -> bytes:
    """An RSC Measurement (what a footpod and the twin send), rounded to wire resolution."""
    flags = (
        (FLAG_STRIDE if stride_m is not None else 0)
        | (FLAG_DISTANCE if total_distance_m is not None else 0)
        | (FLAG_RUNNING if running else 0)
    )
    out = BASE.pack(
        flags,
        _count(speed_mps / SPEED_MPS_PER_COUNT, 0xFFFF),
        _count(cadence_spm / CADENCE_SPM_PER_COUNT, 0xFF),
    )
    if stride_m is not None:
        out += _count(stride_m / STRIDE_M_PER_COUNT, 0xFFFF).to_bytes(2, "little")
    if total_distance_m is not None:
        out += _count(total_distance_m / DISTANCE_M_PER_COUNT, 0xFFFFFFFF).to_bytes(4, "little")
    return out


def _count(value: float, top: int) -> int:
    return int(min(max(round(value), 0), top))


def decode_feature(payload: bytes | bytearray) -> RscFeature:
    """Decode the RSC Feature characteristic (u16 bit field)."""
    data = bytes(payload)
    if len(data) < 2:
        raise PacketError("short", f"rsc feature is {len(data)} bytes, needs 2", data)
    bits = int.from_bytes(data[:2], "little")
    return RscFeature(
        stride=bool(bits & FEATURE_STRIDE),
        total_distance=bool(bits & FEATURE_DISTANCE),
        walking_running=bool(bits & FEATURE_WALK_RUN),
        calibration=bool(bits & FEATURE_CALIBRATION),
        multiple_locations=bool(bits & FEATURE_MULTIPLE_LOCATIONS),
    )


def encode_feature(feature: RscFeature) -> bytes:
    bits = (
        FEATURE_STRIDE * feature.stride
        | FEATURE_DISTANCE * feature.total_distance
        | FEATURE_WALK_RUN * feature.walking_running
        | FEATURE_CALIBRATION * feature.calibration
        | FEATURE_MULTIPLE_LOCATIONS * feature.multiple_locations
    )
    return bits.to_bytes(2, "little")


class RscDecoder:
    """One sample per notification. ``last`` keeps the latest full measurement (with
    the walking/running bit and total distance, which the raw batch does not carry)."""

    def __init__(self, rate_hz: int, feature: RscFeature | None = None) -> None:
        if rate_hz <= 0:
            raise ValueError(f"rate {rate_hz} Hz must be positive")
        self.fs_hz = float(rate_hz)
        self.feature = feature
        self.last: RscMeasurement | None = None

    def feed(self, payload: bytes) -> list[SampleBlock]:
        m = decode_measurement(payload)
        self.last = m
        return [
            SampleBlock(
                n=1,
                fs_hz=self.fs_hz,
                t0_sensor_us=None,
                speed_mps=np.array([m.speed_mps]),
                cadence_spm=np.array([m.cadence_spm]),
                stride_m=None if m.stride_m is None else np.array([m.stride_m]),
            )
        ]


class RunningSpeedCadence(DeviceFamily):
    """GATT recipe: read RSC Feature (when present), subscribe to RSC Measurement.
    A footpod has no rate command; it notifies about once per second."""

    name = "rsc"
    label = "Running Speed and Cadence footpod (Bluetooth SIG 0x1814)"
    service_uuids = (SERVICE_UUID,)
    default_rate_hz = 1
    placements: ClassVar[tuple[Placement, ...]] = ("footpod",)

    def decoder(self, *, rate_hz: int | None = None) -> RscDecoder:
        return RscDecoder(self.default_rate_hz if rate_hz is None else rate_hz)

    async def start(self, client: BleakClient, on_data: DataCallback, rate_hz: int) -> RscDecoder:
        feature = None
        # The feature is informative only; a pod without it still streams.
        with contextlib.suppress(BleakCharacteristicNotFoundError, PacketError):
            feature = decode_feature(await client.read_gatt_char(FEATURE_UUID))
        decoder = RscDecoder(rate_hz, feature)
        await client.start_notify(MEASUREMENT_UUID, lambda _c, data: on_data(bytes(data)))
        return decoder
