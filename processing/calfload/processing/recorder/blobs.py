"""One second of one sensor's samples as a blob (pure, no I/O).

Layout (all little-endian ``float32``, sample-major)::

    [dt_0 … dt_{n-1}]                      sample times minus the row's t0_s (seconds)
    [ch_1 of sample 0 … ch_1 of n-1]       first channel, ``width`` values per sample
    [ch_2 …]                               next channel, and so on

The channel list is text, ``name:width`` joined by ``,`` (``force_n:1,cell_force_n:8,
acc_mps2:3,gyr_dps:3``), stored beside the blob; names are the contract's field names of
:class:`~calfload.bridge.messages.RawBatch`. A blob of ``n`` samples is
``4 × n × (1 + Σ width)`` bytes. ``t0_s`` (float64) is the first sample's time on the
session clock, so times keep sub-microsecond precision within the second.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from calfload.bridge.messages import RawBatch

F64 = npt.NDArray[np.float64]
CHANNELS: tuple[tuple[str, int | None], ...] = (
    ("force_n", 1),
    ("cell_force_n", None),  # width from the data
    ("acc_mps2", 3),
    ("gyr_dps", 3),
    ("speed_mps", 1),
    ("cadence_spm", 1),
    ("stride_m", 1),
)
_LE_F32 = np.dtype("<f4")


class BlobError(ValueError):
    """A blob whose size does not match its channel list."""


@dataclass(frozen=True)
class Samples:
    """Samples of one sensor: times (session clock) and named (n, width) channels."""

    t_s: F64
    channels: dict[str, F64]

    @property
    def layout(self) -> str:
        return ",".join(f"{k}:{v.shape[1]}" for k, v in self.channels.items())

    def __len__(self) -> int:
        return int(self.t_s.size)

    def select(self, keep: npt.NDArray[np.bool_] | npt.NDArray[np.intp]) -> Samples:
        return Samples(self.t_s[keep], {k: v[keep] for k, v in self.channels.items()})


def parse_layout(layout: str) -> list[tuple[str, int]]:
    out = []
    for part in layout.split(","):
        name, _, width = part.partition(":")
        if not name or not width.isdigit() or int(width) < 1:
            raise BlobError(f"bad channel list {layout!r}")
        out.append((name, int(width)))
    return out


def from_batch(batch: RawBatch) -> tuple[Samples, list[str]]:
    """The batch's samples; channels that do not have one row per sample are left out and
    named in the second value (the caller counts them)."""
    n = batch.n
    t = batch.t0_s + np.arange(n, dtype=np.float64) / batch.fs_hz
    channels: dict[str, F64] = {}
    dropped: list[str] = []
    for name, width in CHANNELS:
        value = getattr(batch, name)
        if value is None:
            continue
        try:
            arr = np.asarray(value, dtype=np.float64)
        except ValueError:
            dropped.append(name)
            continue
        if arr.ndim == 1:
            arr = arr[:, None]
        if arr.ndim != 2 or arr.shape[0] != n or (width is not None and arr.shape[1] != width):
            dropped.append(name)
            continue
        channels[name] = arr
    return Samples(t, channels), dropped


def pack(samples: Samples, t0_s: float) -> bytes:
    """The blob of ``samples`` (times relative to ``t0_s``)."""
    parts = [(samples.t_s - t0_s).astype(_LE_F32).tobytes()]
    parts += [v.astype(_LE_F32).tobytes() for v in samples.channels.values()]
    return b"".join(parts)


def unpack(blob: bytes, layout: str, t0_s: float, n: int) -> Samples:
    """Inverse of :func:`pack`."""
    spec = parse_layout(layout)
    want = 4 * n * (1 + sum(w for _, w in spec))
    if len(blob) != want:
        raise BlobError(f"blob of {len(blob)} bytes, expected {want} for {n} samples of {layout}")
    flat = np.frombuffer(blob, dtype=_LE_F32)
    t = t0_s + flat[:n].astype(np.float64)
    k = n
    channels: dict[str, F64] = {}
    for name, width in spec:
        channels[name] = flat[k : k + n * width].astype(np.float64).reshape(n, width)
        k += n * width
    return Samples(t, channels)


def merge(a: Samples, b: Samples) -> Samples:
    """Both sets in time order, a sample at a time already present (within 10 µs) dropped
    (a QoS 1 redelivery). Layouts must match."""
    t = np.concatenate([a.t_s, b.t_s])
    channels = {k: np.concatenate([a.channels[k], b.channels[k]]) for k in a.channels}
    _, first = np.unique(np.round(t * 1e5), return_index=True)  # time order, first wins
    return Samples(t[first], {k: v[first] for k, v in channels.items()})
