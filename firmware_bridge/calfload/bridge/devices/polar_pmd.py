"""Polar sensors over the Polar Measurement Data (PMD) service: pure codec and GATT recipe.

H10 (accelerometer, up to 200 Hz) and Verity Sense (accelerometer + gyroscope; in
SDK mode 26–416 Hz). Every fact was checked against the vendor's own SDK and docs,
``polarofficial/polar-ble-sdk`` (Android sources under
``sources/Android/android-communications/library/src/main/java/com/polar/
androidcommunications/api/ble/model/gatt/client/pmd/``, checked 2026-11-25):

* Service ``FB005C80-…``, control point ``…81`` (read, write, indicate), data
  ``…82`` (notify): ``BlePMDClient.kt@0aabf34`` (companion object).
* Feature read ``0F b1 b2``: b1 bit2 ACC, bit5 GYRO; b2 bit1 SDK_MODE; measurement
  types ACC 2, GYRO 5, SDK_MODE 9, type byte masked with 0x3F:
  ``PmdMeasurementType.kt@0aabf34``.
* Control point opcodes 1 GET_MEASUREMENT_SETTINGS, 2 REQUEST_MEASUREMENT_START,
  3 STOP_MEASUREMENT, 4 GET_SDK_MODE_MEASUREMENT_SETTINGS: ``PmdControlPointCommand.kt``;
  SDK mode starts with ``02 09`` and stops with ``03 09``: ``BlePMDClient.kt``
  (``startSDKMode``/``stopSDKMode``).
* Response ``F0 <op> <type> <status> [<more> <params…>]``; ``more`` and params only
  on success; continuation indications start with their own ``more`` byte; status
  codes 0 SUCCESS … 14 DISK FULL: ``PmdControlPointResponse.kt@0d58c74``,
  ``BlePMDClient.sendPmdCommand``; vectors in ``BlePmdClientControlPointResponseTest.kt``.
* Settings TLV ``<type><count><values>``: 0 SAMPLE_RATE u16, 1 RESOLUTION u16,
  2 RANGE u16, 3 RANGE_MILLIUNIT u32, 4 CHANNELS u8, 5 FACTOR 4-byte IEEE-754 float,
  returned in the START response; a start request carries one value per setting and
  never FACTOR: ``PmdSetting.kt`` (``serializeSelected``, ``updateSelectedFromStartResponse``).
* Data frame: type, u64 LE timestamp, frame-type byte (bit 7 = delta compressed,
  bits 0–6 = frame type), content: ``PmdDataFrame.kt@0aabf34``.
* ACC raw type 0/1/2 = int8/int16/int24 × 3 in mG (no factor); ACC compressed type 1
  = 16-bit deltas × FACTOR → mG; compressed type 0 = 16-bit deltas × FACTOR × 1000
  (factor in g): ``AccData.kt@1a53f05``. GYRO is compressed only: type 0 = 16-bit ×
  FACTOR → dps, type 1 = float32 bit patterns: ``GyrData.kt@2692dc4``.
* Delta frame: reference sample (channels × ceil(resolution/8) bytes, signed LE),
  then blocks ``<bit width><sample count><ceil(count·width·channels/8) bytes>``, bits
  LSB-first, channels interleaved per sample, each delta sign-extended and added to
  the previous sample: ``BlePMDClient.parseDeltaFramesAll/parseDeltaFrame@0aabf34``.
* Timestamp: ns since 2000-01-01T00:00:00Z on the sensor clock, the time of the
  frame's **last** sample; earlier samples are back-filled (first frame at 1/fs):
  ``PmdTimeStampUtils.kt@f83e7ba``, ``technical_documentation/TimeSystemExplained.md``.
  This decoder back-fills at the agreed nominal rate; the link's clock model
  absorbs the sensor's true rate.
* Rates: H10 ACC 25/50/100/200 Hz, ±2/4/8 g (``documentation/products/PolarH10.md``);
  Verity Sense normal mode ACC/GYRO 52 Hz, SDK mode 26/52/104/208/416 Hz, ±2–16 g,
  ±250–2000 dps (``documentation/products/PolarVeritySense.md``, ``SdkModeExplained.md``).

Where this codec chooses: a delta block with bit width 0 is read as zero deltas
(the SDK would yield no samples for it).
"""

from __future__ import annotations

import asyncio
import math
import struct
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import ClassVar, Final

import numpy as np
import numpy.typing as npt
from bleak import BleakClient

from calfload.bridge.devices.base import DataCallback, DeviceError, DeviceFamily, SampleBlock
from calfload.bridge.errors import PacketError
from calfload.bridge.messages import Placement

SERVICE_UUID: Final = "fb005c80-02e7-f387-1cad-8acd2d8df0c8"
CONTROL_CHAR_UUID: Final = "fb005c81-02e7-f387-1cad-8acd2d8df0c8"
DATA_CHAR_UUID: Final = "fb005c82-02e7-f387-1cad-8acd2d8df0c8"
NAME_PREFIXES: Final = ("Polar H10", "Polar Sense", "Polar OH1")

ECG: Final = 0
ACC: Final = 2
GYRO: Final = 5
SDK_MODE: Final = 9
TYPE_NAMES: Final = {
    ECG: "ECG",
    1: "PPG",
    ACC: "ACC",
    3: "PPI",
    GYRO: "GYRO",
    6: "MAG",
    SDK_MODE: "SDK mode",
}

OP_GET_SETTINGS: Final = 0x01
OP_START: Final = 0x02
OP_STOP: Final = 0x03
OP_GET_SDK_SETTINGS: Final = 0x04
RESPONSE_CODE: Final = 0xF0
FEATURE_CODE: Final = 0x0F

SAMPLE_RATE: Final = 0
RESOLUTION: Final = 1
RANGE: Final = 2
RANGE_MILLIUNIT: Final = 3
CHANNELS: Final = 4
FACTOR: Final = 5
SETTING_SIZES: Final = {
    SAMPLE_RATE: 2,
    RESOLUTION: 2,
    RANGE: 2,
    RANGE_MILLIUNIT: 4,
    CHANNELS: 1,
    FACTOR: 4,
}

STATUS_SUCCESS: Final = 0
STATUS_ALREADY_IN_STATE: Final = 6
STATUS_INVALID_SAMPLE_RATE: Final = 8
STATUS_TEXT: Final = (
    "SUCCESS",
    "INVALID OP CODE",
    "INVALID MEASUREMENT TYPE",
    "NOT SUPPORTED",
    "INVALID LENGTH",
    "INVALID PARAMETER",
    "ALREADY IN STATE",
    "INVALID RESOLUTION",
    "INVALID SAMPLE RATE",
    "INVALID RANGE",
    "INVALID MTU",
    "INVALID NUMBER OF CHANNELS",
    "INVALID STATE",
    "DEVICE IN CHARGER",
    "DISK FULL",
)

G0_MPS2: Final = 9.80665
#: Unix time of the PMD epoch 2000-01-01T00:00:00Z, ns.
PMD_EPOCH_UNIX_NS: Final = 946_684_800 * 1_000_000_000
HEADER_LEN: Final = 10
MAX_SAMPLES_PER_FRAME: Final = 4096
#: Values beyond these are not a foot-worn IMU.
MAX_ABS_ACC_MPS2: Final = 1000.0
MAX_ABS_GYR_DPS: Final = 10000.0
COMMAND_TIMEOUT_S: Final = 8.0

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


def status_text(status: int) -> str:
    name = STATUS_TEXT[status] if 0 <= status < len(STATUS_TEXT) else "UNKNOWN ERROR"
    return f"error {status} {name}"


# --- settings and control point ------------------------------------------------------


def parse_settings(data: bytes) -> dict[int, list[float]]:
    """Settings TLV → {setting type: values}; FACTOR values are floats."""
    out: dict[int, list[float]] = {}
    i = 0
    while i < len(data):
        if i + 2 > len(data):
            raise ValueError(f"settings end inside a header at byte {i}")
        kind, count = data[i], data[i + 1]
        i += 2
        size = SETTING_SIZES.get(kind)
        if size is None:
            raise ValueError(f"unknown PMD setting type {kind}")
        if i + size * count > len(data):
            raise ValueError(f"setting {kind} claims {count} values past the end")
        values: list[float] = []
        for _ in range(count):
            chunk = data[i : i + size]
            if kind == FACTOR:
                values.append(struct.unpack("<f", chunk)[0])
            else:
                values.append(int.from_bytes(chunk, "little"))
            i += size
        out[kind] = values
    return out


def encode_settings(settings: Mapping[int, Iterable[float]]) -> bytes:
    """{setting type: values} → TLV (the twin's settings reply and start response)."""
    out = bytearray()
    for kind, values in settings.items():
        vals = list(values)
        out += bytes([kind, len(vals)])
        for v in vals:
            if kind == FACTOR:
                out += struct.pack("<f", v)
            else:
                out += int(v).to_bytes(SETTING_SIZES[kind], "little")
    return bytes(out)


def get_settings_command(measurement: int, *, sdk: bool = False) -> bytes:
    return bytes([OP_GET_SDK_SETTINGS if sdk else OP_GET_SETTINGS, measurement])


def start_command(measurement: int, selected: dict[int, int] | None = None) -> bytes:
    """``02 <type> [<setting> 01 <value>]…``; e.g. H10 ACC 200 Hz, 16 bit, ±8 g is
    ``02 02 00 01 C8 00 01 01 10 00 02 01 08 00``."""
    body = encode_settings({k: [v] for k, v in (selected or {}).items() if k != FACTOR})
    return bytes([OP_START, measurement]) + body


def stop_command(measurement: int) -> bytes:
    return bytes([OP_STOP, measurement])


@dataclass(frozen=True)
class ControlResponse:
    """A control-point response: ``F0 <op> <type> <status> [<more> <params>]``."""

    op: int
    measurement: int
    status: int
    more: bool = False
    params: bytes = b""

    @property
    def ok(self) -> bool:
        return self.status == STATUS_SUCCESS


def parse_response(data: bytes) -> ControlResponse:
    if len(data) < 4 or data[0] != RESPONSE_CODE:
        raise ValueError(f"not a PMD control-point response: {data.hex()}")
    op, measurement, status = data[1], data[2], data[3]
    if status != STATUS_SUCCESS:
        return ControlResponse(op, measurement, status)
    more = len(data) > 4 and data[4] != 0
    return ControlResponse(op, measurement, status, more, bytes(data[5:]))


def encode_response(op: int, measurement: int, status: int, params: bytes = b"") -> bytes:
    if status != STATUS_SUCCESS:
        return bytes([RESPONSE_CODE, op, measurement, status])
    return bytes([RESPONSE_CODE, op, measurement, STATUS_SUCCESS, 0]) + params


def encode_features(measurements: Iterable[int]) -> bytes:
    b1 = b2 = 0
    for m in measurements:
        if m < 8:
            b1 |= 1 << m
        else:
            b2 |= 1 << (m - 8)
    return bytes([FEATURE_CODE, b1, b2])


def parse_features(data: bytes) -> set[int]:
    if len(data) < 3 or data[0] != FEATURE_CODE:
        raise ValueError(f"not a PMD feature read: {bytes(data).hex()}")
    b1, b2 = data[1], data[2]
    return {i for i in range(8) if b1 >> i & 1} | {8 + i for i in range(8) if b2 >> i & 1}


# --- data frames ----------------------------------------------------------------------


def _signed(values: IntArray, bits: int) -> IntArray:
    sign = np.int64(1) << (bits - 1)
    return np.where(values & sign, values - (np.int64(1) << bits), values)


def _read_ints(data: bytes, count: int, size: int) -> IntArray:
    """``count`` little-endian signed integers of ``size`` bytes."""
    raw = np.frombuffer(data, dtype=np.uint8, count=count * size).reshape(count, size)
    weights = np.int64(1) << (8 * np.arange(size, dtype=np.int64))
    return _signed(raw.astype(np.int64) @ weights, 8 * size)


def parse_delta_frame(content: bytes, channels: int, resolution_bits: int) -> IntArray:
    """Delta-compressed content → (samples, channels) integers, reference sample first."""
    ref_size = math.ceil(resolution_bits / 8)
    if len(content) < channels * ref_size:
        raise ValueError("delta frame shorter than its reference sample")
    rows = [_read_ints(content, channels, ref_size)[None, :]]
    last = rows[0][0]
    total = 1
    i = channels * ref_size
    while i < len(content):
        if i + 2 > len(content):
            raise ValueError(f"delta block header cut at byte {i}")
        width, count = content[i], content[i + 1]
        i += 2
        if width > 32:
            raise ValueError(f"delta bit width {width} exceeds 32")
        nbytes = math.ceil(width * count * channels / 8)
        if i + nbytes > len(content):
            raise ValueError(f"delta block of {count} × {width} bits runs past the frame")
        if count == 0:
            i += nbytes
            continue
        total += count
        if total > MAX_SAMPLES_PER_FRAME:
            raise ValueError("delta frame holds too many samples")
        if width == 0:
            deltas = np.zeros((count, channels), dtype=np.int64)
        else:
            bits = np.unpackbits(
                np.frombuffer(content, dtype=np.uint8, count=nbytes, offset=i), bitorder="little"
            )[: width * count * channels]
            words = bits.reshape(count * channels, width).astype(np.int64)
            values = words @ (np.int64(1) << np.arange(width, dtype=np.int64))
            deltas = _signed(values, width).reshape(count, channels)
        block = last + np.cumsum(deltas, axis=0)
        rows.append(block)
        last = block[-1]
        i += nbytes
    return np.concatenate(rows, axis=0)


def encode_delta_frame(samples: npt.ArrayLike, resolution_bits: int = 16) -> bytes:
    """(n, channels) integers → delta-compressed content: the reference sample, then
    blocks of up to 255 deltas, each block as narrow as its largest delta allows."""
    s = np.asarray(samples, dtype=np.int64)
    ref_size = math.ceil(resolution_bits / 8)
    out = bytearray()
    for v in s[0]:
        out += int(v).to_bytes(ref_size, "little", signed=True)
    deltas_all = np.diff(s, axis=0)
    for start in range(0, deltas_all.shape[0], 255):
        deltas = deltas_all[start : start + 255]
        peak = int(np.max(np.maximum(deltas, -deltas - 1)))
        width = peak.bit_length() + 1
        flat = deltas.reshape(-1) & ((1 << width) - 1)
        bits = ((flat[:, None] >> np.arange(width)) & 1).astype(np.uint8).reshape(-1)
        out += bytes([width, deltas.shape[0]]) + np.packbits(bits, bitorder="little").tobytes()
    return bytes(out)


def encode_frame(measurement: int, timestamp_ns: int, frame_type: int, content: bytes) -> bytes:
    return bytes([measurement]) + struct.pack("<Q", timestamp_ns) + bytes([frame_type]) + content


@dataclass(frozen=True)
class PmdFrame:
    """One decoded data frame: integer samples in device units, last-sample time."""

    measurement: int
    timestamp_ns: int
    frame_type: int
    compressed: bool
    samples: IntArray | FloatArray  # (n, 3)


def decode_frame(payload: bytes) -> PmdFrame:
    """Decode one data notification (no unit scaling); raise :class:`PacketError`."""
    data = bytes(payload)
    if len(data) < HEADER_LEN + 1:
        raise PacketError("short", f"PMD frame is {len(data)} bytes, shorter than its header", data)
    measurement = data[0] & 0x3F
    (timestamp_ns,) = struct.unpack_from("<Q", data, 1)
    compressed = bool(data[9] & 0x80)
    frame_type = data[9] & 0x7F
    content = data[HEADER_LEN:]
    kind = TYPE_NAMES.get(measurement, f"type {measurement}")
    samples: IntArray | FloatArray
    try:
        if measurement == ACC and not compressed and frame_type in (0, 1, 2):
            size = frame_type + 1
            if len(content) % (3 * size):
                raise ValueError(
                    f"{len(content)} content bytes are not whole int{8 * size} × 3 samples"
                )
            samples = _read_ints(content, len(content) // size, size).reshape(-1, 3)
        elif measurement in (ACC, GYRO) and compressed and frame_type in (0, 1):
            if measurement == GYRO and frame_type == 1:
                ints = parse_delta_frame(content, 3, 32)
                samples = (ints & 0xFFFFFFFF).astype(np.uint32).view(np.float32).astype(np.float64)
            else:
                samples = parse_delta_frame(content, 3, 16)
        else:
            raise PacketError(
                "type",
                f"PMD {kind} {'delta ' * compressed}frame type {frame_type} is not supported",
                data,
            )
    except ValueError as exc:
        if isinstance(exc, PacketError):
            raise
        raise PacketError("length", f"PMD {kind} frame: {exc}", data) from None
    if samples.shape[0] == 0:
        raise PacketError("length", f"PMD {kind} frame holds no samples", data)
    return PmdFrame(measurement, timestamp_ns, frame_type, compressed, samples)


def encode_acc_raw(timestamp_ns: int, acc_mg: npt.ArrayLike) -> bytes:
    """H10 style: raw frame type 1, int16 × 3 in mG."""
    mg = np.clip(np.rint(np.asarray(acc_mg, dtype=np.float64)), -32768, 32767).astype("<i2")
    return encode_frame(ACC, timestamp_ns, 0x01, mg.tobytes())


def encode_delta(measurement: int, timestamp_ns: int, counts: npt.ArrayLike) -> bytes:
    """Verity style: ACC compressed type 1 (0x81) or GYRO compressed type 0 (0x80)."""
    frame_type = 0x81 if measurement == ACC else 0x80
    c = np.clip(np.rint(np.asarray(counts, dtype=np.float64)), -32768, 32767).astype(np.int64)
    return encode_frame(measurement, timestamp_ns, frame_type, encode_delta_frame(c))


# --- per-connection decoder -----------------------------------------------------------


@dataclass
class PolarDecoder:
    """Per-connection PMD decoder producing SI sample blocks.

    ``rate_hz`` is the agreed sample rate (from the start request), ``acc_factor`` and
    ``gyr_factor`` the FACTOR values of the START responses (1.0 when the device sends
    none; the H10's raw ACC frames ignore it). With ``pair=True`` (a live Verity
    Sense streaming both) ACC and GYRO samples are paired by sensor time into blocks
    carrying both; a stretch only one stream covers, or an unmatched backlog longer
    than one second, is emitted alone rather than held. With ``pair=False`` every
    frame gives its own block (ACC-only or GYRO-only), as ``calfload decode`` needs.
    Block times: the frame timestamp is the last sample; earlier ones are spaced at
    ``1 / rate_hz``. ``t0_sensor_us`` is µs since 2000-01-01 on the sensor clock.
    """

    rate_hz: float = 200.0
    acc_factor: float = 1.0
    gyr_factor: float = 1.0
    pair: bool = False
    _acc: list[tuple[int, FloatArray]] = field(default_factory=list)
    _gyr: list[tuple[int, FloatArray]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.rate_hz > 0:
            raise ValueError(f"Polar rate must be positive, not {self.rate_hz}")

    def feed(self, payload: bytes) -> list[SampleBlock]:
        frame = decode_frame(payload)
        n = frame.samples.shape[0]
        dt_us = 1e6 / self.rate_hz
        t0_us = round(frame.timestamp_ns / 1000 - (n - 1) * dt_us)
        if frame.measurement == ACC:
            if frame.compressed:
                scale = self.acc_factor * (1000.0 if frame.frame_type == 0 else 1.0)
            else:
                scale = 1.0
            acc = frame.samples.astype(np.float64) * scale * G0_MPS2 / 1000.0
            self._check(acc, MAX_ABS_ACC_MPS2, "acceleration", payload)
            if not self.pair:
                return [SampleBlock(n=n, fs_hz=self.rate_hz, t0_sensor_us=t0_us, acc_mps2=acc)]
            self._acc.append((t0_us, acc))
        else:
            gyr = frame.samples.astype(np.float64) * self.gyr_factor
            self._check(gyr, MAX_ABS_GYR_DPS, "angular rate", payload)
            if not self.pair:
                return [SampleBlock(n=n, fs_hz=self.rate_hz, t0_sensor_us=t0_us, gyr_dps=gyr)]
            self._gyr.append((t0_us, gyr))
        return self._pair()

    @staticmethod
    def _check(values: FloatArray, limit: float, what: str, payload: bytes) -> None:
        if not np.isfinite(values).all() or np.abs(values).max() > limit:
            raise PacketError("value", f"PMD frame holds an impossible {what}", payload)

    def _pair(self) -> list[SampleBlock]:
        """Pair buffered ACC and GYRO samples by sensor time; a stretch covered by only
        one stream (start-up, a lost frame) is emitted alone, never dropped."""
        blocks: list[SampleBlock] = []
        dt_us = 1e6 / self.rate_hz
        while self._acc and self._gyr:
            (ta, a), (tg, g) = self._acc[0], self._gyr[0]
            if ta < tg - dt_us / 2:  # acceleration alone until the gyro starts
                k = min(len(a), max(1, round((tg - ta) / dt_us)))
                blocks.append(self._alone(self._acc, k, "acc_mps2"))
            elif tg < ta - dt_us / 2:
                k = min(len(g), max(1, round((ta - tg) / dt_us)))
                blocks.append(self._alone(self._gyr, k, "gyr_dps"))
            else:
                k = min(len(a), len(g))
                blocks.append(
                    SampleBlock(
                        n=k, fs_hz=self.rate_hz, t0_sensor_us=ta, acc_mps2=a[:k], gyr_dps=g[:k]
                    )
                )
                self._consume(self._acc, k)
                self._consume(self._gyr, k)
        for queue, key in ((self._acc, "acc_mps2"), (self._gyr, "gyr_dps")):
            if sum(len(v) for _, v in queue) > self.rate_hz:  # the other stream is silent
                while queue:
                    blocks.append(self._alone(queue, len(queue[0][1]), key))
        return blocks

    def _alone(self, queue: list[tuple[int, FloatArray]], k: int, key: str) -> SampleBlock:
        t, v = queue[0]
        self._consume(queue, k)
        return SampleBlock(n=k, fs_hz=self.rate_hz, t0_sensor_us=t, **{key: v[:k]})  # type: ignore[arg-type]

    def _consume(self, queue: list[tuple[int, FloatArray]], k: int) -> None:
        t, v = queue[0]
        if len(v) == k:
            queue.pop(0)
        else:
            queue[0] = (round(t + k * 1e6 / self.rate_hz), v[k:])


# --- the family -------------------------------------------------------------------------


@dataclass(frozen=True)
class StreamSetup:
    """What the device agreed to for one measurement."""

    measurement: int
    rate_hz: int
    factor: float
    selected: dict[int, int]


def choose_rate(requested: int, offered: list[int]) -> int:
    """The offered rate within 5 % of the request (200 ↔ 208 Hz), else the request."""
    near = [r for r in offered if abs(r - requested) <= 0.05 * requested]
    return min(near, key=lambda r: abs(r - requested)) if near else requested


class _ControlPoint:
    """Sends control-point commands and waits for their indications."""

    def __init__(self, client: BleakClient, label: str) -> None:
        self.client = client
        self.label = label
        self.queue: asyncio.Queue[bytes] = asyncio.Queue()

    def on_indication(self, _char: object, value: bytearray) -> None:
        self.queue.put_nowait(bytes(value))

    async def _next(self, what: str) -> bytes:
        try:
            return await asyncio.wait_for(self.queue.get(), COMMAND_TIMEOUT_S)
        except TimeoutError:
            raise DeviceError(
                f"{self.label} did not answer {what} within {COMMAND_TIMEOUT_S:g} s"
            ) from None

    async def command(self, payload: bytes, what: str) -> ControlResponse:
        while not self.queue.empty():
            self.queue.get_nowait()
        await self.client.write_gatt_char(CONTROL_CHAR_UUID, payload, response=True)
        while True:
            raw = await self._next(what)
            try:
                response = parse_response(raw)
            except ValueError:
                continue  # e.g. an "online measurement stopped" notice
            if response.op == payload[0]:
                break
        params = response.params
        more = response.more
        while more:
            part = await self._next(what)
            more = bool(part[:1]) and part[0] != 0
            params += part[1:]
        return ControlResponse(response.op, response.measurement, response.status, False, params)


class PolarPmd(DeviceFamily):
    """GATT recipe: read features, enable indications and notifications, enter SDK
    mode when offered (Verity Sense), read each stream's settings, start ACC (and
    GYRO when offered) at the requested rate with 16 bit and the widest range;
    the START responses' FACTOR flows into the decoder."""

    name = "polar"
    label = "Polar H10 / Verity Sense (PMD)"
    service_uuids = (SERVICE_UUID,)
    name_prefixes = NAME_PREFIXES
    default_rate_hz = 200
    placements: ClassVar[tuple[Placement, ...]] = ("foot_top", "heel", "shank")

    def decoder(
        self,
        *,
        rate_hz: int | None = None,
        scale: float | None = None,
        acc_factor: float | None = None,
        gyr_factor: float | None = None,
    ) -> PolarDecoder:
        """A decoder for pasted payloads (``calfload decode polar``): every frame decodes
        on its own. ``rate_hz`` (default 200) and the factors are what the start
        exchange would have told the live decoder: ``scale`` is the FACTOR of the START
        reply of the stream the frames come from (ACC or GYRO), ``acc_factor`` /
        ``gyr_factor`` set them separately; all default to 1.0 (the H10's raw mG frames
        ignore it)."""
        if scale is not None and not (math.isfinite(scale) and scale > 0):
            raise ValueError(f"Polar scale factor must be a positive number, not {scale}")
        acc = acc_factor if acc_factor is not None else (scale or 1.0)
        gyr = gyr_factor if gyr_factor is not None else (scale or 1.0)
        return PolarDecoder(float(rate_hz or self.default_rate_hz), acc, gyr)

    async def start(self, client: BleakClient, on_data: DataCallback, rate_hz: int) -> PolarDecoder:
        label = f"Polar sensor {client.address}"
        try:
            features = parse_features(bytes(await client.read_gatt_char(CONTROL_CHAR_UUID)))
        except ValueError as exc:
            raise DeviceError(f"{label} is not a PMD device: {exc}") from None
        if ACC not in features:
            raise DeviceError(
                f"{label} offers no accelerometer stream (features {sorted(features)})"
            )
        cp = _ControlPoint(client, label)
        await client.start_notify(CONTROL_CHAR_UUID, cp.on_indication)
        await client.start_notify(DATA_CHAR_UUID, lambda _c, data: on_data(bytes(data)))
        if SDK_MODE in features:
            r = await cp.command(start_command(SDK_MODE), "the SDK-mode request")
            if not r.ok and r.status != STATUS_ALREADY_IN_STATE:
                raise DeviceError(f"{label} refused SDK mode: {status_text(r.status)}")
        setups = [await self._start_stream(cp, ACC, rate_hz)]
        if GYRO in features:
            setups.append(await self._start_stream(cp, GYRO, setups[0].rate_hz))
        return PolarDecoder(
            float(setups[0].rate_hz),
            setups[0].factor,
            setups[1].factor if len(setups) > 1 else 1.0,
            pair=len(setups) > 1,
        )

    async def _start_stream(self, cp: _ControlPoint, measurement: int, rate_hz: int) -> StreamSetup:
        kind = TYPE_NAMES[measurement]
        r = await cp.command(get_settings_command(measurement), f"the {kind} settings request")
        if not r.ok:
            raise DeviceError(
                f"{cp.label} would not list its {kind} settings: {status_text(r.status)}"
            )
        try:
            offered = parse_settings(r.params)
        except ValueError as exc:
            raise DeviceError(f"{cp.label} sent unreadable {kind} settings: {exc}") from None
        rates = [int(v) for v in offered.get(SAMPLE_RATE, [])]
        selected = {SAMPLE_RATE: choose_rate(rate_hz, rates)}
        for setting, prefer in ((RESOLUTION, 16), (RANGE, None), (CHANNELS, None)):
            values = [int(v) for v in offered.get(setting, [])]
            if values:
                selected[setting] = prefer if prefer in values else max(values)
        request = start_command(measurement, selected)
        r = await cp.command(request, f"the {kind} start request")
        if r.status == STATUS_ALREADY_IN_STATE:  # still running from a lost link
            await cp.command(stop_command(measurement), f"the {kind} stop request")
            r = await cp.command(request, f"the {kind} start request")
        if not r.ok:
            hint = f" (it offers {', '.join(map(str, rates))} Hz)" if rates else ""
            raise DeviceError(
                f"{cp.label} refused to start {kind} at {selected[SAMPLE_RATE]} Hz: "
                f"{status_text(r.status)}{hint}"
            )
        try:
            factor = float(parse_settings(r.params).get(FACTOR, [1.0])[0])
        except ValueError:
            factor = 1.0
        if not math.isfinite(factor) or factor <= 0:
            raise DeviceError(f"{cp.label} sent an unusable {kind} scale factor {factor}")
        return StreamSetup(measurement, selected[SAMPLE_RATE], factor, selected)

    async def stop(self, client: BleakClient) -> None:
        """Stop GYRO, ACC and SDK mode (a device without one answers with an error
        indication, which is harmless here)."""
        for measurement in (GYRO, ACC, SDK_MODE):
            await client.write_gatt_char(
                CONTROL_CHAR_UUID, stop_command(measurement), response=True
            )
