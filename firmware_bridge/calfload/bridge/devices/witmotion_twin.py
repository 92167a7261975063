"""Virtual twin of a WitMotion WT901BLE-family IMU: a bumble GATT peripheral with the
vendor-base UUIDs that streams the exact ``55 61`` frames of
:mod:`calfload.bridge.devices.witmotion`, carrying the gait simulator's IMU channels.

Like the real sensor it streams as soon as a central subscribes (at 10 Hz out of
the box), obeys register writes only within 10 s of an unlock, answers
``FF AA 27 <reg> 00`` with a ``55 71`` reply of its registers, and has no clock.
``max_rate_hz`` makes it a unit that ignores faster rates (as a BLE 4.0 part may). Faults it can
inject: junk notifications (alone, or glued after good frames), frames split
across two notifications, unsolicited register replies, dropped notifications.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt
from bumble.att import Attribute
from bumble.device import Connection, Device
from bumble.gatt import Characteristic, CharacteristicValue, Service

from calfload.bridge.devices import witmotion
from calfload.bridge.simulator import GaitSimulator
from calfload.bridge.topics import Side
from calfload.bridge.virtual.paced import PacedTwin
from calfload.bridge.virtual.radio import VirtualRadio

#: Factory default output rate of the WT901BLE family.
FACTORY_RATE_HZ: Final = 10
#: How long an unlock lasts (manual: about 10 s).
UNLOCK_WINDOW_S: Final = 10.0
SPLIT_AT: Final = 7
#: Junk appended after good frames (no 0x55, so it cannot look like a header).
JUNK_TAIL: Final = b"\x00\x13\xaa"
JUNK_ALONE: Final = b"\x01\x02\x03\x04"


@dataclass(frozen=True)
class WitMotionFaults:
    """``garbage_every``: every Nth notification comes with junk, alternately glued after
    its frames and as a notification of its own (good frames are never lost);
    ``split_every``: every Nth notification goes out in two parts;
    ``register_reply_every``: an unsolicited ``55 71`` reply after every Nth;
    ``drop_every``: every Nth notification is silently lost (invisible in the data:
    this sensor has no sequence number or clock)."""

    garbage_every: int = 0
    split_every: int = 0
    register_reply_every: int = 0
    drop_every: int = 0


def register_reply(register: int, values: list[int] | None = None) -> bytes:
    """A ``55 71`` reply: start register + 8 × int16 register values."""
    regs = (values or [])[:8] + [0] * (8 - len((values or [])[:8]))
    return (
        bytes([witmotion.HEADER, witmotion.FLAG_REGISTER])
        + register.to_bytes(2, "little")
        + np.asarray(regs, dtype="<i2").tobytes()
    )


def angles_deg(acc_mps2: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Roll and pitch from the gravity direction (yaw 0): plausible angle fields."""
    ax, ay, az = acc_mps2[:, 0], acc_mps2[:, 1], acc_mps2[:, 2]
    roll = np.degrees(np.arctan2(ay, az))
    pitch = np.degrees(np.arctan2(-ax, np.hypot(ay, az)))
    return np.stack([roll, pitch, np.zeros_like(roll)], axis=1)


class WitMotionTwin(PacedTwin):
    """One virtual WitMotion IMU worn on ``side``."""

    def __init__(
        self,
        radio: VirtualRadio,
        simulator: GaitSimulator,
        side: Side,
        *,
        name: str = "WT901BLE-SIM",
        rate_hz: int = FACTORY_RATE_HZ,
        frames_per_notification: int = 1,
        max_rate_hz: int | None = None,
        faults: WitMotionFaults | None = None,
    ) -> None:
        super().__init__(radio, name)
        self.simulator = simulator
        self.side = side
        self.rate_hz = rate_hz
        self.max_rate_hz = max_rate_hz
        self.registers: dict[int, int] = {witmotion.REG_RRATE: witmotion.RATE_CODES[rate_hz]}
        self.frames_per_notification = frames_per_notification
        self.faults = faults or WitMotionFaults()
        self.commands: list[bytes] = []
        self.ignored_writes = 0
        self.saved_rate_hz: int | None = None
        self.notifications = 0
        self.frames_sent = 0
        self.frames_dropped = 0
        self.garbage_sent = 0
        self.splits_sent = 0
        self.register_replies_sent = 0
        self._unlocked_until = -1.0
        self._pending_reads: list[int] = []

    async def start(self, t_sim_origin: float) -> Device:
        """Create the peripheral and its GATT database; stream once a central subscribes."""
        data: Characteristic[bytes] = Characteristic(
            witmotion.NOTIFY_CHAR_UUID,
            Characteristic.Properties.NOTIFY,
            Attribute.Permissions.READABLE,
            b"",
        )
        write: Characteristic[bytes] = Characteristic(
            witmotion.WRITE_CHAR_UUID,
            Characteristic.Properties.WRITE | Characteristic.Properties.WRITE_WITHOUT_RESPONSE,
            Attribute.Permissions.WRITEABLE,
            CharacteristicValue[bytes](write=self._on_write),
        )
        return await self._power_up(
            t_sim_origin, [Service(witmotion.SERVICE_UUID, [data, write])], data
        )

    def _on_write(self, _connection: Connection, value: bytes) -> None:
        cmd = bytes(value)
        self.commands.append(cmd)
        if len(cmd) != 5 or cmd[:2] != b"\xff\xaa":
            self.ignored_writes += 1
            return
        register, reg_value = cmd[2], int.from_bytes(cmd[3:5], "little")
        now = asyncio.get_running_loop().time()
        if register == witmotion.REG_KEY and reg_value == witmotion.UNLOCK_KEY:
            self._unlocked_until = now + UNLOCK_WINDOW_S
        elif register == witmotion.REG_READ:
            self._pending_reads.append(reg_value & 0xFF)  # reads need no unlock
        elif now > self._unlocked_until:
            self.ignored_writes += 1  # locked: the real sensor ignores the write
        elif register == witmotion.REG_RRATE:
            rate = witmotion.rate_from_code(reg_value)
            if rate is None or (self.max_rate_hz is not None and rate > self.max_rate_hz):
                self.ignored_writes += 1  # a rate this unit does not offer
                return
            self.rate_hz = rate
            self.registers[register] = reg_value
        elif register == witmotion.REG_SAVE and reg_value == 0:
            self.saved_rate_hz = self.rate_hz

    def period_s(self) -> float:
        return self.frames_per_notification / self.rate_hz

    async def tick(self, t_sim_s: float) -> None:
        while self._pending_reads:
            start = self._pending_reads.pop(0)
            values = [self.registers.get(start + i, 0) for i in range(8)]
            self.register_replies_sent += await self.notify(register_reply(start, values))
        n = self.frames_per_notification
        t = t_sim_s - (n - 1 - np.arange(n, dtype=np.float64)) / self.rate_hz
        _cells, acc, gyr = self.simulator.insole(self.side, t)
        payload = witmotion.encode_frames(acc, gyr, angles_deg(acc))
        self.notifications += 1
        k, f = self.notifications, self.faults
        if f.drop_every and k % f.drop_every == 0:
            self.frames_dropped += n
            return
        garbage = bool(f.garbage_every) and k % f.garbage_every == 0
        glued = garbage and (k // f.garbage_every) % 2 == 1
        if glued:
            payload += JUNK_TAIL
        if f.split_every and k % f.split_every == 0:
            sent = await self.notify(payload[:SPLIT_AT]) and await self.notify(payload[SPLIT_AT:])
            self.splits_sent += sent
        else:
            sent = await self.notify(payload)
        if sent:
            self.frames_sent += n
            self.garbage_sent += glued
        if garbage and not glued:
            self.garbage_sent += await self.notify(JUNK_ALONE)
        if f.register_reply_every and k % f.register_reply_every == 0:
            self.register_replies_sent += await self.notify(register_reply(0x40, [2512]))
