"""Messages the bridge publishes (contract v1): typed, frozen, validated on decode.

Receivers decode with :func:`decode`, which raises :class:`MessageError` with a
message a user can act on; they count and drop what they cannot read.
"""

from __future__ import annotations

from typing import Annotated, Final, Literal, TypeVar

import msgspec

SCHEMA: Final = 1

Side = Literal["left", "right"]
Placement = Literal["insole", "foot_top", "heel", "shank", "footpod"]
State = Literal["online", "offline"]


class MessageError(ValueError):
    """A payload that is not a valid message of the expected type and schema."""


class Message(msgspec.Struct, frozen=True, kw_only=True):
    schema: Annotated[
        int,
        msgspec.Meta(
            description="Contract version. Adding a field keeps it; renaming or removing a"
            " field, or changing its unit, bumps it. Receivers refuse other versions.",
            extra_json_schema={"const": SCHEMA},
        ),
    ]


class RawBatch(Message, frozen=True, kw_only=True):
    """Consecutive samples of one sensor, on the session clock.

    Sample ``i`` was taken at ``t0_s + i / fs_hz`` (seconds since the Unix epoch
    on the bridge host's clock, corrected for the sensor's clock offset).
    ``gap_samples`` counts samples lost immediately before this batch (from the
    sensor's sequence numbers); the bridge never fills a gap with invented samples.
    Arrays hold one entry per sample. Frames: see ``hardware.md``.
    """

    sensor_id: str
    athlete: str
    side: Side
    placement: Placement
    family: str
    seq: int
    t0_s: float
    fs_hz: float
    n: int
    gap_samples: int = 0
    force_n: list[float] | None = None
    cell_force_n: list[list[float]] | None = None
    cop_x_frac: list[float] | None = None  # CoP along the insole: 0 heel edge … 1 toe end
    acc_mps2: list[list[float]] | None = None
    gyr_dps: list[list[float]] | None = None
    speed_mps: list[float] | None = None
    cadence_spm: list[float] | None = None
    stride_m: list[float] | None = None


class BridgeState(Message, frozen=True, kw_only=True):
    state: State
    bridge_id: str
    t_s: float


class SensorAvailability(Message, frozen=True, kw_only=True):
    state: State
    sensor_id: str
    athlete: str
    side: Side
    family: str
    t_s: float
    reason: str = ""


class SensorQuality(Message, frozen=True, kw_only=True):
    sensor_id: str
    athlete: str
    side: Side
    t_s: float
    packets_ok: int
    packets_bad: int
    samples_ok: int
    samples_lost: int
    loss_pct: float
    effective_fs_hz: float
    longest_gap_s: float
    last_error: str = ""
    reconnects: int = 0
    offline_s: float = 0.0
    clock_drift_ppm: float | None = None
    time_uncertainty_ms: float | None = None
    sync_error_ms: float | None = None


class AthleteInfo(Message, frozen=True, kw_only=True):
    """Who wears which sensors. The optional fields are athlete settings for the load
    estimates (``calfload.processing.athlete.AthleteSettings``; defaults there)."""

    athlete: str
    name: str
    body_mass_kg: float
    sensors: list[str]
    foot_length_m: float | None = None
    shoe_size_eu: float | None = None
    insole_length_m: float | None = None
    achilles_moment_arm_m: float | None = None
    ankle_x_m: float | None = None
    height_m: float | None = None
    leg_length_m: float | None = None
    load_budget_bw_s: float | None = None
    speed_mps: float | None = None


M = TypeVar("M", bound=Message)
_decoders: dict[type[Message], msgspec.json.Decoder[Message]] = {}
_encoder: Final = msgspec.json.Encoder()


def decode(payload: bytes | bytearray | memoryview | str, kind: type[M]) -> M:
    """Decode and validate one payload of type ``kind`` and schema :data:`SCHEMA`."""
    decoder = _decoders.get(kind)
    if decoder is None:
        decoder = _decoders[kind] = msgspec.json.Decoder(kind)
    try:
        message = decoder.decode(payload)
    except msgspec.DecodeError as exc:
        raise MessageError(f"not a valid {kind.__name__} message: {exc}") from exc
    if message.schema != SCHEMA:
        raise MessageError(
            f"{kind.__name__} has schema {message.schema}; this version reads schema {SCHEMA}"
        )
    assert isinstance(message, kind)
    return message


def encode(message: Message) -> bytes:
    """Encode a message as compact JSON."""
    return _encoder.encode(message)
