"""A :class:`~.data.ReportData` as one self-contained HTML page (inline CSS and SVG).

Every string that came from a user or a recording goes through :func:`html.escape`.
Sections (``<section id=…>``): ``overview``, ``results``, ``protocols``, ``quality``,
``comparison``, ``notes``; each but the first starts a new page when printed.
"""

from __future__ import annotations

import html
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

from calfload.dashboard.reports import svg
from calfload.dashboard.reports.data import (
    ProtocolRun,
    ReportData,
    SideReport,
    gather,
    lab_protocols,
)
from calfload.processing.protocols.results import HeelRiseMetrics, ProtocolResult

LEFT_COLOR, RIGHT_COLOR = "#1f6fb4", "#d1495b"
COLORS = {"left": LEFT_COLOR, "right": RIGHT_COLOR}
SECTIONS = ("overview", "results", "protocols", "quality", "comparison", "notes")

CSS = """
@page { size: A4; margin: 14mm; }
body { font: 10.5pt/1.4 "DejaVu Sans", Helvetica, Arial, sans-serif; color: #222; margin: 0 auto;
  max-width: 190mm; }
h1 { font-size: 17pt; margin: 0 0 4pt; } h2 { font-size: 13pt; border-bottom: 1.5pt solid #1f6fb4;
  padding-bottom: 2pt; margin-top: 14pt; } h3 { font-size: 11pt; margin: 10pt 0 4pt; }
section + section { break-before: page; page-break-before: always; }
table { border-collapse: collapse; width: 100%; margin: 4pt 0 8pt; font-size: 9.5pt; }
th, td { border: 0.5pt solid #bbb; padding: 2pt 5pt; text-align: left; vertical-align: top; }
tr { break-inside: avoid; } th { background: #eef3f8; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
svg.chart { width: 100%; height: auto; max-height: 80mm; break-inside: avoid; }
svg .ax { font-size: 11px; fill: #333; } svg .tk { font-size: 10px; fill: #555; }
.muted, .empty { color: #777; } .warn { color: #a33; }
"""


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _num(value: float | int | None, digits: int = 1, unit: str = "") -> str:
    if value is None:
        return "–"
    text = f"{value:.{digits}f}" if isinstance(value, float) else str(value)
    return f"{text} {unit}".rstrip()


def _when(t_s: float | None) -> str:
    if t_s is None:
        return "–"
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(t_s))


def _duration(seconds: float) -> str:
    m, s = divmod(round(seconds), 60)
    h, m = divmod(m, 60)
    return f"{h}:{m:02d}:{s:02d}"


def _table(head: Sequence[str], rows: Iterable[Sequence[str]], numeric: set[int]) -> str:
    """A table of already-escaped cell strings (``numeric``: right-aligned columns)."""
    out = ["<table><tr>", *(f"<th>{_e(h)}</th>" for h in head), "</tr>"]
    for row in rows:
        out.append("<tr>")
        out.extend(
            f'<td class="n">{c}</td>' if i in numeric else f"<td>{c}</td>"
            for i, c in enumerate(row)
        )
        out.append("</tr>")
    out.append("</table>")
    return "".join(out)


def _overview(d: ReportData) -> str:
    runs = ", ".join(f"{r.result.title if r.result else r.protocol}" for r in d.protocols)
    stages: list[str] = []
    for r in d.protocols:
        if r.result is not None:
            stages.extend(f"{s.index + 1}. {s.name} ({s.task})" for s in r.result.stages)
    rows = [
        ("Athlete", f"{d.athlete_name} ({d.athlete})" if d.athlete_name else d.athlete),
        ("Session", f"{d.name} ({d.session_id})" if d.name else d.session_id),
        ("Started", _when(d.started_s)),
        (
            "Duration",
            f"{_duration(d.duration_s)} ({d.state}{'; ' + d.stop_reason if d.stop_reason else ''})",
        ),
        ("Body mass", _num(d.body_mass_kg, 1, "kg")),
        (
            "Sensors",
            "; ".join(f"{s.sensor_id} ({s.side} {s.placement}, {s.fs_hz:g} Hz)" for s in d.sensors)
            or "none",
        ),
        ("Steps recorded", str(d.steps)),
        ("Protocol", runs or "none (free session)"),
        ("Stages", "; ".join(stages) or "–"),
    ]
    body = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in rows)
    return (
        f'<section id="overview"><h1>calfload session report</h1>'
        f'<p class="muted">{_e(d.session_id)}</p>'
        f"<h2>What was run</h2><table>{body}</table></section>"
    )


def _side_rows(sides: Sequence[SideReport]) -> str:
    rows = [
        (
            _e(s.side),
            str(s.steps),
            str(s.suspect),
            _num(s.gct_mean_ms, 1),
            _num(s.gct_sd_ms, 1),
            _num(s.peak_force_bw_mean, 2),
            _num(s.achilles_force_bw_mean, 2),
        )
        for s in sides
    ]
    return _table(
        [
            "side",
            "steps",
            "suspect",
            "GCT mean (ms)",
            "GCT SD (ms)",
            "peak force (BW)",
            "Achilles force (BW)",
        ],
        rows,
        {1, 2, 3, 4, 5, 6},
    )


def _results(d: ReportData) -> str:
    gct = svg.line_chart(
        "Ground contact time",
        "time (s from start)",
        "GCT (ms)",
        [svg.Series(s.side, COLORS.get(s.side, "#555"), s.t_s, s.gct_ms) for s in d.sides],
    )
    metric = next((s.load_metric for s in d.sides if s.steps), "achilles_force_bw")
    load_label = "Achilles force (BW)" if metric == "achilles_force_bw" else "peak force (BW)"
    load = svg.line_chart(
        "Load per step",
        "time (s from start)",
        load_label,
        [svg.Series(s.side, COLORS.get(s.side, "#555"), s.t_s, s.load_bw) for s in d.sides],
    )
    impulse = (
        f"<p>Achilles impulse of the session: {_num(d.achilles_impulse_bws, 1, 'BW·s')}"
        f"{'; distance ' + _num(d.distance_m, 0, 'm') if d.distance_m is not None else ''}.</p>"
    )
    return (
        '<section id="results"><h2>Results per side</h2>'
        f"{_side_rows(d.sides)}{impulse}<h3>GCT over time, left and right</h3>{gct}"
        f"<h3>{_e(load_label)} over time, left and right</h3>{load}</section>"
    )


def _run_stages(r: ProtocolResult) -> str:
    runs = [s for s in r.stages if s.run is not None]
    if not runs:
        return ""
    rows = []
    for s in runs:
        m = s.run
        assert m is not None
        rows.append(
            (
                _e(s.name),
                _num(m.speed_mps, 1),
                str(m.steps),
                _num(m.cadence_spm, 0),
                _num(m.left.gct_ms, 1),
                _num(m.right.gct_ms, 1),
                _num(m.left.achilles_force_bw, 2),
                _num(m.right.achilles_force_bw, 2),
            )
        )
    table = _table(
        [
            "stage",
            "speed (m/s)",
            "steps",
            "cadence (spm)",
            "GCT L (ms)",
            "GCT R (ms)",
            "Achilles L (BW)",
            "Achilles R (BW)",
        ],
        rows,
        {1, 2, 3, 4, 5, 6, 7},
    )
    names = [s.name for s in runs]
    bars = svg.bar_chart(
        "GCT per stage",
        "GCT (ms)",
        names,
        [
            ("left", LEFT_COLOR, [s.run.left.gct_ms if s.run else None for s in runs]),
            ("right", RIGHT_COLOR, [s.run.right.gct_ms if s.run else None for s in runs]),
        ],
    )
    return f"<h3>Treadmill stages (steady-state window)</h3>{table}{bars}"


def _heel_rise(r: ProtocolResult) -> str:
    hr: list[tuple[str, HeelRiseMetrics]] = [
        (s.name, s.heel_rise) for s in r.stages if s.heel_rise is not None
    ]
    if not hr:
        return ""
    rows = [
        (
            _e(m.side),
            str(m.reps),
            _e(m.stop_reason),
            _num(m.peak_height_m * 100 if m.peak_height_m is not None else None, 1),
            _num(m.mean_height_m * 100 if m.mean_height_m is not None else None, 1),
            _num(m.total_work_j, 0),
            _num(m.height_decline_pct, 0),
            _e(m.source),
        )
        for _, m in hr
    ]
    table = _table(
        [
            "side",
            "reps",
            "stopped by",
            "peak height (cm)",
            "mean height (cm)",
            "total work (J)",
            "height decline (%)",
            "source",
        ],
        rows,
        {1, 3, 4, 5, 6},
    )
    curve = svg.line_chart(
        "Heel-rise height per repetition",
        "repetition",
        "height (cm)",
        [
            svg.Series(
                m.side,
                COLORS.get(m.side, "#555"),
                list(range(1, len(m.rep_list) + 1)),
                [x.height_m * 100 if x.height_m is not None else None for x in m.rep_list],
            )
            for _, m in hr
        ],
    )
    return (
        f"<h3>Single-leg heel-rise test</h3>{table}<h3>Heel-rise curve</h3>{curve}"
        '<p class="muted">Every attempt in order; the last ones are the faulted attempts '
        "that ended the test (not counted).</p>"
    )


def _hops(r: ProtocolResult) -> str:
    hops = [s.hops for s in r.stages if s.hops is not None]
    if not hops:
        return ""
    rows = [
        (
            _e(h.task),
            _e(h.side),
            str(h.hops),
            _num(h.contact_ms, 0),
            _num(h.flight_ms, 0),
            _num(h.height_m * 100 if h.height_m is not None else None, 1),
            _num(h.rsi, 2),
        )
        for h in hops
    ]
    return "<h3>Hops</h3>" + _table(
        ["task", "side", "hops", "contact (ms)", "flight (ms)", "height (cm)", "RSI (m/s)"],
        rows,
        {2, 3, 4, 5, 6},
    )


def _norms(r: ProtocolResult) -> str:
    sym = [(k, v) for k, v in r.symmetry.items() if v is not None]
    out = ""
    if sym:
        out += "<h3>Limb symmetry</h3>" + _table(
            ["index", "value (%)"], [(_e(k), _num(v, 1)) for k, v in sym], {1}
        )
    if r.norms:
        out += "<h3>Published norms</h3>" + _table(
            ["side", "metric", "value", "norm", "% of norm", "band", "source", "note"],
            [
                (
                    _e(n.side or ""),
                    _e(n.metric),
                    _num(n.value, 1),
                    _num(n.norm, 1),
                    _num(n.pct_of_norm, 0),
                    _e(n.band),
                    _e(n.source),
                    _e(n.note),
                )
                for n in r.norms
            ],
            {2, 3, 4},
        )
    return out


def _protocol(run: ProtocolRun) -> str:
    head = f"<h3>{_e(run.result.title if run.result else run.protocol)}</h3>"
    if run.result is None:
        return f'{head}<p class="warn">Not scored: {_e(run.note)}</p>'
    r = run.result
    stages = _table(
        ["#", "stage", "task", "start (s)", "end (s)", "note"],
        [
            (
                str(s.index + 1),
                _e(s.name),
                _e(s.task),
                _num(s.start_s - r.started_s, 1),
                _num(s.end_s - r.started_s, 1),
                _e(s.note),
            )
            for s in r.stages
        ],
        {0, 3, 4},
    )
    note = f'<p class="warn">{_e(run.note)}</p>' if run.note else ""
    complete = "" if r.complete else '<p class="warn">Not every stage ran.</p>'
    return head + note + complete + stages + _run_stages(r) + _heel_rise(r) + _hops(r) + _norms(r)


def _protocols(d: ReportData) -> str:
    if not d.protocols:
        body = '<p class="muted">No protocol was run in this session.</p>'
    else:
        body = "".join(_protocol(r) for r in d.protocols)
    return (
        '<section id="protocols"><h2>Per-test results and norms</h2>'
        '<p class="muted">Re-scored from the recorded raw samples and stage marks.</p>'
        f"{body}</section>"
    )


def _quality(d: ReportData) -> str:
    rows = [
        (
            _e(s.sensor_id),
            _e(s.side),
            str(s.samples),
            str(s.lost_samples),
            _num(s.loss_pct, 2),
            str(s.gaps),
            _num(s.longest_gap_s, 2),
            _num(s.sync_error_ms, 2),
            _num(s.clock_drift_ppm, 1),
            _num(s.reconnects) if s.reconnects is not None else "–",
        )
        for s in d.sensors
    ]
    table = _table(
        [
            "sensor",
            "side",
            "samples",
            "lost",
            "loss (%)",
            "gaps",
            "longest gap (s)",
            "sync error (ms)",
            "clock drift (ppm)",
            "reconnects",
        ],
        rows,
        {2, 3, 4, 5, 6, 7, 8, 9},
    )
    errors = "".join(
        f'<p class="warn">{_e(s.sensor_id)}: {_e(s.last_error)}</p>'
        for s in d.sensors
        if s.last_error
    )
    jumps = [e for e in d.events if e.kind == "jump"]
    sync = (
        f"<p>Sync jumps detected: {len(jumps)}"
        + (" (at " + ", ".join(f"{e.offset_s:.2f} s" for e in jumps) + ")" if jumps else "")
        + f"; lab markers: {sum(e.kind == 'marker' for e in d.events)}.</p>"
    )
    return (
        '<section id="quality"><h2>Data quality</h2>'
        '<p class="muted">Loss, sync error and drift: the bridge\'s last sensor-quality report; '
        "gaps: holes longer than 1.5 sample periods in the stored samples.</p>"
        f"{table}{errors}{sync}</section>"
    )


def _comparison(d: ReportData) -> str:
    h = d.history
    c = h.comparison
    if c is None:
        verdict = '<p class="muted">No Achilles load for this session: nothing to compare.</p>'
    elif c["band"] == "no-history":
        verdict = "<p>No earlier session with load in the last 30 days.</p>"
    else:
        verdict = (
            f"<p>Achilles impulse {_num(c['current'], 1, 'BW·s')} vs the largest of the last 30 "
            f"days {_num(c['reference_max'], 1, 'BW·s')} ({c['sessions_in_window']} sessions): "
            f"{_num(c['excess_pct'], 0)} % → <b>{_e(c['band'])}</b>"
            + (f", hazard ratio {_num(c['hazard_ratio'], 2)}" if c["hazard_ratio"] else "")
            + (" (rule derived for distance; extrapolated to load)" if c["extrapolated"] else "")
            + ".</p>"
        )
    rows = [
        (
            _e(p.session_id),
            _e(p.name),
            _e(_when(p.started_s)),
            _e(_duration(p.duration_s)),
            str(p.steps),
            _num(p.achilles_impulse_bws, 1),
        )
        for p in h.sessions
    ]
    table = (
        _table(
            ["session", "name", "started", "duration", "steps", "Achilles impulse (BW·s)"],
            rows,
            {4, 5},
        )
        if rows
        else '<p class="muted">No earlier sessions of this athlete.</p>'
    )
    bars = ""
    loads = [(p.started_s, p.achilles_impulse_bws) for p in reversed(h.sessions)][-9:]
    if d.achilles_impulse_bws is not None and any(v is not None for _, v in loads):
        labels = [time.strftime("%m-%d", time.gmtime(t)) for t, _ in loads] + ["this"]
        bars = svg.bar_chart(
            "Achilles impulse per session",
            "BW·s",
            labels,
            [("Achilles impulse", "#4a7c59", [v for _, v in loads] + [d.achilles_impulse_bws])],
        )
    return (
        '<section id="comparison"><h2>Comparison with previous sessions</h2>'
        '<p class="muted">Norms of the tests are in the per-test results; the session load is '
        "compared with the largest session of the previous 30 days (BJSM 2025).</p>"
        f"{verdict}{table}{bars}</section>"
    )


def _notes(d: ReportData) -> str:
    rows = [
        (_num(e.offset_s, 1), _e(e.kind), _e(e.label), _e(e.source))
        for e in d.events
        if e.kind != "session"
    ]
    body = (
        _table(["time (s)", "kind", "text / label", "by"], rows, {0})
        if rows
        else '<p class="muted">No notes or markers.</p>'
    )
    return f'<section id="notes"><h2>Notes and markers</h2>{body}</section>'


def render_html(d: ReportData) -> str:
    """The whole report as one HTML document (no external resources)."""
    title = f"calfload report {d.athlete_name or d.athlete} {_when(d.started_s)}"
    parts = [_overview(d), _results(d), _protocols(d), _quality(d), _comparison(d), _notes(d)]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{_e(title)}</title><style>{CSS}</style></head><body>"
        + "".join(parts)
        + "</body></html>\n"
    )


def report_html(path: Path, folder: Path | None = None) -> str:
    """The report of the session file ``path`` (its athlete's history from ``folder``;
    the lab's protocol files from the ``protocols`` folder beside it)."""
    folder = folder or path.parent
    return render_html(gather(path, folder, protocols=lab_protocols(folder.parent / "protocols")))
