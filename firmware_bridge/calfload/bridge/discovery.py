"""Finding sensors over the air: ``calfload scan`` and the bridge's device lookup.

Both go through bleak's ``BleakScanner`` (tests pass a scanner ``backend``, e.g.
:class:`calfload.bridge.virtual.scanner.VirtualScanner`). Bluetooth being absent
or forbidden is the common first-run failure, so those errors become one
sentence a user can act on (:class:`BluetoothUnavailableError`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from bleak import BleakScanner
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData, BaseBleakScanner
from bleak.exc import BleakBluetoothNotAvailableError, BleakDBusError, BleakError

from calfload.bridge.config import SensorConfig
from calfload.bridge.devices.base import DeviceFamily
from calfload.bridge.devices.registry import FAMILIES

BATTERY_SERVICE_UUID: Final = "0000180f-0000-1000-8000-00805f9b34fb"


class BluetoothUnavailableError(RuntimeError):
    """No adapter, no BlueZ, or no permission: the message says what to do."""


@dataclass(frozen=True)
class FoundSensor:
    name: str | None
    address: str
    family: str | None  # None: not a supported sensor
    rssi_dbm: int | None
    battery_pct: int | None
    device: BLEDevice


def family_of(name: str | None, service_uuids: Sequence[str]) -> DeviceFamily | None:
    """The supported family an advertisement belongs to, if any."""
    for family in FAMILIES.values():
        if family.matches(name, list(service_uuids)):
            return family
    return None


def advertised_battery(adv: AdvertisementData) -> int | None:
    """Battery level (0–100 %) from Battery Service data in an advertisement, if any."""
    data = adv.service_data.get(BATTERY_SERVICE_UUID)
    if data and 0 <= data[0] <= 100:
        return int(data[0])
    return None


def explain(exc: BaseException) -> str | None:
    """One actionable sentence for "no Bluetooth here" errors; ``None`` for others."""
    text = str(exc)
    if isinstance(exc, BleakBluetoothNotAvailableError):
        return (
            f"Bluetooth is not available ({exc.args[0] if exc.args else text}): check that the "
            "machine has a Bluetooth adapter, that it is switched on (`bluetoothctl power on`, "
            "`rfkill unblock bluetooth`) and that this user may use it"
        )
    if isinstance(exc, BleakDBusError) or "org.freedesktop.DBus.Error" in text:
        if "AccessDenied" in text or "NotPermitted" in text or "NotAuthorized" in text:
            return (
                "not allowed to use Bluetooth: add this user to the `bluetooth` group "
                "(`sudo usermod -aG bluetooth $USER`, then log in again)"
            )
        if "NotReady" in text or "ServiceUnknown" in text:
            return (
                "BlueZ is not ready: start it with `sudo systemctl start bluetooth` and power "
                "the adapter on (`bluetoothctl power on`)"
            )
        return f"BlueZ refused the request ({text})"
    if isinstance(exc, FileNotFoundError | ConnectionRefusedError):
        return (
            "cannot reach BlueZ (no D-Bus system bus or no bluetoothd here): install and start "
            "BlueZ (`sudo apt install bluez`, `sudo systemctl start bluetooth`); inside a "
            "container, Bluetooth is usually not available at all"
        )
    if isinstance(exc, PermissionError):
        return "not allowed to use Bluetooth: add this user to the `bluetooth` group"
    if isinstance(exc, BleakError) and "adapter" in text.lower():
        return f"no usable Bluetooth adapter: {text}"
    return None


async def _scan_raw(
    timeout_s: float,
    backend: type[BaseBleakScanner] | None,
    backend_kwargs: dict[str, Any],
    stop_when: Any = None,
) -> dict[str, tuple[BLEDevice, AdvertisementData]]:
    seen: dict[str, tuple[BLEDevice, AdvertisementData]] = {}
    done = asyncio.Event()

    def on_adv(device: BLEDevice, adv: AdvertisementData) -> None:
        seen[device.address] = (device, adv)
        if stop_when is not None and stop_when(seen):
            done.set()

    try:
        async with BleakScanner(on_adv, backend=backend, **backend_kwargs):
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(done.wait(), timeout_s)
    except (BleakError, OSError) as exc:
        reason = explain(exc)
        if reason is None:
            raise
        raise BluetoothUnavailableError(reason) from exc
    return seen


async def scan(
    timeout_s: float = 5.0,
    *,
    backend: type[BaseBleakScanner] | None = None,
    include_unsupported: bool = False,
    **backend_kwargs: Any,
) -> list[FoundSensor]:
    """Listen for ``timeout_s``; supported sensors first, strongest signal first."""
    seen = await _scan_raw(timeout_s, backend, backend_kwargs)
    found = []
    for device, adv in seen.values():
        name = adv.local_name or device.name
        family = family_of(name, adv.service_uuids)
        if family is None and not include_unsupported:
            continue
        found.append(
            FoundSensor(
                name=name,
                address=device.address,
                family=family.name if family else None,
                rssi_dbm=adv.rssi,
                battery_pct=advertised_battery(adv),
                device=device,
            )
        )
    found.sort(key=lambda f: (f.family is None, -(f.rssi_dbm or -999), f.address))
    return found


def _matches(sensor: SensorConfig, device: BLEDevice, adv: AdvertisementData) -> bool:
    if sensor.address is not None:
        return device.address.upper() == sensor.address.upper()
    return sensor.name in (adv.local_name, device.name)


async def find_devices(
    sensors: Sequence[SensorConfig],
    timeout_s: float,
    *,
    backend: type[BaseBleakScanner] | None = None,
    **backend_kwargs: Any,
) -> dict[str, BLEDevice]:
    """Scan until every configured sensor is seen (by address or advertised name) or
    ``timeout_s`` passes; raise ``LookupError`` naming the ones not found."""

    def all_seen(seen: dict[str, tuple[BLEDevice, AdvertisementData]]) -> bool:
        return all(any(_matches(s, d, a) for d, a in seen.values()) for s in sensors)

    seen = await _scan_raw(timeout_s, backend, backend_kwargs, stop_when=all_seen)
    out: dict[str, BLEDevice] = {}
    missing = []
    for sensor in sensors:
        hit = next((d for d, a in seen.values() if _matches(sensor, d, a)), None)
        if hit is None:
            missing.append(sensor.describe())
        else:
            out[sensor.sensor_id] = hit
    if missing:
        raise LookupError(
            f"not found within {timeout_s:g} s: {'; '.join(missing)}. Is it switched on, "
            "charged and near this machine (and not connected to a phone app)? "
            "`calfload scan` lists the sensors in range"
        )
    return out
