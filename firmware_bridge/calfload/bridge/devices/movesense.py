"""Movesense sensors over the GATT SensorData Protocol (GSP): pure codec and GATT recipe.

Every protocol fact below was checked against its source (2026-11-25):

* UUIDs, one write characteristic for commands and one notify characteristic for
  command results *and* data, "delivery of responses is not guaranteed":
  GSP specification, http://movesense.com/docs/esw/gatt_sensordata_protocol (GD-77 v1.0).
* Commands ``00 <ref>`` HELLO, ``01 <ref> <ASCII path>`` SUBSCRIBE, ``02 <ref>``
  UNSUBSCRIBE; the reference byte must not be 0; results come back as
  ``01 <ref> <status>`` and data as ``02 <ref> <SBEM payload>``; the firmware
  unsubscribes every stream when the link drops, and answers a full subscription
  table with status 507 written as the two bytes ``01 FB`` (i.e. big-endian):
  ``alexisduque/movesense-device-lib@c9c1226:samples/gatt_sensordata_app/GATTSensorDataClient.cpp``.
* A payload too long for one notification arrives as ``02 <ref> part1`` followed by
  ``03 <ref> part2`` (DATA_PART2) and is joined as ``part1 + part2[2:]``: the vendor
  bleak client for IMU9/ECG (``samples/gatt_sensordata_app/python_client/
  movesense_sensor_data.py``, IMU9 variant) does exactly this for its reference 99.
* MTU "up to 158 bytes => max 155 bytes" of payload: Movesense CustomGATTService
  slides, https://www.movesense.com/wp-content/uploads/2018/11/2018-11-06-Using-Movesense-CustomGATTService.pdf
* IMU6 notification (``/Meas/IMU6/{SampleRate}``): ``Timestamp`` u32 "local
  timestamp of first measurement", milliseconds; ``ArrayAcc`` FloatVector3D in m/s²;
  ``ArrayGyro`` FloatVector3D in dps; unsupported rate → 501 "Non-supported sample
  rate": ``JonasPrimbs/movesense-ble-ecg-firmware@aa05f56:MovesenseCoreLib/resources/
  movesense-api/meas/imu.yaml``. The SBEM body writes the arrays as *blocks* (all
  acceleration vectors, then all gyro vectors), as the vendor IMU9 sample reads them
  (acc at ``6 + 12 i``, gyro one block of ``12 N`` bytes later).

Notification layout (offsets into the joined notification, little-endian)::

    0   u8   GSP type (2 = DATA; 3 = DATA_PART2 continuation; 1 = command result)
    1   u8   client reference chosen in SUBSCRIBE (this bridge uses 99)
    2   u32  sensor time of the first sample, ms (wraps after 49.7 days)
    6   N × 3 × f32  acceleration, m/s²
    6+12N N × 3 × f32 angular rate, deg/s

``N = (len − 6) / 24`` is computed from the length, never assumed. Sample ``i`` was
taken at ``timestamp + i · 1000 / rate_hz`` ms.

Command-result status. The vendor code writes 507 big-endian; one custom firmware
documents little-endian. :func:`parse_status` takes the byte order that gives an
HTTP code (100–599); for every code the protocol uses the other order falls
outside that range, so the choice is unambiguous.

Split detection. A DATA notification whose length is not ``6 + 24 N`` is held as
the first part of a split packet. A first part whose length happened to be a whole
number of samples could not be told apart; with the 155-byte notifications of the
real sensor (and the twin) this cannot happen (``155 − 6`` is not a multiple of 24).
"""

from __future__ import annotations

import asyncio
import math
import re
import struct
from typing import ClassVar, Final

import numpy as np
from bleak import BleakClient

from calfload.bridge.devices.base import DataCallback, DeviceError, DeviceFamily, SampleBlock
from calfload.bridge.errors import PacketError
from calfload.bridge.messages import Placement
from calfload.bridge.timebase import CounterUnwrapper

SERVICE_UUID: Final = "34802252-7185-4d5d-b431-630e7050e8f0"
COMMAND_CHAR_UUID: Final = "34800001-7185-4d5d-b431-630e7050e8f0"
DATA_CHAR_UUID: Final = "34800002-7185-4d5d-b431-630e7050e8f0"
NAME_PREFIX: Final = "Movesense"

CMD_HELLO: Final = 0
CMD_SUBSCRIBE: Final = 1
CMD_UNSUBSCRIBE: Final = 2
RESP_COMMAND_RESULT: Final = 1
RESP_DATA: Final = 2
RESP_DATA_PART2: Final = 3

#: Reference byte the bridge uses for its IMU6 subscription (the vendor sample's 99).
REFERENCE: Final = 99
#: IMU sample rates listed for Movesense (authoritative list: GET /Meas/IMU/Info).
IMU_RATES_HZ: Final = (13, 26, 52, 104, 208, 416, 833, 1666)
#: Largest notification payload on a real sensor (MTU 158 − 3).
MAX_NOTIFY_BYTES: Final = 155
HEADER_LEN: Final = 6
SAMPLE_BYTES: Final = 24  # acc + gyro, 2 × FloatVector3D
MAX_JOINED_BYTES: Final = 1024
#: Values beyond these are not a foot-worn IMU (sensor ranges are ±16 g, ±2000 dps).
MAX_ABS_ACC_MPS2: Final = 1000.0
MAX_ABS_GYR_DPS: Final = 10000.0
START_TIMEOUT_S: Final = 8.0

HTTP_REASONS: Final = {
    200: "OK",
    201: "Created",
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found (no such resource)",
    501: "Not Implemented (sample rate not supported)",
    503: "Service Unavailable",
    507: "Insufficient Storage (no free subscription slot)",
}


def imu6_path(rate_hz: int) -> str:
    """The resource path of the 6-axis IMU stream at ``rate_hz``."""
    return f"/Meas/IMU6/{rate_hz}"


def subscribe_command(reference: int, path: str) -> bytes:
    """``01 <ref> <ASCII path>``."""
    if not 1 <= reference <= 255:
        raise ValueError(f"GSP reference {reference} must be 1..255")
    return bytes([CMD_SUBSCRIBE, reference]) + path.encode("ascii")


def unsubscribe_command(reference: int) -> bytes:
    return bytes([CMD_UNSUBSCRIBE, reference])


def command_result(reference: int, status: int) -> bytes:
    """What the sensor notifies for a command result (status big-endian, as the vendor)."""
    return bytes([RESP_COMMAND_RESULT, reference]) + struct.pack(">H", status)


def parse_status(payload: bytes) -> int | None:
    """The HTTP-style status of a command-result notification (``None`` if it has none,
    e.g. the ``Hello`` answer)."""
    body = payload[2:]
    if len(body) == 1:
        return body[0]
    if len(body) != 2:
        return None
    big, little = int.from_bytes(body, "big"), int.from_bytes(body, "little")
    if 100 <= big <= 599:
        return big
    if 100 <= little <= 599:
        return little
    return None


def describe_status(status: int) -> str:
    return f"{status} {HTTP_REASONS.get(status, 'error')}"


def encode_imu6(
    *,
    reference: int,
    timestamp_ms: int,
    acc_mps2: np.typing.ArrayLike,
    gyr_dps: np.typing.ArrayLike,
    max_notify_bytes: int = MAX_NOTIFY_BYTES,
) -> list[bytes]:
    """Encode N IMU6 samples into the notification(s) the sensor sends: one DATA
    notification, or DATA + DATA_PART2 when the packet exceeds ``max_notify_bytes``."""
    acc = np.asarray(acc_mps2, dtype="<f4").reshape(-1, 3)
    gyr = np.asarray(gyr_dps, dtype="<f4").reshape(-1, 3)
    if acc.shape != gyr.shape or acc.shape[0] == 0:
        raise ValueError("acc and gyro need the same, non-zero number of samples")
    whole = (
        bytes([RESP_DATA, reference])
        + struct.pack("<I", timestamp_ms & 0xFFFFFFFF)
        + acc.tobytes()
        + gyr.tobytes()
    )
    parts = [whole[:max_notify_bytes]]
    rest = whole[max_notify_bytes:]
    while rest:
        chunk = max_notify_bytes - 2
        parts.append(bytes([RESP_DATA_PART2, reference]) + rest[:chunk])
        rest = rest[chunk:]
    return parts


def _complete(packet: bytes) -> bool:
    return len(packet) > HEADER_LEN and (len(packet) - HEADER_LEN) % SAMPLE_BYTES == 0


def decode_imu6(
    packet: bytes,
) -> tuple[int, np.typing.NDArray[np.float64], np.typing.NDArray[np.float64]]:
    """Decode one whole (joined) IMU6 DATA packet → (timestamp ms, acc (N, 3), gyro (N, 3))."""
    if not _complete(packet):
        raise PacketError(
            "length",
            f"Movesense IMU6 packet is {len(packet)} bytes, not 6 + 24 × N",
            packet,
        )
    n = (len(packet) - HEADER_LEN) // SAMPLE_BYTES
    (timestamp_ms,) = struct.unpack_from("<I", packet, 2)
    values = np.frombuffer(packet, dtype="<f4", offset=HEADER_LEN).astype(np.float64)
    acc = values[: 3 * n].reshape(n, 3)
    gyr = values[3 * n :].reshape(n, 3)
    if not (np.isfinite(values).all()):
        raise PacketError("value", "Movesense IMU6 packet holds NaN or infinite values", packet)
    if np.abs(acc).max() > MAX_ABS_ACC_MPS2 or np.abs(gyr).max() > MAX_ABS_GYR_DPS:
        raise PacketError("value", "Movesense IMU6 packet holds impossible values", packet)
    return int(timestamp_ms), acc, gyr


class MovesenseDecoder:
    """Per-connection decoder for an IMU6 subscription.

    ``rate_hz`` is the rate named in the subscription (the packets do not carry it);
    ``reference`` the subscription's reference byte, or ``None`` to accept any (for
    payloads pasted into ``calfload decode``). Joins DATA + DATA_PART2, ignores
    command results, unwraps the u32 ms clock. ``stale_parts`` counts first parts
    whose continuation never came (their samples show up as a gap in time).
    """

    def __init__(self, rate_hz: int = 208, reference: int | None = REFERENCE) -> None:
        if rate_hz <= 0:
            raise ValueError(f"Movesense rate must be positive, not {rate_hz}")
        self.rate_hz = rate_hz
        self.reference = reference
        self.stale_parts = 0
        self._pending: bytes | None = None
        self._clock = CounterUnwrapper(bits=32)

    @property
    def pending(self) -> int:
        """Bytes of a split packet still waiting for its DATA_PART2 (0 when none)."""
        return 0 if self._pending is None else len(self._pending)

    def feed(self, payload: bytes) -> list[SampleBlock]:
        data = bytes(payload)
        if len(data) < 2:
            raise PacketError("short", f"Movesense notification is {len(data)} bytes", data)
        kind, ref = data[0], data[1]
        if kind == RESP_COMMAND_RESULT:
            return []  # a late command result on the data characteristic, not data
        if kind not in (RESP_DATA, RESP_DATA_PART2):
            raise PacketError("type", f"Movesense notification has unknown type {kind}", data)
        if self.reference is not None and ref != self.reference:
            raise PacketError(
                "reference",
                f"Movesense data for reference {ref}, subscribed as {self.reference}",
                data,
            )
        if kind == RESP_DATA:
            if self._pending is not None:
                self.stale_parts += 1
            self._pending = None
            if len(data) < HEADER_LEN:
                raise PacketError("short", f"Movesense DATA is {len(data)} bytes", data)
            if not _complete(data):
                self._pending = data
                return []
            return [self._block(data)]
        pending = self._pending
        if pending is None or pending[1] != ref:
            raise PacketError("orphan", "Movesense DATA_PART2 without a first part", data)
        joined = pending + data[2:]
        if _complete(joined):
            self._pending = None
            return [self._block(joined)]
        if len(joined) > MAX_JOINED_BYTES:
            self._pending = None
            raise PacketError("length", "Movesense split packet grew too long", joined)
        self._pending = joined
        return []

    def _block(self, packet: bytes) -> SampleBlock:
        timestamp_ms, acc, gyr = decode_imu6(packet)
        t0_ms = self._clock.unwrap(timestamp_ms)
        return SampleBlock(
            n=acc.shape[0],
            fs_hz=float(self.rate_hz),
            t0_sensor_us=t0_ms * 1000,
            acc_mps2=acc,
            gyr_dps=gyr,
        )


_RATE_IN_PATH = re.compile(r"^/Meas/IMU6/(\d+)$")


def rate_from_path(path: str) -> int | None:
    """The rate in an ``/Meas/IMU6/<rate>`` path (``None`` for any other path)."""
    match = _RATE_IN_PATH.match(path)
    return int(match.group(1)) if match else None


class Movesense(DeviceFamily):
    """GATT recipe: notify on the data characteristic, SUBSCRIBE ``/Meas/IMU6/<rate>``,
    wait for the first data or a command result; stop sends UNSUBSCRIBE."""

    name = "movesense"
    label = "Movesense (GATT SensorData Protocol, IMU6)"
    service_uuids = (SERVICE_UUID,)
    name_prefixes = (NAME_PREFIX,)
    default_rate_hz = 208
    placements: ClassVar[tuple[Placement, ...]] = ("foot_top", "heel", "shank")

    def decoder(
        self, *, rate_hz: int | None = None, reference: int | None = None
    ) -> MovesenseDecoder:
        """A decoder for pasted payloads: any reference unless given, 208 Hz unless given."""
        return MovesenseDecoder(rate_hz or self.default_rate_hz, reference)

    async def start(
        self, client: BleakClient, on_data: DataCallback, rate_hz: int
    ) -> MovesenseDecoder:
        loop = asyncio.get_running_loop()
        first: asyncio.Future[int | None] = loop.create_future()

        def on_notify(_char: object, value: bytearray) -> None:
            data = bytes(value)
            if len(data) >= 2 and data[0] == RESP_COMMAND_RESULT and data[1] == REFERENCE:
                if not first.done():
                    first.set_result(parse_status(data))
                return
            if not first.done() and data[:1] in (b"\x02", b"\x03"):
                first.set_result(None)
            on_data(data)

        path = imu6_path(rate_hz)
        await client.start_notify(DATA_CHAR_UUID, on_notify)
        await client.write_gatt_char(
            COMMAND_CHAR_UUID, subscribe_command(REFERENCE, path), response=True
        )
        try:
            status = await asyncio.wait_for(first, START_TIMEOUT_S)
        except TimeoutError:
            raise DeviceError(
                f"Movesense sent neither data nor a reply within {START_TIMEOUT_S:g} s "
                f"after SUBSCRIBE {path}"
            ) from None
        if status is not None and status >= 300:
            hint = ""
            if status == 501:
                hint = f"; Movesense IMU rates are {', '.join(map(str, IMU_RATES_HZ))} Hz"
            raise DeviceError(
                f"Movesense refused SUBSCRIBE {path}: {describe_status(status)}{hint}"
            )
        return MovesenseDecoder(rate_hz, REFERENCE)

    async def stop(self, client: BleakClient) -> None:
        await client.write_gatt_char(
            COMMAND_CHAR_UUID, unsubscribe_command(REFERENCE), response=True
        )


def samples_per_notification(rate_hz: int) -> int:
    """How many samples the twin packs per notification (8 up to 208 Hz, as the vendor
    sample sees at 104 Hz; more at higher rates to keep ~26 packets/s)."""
    return max(8, 8 * math.ceil(rate_hz / 208))
