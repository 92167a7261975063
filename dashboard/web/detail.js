// One athlete in detail: live charts (last minutes or the whole session held in
// memory), now versus the session's first minutes, sensor quality, notes and
// protocol stages, alerts.

import uPlot from 'uplot';
import { $, byTestId, el, fmt, setAttr, setText, signed } from './dom.js';
import { SIDES, app } from './store.js';
import { loadText, sensorChip } from './shared.js';

const COLORS = { left: '#2563eb', right: '#ea580c', both: '#0f172a', gct: '#7c3aed', ach: '#0891b2' };
const CHART_HEIGHT = 170;
const SYM_WINDOW = 10; // steps per side in the rolling symmetry
const LEVEL = ['ok', 'warn', 'alarm'];
const PAIR_METRICS = [
  ['gct', 'gct_ms', 'GCT (ms)', 0],
  ['flight', 'flight_ms', 'flight (ms)', 0],
  ['peak', 'peak_force_bw', 'peak force (BW)', 2],
  ['achilles', 'achilles_force_bw', 'Achilles force (BW)', 2],
];
const DRIFT_ROWS = [
  ['gct_ms', 'GCT', 'ms', 0],
  ['flight_ms', 'flight', 'ms', 0],
  ['cadence_spm', 'cadence', 'spm', 0],
  ['peak_force_bw', 'peak force', 'BW', 2],
  ['achilles_force_bw', 'Achilles force', 'BW', 2],
  ['push_off_impulse_ns', 'push-off impulse', 'N·s', 1],
];

function mean(values) {
  let s = 0;
  let n = 0;
  for (const v of values) {
    if (typeof v === 'number') {
      s += v;
      n++;
    }
  }
  return n ? s / n : null;
}

// Robinson's symmetry index, 100 (L − R) / (0.5 (L + R)) (Robinson, Herzog & Nigg 1987,
// J Manipulative Physiol Ther 10:172-176), as calfload.dashboard.alerts computes it.
function si(l, r) {
  if (l === null || r === null) return null;
  const m = 0.5 * (l + r);
  return Math.abs(m) < 1e-9 ? null : (100 * (l - r)) / m;
}

function clock(t_s) {
  return new Date(t_s * 1000).toLocaleTimeString([], { hour12: false });
}

export class DetailView {
  constructor(id) {
    this.id = id;
    this.columns = true;
    this.a = null;
    this.root = $('[data-testid="detail"]');
    this.f = byTestId(this.root);
    this.windowS = 120;
    this.dirty = true;
    this.rebuild = true;
    this.keys = {};
    this.clear();
    this.charts = {};
    for (const button of this.root.querySelectorAll('[data-window]')) {
      button.addEventListener('click', () => {
        this.windowS = Number(button.dataset.window);
        for (const b of this.root.querySelectorAll('[data-window]')) setAttr(b, 'aria-pressed', String(b === button));
        this.dirty = true;
        this.drawCharts();
      });
    }
    this.resizer = new ResizeObserver(() => {
      for (const c of Object.values(this.charts)) {
        const w = Math.floor(c.root.parentElement.clientWidth);
        if (w > 0 && w !== c.width) c.setSize({ width: w, height: CHART_HEIGHT });
      }
    });
  }

  clear() {
    this.d = { x: [], cad: [], symG: [], symA: [], m: {} };
    for (const [, key] of PAIR_METRICS) this.d.m[key] = { left: [], right: [] };
    this.recent = { left: { gct: [], ach: [] }, right: { gct: [], ach: [] } };
  }

  added(a) {
    if (a.id === this.id) this.a = a;
  }

  changed(a, isSnapshot) {
    if (a.id !== this.id) return;
    this.a = a;
    this.dirty = true;
    if (isSnapshot) this.rebuild = true;
  }

  removed() {}

  // -- data for the charts --

  push(side, step) {
    const d = this.d;
    let i = d.x.length;
    if (i > 0 && d.x[i - 1] > step.ic_s) {
      this.rebuild = true; // out of order (a backfill): rebuild from the columns
      return;
    }
    d.x.push(step.ic_s);
    for (const [, key] of PAIR_METRICS) {
      d.m[key][side].push(step[key] ?? null);
      d.m[key][side === 'left' ? 'right' : 'left'].push(null);
    }
    d.cad.push(step.cadence_spm ?? null);
    const r = this.recent[side];
    r.gct.push(step.gct_ms ?? null);
    r.ach.push(step.achilles_force_bw ?? null);
    if (r.gct.length > SYM_WINDOW) r.gct.shift();
    if (r.ach.length > SYM_WINDOW) r.ach.shift();
    const L = this.recent.left;
    const R = this.recent.right;
    const ready = L.gct.length >= 3 && R.gct.length >= 3;
    d.symG.push(ready ? si(mean(L.gct), mean(R.gct)) : null);
    d.symA.push(ready ? si(mean(L.ach), mean(R.ach)) : null);
    i++;
  }

  rebuildData() {
    this.clear();
    const a = this.a;
    const merged = [];
    for (const side of SIDES) {
      const c = a.cols[side];
      for (let i = 0; i < c.ic_s.length; i++) {
        const step = {};
        for (const key of Object.keys(c)) step[key] = c[key][i];
        merged.push([side, step]);
      }
      a.fresh[side] = [];
    }
    merged.sort((p, q) => p[1].ic_s - q[1].ic_s);
    for (const [side, step] of merged) this.push(side, step);
    this.rebuild = false;
  }

  appendFresh() {
    const a = this.a;
    const fresh = [];
    for (const side of SIDES) {
      for (const step of a.fresh[side]) fresh.push([side, step]);
      a.fresh[side] = [];
    }
    fresh.sort((p, q) => p[1].ic_s - q[1].ic_s);
    for (const [side, step] of fresh) {
      this.push(side, step);
      if (this.rebuild) break;
    }
    if (this.rebuild) this.rebuildData();
    const extra = this.d.x.length - 2 * app.historySteps;
    if (extra > 0) {
      const d = this.d;
      d.x.splice(0, extra);
      d.cad.splice(0, extra);
      d.symG.splice(0, extra);
      d.symA.splice(0, extra);
      for (const [, key] of PAIR_METRICS) for (const side of SIDES) d.m[key][side].splice(0, extra);
    }
  }

  // -- charts --

  makeChart(name, title, series, data) {
    const holder = this.charts[name]?.root.parentElement ?? el('div', { class: 'chart', 'data-testid': `chart-${name}`, 'data-points': '0' });
    if (!holder.parentElement) {
      $('#charts').append(el('figure', { class: 'chart-box' }, el('figcaption', {}, title), holder));
    }
    const events = () => this.a?.events ?? [];
    const markers = {
      hooks: {
        draw: [
          (u) => {
            const ctx = u.ctx;
            ctx.save();
            for (const e of events()) {
              const x = u.valToPos(e.t_s, 'x', true);
              if (x < u.bbox.left || x > u.bbox.left + u.bbox.width) continue;
              ctx.strokeStyle = e.kind === 'note' ? '#16a34a' : '#9333ea';
              ctx.setLineDash([4, 4]);
              ctx.beginPath();
              ctx.moveTo(x, u.bbox.top);
              ctx.lineTo(x, u.bbox.top + u.bbox.height);
              ctx.stroke();
            }
            ctx.restore();
          },
        ],
      },
    };
    const chart = new uPlot(
      {
        width: Math.max(260, holder.clientWidth || 520),
        height: CHART_HEIGHT,
        scales: { x: { time: true } },
        series: [{ label: 'time' }, ...series],
        axes: [{ stroke: '#475569', grid: { stroke: '#e2e8f0' } }, { stroke: '#475569', grid: { stroke: '#e2e8f0' }, size: 52 }],
        legend: { live: true },
        cursor: { drag: { x: true, y: false } },
        plugins: [markers],
      },
      data,
      holder,
    );
    this.charts[name] = chart;
    this.resizer.observe(holder);
    return chart;
  }

  chartData() {
    const d = this.d;
    const out = {};
    for (const [name, key] of PAIR_METRICS) out[name] = [d.x, d.m[key].left, d.m[key].right];
    out.cadence = [d.x, d.cad];
    out.symmetry = [d.x, d.symG, d.symA];
    return out;
  }

  drawCharts() {
    if (!this.a || this.d.x.length === 0) return;
    const data = this.chartData();
    const side = (s, digits, unit) => ({
      label: s,
      stroke: COLORS[s],
      width: 1.5,
      spanGaps: true,
      points: { size: 4, fill: COLORS[s] },
      value: (u, v) => (v == null ? '–' : `${v.toFixed(digits)} ${unit}`),
    });
    if (!this.charts.gct) {
      for (const [name, , title, digits] of PAIR_METRICS) {
        const unit = title.match(/\((.*)\)/)[1];
        this.makeChart(name, title, [side('left', digits, unit), side('right', digits, unit)], data[name]);
      }
      this.makeChart('cadence', 'cadence (spm)', [{ label: 'cadence', stroke: COLORS.both, width: 1.5, spanGaps: true }], data.cadence);
      this.makeChart(
        'symmetry',
        'symmetry L−R (%), last 10 steps per side',
        [
          { label: 'GCT', stroke: COLORS.gct, width: 1.5, spanGaps: true },
          { label: 'Achilles', stroke: COLORS.ach, width: 1.5, spanGaps: true },
        ],
        data.symmetry,
      );
    }
    const xs = this.d.x;
    const xmax = xs[xs.length - 1];
    const xmin = this.windowS > 0 ? Math.max(xs[0], xmax - this.windowS) : xs[0];
    for (const [name, chart] of Object.entries(this.charts)) {
      chart.setData(data[name], false);
      chart.setScale('x', { min: xmin, max: xmax === xmin ? xmin + 1 : xmax });
      chart.root.parentElement.dataset.points = String(xs.length);
    }
  }

  // -- text --

  renderText() {
    const a = this.a;
    const f = this.f;
    setText(f['athlete-name'], a.name);
    document.title = `calfload · ${a.name}`;
    const mass = a.info?.body_mass_kg;
    setText(f['athlete-sub'], mass ? `${a.id} · ${fmt(mass)} kg` : a.id);
    setText(f.cadence, fmt(a.cadence()));
    for (const side of SIDES) setText(f[`steps-${side}`], String(a.steps(side)));
    setText(f.load, loadText(a).text);
    const alerts = a.watch?.alerts ?? [];
    setAttr(f['alert-badge'], 'data-level', LEVEL[a.severity] ?? 'ok');
    setText(f['alert-badge'], alerts.length ? `${alerts.length} alert${alerts.length > 1 ? 's' : ''}` : 'no alerts');
    // Tables and lists are rebuilt only when what they show changed.
    const changed = (name, value) => {
      const key = JSON.stringify(value);
      if (this.keys[name] === key) return false;
      this.keys[name] = key;
      return true;
    };
    if (changed('alerts', alerts)) {
      f.alerts.replaceChildren(...alerts.map((x) => el('li', { class: x.level, 'data-testid': 'alert', 'data-kind': x.kind }, x.text)));
    }
    if (changed('drift', [a.watch?.baseline, a.watch?.recent, a.watch?.thresholds?.baseline_s])) this.renderDrift();
    const ids = a.sensorIds();
    if (changed('quality', ids.map((id) => [id, app.sensors.get(id), app.quality.get(id)]))) this.renderQuality();
    if (changed('events', [a.events.length, a.events.at(-1)?.t_s])) this.renderEvents();
  }

  renderDrift() {
    const w = this.a.watch;
    const body = this.f['drift-table'].tBodies[0];
    const rows = [];
    const haveBaseline = w && SIDES.some((s) => w.baseline?.[s]);
    const first = w?.thresholds?.baseline_s;
    setText(
      this.f['drift-hint'],
      haveBaseline
        ? `First minutes: the first ${fmt(first / 60, 1)} min of the session; now: the last 20 steps per side.`
        : `The first ${fmt((first ?? 120) / 60, 1)} minutes of the session are still running.`,
    );
    if (w) {
      for (const [key, label, unit, digits] of DRIFT_ROWS) {
        for (const side of SIDES) {
          const base = w.baseline?.[side]?.[key];
          const now = w.recent?.[side]?.[key];
          if (typeof now !== 'number') continue;
          const delta = typeof base === 'number' ? now - base : null;
          const pct = delta !== null && base ? (100 * delta) / base : null;
          rows.push(
            el(
              'tr',
              { 'data-metric': key, 'data-side': side },
              el('td', {}, `${label} (${unit})`),
              el('td', { class: side }, side),
              el('td', {}, fmt(base, digits)),
              el('td', {}, fmt(now, digits)),
              el('td', { 'data-testid': `drift-${key}-${side}` }, delta === null ? '–' : `${signed(delta, digits)} (${signed(pct, 1)}%)`),
            ),
          );
        }
      }
    }
    body.replaceChildren(...rows);
  }

  renderQuality() {
    const body = this.f['quality-table'].tBodies[0];
    const rows = this.a.sensorIds().map((id) => {
      const av = app.sensors.get(id);
      const q = app.quality.get(id);
      return el(
        'tr',
        { 'data-sensor': id },
        el('td', {}, sensorChip(id, av, q), ` ${id}`),
        el('td', {}, av?.side ?? q?.side ?? '–'),
        el('td', { 'data-testid': 'sensor-state' }, av?.state ?? '–'),
        el('td', {}, q ? `${fmt(q.loss_pct, 2)}%` : '–'),
        el('td', {}, q ? `${fmt(q.effective_fs_hz, 1)} Hz` : '–'),
        el('td', {}, q ? `${fmt(q.longest_gap_s, 2)} s` : '–'),
        el('td', {}, typeof q?.reconnects === 'number' ? String(q.reconnects) : '–'),
        el('td', {}, typeof q?.sync_error_ms === 'number' ? `${fmt(q.sync_error_ms, 1)} ms` : '–'),
        el('td', {}, typeof av?.battery_pct === 'number' ? `${fmt(av.battery_pct)}%` : 'not reported'),
      );
    });
    body.replaceChildren(...rows);
  }

  renderEvents() {
    const items = [...this.a.events]
      .sort((p, q) => q.t_s - p.t_s)
      .map((e) =>
        el(
          'li',
          { class: e.kind, 'data-testid': 'event', 'data-kind': e.kind },
          el('time', {}, clock(e.t_s)),
          ' ',
          el('span', { class: 'kind' }, e.kind),
          ' ',
          el('span', { class: 'text' }, e.text),
          e.author ? el('span', { class: 'author' }, ` · ${e.author}`) : null,
        ),
      );
    this.f.events.replaceChildren(...items);
  }

  render() {
    if (!this.a || !this.dirty) return;
    this.dirty = false;
    if (this.rebuild) this.rebuildData();
    else this.appendFresh();
    this.renderText();
    this.drawCharts();
  }
}
