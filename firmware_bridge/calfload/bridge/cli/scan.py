"""``calfload scan``: list the supported sensors in range."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any, TextIO

from bleak import BleakClient
from bleak.backends.client import BaseBleakClient
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import BaseBleakScanner
from bleak.exc import BleakError

from calfload.bridge.devices.base import BATTERY_LEVEL_UUID
from calfload.bridge.devices.registry import FAMILIES
from calfload.bridge.discovery import BluetoothUnavailableError, FoundSensor, scan

COMMAND = "scan"


def add_parser(sub: Any) -> None:
    p = sub.add_parser(COMMAND, help="list supported BLE sensors in range")
    p.add_argument("--timeout", type=float, default=5.0, metavar="SECONDS", help="listen (5 s)")
    p.add_argument("--all", action="store_true", help="also list unsupported BLE devices")
    p.add_argument(
        "--battery", action="store_true", help="connect to each sensor to read its battery"
    )


async def read_battery(
    device: BLEDevice, backend: type[BaseBleakClient] | None = None, timeout_s: float = 10.0
) -> int | None:
    """The Battery Level characteristic (0x2A19) if the device has one; ``None`` otherwise."""
    try:
        async with BleakClient(device, timeout=timeout_s, backend=backend) as client:
            if client.services.get_characteristic(BATTERY_LEVEL_UUID) is None:
                return None
            value = await client.read_gatt_char(BATTERY_LEVEL_UUID)
            return int(value[0]) if value and value[0] <= 100 else None
    except (BleakError, TimeoutError, OSError):
        return None


def format_table(found: list[FoundSensor]) -> str:
    rows = [("NAME", "ADDRESS", "FAMILY", "RSSI", "BATTERY")]
    for f in found:
        rows.append(
            (
                f.name or "(no name)",
                f.address,
                f.family or "(unsupported)",
                f"{f.rssi_dbm} dBm" if f.rssi_dbm is not None else "?",
                f"{f.battery_pct} %" if f.battery_pct is not None else "-",
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows
    )


async def scan_command(
    args: argparse.Namespace,
    out: TextIO | None = None,
    err: TextIO | None = None,
    *,
    backend: type[BaseBleakScanner] | None = None,
    client_backend: type[BaseBleakClient] | None = None,
    **backend_kwargs: Any,
) -> int:
    """The command's body; tests pass a virtual scanner ``backend``."""
    out = out or sys.stdout
    err = err or sys.stderr
    print(f"Scanning for {args.timeout:g} s …", file=err, flush=True)
    try:
        found = await scan(
            args.timeout, backend=backend, include_unsupported=args.all, **backend_kwargs
        )
    except BluetoothUnavailableError as exc:
        print(f"calfload scan: {exc}", file=err)
        return 3
    if args.battery:
        updated = []
        for f in found:
            if f.family is not None and f.battery_pct is None:
                level = await read_battery(f.device, client_backend)
                f = FoundSensor(f.name, f.address, f.family, f.rssi_dbm, level, f.device)
            updated.append(f)
        found = updated
    if not found:
        families = ", ".join(sorted(FAMILIES))
        print(
            f"No supported sensors found in {args.timeout:g} s (supported: {families}). Switch "
            "them on and bring them close; `--all` lists every BLE device in range.",
            file=err,
        )
        return 1
    print(format_table(found), file=out)
    return 0


def run(args: argparse.Namespace) -> int:
    return asyncio.run(scan_command(args))
