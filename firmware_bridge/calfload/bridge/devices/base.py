"""What every supported sensor family provides to the bridge.

A family is three things: a pure, stateful *decoder* (bytes of one notification →
sample blocks in SI units), a *GATT recipe* (which characteristics to subscribe to
and which commands start and stop streaming), and a virtual twin (in its own
module, for tests). The link (:mod:`calfload.bridge.link`) is family-agnostic: it
stamps arrival times, hands payloads to the decoder and puts the blocks on the
session clock.

Sensor time. A decoder reports ``t0_sensor_us``, the sensor clock of a block's
first sample in microseconds, already unwrapped to a monotonic integer, when the
device has a clock (open insole, Movesense, Polar). Devices without a clock
(WitMotion, RSC footpods) report ``None`` and the link stamps them from arrival
times. Frames: IMU axes in the sensor's own frame as documented per family in
``hardware.md``; acceleration in m/s², angular rate in deg/s.
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar, Protocol

import numpy as np
import numpy.typing as npt
from bleak import BleakClient

from calfload.bridge.messages import Placement

FloatArray = npt.NDArray[np.float64]
#: Called by a family's GATT recipe with each data notification's payload.
DataCallback = Callable[[bytes], None]

BATTERY_LEVEL_UUID = "00002a19-0000-1000-8000-00805f9b34fb"


@dataclass(frozen=True, slots=True)
class SampleBlock:
    """Consecutive samples decoded from a sensor, in SI units, one row per sample.

    ``fs_hz`` is the nominal rate; ``t0_sensor_us`` the sensor clock of the first
    sample (``None`` for devices without a clock). Arrays that the device does not
    measure are ``None``.
    """

    n: int
    fs_hz: float
    t0_sensor_us: int | None = None
    seq: int | None = None
    force_n: FloatArray | None = None  # (n,) summed vertical force
    cell_force_n: FloatArray | None = None  # (n, cells)
    acc_mps2: FloatArray | None = None  # (n, 3)
    gyr_dps: FloatArray | None = None  # (n, 3)
    speed_mps: FloatArray | None = None  # (n,)
    cadence_spm: FloatArray | None = None  # (n,) steps per minute
    stride_m: FloatArray | None = None  # (n,)


class Decoder(Protocol):
    """Stateful decoder for one connection (split packets, delta frames, clock wraps)."""

    def feed(self, payload: bytes) -> list[SampleBlock]:
        """Decode one notification; raise :class:`PacketError` on a defect.

        Returns zero blocks while a split packet is incomplete.
        """
        ...


class DeviceFamily(abc.ABC):
    """A supported sensor family: identification, GATT recipe and decoder factory."""

    #: Name used in configs, the CLI and messages (``open-insole``, ``movesense``…).
    name: ClassVar[str]
    #: Human-readable name for lists and errors.
    label: ClassVar[str]
    #: Advertised service UUIDs that identify the family when scanning.
    service_uuids: ClassVar[tuple[str, ...]] = ()
    #: Advertised local-name prefixes that identify the family when scanning.
    name_prefixes: ClassVar[tuple[str, ...]] = ()
    default_rate_hz: ClassVar[int]
    placements: ClassVar[tuple[Placement, ...]]

    @abc.abstractmethod
    def decoder(self, *, rate_hz: int | None = None) -> Decoder:
        """A fresh decoder (also used by ``calfload decode``)."""

    @abc.abstractmethod
    async def start(self, client: BleakClient, on_data: DataCallback, rate_hz: int) -> Decoder:
        """Subscribe and start streaming on a connected client; return the decoder that
        fits what the device agreed to (rate, scale). Raise ``BleakError`` or
        :class:`DeviceError` with a clear message when the device refuses."""

    async def stop(self, client: BleakClient) -> None:  # noqa: B027 - optional hook
        """Ask the device to stop streaming (best effort; the link then disconnects)."""

    def matches(self, name: str | None, service_uuids: list[str]) -> bool:
        """Whether an advertisement belongs to this family."""
        uuids = {u.lower() for u in service_uuids}
        if any(u.lower() in uuids for u in self.service_uuids):
            return True
        return bool(name) and any(name.startswith(p) for p in self.name_prefixes)  # type: ignore[union-attr]


class DeviceError(RuntimeError):
    """A device refused a command or answered in a way we cannot use."""
