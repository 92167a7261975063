"""Virtual twins of a Polar H10 and a Polar Verity Sense speaking PMD.

The control point answers reads with the feature bitmask and writes with
indications: settings (normal or SDK mode), start (FACTOR in the reply on the
Verity Sense), stop, SDK mode on/off, and the device's error codes for what it
cannot do (an unsupported rate → 8 INVALID SAMPLE RATE, range → 9, a stream that
already runs → 6, an unknown measurement → 2). Data frames follow the devices:
the H10 sends raw ACC frames (type 1, int16 mG), the Verity Sense delta-compressed
ACC (0x81) and GYRO (0x80) frames scaled by their factors. Timestamps are ns since
2000-01-01 of each frame's last sample; the clock starts at the H10's default
time (2019-01-01) plus ``clock_offset_s``.
"""

from __future__ import annotations

import asyncio
from typing import Literal

import numpy as np
from bumble.att import Attribute
from bumble.device import Connection, Device
from bumble.gatt import Characteristic, CharacteristicValue, Service

from calfload.bridge.devices import polar_pmd as pmd
from calfload.bridge.devices.imu_twin import FloatArray, ImuTwin, TwinFaults
from calfload.bridge.simulator import GaitSimulator
from calfload.bridge.topics import Side
from calfload.bridge.virtual.radio import VirtualRadio

Model = Literal["h10", "verity"]
#: H10 default time after a shutdown, 2019-01-01T00:00:00Z, in s since the PMD epoch.
H10_DEFAULT_TIME_S = 599_616_000.0

_SDK_RATES: list[float] = [26, 52, 104, 208, 416]
SETTINGS: dict[tuple[Model, bool, int], dict[int, list[float]]] = {
    ("h10", False, pmd.ACC): {
        pmd.SAMPLE_RATE: [25, 50, 100, 200],
        pmd.RESOLUTION: [16],
        pmd.RANGE: [2, 4, 8],
    },
    ("verity", False, pmd.ACC): {
        pmd.SAMPLE_RATE: [52],
        pmd.RESOLUTION: [16],
        pmd.RANGE: [8],
        pmd.CHANNELS: [3],
    },
    ("verity", False, pmd.GYRO): {
        pmd.SAMPLE_RATE: [52],
        pmd.RESOLUTION: [16],
        pmd.RANGE: [2000],
        pmd.CHANNELS: [3],
    },
    ("verity", True, pmd.ACC): {
        pmd.SAMPLE_RATE: _SDK_RATES,
        pmd.RESOLUTION: [16],
        pmd.RANGE: [2, 4, 8, 16],
        pmd.CHANNELS: [3],
    },
    ("verity", True, pmd.GYRO): {
        pmd.SAMPLE_RATE: _SDK_RATES,
        pmd.RESOLUTION: [16],
        pmd.RANGE: [250, 500, 1000, 2000],
        pmd.CHANNELS: [3],
    },
}


class PolarTwin(ImuTwin):
    """One virtual Polar H10 (``model="h10"``) or Verity Sense (``"verity"``)."""

    def __init__(
        self,
        radio: VirtualRadio,
        simulator: GaitSimulator,
        side: Side,
        *,
        model: Model = "verity",
        name: str | None = None,
        clock_offset_s: float = H10_DEFAULT_TIME_S + 3.25,
        samples_per_packet: int = 18,
        split_replies: bool = False,
        faults: TwinFaults | None = None,
    ) -> None:
        super().__init__(
            radio,
            simulator,
            side,
            name=name or ("Polar H10 0A1B2C3D" if model == "h10" else "Polar Sense 0A1B2C3D"),
            rate_hz=200,
            samples_per_packet=samples_per_packet,
            clock_offset_s=clock_offset_s,
            faults=faults,
        )
        self.model: Model = model
        #: Send settings replies in two indications (``more`` = 1, then a continuation).
        self.split_replies = split_replies
        self.sdk_mode = False
        self.active: dict[int, dict[int, int]] = {}  # measurement → selected settings
        self.replies: list[bytes] = []
        self._control: Characteristic[bytes] | None = None

    @property
    def measurements(self) -> set[int]:
        if self.model == "h10":
            return {pmd.ECG, pmd.ACC}
        return {1, pmd.ACC, 3, pmd.GYRO, 6, pmd.SDK_MODE}

    def factor(self, measurement: int) -> float:
        """Counts → mG (ACC) or dps (GYRO) for the running range."""
        full_scale = self.active[measurement].get(pmd.RANGE, 8)
        return full_scale * (1000.0 if measurement == pmd.ACC else 1.0) / 32768.0

    def _build(self, device: Device) -> Characteristic[bytes]:
        self._control = Characteristic(
            pmd.CONTROL_CHAR_UUID,
            Characteristic.Properties.READ
            | Characteristic.Properties.WRITE
            | Characteristic.Properties.INDICATE,
            Attribute.Permissions.READABLE | Attribute.Permissions.WRITEABLE,
            CharacteristicValue[bytes](read=self._on_read, write=self._on_write),
        )
        data: Characteristic[bytes] = Characteristic(
            pmd.DATA_CHAR_UUID,
            Characteristic.Properties.NOTIFY,
            Attribute.Permissions.READABLE,
            b"",
        )
        device.add_service(Service(pmd.SERVICE_UUID, [self._control, data]))
        return data

    def _on_read(self, _connection: Connection) -> bytes:
        return pmd.encode_features(self.measurements)

    def _reply(self, value: bytes) -> None:
        self.replies.append(value)
        asyncio.get_running_loop().create_task(self._indicate(value))

    async def _indicate(self, value: bytes) -> None:
        assert self.device is not None and self._control is not None
        try:
            await self.device.indicate_subscribers(self._control, value)
        except Exception:  # the link went away
            return

    def end_stream(self) -> None:
        super().end_stream()
        self.active.clear()
        self.sdk_mode = False

    def _on_write(self, _connection: Connection, value: bytes) -> None:
        value = bytes(value)
        self.commands.append(value)
        if len(value) < 2:
            self._reply(
                bytes([pmd.RESPONSE_CODE, value[0] if value else 0, 0, 4])
            )  # INVALID LENGTH
            return
        op, measurement = value[0], value[1] & 0x3F
        if measurement not in self.measurements:
            self._reply(pmd.encode_response(op, measurement, 2))  # INVALID MEASUREMENT TYPE
        elif op in (pmd.OP_GET_SETTINGS, pmd.OP_GET_SDK_SETTINGS):
            settings = SETTINGS.get(
                (self.model, self.sdk_mode or op == pmd.OP_GET_SDK_SETTINGS, measurement)
            )
            if settings is None:
                self._reply(pmd.encode_response(op, measurement, 3))  # NOT SUPPORTED
            else:
                params = pmd.encode_settings(settings)
                if self.split_replies:
                    head = pmd.encode_response(op, measurement, 0, params[:4])
                    self._reply(head[:4] + b"\x01" + head[5:])  # more = 1
                    self._reply(b"\x00" + params[4:])  # last continuation: more = 0
                else:
                    self._reply(pmd.encode_response(op, measurement, 0, params))
        elif op == pmd.OP_START:
            self._start(measurement, value[2:])
        elif op == pmd.OP_STOP:
            if measurement == pmd.SDK_MODE:
                self.end_stream()
            else:
                self.active.pop(measurement, None)
                if pmd.ACC not in self.active:
                    super().end_stream()
            self._reply(pmd.encode_response(op, measurement, 0))
        else:
            self._reply(pmd.encode_response(op, measurement, 1))  # INVALID OP CODE

    def _start(self, measurement: int, params: bytes) -> None:
        op = pmd.OP_START
        if measurement == pmd.SDK_MODE:
            status = 6 if self.sdk_mode else 0
            self.sdk_mode = True
            self._reply(pmd.encode_response(op, measurement, status))
            return
        if measurement in self.active:
            self._reply(pmd.encode_response(op, measurement, pmd.STATUS_ALREADY_IN_STATE))
            return
        offered = SETTINGS.get((self.model, self.sdk_mode, measurement))
        try:
            requested = {k: int(v[0]) for k, v in pmd.parse_settings(params).items()}
        except ValueError:
            self._reply(pmd.encode_response(op, measurement, 5))  # INVALID PARAMETER
            return
        if offered is None:
            self._reply(pmd.encode_response(op, measurement, 3))
            return
        for setting, status in ((pmd.SAMPLE_RATE, 8), (pmd.RESOLUTION, 7), (pmd.RANGE, 9)):
            if setting in requested and requested[setting] not in offered.get(setting, []):
                self._reply(pmd.encode_response(op, measurement, status))
                return
        self.active[measurement] = requested
        params_out = b""
        if self.model == "verity":
            params_out = pmd.encode_settings({pmd.FACTOR: [self.factor(measurement)]})
        if measurement == pmd.ACC:
            self.rate_hz = requested.get(pmd.SAMPLE_RATE, 52)
            self.begin_stream()
        self._reply(pmd.encode_response(op, measurement, 0, params_out))

    def _encode(self, t_sensor_s: FloatArray, acc: FloatArray, gyr: FloatArray) -> list[bytes]:
        last_ns = round(float(t_sensor_s[-1]) * 1e9)
        # Like the real sensors, values beyond the selected range are clipped.
        acc_range_mg = self.active[pmd.ACC].get(pmd.RANGE, 8) * 1000.0
        acc_mg = np.clip(acc / pmd.G0_MPS2 * 1000.0, -acc_range_mg, acc_range_mg)
        if self.model == "h10":
            return [pmd.encode_acc_raw(last_ns, acc_mg)]
        out = [pmd.encode_delta(pmd.ACC, last_ns, acc_mg / self.factor(pmd.ACC))]
        if pmd.GYRO in self.active:
            gyr_range = self.active[pmd.GYRO].get(pmd.RANGE, 2000)
            gyr = np.clip(gyr, -gyr_range, gyr_range)
            out.append(pmd.encode_delta(pmd.GYRO, last_ns, gyr / self.factor(pmd.GYRO)))
        return out

    def _garbage(self, k: int, good: bytes) -> bytes:
        kind = k % 4
        if kind == 0:
            return good[:6]  # short
        if kind == 1:
            return bytes([pmd.ECG]) + good[1:]  # a stream we did not start
        if kind == 2:
            return good[:-3] if good[9] & 0x80 else good[:-1]  # cut inside the samples
        return good[:9] + bytes([0x07]) + good[10:]  # unknown frame type
