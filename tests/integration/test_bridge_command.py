"""`calfload scan` and `calfload bridge --config` against virtual twins (real bleak
scanner and client APIs with virtual backends) and a real mosquitto broker."""

from __future__ import annotations

import argparse
import asyncio
import io
from pathlib import Path

import pytest
from bleak.backends.scanner import BaseBleakScanner
from bleak.exc import BleakBluetoothNotAvailableError, BleakDBusError
from tests.helpers import Collector, wait_until

from calfload.bridge.cli.bridge import bridge_command
from calfload.bridge.cli.scan import scan_command
from calfload.bridge.discovery import explain
from calfload.bridge.virtual.bleak_backend import BumbleBleakClient
from calfload.bridge.virtual.fleet import demo_profiles, start_fleet
from calfload.bridge.virtual.scanner import VirtualScanner
from calfload.cli.main import main


async def test_scan_lists_the_virtual_twins_with_family_and_rssi() -> None:
    fleet = await start_fleet(demo_profiles(2))
    try:
        out, err = io.StringIO(), io.StringIO()
        args = argparse.Namespace(timeout=0.5, all=False, battery=False)
        rc = await scan_command(args, out, err, backend=VirtualScanner, radio=fleet.radio)
    finally:
        await fleet.stop()
    assert rc == 0, err.getvalue()
    lines = out.getvalue().splitlines()
    assert lines[0].split() == ["NAME", "ADDRESS", "FAMILY", "RSSI", "BATTERY"]
    rows = {line.split()[0]: line.split() for line in lines[1:]}
    assert set(rows) == {twin.name for twin in fleet.twins.values()}
    for spec in fleet.specs:
        row = rows[spec.device.name]
        assert row[1] == spec.device.address
        assert row[2] == "open-insole"
        assert row[4] == "dBm" and int(row[3]) < 0


class NoAdapterScanner(BaseBleakScanner):
    """Stands in for a machine whose BlueZ has no adapter (forces that path)."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(None, None)

    async def start(self) -> None:
        raise BleakBluetoothNotAvailableError("No Bluetooth adapters found.", None)  # type: ignore[arg-type]

    async def stop(self) -> None:
        pass


async def test_scan_without_an_adapter_explains_and_fails_cleanly() -> None:
    out, err = io.StringIO(), io.StringIO()
    args = argparse.Namespace(timeout=0.5, all=False, battery=False)
    rc = await scan_command(args, out, err, backend=NoAdapterScanner)
    assert rc == 3
    assert "Bluetooth adapter" in err.getvalue()
    assert out.getvalue() == ""


def test_no_permission_and_no_bluez_have_their_own_advice() -> None:
    denied = BleakDBusError("org.freedesktop.DBus.Error.AccessDenied", ["not allowed"])
    assert "bluetooth` group" in (explain(denied) or "")
    assert "BlueZ" in (explain(FileNotFoundError(2, "No such file or directory")) or "")
    assert explain(ValueError("unrelated")) is None


def test_scan_on_this_machine_gives_a_sentence_not_a_traceback(capsys) -> None:  # type: ignore[no-untyped-def]
    """This machine has no Bluetooth: the real platform backend must fail politely."""
    rc = main(["scan", "--timeout", "0.5"])
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    if rc == 3:
        assert "Bluetooth" in captured.err or "BlueZ" in captured.err
    else:  # a machine with a working adapter and nothing in range
        assert rc in (0, 1)


def write_config(tmp_path: Path, broker_url: str, fleet) -> Path:  # type: ignore[no-untyped-def]
    left, right = fleet.specs[0], fleet.specs[1]
    path = tmp_path / "athletes.toml"
    path.write_text(
        f"""
[broker]
url = "{broker_url}"

[bridge]
scan_timeout_s = 10

[[athletes]]
id = "a1"
name = "Ada Config"
body_mass_kg = 61.5
foot_length_m = 0.25
achilles_moment_arm_m = 0.042

[[athletes.sensors]]
family = "open-insole"
name = "{left.device.name}"
side = "left"
placement = "insole"

[[athletes.sensors]]
family = "open-insole"
address = "{right.device.address.lower()}"
side = "right"
placement = "insole"
"""
    )
    return path


@pytest.mark.broker
async def test_bridge_command_streams_configured_sensors(mosquitto, tmp_path: Path) -> None:
    fleet = await start_fleet(demo_profiles(1))
    collector = Collector("127.0.0.1", mosquitto.port, ["calfload/raw/#", "calfload/athlete/#"])
    await asyncio.to_thread(collector.start)
    args = argparse.Namespace(
        config=write_config(tmp_path, mosquitto.url, fleet),
        data_dir=str(tmp_path / "data"),
        scan_timeout=None,
        check=False,
    )
    out, err = io.StringIO(), io.StringIO()
    stop = asyncio.Event()
    task = asyncio.create_task(
        bridge_command(
            args,
            out,
            err,
            stop=stop,
            scanner_backend=VirtualScanner,
            client_backend=BumbleBleakClient,
            radio=fleet.radio,
        )
    )
    try:
        await asyncio.to_thread(
            wait_until,
            lambda: task.done() or len(collector.payloads("calfload/raw/")) >= 40,
            30,
            "raw batches from both configured insoles",
        )
    finally:
        stop.set()
        rc = await task
        await fleet.stop()
        collector.stop()
    assert rc == 0, err.getvalue()
    raws = collector.payloads("calfload/raw/")
    assert {r["sensor_id"] for r in raws} == {"a1-left-insole", "a1-right-insole"}
    (info,) = collector.payloads("calfload/athlete/a1/info")
    assert info["name"] == "Ada Config" and info["body_mass_kg"] == 61.5
    assert info["foot_length_m"] == 0.25 and info["achilles_moment_arm_m"] == 0.042
    assert (tmp_path / "data" / "bridge" / "spool.sqlite3").exists()
    assert "recorded" in out.getvalue()


async def test_bridge_command_names_a_sensor_it_cannot_find(tmp_path: Path) -> None:
    fleet = await start_fleet(demo_profiles(1))
    config = write_config(tmp_path, "mqtt://127.0.0.1:1", fleet)
    config.write_text(config.read_text().replace(fleet.specs[0].device.name, "CALF-INSOLE-GONE"))
    args = argparse.Namespace(config=config, data_dir=str(tmp_path), scan_timeout=0.5, check=False)
    err = io.StringIO()
    try:
        rc = await bridge_command(
            args, io.StringIO(), err, scanner_backend=VirtualScanner, radio=fleet.radio
        )
    finally:
        await fleet.stop()
    assert rc == 4
    assert "a1-left-insole" in err.getvalue() and "CALF-INSOLE-GONE" in err.getvalue()
    assert "calfload scan" in err.getvalue()


def test_bridge_check_reports_config_errors_with_line(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "athletes.toml"
    bad.write_text('[broker]\nurl = "mqtt://x"\n\n[[athletes]]\nid = "a1"\nbody_mass_kg = 1\n')
    assert main(["bridge", "--config", str(bad), "--check"]) == 2
    assert f"{bad}:6: athletes[0].body_mass_kg" in capsys.readouterr().err


def test_advertised_battery_is_read_from_battery_service_data() -> None:
    from bleak.backends.scanner import AdvertisementData

    from calfload.bridge.discovery import BATTERY_SERVICE_UUID, advertised_battery

    def adv(service_data: dict[str, bytes]) -> AdvertisementData:
        return AdvertisementData("x", {}, service_data, [], None, -50, ())

    assert advertised_battery(adv({BATTERY_SERVICE_UUID: bytes([87])})) == 87
    assert advertised_battery(adv({BATTERY_SERVICE_UUID: bytes([200])})) is None
    assert advertised_battery(adv({})) is None


async def test_scan_battery_option_connects_and_copes_without_a_battery_service() -> None:
    fleet = await start_fleet(demo_profiles(1))
    try:
        out, err = io.StringIO(), io.StringIO()
        args = argparse.Namespace(timeout=0.5, all=False, battery=True)
        rc = await scan_command(
            args,
            out,
            err,
            backend=VirtualScanner,
            client_backend=BumbleBleakClient,
            radio=fleet.radio,
        )
    finally:
        await fleet.stop()
    assert rc == 0, err.getvalue()
    rows = [line.split() for line in out.getvalue().splitlines()[1:]]
    assert len(rows) == 2
    assert all(row[-1] == "-" for row in rows)  # the insole twin has no Battery Service
