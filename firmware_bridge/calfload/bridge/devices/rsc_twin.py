"""Virtual twin of a Running Speed and Cadence footpod: a bumble GATT peripheral with the
SIG service 0x1814 (RSC Measurement 0x2A53 notify, RSC Feature 0x2A54 read, Sensor
Location 0x2A5D read) that notifies the exact bytes of
:mod:`calfload.bridge.devices.rsc`.

It reports the simulated athlete's profile: speed, cadence in steps per minute, and
the stride length the spec defines (same foot to same foot: two steps,
``2 × speed × 60 / cadence``), plus the distance covered since power-on. It has no
clock. Faults: malformed notifications between good ones, dropped notifications.
The SC Control Point (calibration, resetting the distance) is not modelled.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from bumble.att import Attribute
from bumble.core import UUID
from bumble.device import Connection, Device
from bumble.gatt import Characteristic, CharacteristicValue, Service

from calfload.bridge.devices import rsc
from calfload.bridge.simulator import GaitSimulator
from calfload.bridge.virtual.paced import PacedTwin
from calfload.bridge.virtual.radio import VirtualRadio

#: Sensor Location 0x2A5D value "top of shoe".
LOCATION_TOP_OF_SHOE: Final = 1
DEFAULT_FEATURE: Final = rsc.RscFeature(
    stride=True,
    total_distance=True,
    walking_running=True,
    calibration=False,
    multiple_locations=False,
)


@dataclass(frozen=True)
class RscFaults:
    """``garbage_every``: a malformed notification after every Nth good one (alternately
    too short and too long); ``drop_every``: every Nth measurement is silently lost."""

    garbage_every: int = 0
    drop_every: int = 0


def true_stride_m(speed_mps: float, cadence_spm: float) -> float:
    """The spec's stride (two steps) at a speed and a step cadence."""
    return 2.0 * speed_mps * 60.0 / cadence_spm


class RscTwin(PacedTwin):
    """One virtual footpod reporting ``simulator``'s athlete."""

    def __init__(
        self,
        radio: VirtualRadio,
        simulator: GaitSimulator,
        *,
        name: str = "SIM-RSC-POD",
        interval_s: float = 1.0,
        feature: rsc.RscFeature = DEFAULT_FEATURE,
        faults: RscFaults | None = None,
    ) -> None:
        super().__init__(radio, name)
        self.simulator = simulator
        self.interval_s = interval_s
        self.feature = feature
        self.faults = faults or RscFaults()
        self.feature_reads = 0
        self.measurements = 0
        self.measurements_sent = 0
        self.garbage_sent = 0
        self.distance_m = 0.0

    async def start(self, t_sim_origin: float) -> Device:
        """Create the peripheral and its GATT database; notify once a central subscribes."""
        measurement: Characteristic[bytes] = Characteristic(
            UUID.from_16_bits(0x2A53),
            Characteristic.Properties.NOTIFY,
            Attribute.Permissions.READABLE,
            b"",
        )
        feature: Characteristic[bytes] = Characteristic(
            UUID.from_16_bits(0x2A54),
            Characteristic.Properties.READ,
            Attribute.Permissions.READABLE,
            CharacteristicValue[bytes](read=self._read_feature),
        )
        location: Characteristic[bytes] = Characteristic(
            UUID.from_16_bits(0x2A5D),
            Characteristic.Properties.READ,
            Attribute.Permissions.READABLE,
            bytes([LOCATION_TOP_OF_SHOE]),
        )
        service = Service(UUID.from_16_bits(0x1814), [measurement, feature, location])
        return await self._power_up(t_sim_origin, [service], measurement)

    def _read_feature(self, _connection: Connection) -> bytes:
        self.feature_reads += 1
        return rsc.encode_feature(self.feature)

    def period_s(self) -> float:
        return self.interval_s

    def truth(self) -> tuple[float, float, float]:
        """(speed m/s, cadence steps/min, stride m) the pod reports."""
        p = self.simulator.profile
        return p.speed_mps, p.cadence_spm, true_stride_m(p.speed_mps, p.cadence_spm)

    async def tick(self, t_sim_s: float) -> None:
        speed, cadence, stride = self.truth()
        self.distance_m += speed * self.interval_s
        payload = rsc.encode_measurement(
            speed_mps=speed,
            cadence_spm=cadence,
            stride_m=stride if self.feature.stride else None,
            total_distance_m=self.distance_m if self.feature.total_distance else None,
            running=True,
        )
        self.measurements += 1
        k, f = self.measurements, self.faults
        if f.drop_every and k % f.drop_every == 0:
            return
        self.measurements_sent += await self.notify(payload)
        if f.garbage_every and k % f.garbage_every == 0:
            bad = payload[:3] if (k // f.garbage_every) % 2 else payload + b"\x00"
            self.garbage_sent += await self.notify(bad)
