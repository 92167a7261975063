"""WitMotion BLE 5.0 IMUs (WT901BLECL 5.0, BWT901BLECL5.0, WT9011DCL-BT5.0): pure codec
and GATT recipe.

Sources, checked against each other:

- WitMotion's own bleak SDK, ``WITMOTION/WitBluetooth_BWT901BLE5_0:Python/
  BWT901BLE5.0_python_sdk/device_model.py`` [vendor code]: the UUIDs below, the
  byte-wise resynchronisation on ``55 61``, 20-byte frames, the scales
  (raw / 32768 × 16 g, × 2000 °/s, × 180 °) and the command encoders
  (``FF AA <reg> <lo> <hi>``; unlock = register 0x69, key 0xB588; save = register
  0x00, value 0; read = ``FF AA 27 <reg> 00``).
- WitMotion, "WT901BLECL 5.0 manual" §6.1 (0x61 default packet, "up to 20 bytes
  per notification") and §6.1.2 (``55 71`` single-register reply: start register
  u16 + 8 registers × i16 = 20 bytes, with the worked magnetometer example
  ``55 71 3A 00 68 01 69 00 7A 00 …``) [spec].
- WitMotion standard-protocol register map (``REG.h`` of the WitStandardProtocol
  SDKs): RRATE register 0x03, codes 0x01 = 0.2 Hz … 0x06 = 10 Hz (default),
  0x07 = 20 Hz, 0x08 = 50 Hz, 0x09 = 100 Hz, 0x0A = 125 Hz (WT931 only),
  0x0B = 200 Hz [vendor code].

Default notification (no checksum; little-endian int16)::

    0  55 61      header, flag
    2  ax ay az   raw / 32768 × 16 g        (ACCRANGE register 0x21 at its default)
    8  wx wy wz   raw / 32768 × 2000 °/s    (GYRORANGE register 0x20 at its default)
    14 roll pitch yaw  raw / 32768 × 180 °

The service uses the vendor base ``…-0000-1000-8000-00805f9a34fb`` (``9a``, not the
SIG base's ``9b``): never pass short UUID forms to bleak, which would expand them
onto the SIG base.

Stream decoding. A notification may carry several frames, and a frame may be
split across notifications; the decoder keeps fewer than 20 carried-over bytes.
``55 71`` register replies are recognised and skipped. Bytes outside any frame are
junk: they are skipped (resynchronising on the next ``55 61`` / ``55 71``), the good
frames of the same notification are kept, and the notification is reported as a
:class:`PacketError` whose ``salvaged`` blocks carry those frames. A carried
partial frame is abandoned (counted as junk) when the next notification starts
with a header and is a whole number of frames long: the continuation was lost.

The sensor has no clock: blocks carry ``t0_sensor_us=None`` and the link stamps
them from their host arrival time at the nominal rate.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import ClassVar, Final

import numpy as np
import numpy.typing as npt
from bleak import BleakClient

from calfload.bridge.devices.base import DataCallback, DeviceError, DeviceFamily, SampleBlock
from calfload.bridge.errors import PacketError
from calfload.bridge.messages import Placement

log = logging.getLogger(__name__)

SERVICE_UUID: Final = "0000ffe5-0000-1000-8000-00805f9a34fb"
NOTIFY_CHAR_UUID: Final = "0000ffe4-0000-1000-8000-00805f9a34fb"
WRITE_CHAR_UUID: Final = "0000ffe9-0000-1000-8000-00805f9a34fb"
NAME_PREFIXES: Final = ("WT901", "WT9011", "BWT901")

HEADER: Final = 0x55
FLAG_IMU: Final = 0x61
FLAG_REGISTER: Final = 0x71
FRAME_LEN: Final = 20
KNOWN_FLAGS: Final = frozenset({FLAG_IMU, FLAG_REGISTER})

G0_MPS2: Final = 9.80665
ACC_MPS2_PER_COUNT: Final = 16.0 * G0_MPS2 / 32768.0
GYR_DPS_PER_COUNT: Final = 2000.0 / 32768.0
ANGLE_DEG_PER_COUNT: Final = 180.0 / 32768.0

REG_SAVE: Final = 0x00
REG_RRATE: Final = 0x03
REG_READ: Final = 0x27
REG_KEY: Final = 0x69
UNLOCK_KEY: Final = 0xB588
#: Output rate (Hz) → RRATE register code. 125 Hz exists only on the WT931.
RATE_CODES: Final[dict[int, int]] = {
    1: 0x03,
    2: 0x04,
    5: 0x05,
    10: 0x06,
    20: 0x07,
    50: 0x08,
    100: 0x09,
    125: 0x0A,
    200: 0x0B,
}
#: The vendor waits this long between unlock, the write and save.
COMMAND_GAP_S: Final = 0.1
#: How long the recipe waits for the ``55 71`` reply that confirms the rate.
READBACK_TIMEOUT_S: Final = 1.5


def write_register_command(register: int, value: int) -> bytes:
    """``FF AA <reg> <value lo> <value hi>``: write one 16-bit register."""
    if not 0 <= register <= 0xFF or not 0 <= value <= 0xFFFF:
        raise ValueError(f"register 0x{register:X} / value 0x{value:X} out of range")
    return bytes([0xFF, 0xAA, register, value & 0xFF, value >> 8])


def unlock_command() -> bytes:
    """``FF AA 69 88 B5``: unlock register writes (for about 10 s, per the manual)."""
    return write_register_command(REG_KEY, UNLOCK_KEY)


def save_command() -> bytes:
    """``FF AA 00 00 00``: store the current registers in flash."""
    return write_register_command(REG_SAVE, 0)


def read_register_command(register: int) -> bytes:
    """``FF AA 27 <reg> 00``: ask for a ``55 71`` reply starting at ``register``."""
    return write_register_command(REG_READ, register)


def set_rate_command(rate_hz: int) -> bytes:
    """``FF AA 03 <code> 00``: set the output rate (needs a preceding unlock)."""
    try:
        code = RATE_CODES[rate_hz]
    except KeyError:
        known = ", ".join(str(r) for r in RATE_CODES)
        raise ValueError(
            f"WitMotion cannot stream at {rate_hz} Hz; choose one of {known}"
        ) from None
    return write_register_command(REG_RRATE, code)


def register_in_reply(payload: bytes, register: int) -> int | None:
    """The value of ``register`` if ``payload`` holds a whole ``55 71`` reply starting
    at it, else ``None``."""
    marker = bytes([HEADER, FLAG_REGISTER]) + register.to_bytes(2, "little")
    at = payload.find(marker)
    if at < 0 or len(payload) < at + 6:
        return None
    return int.from_bytes(payload[at + 4 : at + 6], "little", signed=True)


def rate_from_code(code: int) -> int | None:
    """The rate in Hz an RRATE code selects (``None`` for codes without a whole-Hz rate)."""
    for rate_hz, c in RATE_CODES.items():
        if c == code:
            return rate_hz
    return None


@dataclass(frozen=True, slots=True)
class WitFrames:
    """The ``55 61`` frames of one notification, one row per frame, in SI units."""

    acc_mps2: npt.NDArray[np.float64]  # (n, 3)
    gyr_dps: npt.NDArray[np.float64]  # (n, 3)
    angle_deg: npt.NDArray[np.float64]  # (n, 3) roll, pitch, yaw

    @property
    def n(self) -> int:
        return int(self.acc_mps2.shape[0])


def frames_from_bodies(bodies: bytes) -> WitFrames:
    """Scale the concatenated 18-byte bodies (9 × int16 LE each) of ``55 61`` frames."""
    raw = np.frombuffer(bodies, dtype="<i2").reshape(-1, 9).astype(np.float64)
    return WitFrames(
        acc_mps2=raw[:, 0:3] * ACC_MPS2_PER_COUNT,
        gyr_dps=raw[:, 3:6] * GYR_DPS_PER_COUNT,
        angle_deg=raw[:, 6:9] * ANGLE_DEG_PER_COUNT,
    )


def encode_frames(
    acc_mps2: npt.ArrayLike, gyr_dps: npt.ArrayLike, angle_deg: npt.ArrayLike | None = None
) -> bytes:
    """``55 61`` frames for rows of samples (what the sensor and the twin send).

    Values are rounded to the wire resolution and clipped to its range.
    """
    acc = np.atleast_2d(np.asarray(acc_mps2, dtype=np.float64))
    gyr = np.atleast_2d(np.asarray(gyr_dps, dtype=np.float64)).reshape(acc.shape)
    ang = (
        np.zeros_like(acc)
        if angle_deg is None
        else np.atleast_2d(np.asarray(angle_deg, dtype=np.float64)).reshape(acc.shape)
    )
    counts = np.concatenate(
        [acc / ACC_MPS2_PER_COUNT, gyr / GYR_DPS_PER_COUNT, ang / ANGLE_DEG_PER_COUNT], axis=1
    )
    frames = np.zeros(acc.shape[0], dtype=np.dtype([("head", "u1", (2,)), ("v", "<i2", (9,))]))
    frames["head"] = (HEADER, FLAG_IMU)
    frames["v"] = np.clip(np.rint(counts), -32768, 32767)
    return frames.tobytes()


class WitMotionDecoder:
    """Per-connection stream decoder (frames per notification, split frames, junk)."""

    def __init__(self, rate_hz: int) -> None:
        if rate_hz <= 0:
            raise ValueError(f"rate {rate_hz} Hz must be positive")
        self.fs_hz = float(rate_hz)
        self._carry = b""
        self.register_replies = 0
        self.junk_bytes = 0

    @property
    def pending(self) -> int:
        """Bytes of an incomplete frame waiting for the next notification (< 20)."""
        return len(self._carry)

    def feed(self, payload: bytes) -> list[SampleBlock]:
        data = bytes(payload)
        junk = 0
        if (
            self._carry
            and len(data) >= 2
            and data[0] == HEADER
            and data[1] in KNOWN_FLAGS
            and len(data) % FRAME_LEN == 0
        ):
            junk += len(self._carry)  # an orphan: its continuation never came
            self._carry = b""
        buf = self._carry + data
        self._carry = b""
        bodies: list[bytes] = []
        i, end = 0, len(buf)
        while i < end:
            if buf[i] != HEADER:
                nxt = buf.find(HEADER, i + 1)
                stop = end if nxt < 0 else nxt
                junk += stop - i
                i = stop
                continue
            if i + 1 < end and buf[i + 1] not in KNOWN_FLAGS:
                junk += 1
                i += 1
                continue
            if end - i < FRAME_LEN:
                self._carry = buf[i:]  # the start of a frame split across notifications
                break
            if buf[i + 1] == FLAG_IMU:
                bodies.append(buf[i + 2 : i + FRAME_LEN])
            else:
                self.register_replies += 1
            i += FRAME_LEN
        blocks = [self._block(frames_from_bodies(b"".join(bodies)))] if bodies else []
        if junk:
            self.junk_bytes += junk
            raise PacketError(
                "junk",
                f"witmotion notification has {junk} byte(s) outside any 55 61 / 55 71 frame"
                f"; its {len(bodies)} good frame(s) are kept",
                data,
                salvaged=blocks,
            )
        return blocks

    def _block(self, frames: WitFrames) -> SampleBlock:
        return SampleBlock(
            n=frames.n,
            fs_hz=self.fs_hz,
            t0_sensor_us=None,
            acc_mps2=frames.acc_mps2,
            gyr_dps=frames.gyr_dps,
        )


class WitMotion(DeviceFamily):
    """GATT recipe: subscribe to FFE4, then unlock → rate → read the rate back on FFE9
    (the sensor streams on its own once subscribed). The rate is set on every
    connection and not saved, so the sensor's flash is not rewritten on each run; the
    decoder uses the rate the sensor reports back (the requested one if it does not
    answer within 1.5 s)."""

    name = "witmotion"
    label = "WitMotion WT901BLE family (BLE 5.0)"
    service_uuids = (SERVICE_UUID,)
    name_prefixes = NAME_PREFIXES
    default_rate_hz = 100
    placements: ClassVar[tuple[Placement, ...]] = ("foot_top", "heel", "shank")

    def decoder(self, *, rate_hz: int | None = None) -> WitMotionDecoder:
        return WitMotionDecoder(self.default_rate_hz if rate_hz is None else rate_hz)

    async def start(
        self, client: BleakClient, on_data: DataCallback, rate_hz: int
    ) -> WitMotionDecoder:
        try:
            command = set_rate_command(rate_hz)  # refuse before touching the sensor
        except ValueError as exc:
            raise DeviceError(str(exc)) from None
        loop = asyncio.get_running_loop()
        readback: asyncio.Future[int] = loop.create_future()

        def on_notify(_char: object, data: bytearray) -> None:
            payload = bytes(data)
            if not readback.done():
                code = register_in_reply(payload, REG_RRATE)
                if code is not None:
                    readback.set_result(code)
            on_data(payload)

        await client.start_notify(NOTIFY_CHAR_UUID, on_notify)
        await client.write_gatt_char(WRITE_CHAR_UUID, unlock_command(), response=True)
        await asyncio.sleep(COMMAND_GAP_S)
        await client.write_gatt_char(WRITE_CHAR_UUID, command, response=True)
        await asyncio.sleep(COMMAND_GAP_S)
        # Read the rate back: a unit that ignored the write (locked, or a rate it does
        # not offer) keeps streaming at its stored rate, which the decoder must use.
        await client.write_gatt_char(
            WRITE_CHAR_UUID, read_register_command(REG_RRATE), response=True
        )
        try:
            code = await asyncio.wait_for(readback, READBACK_TIMEOUT_S)
        except TimeoutError:
            log.info("witmotion: no reply to the rate read-back; assuming %d Hz", rate_hz)
            return WitMotionDecoder(rate_hz)
        actual = rate_from_code(code & 0xFF)
        if actual is None:
            log.warning(
                "witmotion: the sensor reports rate code 0x%02X after asking for %d Hz; "
                "decoding at %d Hz",
                code,
                rate_hz,
                rate_hz,
            )
            return WitMotionDecoder(rate_hz)
        if actual != rate_hz:
            log.warning(
                "witmotion: asked for %d Hz but the sensor streams at %d Hz (it ignored the rate)",
                rate_hz,
                actual,
            )
        return WitMotionDecoder(actual)
