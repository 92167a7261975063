"""``calfload bridge --config athletes.toml``: stream a run from real sensors.

Reads the config (:mod:`calfload.bridge.config`), finds every configured sensor by
address or advertised name, and runs the :class:`~calfload.bridge.bridge.Bridge`
with its store-and-forward spool in ``<data folder>/bridge/`` until Ctrl-C or
SIGTERM (systemd's stop). Works with no network: batches wait in the spool.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from pathlib import Path
from typing import Any, TextIO

from bleak.backends.client import BaseBleakClient
from bleak.backends.scanner import BaseBleakScanner

from calfload.bridge.bridge import Bridge
from calfload.bridge.config import BridgeConfig, ConfigError, load_config
from calfload.bridge.datadir import data_dir
from calfload.bridge.discovery import BluetoothUnavailableError, find_devices
from calfload.bridge.link import SensorSpec
from calfload.bridge.messages import SCHEMA, AthleteInfo
from calfload.bridge.spool import SPOOL_FILE, Spool

COMMAND = "bridge"


def add_parser(sub: Any) -> None:
    p = sub.add_parser(COMMAND, help="stream configured BLE sensors to a broker")
    p.add_argument(
        "--config", required=True, type=Path, metavar="FILE", help="athletes.toml (see docs/)"
    )
    p.add_argument("--data-dir", metavar="DIR", help="data folder (holds the bridge's spool)")
    p.add_argument("--scan-timeout", type=float, metavar="SECONDS", help="override the config")
    p.add_argument("--check", action="store_true", help="only validate the config and exit")


def athlete_infos(config: BridgeConfig) -> list[AthleteInfo]:
    return [
        AthleteInfo(
            schema=SCHEMA,
            athlete=a.athlete,
            name=a.name,
            body_mass_kg=a.body_mass_kg,
            sensors=[s.sensor_id for s in a.sensors],
            **a.settings,
        )
        for a in config.athletes
    ]


async def bridge_command(
    args: argparse.Namespace,
    out: TextIO | None = None,
    err: TextIO | None = None,
    *,
    stop: asyncio.Event | None = None,
    scanner_backend: type[BaseBleakScanner] | None = None,
    client_backend: type[BaseBleakClient] | None = None,
    **scanner_kwargs: Any,
) -> int:
    """The command's body; tests pass virtual scanner and client backends."""
    out = out or sys.stdout
    err = err or sys.stderr
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(f"calfload bridge: {exc}", file=err)
        return 2
    n_sensors = len(config.sensors)
    if args.check:
        print(f"{args.config}: OK ({len(config.athletes)} athletes, {n_sensors} sensors)", file=out)
        return 0
    timeout_s = args.scan_timeout or config.scan_timeout_s
    print(
        f"calfload bridge: looking for {n_sensors} sensors ({timeout_s:g} s) …",
        file=out,
        flush=True,
    )
    try:
        devices = await find_devices(
            [s for _, s in config.sensors], timeout_s, backend=scanner_backend, **scanner_kwargs
        )
    except BluetoothUnavailableError as exc:
        print(f"calfload bridge: {exc}", file=err)
        return 3
    except LookupError as exc:
        print(f"calfload bridge: {exc}", file=err)
        return 4
    specs = [
        SensorSpec(
            sensor_id=s.sensor_id,
            athlete=a.athlete,
            side=s.side,
            placement=s.placement,
            family=s.family,
            device=devices[s.sensor_id],
            rate_hz=s.rate_hz,
        )
        for a, s in config.sensors
    ]
    folder = data_dir(args.data_dir) / "bridge"
    spool = Spool(folder / SPOOL_FILE, max_bytes=config.spool_max_bytes)
    bridge = Bridge(
        config.broker.url,
        specs,
        athlete_infos(config),
        base=config.broker.base_topic,
        backend=client_backend,
        spool=spool,
    )
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, stop.set)
    backlog = f", {spool.recovered} batches from an earlier run to forward" * bool(spool.recovered)
    print(
        f"calfload bridge: {n_sensors} sensors, broker {config.broker.url}, "
        f"spool {spool.path}{backlog}; Ctrl-C to stop",
        file=out,
        flush=True,
    )
    await bridge.run(stop)
    print(
        f"calfload bridge: stopped; {bridge.batches_recorded} batches recorded, "
        f"{bridge.batches_published} acknowledged by the broker",
        file=out,
    )
    return 0


def run(args: argparse.Namespace) -> int:
    return asyncio.run(bridge_command(args))
