"""Moticon OpenGo live UDP stream: pure decoder of one datagram.

The OpenGo desktop software can forward the live data it receives from the OpenGo
phone app as UDP datagrams. Moticon does not publish the datagram layout (its
direct BLE protocol needs the paid SDK licence); two independent open-source
consumers agree on it, and this decoder follows them **[community]**:

- ``maximyudayev/hermes-moticon@ac9d870:src/hermes/moticon/producer.py`` (PyPI
  ``pysio-hermes-moticon``), and
- ``FilipCon/OpenSimRT@9828cac:OpenSimRT/Moticon/src/MoticonReceiver.cpp``, which also
  names the units (g, dps, N/cm², N, COP in [-0.5, 0.5]).

Each datagram is one sample of both insoles as ASCII numbers separated by
whitespace. With every channel selected in OpenGo Software the order is::

    index  0      time, s
           1-3    left acceleration x, y, z, g
           4-6    left angular rate x, y, z, dps
           7-8    left centre of pressure x, y, insole-normalised [-0.5, 0.5]
           9-24   left pressure cells 1-16, N/cm²
           25     left total force, N
           26-50  the same 25 values for the right insole

The order depends on the channels selected in OpenGo Software, so the layout is
configurable (:func:`parse_layout`). Not verified against a device or Moticon's
own documentation; the units match the vendor's text export (``sensors.md`` §7.2).
The IMU axes are Moticon's insole axes, passed through unchanged.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Final, Literal

import numpy as np
import numpy.typing as npt

from calfload.bridge.errors import PacketError

Side = Literal["left", "right"]
Group = Literal["acc", "gyr", "cop", "pressure", "total_force"]

G0_MPS2: Final = 9.80665
WIDTH: Final[Mapping[str, int]] = {"acc": 3, "gyr": 3, "cop": 2, "pressure": 16, "total_force": 1}
FOOT_GROUPS: Final[tuple[Group, ...]] = ("acc", "gyr", "cop", "pressure", "total_force")
MAX_DATAGRAM: Final = 4096
#: Plausibility limits (absolute value, in the stream's units); a group with a value beyond its
#: limit, or not finite, is treated as missing in that sample. Far above any insole's range.
LIMIT: Final[Mapping[str, float]] = {
    "acc": 64.0,  # g
    "gyr": 10_000.0,  # dps
    "cop": 1.0,  # insole-normalised
    "pressure": 1_000.0,  # N/cm²
    "total_force": 20_000.0,  # N
}

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Layout:
    """Channel groups in datagram order, after the leading ``time`` value."""

    groups: tuple[tuple[Side, Group], ...]

    @cached_property
    def n_values(self) -> int:
        return 1 + sum(WIDTH[g] for _, g in self.groups)

    @cached_property
    def sides(self) -> tuple[Side, ...]:
        return tuple(dict.fromkeys(side for side, _ in self.groups))

    @cached_property
    def limits(self) -> FloatArray:
        """Per-value plausibility limit, in datagram order (time unchecked here)."""
        return np.array(
            [np.inf] + [LIMIT[g] for _, g in self.groups for _ in range(WIDTH[g])],
            dtype=np.float64,
        )

    @cached_property
    def starts(self) -> npt.NDArray[np.intp]:
        """Index of each group's first value in the datagram."""
        widths = [WIDTH[g] for _, g in self.groups]
        return np.cumsum([1, *widths[:-1]]).astype(np.intp)


#: Every channel selected (the layout both community consumers read).
FULL_LAYOUT: Final = Layout(tuple((side, g) for side in ("left", "right") for g in FOOT_GROUPS))


def parse_layout(spec: str | Sequence[str]) -> Layout:
    """A layout from names like ``"time left.acc left.gyr right.total_force"``.

    ``time`` must come first; groups are ``acc``, ``gyr``, ``cop``, ``pressure``,
    ``total_force``, each prefixed with ``left.`` or ``right.``.
    """
    names = spec.split() if isinstance(spec, str) else list(spec)
    if not names or names[0] != "time":
        raise ValueError("a Moticon UDP layout starts with 'time'")
    groups: list[tuple[Side, Group]] = []
    for name in names[1:]:
        side, _, group = name.partition(".")
        if side not in ("left", "right") or group not in WIDTH:
            raise ValueError(
                f"unknown Moticon channel group {name!r}; use left.|right. + "
                f"{', '.join(FOOT_GROUPS)}"
            )
        if (side, group) in groups:
            raise ValueError(f"Moticon channel group {name!r} is listed twice")
        groups.append((side, group))  # type: ignore[arg-type]
    return Layout(tuple(groups))


@dataclass(frozen=True)
class MoticonFoot:
    """One insole's values in one sample; a group is ``None`` when not streamed, not
    finite, or beyond :data:`LIMIT` (the insole is out of range)."""

    acc_mps2: FloatArray | None = None
    gyr_dps: FloatArray | None = None
    cop: FloatArray | None = None
    pressure_ncm2: FloatArray | None = None
    total_force_n: float | None = None


@dataclass(frozen=True)
class MoticonSample:
    t_s: float
    feet: Mapping[Side, MoticonFoot]


def decode(datagram: bytes | bytearray, layout: Layout = FULL_LAYOUT) -> MoticonSample:
    """Decode one datagram; raise :class:`PacketError` on any structural defect."""
    data = bytes(datagram)
    if len(data) > MAX_DATAGRAM:
        raise PacketError("length", f"Moticon datagram of {len(data)} bytes is too long", data)
    if not data.isascii():
        raise PacketError("field", "Moticon datagram is not ASCII text", data)
    words = data.split()
    if len(words) != layout.n_values:
        raise PacketError(
            "length",
            f"Moticon datagram has {len(words)} values, the layout expects {layout.n_values} "
            "(check the channels selected in OpenGo Software)",
            data,
        )
    try:
        values = np.array(list(map(float, words)), dtype=np.float64)
    except ValueError:
        raise PacketError(
            "field", "Moticon datagram holds a value that is not a number", data
        ) from None
    t_s = float(values[0])
    if not math.isfinite(t_s) or t_s < 0:
        raise PacketError("field", f"Moticon datagram has an invalid time {words[0]!r}", data)

    # One vectorised check: how many values of each group are non-finite or implausible.
    starts = layout.starts
    implausible = ~(np.abs(values) <= layout.limits)  # NaN compares False: counted too
    bad = np.add.reduceat(implausible, starts) if len(starts) else starts
    parts: dict[Side, dict[str, object]] = {side: {} for side in layout.sides}
    for (side, group), at, n_bad in zip(layout.groups, starts.tolist(), bad.tolist(), strict=True):
        if n_bad:
            continue  # that group is missing in this sample
        chunk = values[at : at + WIDTH[group]]
        if group == "acc":
            parts[side]["acc_mps2"] = chunk * G0_MPS2
        elif group == "gyr":
            parts[side]["gyr_dps"] = chunk
        elif group == "cop":
            parts[side]["cop"] = chunk
        elif group == "pressure":
            parts[side]["pressure_ncm2"] = chunk
        else:
            parts[side]["total_force_n"] = float(chunk[0])
    feet = {side: MoticonFoot(**kw) for side, kw in parts.items()}  # type: ignore[arg-type]
    return MoticonSample(t_s, feet)


def encode(sample: MoticonSample, layout: Layout = FULL_LAYOUT) -> bytes:
    """The datagram OpenGo Software would send for ``sample`` (used by the virtual sender).

    Missing groups are written as ``nan``.
    """
    words = [repr(float(sample.t_s))]
    for side, group in layout.groups:
        foot = sample.feet.get(side, MoticonFoot())
        value: object = {
            "acc": None if foot.acc_mps2 is None else np.asarray(foot.acc_mps2) / G0_MPS2,
            "gyr": foot.gyr_dps,
            "cop": foot.cop,
            "pressure": foot.pressure_ncm2,
            "total_force": foot.total_force_n,
        }[group]
        if value is None:
            words += ["nan"] * WIDTH[group]
        else:
            words += [repr(float(v)) for v in np.atleast_1d(np.asarray(value, dtype=np.float64))]
    return " ".join(words).encode("ascii")
