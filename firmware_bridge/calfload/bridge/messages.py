"""Messages the bridge publishes (contract v1): typed, frozen, validated on decode.

Receivers decode with :func:`decode`, which raises :class:`MessageError` with a
message a user can act on; they count and drop what they cannot read.
"""

from __future__ import annotations

from typing import Annotated, Final, Literal, TypeVar

import msgspec
from msgspec import Meta

SCHEMA: Final = 1

Side = Literal["left", "right"]
Placement = Literal["insole", "foot_top", "heel", "shank", "footpod"]
State = Literal["online", "offline"]

# Field types shared by several messages; each carries its meaning into the JSON Schema.
AthleteId = Annotated[
    str, Meta(description="Athlete id: 1–64 letters, digits, `_`, `.` or `-` (as in the topics).")
]
SensorId = Annotated[
    str, Meta(description="Sensor id: 1–64 letters, digits, `_`, `.` or `-` (as in the topics).")
]
ClockS = Annotated[
    float,
    Meta(
        description="Seconds on the session clock: Unix seconds on the bridge host, to which"
        " each sensor's own clock is mapped (hardware.md, 'Time base'); seconds from the"
        " file's start in offline analysis."
    ),
]
SentS = Annotated[ClockS, Meta(description="When this message was sent (session clock, s).")]
Family = Annotated[
    str, Meta(description="Sensor family (its decoder): `open-insole`, `rsc`, `witmotion`, …")
]
LastError = Annotated[
    str, Meta(description="The latest problem, in words a user can act on; empty when none.")
]


class MessageError(ValueError):
    """A payload that is not a valid message of the expected type and schema."""


class Message(msgspec.Struct, frozen=True, kw_only=True):
    schema: Annotated[
        int,
        Meta(
            description="Contract version. Adding a field keeps it; renaming or removing a"
            " field, or changing its unit, bumps it. Receivers refuse other versions.",
            extra_json_schema={"const": SCHEMA},
        ),
    ]


class RawBatch(Message, frozen=True, kw_only=True):
    """Consecutive samples of one sensor, on the session clock.

    Arrays hold one entry per sample; a quantity the sensor does not measure is absent.
    The bridge stores batches on disk and forwards them at least once, so a batch can
    arrive twice after a lost acknowledgement; receivers drop a repeated
    ``(sensor_id, seq)``. Devices without a clock of their own (footpods, WitMotion IMUs)
    are stamped from their arrival time on the bridge host.
    """

    sensor_id: SensorId
    athlete: AthleteId
    side: Annotated[Side, Meta(description="The foot the sensor is worn on.")]
    placement: Annotated[Placement, Meta(description="Where on the foot or leg it sits.")]
    family: Family
    seq: Annotated[
        int,
        Meta(
            description="Counts this sensor's batches and continues across bridge restarts on"
            " the same data folder, so `(sensor_id, seq)` names one batch for good."
        ),
    ]
    t0_s: Annotated[ClockS, Meta(description="Time of sample 0 (session clock, s).")]
    fs_hz: Annotated[
        float, Meta(description="Sample rate: sample `i` was taken at `t0_s + i / fs_hz`.")
    ]
    n: Annotated[int, Meta(description="Samples in this batch; each array holds `n` entries.")]
    gap_samples: Annotated[
        int,
        Meta(
            description="Samples the sensor's sequence showed as lost just before this batch;"
            " the bridge never invents samples to fill a gap."
        ),
    ] = 0
    force_n: Annotated[
        list[float] | None,
        Meta(description="Total force per sample (N); the sum of `cell_force_n` when present."),
    ] = None
    cell_force_n: Annotated[
        list[list[float]] | None,
        Meta(
            description="Force of each insole cell per sample (N); the 8-cell map is in"
            " hardware.md, 'Cell map'."
        ),
    ] = None
    cop_x_frac: Annotated[
        list[float] | None,
        Meta(
            description="Centre of pressure along the insole per sample, as a fraction of its"
            " length from the heel edge (0 heel … 1 toe; Moticon's normalised X + 0.5); present"
            " only when every sample has one. The worker scales it by the athlete's"
            " `insole_length_m` (else the foot length) and uses it as the moment lever when no"
            " cells arrive (docs/load.md)."
        ),
    ] = None
    acc_mps2: Annotated[
        list[list[float]] | None,
        Meta(
            description="Acceleration x, y, z per sample (m/s², gravity included: +9.8 on z"
            " when flat and still), in the sensor's axes as the device reports them"
            " (hardware.md, 'IMU frame')."
        ),
    ] = None
    gyr_dps: Annotated[
        list[list[float]] | None,
        Meta(description="Angular rate x, y, z per sample (°/s), in the sensor's axes."),
    ] = None
    speed_mps: Annotated[
        list[float] | None,
        Meta(description="Footpod (Running Speed and Cadence): speed per measurement (m/s)."),
    ] = None
    cadence_spm: Annotated[
        list[float] | None,
        Meta(description="Footpod: cadence per measurement (steps per minute)."),
    ] = None
    stride_m: Annotated[
        list[float] | None,
        Meta(
            description="Footpod: the RSC stride, one foot's contact to the same foot's next"
            " (two steps), so `speed_mps ≈ stride_m × cadence_spm / 120`; absent when the pod"
            " does not send it."
        ),
    ] = None


class BridgeState(Message, frozen=True, kw_only=True):
    """The bridge's state (retained); its Last Will is the same message, `offline`."""

    state: State
    bridge_id: str
    t_s: SentS


class SensorAvailability(Message, frozen=True, kw_only=True):
    """A sensor's link went up or down (retained)."""

    state: State
    sensor_id: SensorId
    athlete: AthleteId
    side: Side
    family: Family
    t_s: SentS
    reason: Annotated[str, Meta(description="Why it went offline, e.g. `link lost`.")] = ""


class SensorQuality(Message, frozen=True, kw_only=True):
    """Link and data quality of one sensor since the bridge started (retained, every 2 s).

    The link and clock fields from ``reconnects`` on are optional for receivers: older
    bridges leave them out.
    """

    sensor_id: SensorId
    athlete: AthleteId
    side: Side
    t_s: SentS
    packets_ok: Annotated[int, Meta(description="Notifications decoded.")]
    packets_bad: Annotated[int, Meta(description="Notifications refused (see `last_error`).")]
    samples_ok: Annotated[int, Meta(description="Samples received.")]
    samples_lost: Annotated[
        int, Meta(description="Samples the sensor's own sample times show as lost.")
    ]
    loss_pct: Annotated[float, Meta(description="lost / (received + lost) × 100.")]
    effective_fs_hz: Annotated[
        float,
        Meta(description="Samples received per second of host time since the first packet."),
    ]
    longest_gap_s: Annotated[float, Meta(description="The longest run of lost samples (s).")]
    last_error: LastError = ""
    reconnects: Annotated[int, Meta(description="Links re-established after a drop.")] = 0
    offline_s: Annotated[
        float,
        Meta(
            description="Total time the sensor was away (s). An outage is reported here, not"
            " as lost samples, because a sensor may restart its numbering while away."
        ),
    ] = 0.0
    clock_drift_ppm: Annotated[
        float | None,
        Meta(
            description="The fitted rate of the sensor's clock against the bridge host's (for"
            " sensors without a clock: of its sample rate against the nominal one); `null`"
            " before the first packet."
        ),
    ] = None
    time_uncertainty_ms: Annotated[
        float | None,
        Meta(
            description="How far this sensor's times may be off the session clock: the slew"
            " still to be applied plus the median height of the per-second minimum delays above"
            " the fitted lower envelope (hardware.md, 'Time base')."
        ),
    ] = None
    sync_error_ms: Annotated[
        float | None,
        Meta(
            description="Left/right alignment error estimate for this athlete, √(u_this² +"
            " u_other²) with u each foot's `time_uncertainty_ms` (the worse sensor of the same"
            " placement on the other side); `null` without such a sensor. A conservative bound:"
            " on a simulated 3-hour run with ±50–100 ppm crystals the real error stayed under"
            " 0.5 ms after two minutes while this read about 3.5 ms."
        ),
    ] = None


def _setting(meaning: str) -> Meta:
    return Meta(description=f"{meaning} Optional; default and source in docs/load.md.")


class AthleteInfo(Message, frozen=True, kw_only=True):
    """Who wears which sensors (retained), and the athlete settings the load estimates use.

    A worker refuses impossible settings (for example a 50 cm moment arm), counts the
    message as rejected and keeps the athlete's previous settings
    (``calfload.processing.athlete.AthleteSettings``).
    """

    athlete: AthleteId
    name: Annotated[str, Meta(description="Display name.")]
    body_mass_kg: float
    sensors: Annotated[list[str], Meta(description="Ids of the sensors this athlete wears.")]
    foot_length_m: Annotated[float | None, _setting("Foot length.")] = None
    shoe_size_eu: Annotated[
        float | None, _setting("EU shoe size (gives the foot length when that is unset).")
    ] = None
    insole_length_m: Annotated[
        float | None, _setting("Insole length (scales cell positions and `cop_x_frac`).")
    ] = None
    achilles_moment_arm_m: Annotated[float | None, _setting("Achilles moment arm.")] = None
    ankle_x_m: Annotated[
        float | None,
        _setting("Ankle joint centre, metres in front of the insole's heel edge."),
    ] = None
    height_m: Annotated[float | None, _setting("Standing height.")] = None
    leg_length_m: Annotated[float | None, _setting("Leg length.")] = None
    load_budget_bw_s: Annotated[
        float | None, _setting("Session budget of cumulative Achilles impulse (BW·s).")
    ] = None
    speed_mps: Annotated[
        float | None, _setting("Running speed to assume when no footpod is worn (m/s).")
    ] = None


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
