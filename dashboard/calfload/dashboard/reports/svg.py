"""Small inline-SVG charts (line/scatter and grouped bars), no JavaScript, no fonts to load.

Every label passes through :func:`html.escape`; numbers are formatted here.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass

W, H = 640, 240
LEFT, RIGHT, TOP, BOTTOM = 56, 12, 24, 34


@dataclass(frozen=True)
class Series:
    label: str
    color: str
    x: Sequence[float]
    y: Sequence[float | None]
    dots: bool = True


def _ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        return [lo]
    raw = (hi - lo) / n
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    first = math.ceil(lo / step) * step
    return [first + k * step for k in range(int((hi - first) / step + 1e-9) + 1)]


def _fmt(v: float) -> str:
    return f"{v:.0f}" if abs(v) >= 10 or v == int(v) else f"{v:.2g}"


def _frame(title: str, x_label: str, y_label: str, lo: float, hi: float) -> list[str]:
    e = html.escape
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" role="img" '
        f'class="chart" aria-label="{e(title)}">',
        f'<rect x="{LEFT}" y="{TOP}" width="{W - LEFT - RIGHT}" height="{H - TOP - BOTTOM}" '
        'fill="#fff" stroke="#999"/>',
        f'<text x="{(W + LEFT) / 2}" y="{H - 4}" text-anchor="middle" class="ax">'
        f"{e(x_label)}</text>",
        f'<text x="12" y="{(H - BOTTOM + TOP) / 2}" text-anchor="middle" class="ax" '
        f'transform="rotate(-90 12 {(H - BOTTOM + TOP) / 2})">{e(y_label)}</text>',
    ]
    for t in _ticks(lo, hi):
        y = _sy(t, lo, hi)
        out.append(
            f'<line x1="{LEFT}" x2="{W - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="#eee"/>'
            f'<text x="{LEFT - 4}" y="{y + 4:.1f}" text-anchor="end" class="tk">{_fmt(t)}</text>'
        )
    return out


def _sy(v: float, lo: float, hi: float) -> float:
    return H - BOTTOM - (v - lo) / (hi - lo) * (H - TOP - BOTTOM)


def _sx(v: float, lo: float, hi: float) -> float:
    return LEFT + (v - lo) / (hi - lo) * (W - LEFT - RIGHT)


def _range(values: Sequence[float], pad: float = 0.05, zero: bool = False) -> tuple[float, float]:
    lo, hi = (min(values), max(values)) if values else (0.0, 1.0)
    if zero:
        lo = min(lo, 0.0)
    if hi - lo < 1e-9:
        lo, hi = lo - 1.0, hi + 1.0
    span = hi - lo
    return (lo if zero and lo == 0 else lo - pad * span), hi + pad * span


def _legend(items: Sequence[tuple[str, str]]) -> str:
    out = []
    for k, (label, color) in enumerate(items):
        x = LEFT + 8 + 110 * k
        out.append(
            f'<rect x="{x}" y="4" width="10" height="10" fill="{color}"/>'
            f'<text x="{x + 14}" y="13" class="tk">{html.escape(label)}</text>'
        )
    return "".join(out)


def line_chart(title: str, x_label: str, y_label: str, series: Sequence[Series]) -> str:
    """Points (and a connecting line) of each series on shared axes."""
    xs = [float(x) for s in series for x, y in zip(s.x, s.y, strict=True) if y is not None]
    ys = [float(y) for s in series for y in s.y if y is not None]
    if not ys:
        return f'<p class="empty">{html.escape(title)}: no data</p>'
    x_lo, x_hi = _range(xs, 0.0)
    y_lo, y_hi = _range(ys)
    out = _frame(title, x_label, y_label, y_lo, y_hi)
    for t in _ticks(x_lo, x_hi, 6):
        out.append(
            f'<text x="{_sx(t, x_lo, x_hi):.1f}" y="{H - BOTTOM + 13}" text-anchor="middle" '
            f'class="tk">{_fmt(t)}</text>'
        )
    for s in series:
        pts = [
            (_sx(float(x), x_lo, x_hi), _sy(float(y), y_lo, y_hi))
            for x, y in zip(s.x, s.y, strict=True)
            if y is not None
        ]
        if not pts:
            continue
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in pts)
        out.append(f'<polyline points="{path}" fill="none" stroke="{s.color}" stroke-width="1"/>')
        if s.dots:
            out.extend(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="1.8" fill="{s.color}"/>' for x, y in pts
            )
    out.append(_legend([(s.label, s.color) for s in series]))
    out.append("</svg>")
    return "".join(out)


def bar_chart(
    title: str,
    y_label: str,
    categories: Sequence[str],
    groups: Sequence[tuple[str, str, Sequence[float | None]]],
) -> str:
    """Grouped bars: one group per category, one bar per ``(label, color, values)``."""
    ys = [float(v) for _, _, values in groups for v in values if v is not None]
    if not ys or not categories:
        return f'<p class="empty">{html.escape(title)}: no data</p>'
    lo, hi = _range(ys, zero=True)
    lo = min(lo, 0.0)
    out = _frame(title, "", y_label, lo, hi)
    slot = (W - LEFT - RIGHT) / len(categories)
    bar = slot * 0.7 / max(1, len(groups))
    base = _sy(0.0, lo, hi)
    for i, cat in enumerate(categories):
        x0 = LEFT + i * slot + slot * 0.15
        out.append(
            f'<text x="{LEFT + (i + 0.5) * slot:.1f}" y="{H - BOTTOM + 13}" text-anchor="middle" '
            f'class="tk">{html.escape(cat)}</text>'
        )
        for j, (_, color, values) in enumerate(groups):
            v = values[i] if i < len(values) else None
            if v is None:
                continue
            y = _sy(float(v), lo, hi)
            out.append(
                f'<rect x="{x0 + j * bar:.1f}" y="{min(y, base):.1f}" width="{bar * 0.92:.1f}" '
                f'height="{abs(base - y):.1f}" fill="{color}"/>'
            )
    out.append(_legend([(label, color) for label, color, _ in groups]))
    out.append("</svg>")
    return "".join(out)
