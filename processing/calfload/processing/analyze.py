"""Offline analysis of a recording with the live pipeline (``calfload analyze``).

The recording is cut into :class:`SampleBlock` s of ``chunk_samples`` per foot (1 s by default,
like a few live batches), fed to the same :class:`AthletePipeline` the live worker runs, in time
order, alternating the feet; missing
samples (NaN, or jumps in the time column) become gaps exactly as lost packets do live. The
steps table has one row per step; times are seconds from the file's first sample.
"""

from __future__ import annotations

import csv
import gzip
import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import msgspec
import numpy as np

from calfload.processing.athlete import DEFAULT_FOOT_LENGTH_M
from calfload.processing.events import ContactParams
from calfload.processing.io.calfload_csv import (
    iter_recording,
    looks_like_calfload,
    read_recording,
)
from calfload.processing.io.calfload_parquet import looks_like_parquet, read_parquet_recording
from calfload.processing.io.moticon import looks_like_moticon, read_moticon
from calfload.processing.io.recording import F64, Recording, RecordingError, SideSignals, runs
from calfload.processing.messages import StepMessage
from calfload.processing.pipeline import HOLD_MAX_S, AthletePipeline, SampleBlock

FileFormat = Literal["auto", "calfload", "moticon", "parquet"]
FIRST_COLUMNS = ("side", "ic_s", "to_s", "gct_ms")
DROP_COLUMNS = ("schema",)
Progress = Callable[[float], None]


def detect_format(path: Path) -> Literal["calfload", "moticon", "parquet"]:
    """Tell the file's format from its first lines."""
    try:
        with path.open("rb") as fh:
            head_bytes = fh.read(4096)
        if head_bytes[:2] == b"\x1f\x8b":
            with gzip.open(path, "rb") as gz:
                head_bytes = gz.read(4096)
    except (OSError, EOFError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise RecordingError(str(path), None, None, f"cannot read the file ({reason})") from exc
    if looks_like_parquet(head_bytes):
        return "parquet"
    head = head_bytes.decode("utf-8", errors="replace")
    if not head.strip():
        raise RecordingError(str(path), None, None, "the file is empty")
    if looks_like_moticon(head):
        return "moticon"
    if looks_like_calfload(head):
        return "calfload"
    raise RecordingError(
        str(path), 1, None, "unknown format (not a calfload recording or Moticon export)"
    )


def read_any(path: Path, fmt: FileFormat = "auto") -> Recording:
    """Read a whole recording, detecting its format from the first lines when ``fmt`` is auto."""
    if fmt == "auto":
        fmt = detect_format(path)
    if fmt == "parquet":
        return read_parquet_recording(path)
    return read_moticon(path) if fmt == "moticon" else read_recording(path)


def iter_any(
    path: Path, fmt: FileFormat = "auto", progress: Progress | None = None
) -> Iterator[Recording]:
    """A recording in pieces: calfload files are streamed, Moticon exports read whole."""
    if fmt == "auto":
        fmt = detect_format(path)
    if fmt in ("moticon", "parquet"):
        yield read_moticon(path) if fmt == "moticon" else read_parquet_recording(path)
        if progress is not None:
            progress(1.0)
    else:
        yield from iter_recording(path, progress=progress)


@dataclass(frozen=True)
class Analysis:
    steps: list[StepMessage]
    summary: dict[str, Any]


def insole_length_for(rec: Recording, insole_length_m: float | None = None) -> float:
    """Insole length (m) that scales a vendor-normalised CoP: the given value, else the
    file header's ``insole_length_m`` or ``foot_length_m``, else the default adult foot
    (:data:`~calfload.processing.athlete.DEFAULT_FOOT_LENGTH_M`, like the athlete settings).

    Moticon's ``Size`` header is not mapped to a length (no published size table is held
    here); give the length explicitly for other feet.
    """
    if insole_length_m is not None:
        return insole_length_m
    for key in ("insole_length_m", "foot_length_m"):
        try:
            value = float(rec.meta.get(key, ""))
        except ValueError:
            continue
        if 0.15 <= value <= 0.37:
            return value
    return DEFAULT_FOOT_LENGTH_M


def cop_x_m_of(signals: SideSignals, insole_length_m: float) -> F64 | None:
    """A foot's CoP along the insole (m from the heel edge, heel → toe), if the file has one.

    ``cop_x_m`` is used as recorded; a Moticon ``cop_norm`` (−0.5 heel … +0.5 toe along
    the insole in its first column; the data's stance sweeps from about −0.36 to +0.33)
    becomes (x_norm + 0.5) × insole length.
    """
    if signals.cop_x_m is not None:
        return signals.cop_x_m
    if signals.cop_norm is not None:
        out: F64 = (signals.cop_norm[:, 0] + 0.5) * insole_length_m
        return out
    return None


def blocks(
    rec: Recording,
    chunk_samples: int,
    t_origin_s: float | None = None,
    insole_length_m: float | None = None,
) -> list[tuple[int, SampleBlock]]:
    """The recording as pipeline input: (end sample index, block), in feeding order.

    Times become seconds from ``t_origin_s`` (default: the recording's first sample). A
    normalised CoP is scaled by :func:`insole_length_for` (``insole_length_m``).
    """
    insole_m = insole_length_for(rec, insole_length_m)
    t0 = t_origin_s if t_origin_s is not None else float(rec.time_s[0]) if rec.time_s.size else 0.0
    pieces: list[tuple[int, int, SampleBlock]] = []
    for order, (side, signals) in enumerate(rec.sides.items()):
        f = signals.force_n
        cells = signals.cell_force_n
        cop = cop_x_m_of(signals, insole_m)
        for a, b in runs(rec.time_s, np.isfinite(f), rec.fs_hz):
            s = a
            while s < b:
                chunk = s // chunk_samples
                e = min(b, (chunk + 1) * chunk_samples)
                block = SampleBlock(
                    side,
                    f"file-{side}",
                    float(rec.time_s[s]) - t0,
                    rec.fs_hz,
                    f[s:e],
                    cell_force_n=None if cells is None else cells[s:e],
                    cop_x_m=None if cop is None else cop[s:e],
                )
                pieces.append((chunk * 2 + order, e, block))
                s = e
    pieces.sort(key=lambda p: (p[0], p[2].t0_s))
    return [(e, blk) for _, e, blk in pieces]


def analyze(
    rec: Recording,
    *,
    body_mass_kg: float | None = None,
    chunk_samples: int | None = None,
    params: ContactParams | None = None,
    progress: Progress | None = None,
) -> Analysis:
    """Run the live pipeline over a recording; return its steps and a session summary."""
    n = max(1, rec.time_s.size)

    def per_block(end: int) -> None:
        if progress is not None:
            progress(end / n)

    return analyze_pieces(
        [rec],
        body_mass_kg=body_mass_kg,
        chunk_samples=chunk_samples,
        params=params,
        block_done=per_block if progress is not None else None,
    )


def analyze_pieces(
    pieces: Iterable[Recording],
    *,
    body_mass_kg: float | None = None,
    chunk_samples: int | None = None,
    params: ContactParams | None = None,
    block_done: Callable[[int], None] | None = None,
) -> Analysis:
    """Run the live pipeline over consecutive pieces of one recording (e.g. a streamed file);
    memory holds one piece and the steps."""
    pipeline: AthletePipeline | None = None
    steps: list[StepMessage] = []
    first: Recording | None = None
    last_t = 0.0
    mass = body_mass_kg
    t_origin = 0.0
    for rec in pieces:
        if rec.time_s.size == 0:
            continue
        if first is None:
            first = rec
            t_origin = float(rec.time_s[0])
            mass = body_mass_kg if body_mass_kg is not None else rec.body_mass_kg
            pipeline = AthletePipeline(rec.meta.get("athlete", "file"), mass, params)
            if chunk_samples is None:
                chunk_samples = max(1, int(rec.fs_hz))  # 1 s
            if chunk_samples / rec.fs_hz > HOLD_MAX_S / 2:
                raise ValueError(
                    f"chunks must last at most {HOLD_MAX_S / 2} s (the pipeline's hold)"
                )
        assert pipeline is not None and chunk_samples is not None
        for k, (end, block) in enumerate(blocks(rec, chunk_samples, t_origin)):
            steps += pipeline.on_samples(block)
            if block_done is not None and k % 16 == 0:
                block_done(end)
        last_t = float(rec.time_s[-1])
    if first is None or pipeline is None:
        raise ValueError("the recording has no samples")
    steps += pipeline.flush()
    if block_done is not None:
        block_done(first.time_s.size)
    steps.sort(key=lambda s: (s.ic_s, s.side))
    duration = last_t - t_origin + 1.0 / first.fs_hz
    return Analysis(steps, summarize(first, pipeline, steps, mass, duration))


def summarize(
    rec: Recording,
    pipeline: AthletePipeline,
    steps: Sequence[StepMessage],
    mass: float | None,
    duration: float | None = None,
) -> dict[str, Any]:
    duration = rec.duration_s if duration is None else duration
    summary = pipeline.summary(duration)
    out: dict[str, Any] = {
        "source_format": rec.source,
        "duration_s": round(duration, 3),
        "fs_hz": rec.fs_hz,
        "body_mass_kg": mass,
        "steps": len(steps),
        "cadence_spm": _cadence(steps),
        "gct_symmetry_pct": summary.gct_symmetry_pct,
        "gaps": pipeline.gaps_reset,
        "weight_shifts_dropped": pipeline.shuffles,
        "suspect_steps": sum(1 for s in steps if s.quality != "ok"),
        "gait": {g: sum(1 for s in steps if s.gait == g) for g in ("running", "walking")},
    }
    for side in ("left", "right"):
        mine = [s for s in steps if s.side == side]
        gct = np.array([s.gct_ms for s in mine])
        out[side] = {
            "steps": len(mine),
            "gct_ms_mean": _r(gct.mean()) if gct.size else None,
            "gct_ms_sd": _r(gct.std(ddof=1)) if gct.size > 1 else None,
            "peak_force_bw_mean": _mean([s.peak_force_bw for s in mine]),
        }
    return out


def _cadence(steps: Sequence[StepMessage]) -> float | None:
    """Steps per minute: from step times, or from one foot's strides (two steps each)."""
    times = [s.step_time_ms for s in steps if s.step_time_ms]
    if times:
        return _r(60000.0 / float(np.median(times)))
    strides = [
        d
        for side in ("left", "right")
        for d in np.diff([s.ic_s for s in steps if s.side == side]).tolist()
        if 0.0 < d <= 4.0
    ]
    return _r(120.0 / float(np.median(strides))) if strides else None


def _mean(values: Sequence[float | None]) -> float | None:
    v = [x for x in values if x is not None]
    return _r(float(np.mean(v))) if v else None


def _r(x: float) -> float:
    return round(float(x), 2)


def step_rows(steps: Sequence[StepMessage]) -> tuple[list[str], list[dict[str, Any]]]:
    """Column names and one dict per step (the steps table)."""
    rows = [
        {k: v for k, v in msgspec.structs.asdict(s).items() if k not in DROP_COLUMNS} for s in steps
    ]
    names = list(FIRST_COLUMNS) + [
        f.name
        for f in msgspec.structs.fields(StepMessage)
        if f.name not in FIRST_COLUMNS and f.name not in DROP_COLUMNS
    ]
    return names, rows


def write_steps(path: Path, steps: Sequence[StepMessage]) -> None:
    """Write the steps table as CSV (or Parquet for a ``.parquet`` path, needs pyarrow)."""
    names, rows = step_rows(steps)
    if path.suffix == ".parquet":
        try:
            import pyarrow as pa
            import pyarrow.parquet as pq
        except ImportError as exc:
            raise RuntimeError(
                "writing .parquet needs pyarrow: pip install 'calfload[parquet]' (or use .csv)"
            ) from exc
        table = pa.table({n: [r[n] for r in rows] for n in names})
        pq.write_table(table, path)
        return
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=names, lineterminator="\n")
        writer.writeheader()
        for r in rows:
            writer.writerow({k: ("" if v is None else v) for k, v in r.items()})


def format_summary(summary: dict[str, Any]) -> str:
    """Human-readable session summary (a few lines)."""

    def v(x: object, unit: str = "") -> str:
        if x is None or (isinstance(x, float) and math.isnan(x)):
            return "–"
        return f"{x}{unit}"

    lines = [
        f"{summary['source_format']} recording, {summary['duration_s']:.1f} s at "
        f"{summary['fs_hz']:g} Hz, body mass {v(summary['body_mass_kg'], ' kg')}",
        f"steps {summary['steps']} (running {summary['gait']['running']}, walking "
        f"{summary['gait']['walking']}; suspect {summary['suspect_steps']}), cadence "
        f"{v(summary['cadence_spm'], ' spm')}, gaps {summary['gaps']}",
    ]
    for side in ("left", "right"):
        s = summary[side]
        lines.append(
            f"{side:>5}: {s['steps']} steps, GCT {v(s['gct_ms_mean'], ' ms')} "
            f"(SD {v(s['gct_ms_sd'], ' ms')}), peak {v(s['peak_force_bw_mean'], ' BW')}"
        )
    lines.append(f"GCT symmetry {v(summary['gct_symmetry_pct'], ' %')} (left vs right)")
    return "\n".join(lines)
