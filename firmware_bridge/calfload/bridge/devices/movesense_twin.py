"""Virtual twin of a Movesense sensor running the GATT SensorData Protocol.

Speaks the bytes of :mod:`calfload.bridge.devices.movesense`: answers HELLO with
``01 <ref> "Hello"``, SUBSCRIBE ``/Meas/IMU6/<rate>`` by streaming (no reply on
success, as the vendor firmware), an unsupported rate with ``01 <ref> 01 F5``
(501, the code imu.yaml documents), any other path with 404; UNSUBSCRIBE stops.
Packets longer than 155 bytes are split into DATA + DATA_PART2 like the sensor's.
"""

from __future__ import annotations

import asyncio

from bumble.att import Attribute
from bumble.device import Connection, Device
from bumble.gatt import Characteristic, CharacteristicValue, Service

from calfload.bridge.devices import movesense as ms
from calfload.bridge.devices.imu_twin import FloatArray, ImuTwin, TwinFaults
from calfload.bridge.simulator import GaitSimulator
from calfload.bridge.topics import Side
from calfload.bridge.virtual.radio import VirtualRadio


class MovesenseTwin(ImuTwin):
    """One virtual Movesense on a :class:`VirtualRadio` (IMU6 over GSP)."""

    def __init__(
        self,
        radio: VirtualRadio,
        simulator: GaitSimulator,
        side: Side,
        *,
        name: str = "Movesense 000000000001",
        clock_offset_s: float = 12.345,
        max_notify_bytes: int = ms.MAX_NOTIFY_BYTES,
        faults: TwinFaults | None = None,
    ) -> None:
        super().__init__(
            radio,
            simulator,
            side,
            name=name,
            rate_hz=208,
            samples_per_packet=8,
            clock_offset_s=clock_offset_s,
            faults=faults,
        )
        self.max_notify_bytes = max_notify_bytes
        self.reference = 0
        self.replies: list[bytes] = []

    def _build(self, device: Device) -> Characteristic[bytes]:
        data: Characteristic[bytes] = Characteristic(
            ms.DATA_CHAR_UUID,
            Characteristic.Properties.NOTIFY,
            Attribute.Permissions.READABLE,
            b"",
        )
        command: Characteristic[bytes] = Characteristic(
            ms.COMMAND_CHAR_UUID,
            Characteristic.Properties.WRITE,
            Attribute.Permissions.WRITEABLE,
            CharacteristicValue[bytes](write=self._on_command),
        )
        device.add_service(Service(ms.SERVICE_UUID, [command, data]))
        return data

    def _reply(self, value: bytes) -> None:
        self.replies.append(value)
        asyncio.get_running_loop().create_task(self.notify(value))

    def _on_command(self, _connection: Connection, value: bytes) -> None:
        value = bytes(value)
        self.commands.append(value)
        if len(value) < 2 or value[1] == 0:
            return  # the firmware ignores commands without a reference
        cmd, ref = value[0], value[1]
        if cmd == ms.CMD_HELLO:
            self._reply(bytes([ms.RESP_COMMAND_RESULT, ref]) + b"Hello")
        elif cmd == ms.CMD_SUBSCRIBE:
            rate = ms.rate_from_path(value[2:].decode("ascii", "replace"))
            if rate is None:
                self._reply(ms.command_result(ref, 404))
            elif rate not in ms.IMU_RATES_HZ:
                self._reply(ms.command_result(ref, 501))
            elif self.streaming:
                self._reply(ms.command_result(ref, 507))  # one IMU slot in this twin
            else:
                self.reference = ref
                self.rate_hz = rate
                self.samples_per_packet = ms.samples_per_notification(rate)
                self.begin_stream()
        elif cmd == ms.CMD_UNSUBSCRIBE and ref == self.reference:
            self.end_stream()

    def _encode(self, t_sensor_s: FloatArray, acc: FloatArray, gyr: FloatArray) -> list[bytes]:
        return ms.encode_imu6(
            reference=self.reference,
            timestamp_ms=round(float(t_sensor_s[0]) * 1000.0),
            acc_mps2=acc,
            gyr_dps=gyr,
            max_notify_bytes=self.max_notify_bytes,
        )

    def _garbage(self, k: int, good: bytes) -> bytes:
        kind = k % 4
        if kind == 0:
            return good[:4]  # short
        if kind == 1:
            return bytes([0x07]) + good[1:]  # unknown type
        if kind == 2:
            return bytes([ms.RESP_DATA_PART2, self.reference]) + bytes(10)  # orphan part 2
        return bytes([ms.RESP_DATA, (self.reference + 1) & 0xFF]) + good[2:]  # other reference
