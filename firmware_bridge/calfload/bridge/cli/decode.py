"""``calfload decode DEVICE HEX...``: decode notification payloads pasted from a BLE tool.

Prints one JSON object per sample, with the contract's field names: ``t_s``
(seconds since the first sample: from the sensor clock where the device has one,
otherwise from the sample count at the nominal rate), ``payload`` (which input it
came from, counting from 1) and every quantity the device measured (``acc_mps2``,
``gyr_dps``, ``force_n``, ``cell_force_n``, ``speed_mps``, ``cadence_spm``,
``stride_m``, …). Works for every family in
:data:`calfload.bridge.devices.registry.FAMILIES`, through ``family.decoder()``;
payloads go through one decoder in order, so a frame split across two payloads is
joined as on the live link.

Payload syntax: hex digits, optionally with ``0x`` prefixes and spaces, colons,
commas or dashes between bytes (``55 61 00 08``, ``0x55,0x61``, ``55:61``,
``(0x) 55-61``). ``-`` reads one payload per line from stdin (blank lines and
``#`` comments skipped). A payload that cannot be read or decoded gets a one-line
error naming it on stderr; good samples, including those before and after it, are
still printed; the exit code is then 2.
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import json
import re
import string
import sys
from collections.abc import Iterator
from typing import Any, TextIO

import numpy as np

from calfload.bridge.devices.base import Decoder, SampleBlock
from calfload.bridge.devices.registry import FAMILIES
from calfload.bridge.errors import PacketError

COMMAND = "decode"
EXIT_BAD_INPUT = 2
_SEPARATORS = re.compile(r"[\s:,;\-]+")
_HEX = frozenset(string.hexdigits)
#: SampleBlock fields that describe the block rather than a measured quantity.
_META_FIELDS = frozenset({"n", "fs_hz", "t0_sensor_us", "seq"})


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "decode",
        help="decode BLE notification payloads (hex) into samples, one JSON object per line",
        description=(
            "Decode notification payloads copied from any BLE tool (nRF Connect, LightBlue, "
            "bluetoothctl, Wireshark) into samples in SI units, one JSON object per sample."
        ),
    )
    p.add_argument("device", metavar="DEVICE", help="sensor family: " + ", ".join(sorted(FAMILIES)))
    p.add_argument(
        "payloads",
        nargs="+",
        metavar="HEX",
        help="one payload per argument (0x, spaces, colons and dashes allowed); "
        "'-' reads one per line from stdin",
    )
    p.add_argument(
        "--rate-hz",
        type=int,
        metavar="HZ",
        help="sample rate the stream was started at (default: the device's usual rate)",
    )
    p.add_argument(
        "--scale",
        type=float,
        help="scale factor from the stream's start reply, for devices that need one (Polar)",
    )


def parse_hex(text: str) -> bytes:
    """Bytes of one pasted payload; :class:`ValueError` with a reason otherwise."""
    tokens = [t for t in _SEPARATORS.split(text.replace("(0x)", " ")) if t]
    digits: list[str] = []
    for token in tokens:
        if token[:2].lower() == "0x":
            token = token[2:]
        if not token:
            continue
        bad = next((c for c in token if c not in _HEX), None)
        if bad is not None:
            raise ValueError(f"{bad!r} in {token!r} is not a hex digit")
        if len(token) % 2:
            raise ValueError(f"{token!r} has an odd number of hex digits (not whole bytes)")
        digits.append(token)
    if not digits:
        raise ValueError("it is empty")
    return bytes.fromhex("".join(digits))


def _inputs(items: list[str], stdin: TextIO) -> Iterator[str]:
    for item in items:
        if item != "-":
            yield item
            continue
        for line in stdin:
            text = line.strip()
            if text and not text.startswith("#"):
                yield text


class _Clock:
    """``t_s`` of each sample relative to the first one."""

    def __init__(self) -> None:
        self._first_us: int | None = None
        self._next_s = 0.0

    def times(self, block: SampleBlock) -> list[float]:
        offsets = np.arange(block.n) / block.fs_hz
        if block.t0_sensor_us is not None:
            if self._first_us is None:
                self._first_us = block.t0_sensor_us
            start = (block.t0_sensor_us - self._first_us) / 1e6
        else:
            start = self._next_s
            self._next_s += block.n / block.fs_hz
        return [round(float(t), 6) for t in start + offsets]


def sample_objects(block: SampleBlock, times: list[float], payload: int) -> list[dict[str, Any]]:
    """One dict per sample: ``t_s``, ``payload`` and every measured quantity."""
    arrays = {
        f.name: value
        for f in dataclasses.fields(block)
        if f.name not in _META_FIELDS and isinstance(value := getattr(block, f.name), np.ndarray)
    }
    out = []
    for i, t_s in enumerate(times):
        sample: dict[str, Any] = {"t_s": t_s, "payload": payload}
        for name, values in arrays.items():
            sample[name] = np.round(values[i], 6).tolist()
        out.append(sample)
    return out


def _make_decoder(device: str, rate_hz: int | None, scale: float | None) -> Decoder:
    family = FAMILIES.get(device)
    if family is None:
        raise ValueError(f"unknown device {device!r}; known: {', '.join(sorted(FAMILIES))}")
    if rate_hz is not None and rate_hz <= 0:
        raise ValueError(f"--rate-hz {rate_hz} must be positive")
    kwargs: dict[str, Any] = {"rate_hz": rate_hz}
    if scale is not None:
        if "scale" not in inspect.signature(family.decoder).parameters:
            raise ValueError(f"{device} payloads need no --scale")
        kwargs["scale"] = scale
    return family.decoder(**kwargs)


def run(args: argparse.Namespace) -> int:
    out, err = sys.stdout, sys.stderr
    try:
        decoder = _make_decoder(args.device, args.rate_hz, args.scale)
    except ValueError as exc:
        print(f"calfload decode: {exc}", file=err)
        return EXIT_BAD_INPUT
    clock = _Clock()
    failures = 0
    index = 0
    for index, text in enumerate(_inputs(args.payloads, sys.stdin), start=1):
        shown = text if len(text) <= 40 else text[:37] + "..."
        try:
            data = parse_hex(text)
        except ValueError as exc:
            print(f"calfload decode: payload {index} ({shown}) is not hex: {exc}", file=err)
            failures += 1
            continue
        try:
            blocks = decoder.feed(data)
        except PacketError as exc:
            print(f"calfload decode: payload {index}: {exc}", file=err)  # exc shows the bytes
            failures += 1
            blocks = list(exc.salvaged)
        for block in blocks:
            for sample in sample_objects(block, clock.times(block), index):
                print(json.dumps(sample), file=out)
    pending = int(getattr(decoder, "pending", 0))
    if pending:
        print(
            f"calfload decode: payload {index} ends with {pending} byte(s) of a frame that no "
            "later payload completes",
            file=err,
        )
        failures += 1
    if index == 0:
        print("calfload decode: no payloads given (stdin was empty)", file=err)
        return EXIT_BAD_INPUT
    return EXIT_BAD_INPUT if failures else 0
