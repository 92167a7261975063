"""The bridge's run configuration (``athletes.toml``): pure parsing and validation.

Format (every field documented in ``docs/athletes.example.toml``)::

    [broker]
    url = "mqtts://broker.example.org"     # mqtt:// or mqtts:// (TLS)
    username = "bridge"                    # optional
    password_file = "broker-password"      # or password = "…"; relative to this file
    ca_file = "ca.pem"                     # optional CA for TLS; system CAs otherwise
    base_topic = "calfload"                # optional

    [bridge]                               # optional
    scan_timeout_s = 20
    spool_max_mb = 1024

    [[athletes]]
    id = "a1"
    name = "Ada"
    body_mass_kg = 58.0
    foot_length_m = 0.255                  # optional settings for the load estimates:
    achilles_moment_arm_m = 0.041          # see ATHLETE_SETTINGS

    [[athletes.sensors]]
    family = "open-insole"                 # see `calfload scan`
    address = "C0:CA:1F:00:00:01"          # or name = "CALF-INSOLE-A1-L"
    side = "left"
    placement = "insole"                   # insole, foot_top, heel, shank, footpod
    rate_hz = 100                          # optional, the family's default otherwise
    id = "a1-left-insole"                  # optional, <athlete>-<side>-<placement>

:func:`parse_config` turns TOML text into a :class:`BridgeConfig` or raises
:class:`ConfigError` naming the file, the line and the field. ``tomllib`` reports
lines only for syntax errors, so :func:`key_lines` finds where each key sits by
reading the source text's table headers and ``key = value`` lines.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, get_args

from calfload.bridge import topics
from calfload.bridge.devices.registry import get_family
from calfload.bridge.messages import Placement, Side
from calfload.bridge.mqtt import BrokerUrl

PLACEMENTS: Final[tuple[str, ...]] = get_args(Placement)
SIDES: Final[tuple[str, ...]] = get_args(Side)
DEFAULT_SCAN_TIMEOUT_S: Final = 20.0
DEFAULT_SPOOL_MAX_MB: Final = 1024
#: Optional per-athlete settings passed on in ``AthleteInfo`` for the load estimates,
#: with the plausible ranges ``calfload.processing.athlete.AthleteSettings`` enforces.
ATHLETE_SETTINGS: Final[dict[str, tuple[float, float, str]]] = {
    "foot_length_m": (0.15, 0.36, "m"),
    "shoe_size_eu": (15.0, 55.0, "(EU size)"),
    "insole_length_m": (0.15, 0.37, "m"),
    "achilles_moment_arm_m": (0.02, 0.08, "m"),
    "ankle_x_m": (0.0, 0.15, "m"),
    "height_m": (1.0, 2.5, "m"),
    "leg_length_m": (0.5, 1.4, "m"),
    "load_budget_bw_s": (0.0, 1.0e6, "BW·s"),
    "speed_mps": (0.0, 12.0, "m/s"),
}

Path_ = tuple[str | int, ...]


class ConfigError(ValueError):
    """A configuration mistake, with where it is: ``file:line: field: what is wrong``."""


@dataclass(frozen=True)
class SensorConfig:
    sensor_id: str
    family: str
    side: Side
    placement: Placement
    address: str | None
    name: str | None
    rate_hz: int

    def describe(self) -> str:
        how = f"address {self.address}" if self.address else f"name {self.name!r}"
        return f"{self.sensor_id} ({self.family}, {how})"


@dataclass(frozen=True)
class AthleteConfig:
    athlete: str
    name: str
    body_mass_kg: float
    settings: dict[str, float]  # keys from ATHLETE_SETTINGS
    sensors: tuple[SensorConfig, ...]


@dataclass(frozen=True)
class BrokerConfig:
    url: BrokerUrl
    base_topic: str
    password_file: str | None


@dataclass(frozen=True)
class BridgeConfig:
    broker: BrokerConfig
    athletes: tuple[AthleteConfig, ...]
    scan_timeout_s: float
    spool_max_bytes: int

    @property
    def sensors(self) -> list[tuple[AthleteConfig, SensorConfig]]:
        return [(a, s) for a in self.athletes for s in a.sensors]


_HEADER_RE: Final = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
_KEY_RE: Final = re.compile(r"^\s*([A-Za-z0-9_\-\.\"' ]+?)\s*=")


def _split_key(key: str) -> tuple[str, ...]:
    return tuple(part.strip().strip("\"'") for part in key.split("."))


def key_lines(source: str) -> dict[Path_, int]:
    """Map each table and key path (``("athletes", 0, "sensors", 1, "side")``) to its
    1-based line in ``source``. Covers headers, arrays of tables and ``key = value``
    lines; keys inside multi-line values are not found (callers fall back to the
    enclosing table's line)."""
    lines: dict[Path_, int] = {}
    counts: dict[Path_, int] = {}
    current: Path_ = ()
    in_multiline = False
    for number, text in enumerate(source.splitlines(), start=1):
        if in_multiline:
            if text.count('"""') % 2 == 1 or text.count("'''") % 2 == 1:
                in_multiline = False
            continue
        header = _HEADER_RE.match(text)
        if header:
            parts = _split_key(header.group(2))
            path: Path_ = ()
            # Each prefix that is an array of tables refers to its latest element.
            for i, part in enumerate(parts):
                path = (*path, part)
                last = i == len(parts) - 1
                if last and header.group(1) == "[[":
                    counts[path] = counts.get(path, -1) + 1
                    path = (*path, counts[path])
                elif not last and path in counts:
                    path = (*path, counts[path])
            current = path
            lines.setdefault(current, number)
            continue
        key = _KEY_RE.match(text)
        if key:
            lines.setdefault((*current, *_split_key(key.group(1))), number)
            rest = text[key.end() :]
            if rest.count('"""') % 2 == 1 or rest.count("'''") % 2 == 1:
                in_multiline = True
    return lines


def _dotted(path: Path_) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


class _Checker:
    """Reads typed values out of the parsed TOML and raises located errors."""

    def __init__(self, source_name: str, lines: dict[Path_, int]) -> None:
        self.source_name = source_name
        self.lines = lines

    def error(self, path: Path_, message: str) -> ConfigError:
        probe = path
        while probe and probe not in self.lines:
            probe = probe[:-1]
        where = f"{self.source_name}:{self.lines[probe]}" if probe else self.source_name
        field = f" {_dotted(path)}:" if path else ""
        return ConfigError(f"{where}:{field} {message}")

    def table(self, data: Mapping[str, Any], path: Path_, allowed: set[str]) -> None:
        for key in data:
            if key not in allowed:
                known = ", ".join(sorted(allowed))
                raise self.error((*path, key), f"unknown field (known here: {known})")

    def get(
        self,
        data: Mapping[str, Any],
        path: Path_,
        key: str,
        kind: type | tuple[type, ...],
        *,
        required: bool = True,
    ) -> Any:
        if key not in data:
            if required:
                raise self.error(path, f"missing required field {key!r}")
            return None
        value = data[key]
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if isinstance(value, bool) or not isinstance(value, kinds):
            names = {str: "text", int: "a whole number", float: "a number", list: "a list"}
            if float in kinds:
                wanted = "a number"
            else:
                wanted = " or ".join(names.get(k, k.__name__) for k in kinds)
            raise self.error((*path, key), f"must be {wanted}, not {value!r}")
        return value

    def ident(self, data: Mapping[str, Any], path: Path_, key: str, what: str) -> str:
        value = self.get(data, path, key, str)
        try:
            return topics.check_id(value, what)
        except ValueError as exc:
            raise self.error((*path, key), str(exc)) from None

    def number(
        self, data: Mapping[str, Any], path: Path_, key: str, lo: float, hi: float, unit: str
    ) -> float | None:
        value = self.get(data, path, key, (int, float), required=False)
        if value is None:
            return None
        if not lo <= value <= hi:
            raise self.error((*path, key), f"must be between {lo:g} and {hi:g} {unit}")
        return float(value)


def parse_config(text: str, source_name: str = "athletes.toml") -> BridgeConfig:
    """Parse and validate a bridge configuration; raise :class:`ConfigError`."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source_name}: not valid TOML: {exc}") from None
    c = _Checker(source_name, key_lines(text))
    c.table(data, (), {"broker", "bridge", "athletes"})

    broker_t = c.get(data, (), "broker", dict)
    bp: Path_ = ("broker",)
    c.table(broker_t, bp, {"url", "username", "password", "password_file", "ca_file", "base_topic"})
    url_text = c.get(broker_t, bp, "url", str)
    try:
        url = BrokerUrl.parse(url_text)
    except ValueError as exc:
        raise c.error((*bp, "url"), str(exc)) from None
    username = c.get(broker_t, bp, "username", str, required=False) or url.username
    password = c.get(broker_t, bp, "password", str, required=False) or url.password
    password_file = c.get(broker_t, bp, "password_file", str, required=False)
    if password is not None and password_file is not None:
        raise c.error((*bp, "password_file"), "give either password or password_file, not both")
    if (password or password_file) and not username:
        raise c.error(bp, "a password needs a username")
    ca_file = c.get(broker_t, bp, "ca_file", str, required=False)
    if ca_file is not None and not url.tls:
        raise c.error((*bp, "ca_file"), "a CA file needs a TLS broker URL (mqtts://)")
    base = c.get(broker_t, bp, "base_topic", str, required=False) or topics.DEFAULT_BASE
    try:
        topics.check_base(base)
    except ValueError as exc:
        raise c.error((*bp, "base_topic"), str(exc)) from None
    broker = BrokerConfig(
        url=BrokerUrl(
            host=url.host,
            port=url.port,
            tls=url.tls,
            username=username,
            password=password,
            ca_file=ca_file,
        ),
        base_topic=base,
        password_file=password_file,
    )

    bridge_t = c.get(data, (), "bridge", dict, required=False) or {}
    c.table(bridge_t, ("bridge",), {"scan_timeout_s", "spool_max_mb"})
    scan_timeout_s = c.number(bridge_t, ("bridge",), "scan_timeout_s", 1, 600, "s")
    spool_mb = c.number(bridge_t, ("bridge",), "spool_max_mb", 1, 1_000_000, "MB")

    athletes_l = c.get(data, (), "athletes", list)
    if not athletes_l:
        raise c.error(("athletes",), "configure at least one athlete ([[athletes]])")
    athletes: list[AthleteConfig] = []
    athlete_ids: set[str] = set()
    sensor_ids: set[str] = set()
    places: set[tuple[str, str, str]] = set()
    for i, a in enumerate(athletes_l):
        ap: Path_ = ("athletes", i)
        if not isinstance(a, dict):
            raise c.error(ap, "each athlete must be a table ([[athletes]])")
        c.table(a, ap, {"id", "name", "body_mass_kg", "sensors", *ATHLETE_SETTINGS})
        athlete = c.ident(a, ap, "id", "athlete id")
        if athlete in athlete_ids:
            raise c.error((*ap, "id"), f"athlete id {athlete!r} is used twice")
        athlete_ids.add(athlete)
        name = c.get(a, ap, "name", str, required=False) or athlete
        mass = c.number(a, ap, "body_mass_kg", 20, 250, "kg")
        if mass is None:
            raise c.error(ap, "missing required field 'body_mass_kg'")
        settings: dict[str, float] = {}
        for key, (lo, hi, unit) in ATHLETE_SETTINGS.items():
            value = c.number(a, ap, key, lo, hi, unit)
            if value is not None:
                settings[key] = value
        sensors_l = c.get(a, ap, "sensors", list)
        if not sensors_l:
            raise c.error((*ap, "sensors"), "configure at least one sensor")
        sensors: list[SensorConfig] = []
        for j, s in enumerate(sensors_l):
            sp: Path_ = (*ap, "sensors", j)
            if not isinstance(s, dict):
                raise c.error(sp, "each sensor must be a table ([[athletes.sensors]])")
            sensor = _sensor(c, s, sp, athlete)
            if sensor.sensor_id in sensor_ids:
                raise c.error((*sp, "id"), f"sensor id {sensor.sensor_id!r} is used twice")
            sensor_ids.add(sensor.sensor_id)
            place = (athlete, sensor.side, sensor.placement)
            if place in places and sensor.placement != "footpod":
                raise c.error(sp, f"{athlete} already has a {sensor.side} {sensor.placement}")
            places.add(place)
            sensors.append(sensor)
        athletes.append(AthleteConfig(athlete, name, mass, settings, tuple(sensors)))

    return BridgeConfig(
        broker=broker,
        athletes=tuple(athletes),
        scan_timeout_s=scan_timeout_s or DEFAULT_SCAN_TIMEOUT_S,
        spool_max_bytes=int((spool_mb or DEFAULT_SPOOL_MAX_MB) * 1024 * 1024),
    )


def _sensor(c: _Checker, s: Mapping[str, Any], sp: Path_, athlete: str) -> SensorConfig:
    c.table(s, sp, {"id", "family", "address", "name", "side", "placement", "rate_hz"})
    family_name = c.get(s, sp, "family", str)
    try:
        family = get_family(family_name)
    except ValueError as exc:
        raise c.error((*sp, "family"), str(exc)) from None
    side = c.get(s, sp, "side", str)
    if side not in SIDES:
        raise c.error((*sp, "side"), f"must be 'left' or 'right', not {side!r}")
    placement = c.get(s, sp, "placement", str)
    if placement not in PLACEMENTS:
        raise c.error((*sp, "placement"), f"must be one of {', '.join(PLACEMENTS)}")
    if placement not in family.placements:
        fits = ", ".join(family.placements)
        raise c.error((*sp, "placement"), f"a {family.label} is worn as: {fits}")
    address = c.get(s, sp, "address", str, required=False)
    name = c.get(s, sp, "name", str, required=False)
    if (address is None) == (name is None):
        raise c.error(sp, "give the sensor's address or its advertised name (one of them)")
    rate = c.get(s, sp, "rate_hz", int, required=False)
    if rate is not None and not 1 <= rate <= 2000:
        raise c.error((*sp, "rate_hz"), "must be between 1 and 2000 Hz")
    sensor_id = c.ident(s, sp, "id", "sensor id") if "id" in s else f"{athlete}-{side}-{placement}"
    return SensorConfig(
        sensor_id=sensor_id,
        family=family.name,
        side=side,
        placement=placement,
        address=address,
        name=name,
        rate_hz=rate or family.default_rate_hz,
    )


def load_config(path: Path) -> BridgeConfig:
    """Read ``path`` and its password file (relative paths are relative to ``path``)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}") from None
    config = parse_config(text, str(path))
    broker = config.broker
    url = broker.url
    if broker.password_file is not None:
        secret = path.parent / Path(broker.password_file).expanduser()
        try:
            password = secret.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(
                f"{path}: broker.password_file: cannot read {secret}: {exc.strerror or exc}"
            ) from None
        url = BrokerUrl(url.host, url.port, url.tls, url.username, password, url.ca_file)
    if url.ca_file is not None:
        ca = path.parent / Path(url.ca_file).expanduser()
        if not ca.is_file():
            raise ConfigError(f"{path}: broker.ca_file: {ca} does not exist")
        url = BrokerUrl(url.host, url.port, url.tls, url.username, url.password, str(ca))
    return BridgeConfig(
        broker=BrokerConfig(url, broker.base_topic, broker.password_file),
        athletes=config.athletes,
        scan_timeout_s=config.scan_timeout_s,
        spool_max_bytes=config.spool_max_bytes,
    )
