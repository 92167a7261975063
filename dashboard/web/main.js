// calfload live dashboard: one WebSocket in, one tile per athlete out.
//
// The server sends one "snapshot" (everything it knows) when the socket opens,
// then "update" messages with only what changed. Data is never written as HTML:
// every text goes through textContent. Charts get their new points appended and
// are redrawn at most once per animation frame.

import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import './style.css';

const SIDES = ['left', 'right'];
const COLORS = { left: '#2563eb', right: '#ea580c' };
const CHART_HEIGHT = 190;
const RETRY_MIN_MS = 500;
const RETRY_MAX_MS = 5000;

const app = {
  athletes: new Map(), // id -> Athlete
  sensors: new Map(), // sensor id -> availability message
  historySteps: 3000,
  wsOpen: false,
  everOpen: false,
  brokerConnected: false,
  brokerEverConnected: false,
  bridge: null,
  worker: null,
  rejected: 0,
};

// Hooks for tests and for curious people with a console open.
const hooks = {
  stepsReceived: {}, // athlete -> {left: n, right: n}: points this page holds
  status: 'connecting',
  statusLog: ['connecting'],
  snapshots: 0,
  updates: 0,
};
window.calfload = hooks;

// -- small DOM helpers (text only, never HTML) ---------------------------------------

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === 'class') node.className = value;
    else node.setAttribute(key, value);
  }
  for (const child of children) node.append(child);
  return node;
}

function setText(node, text) {
  if (node.textContent !== text) node.textContent = text;
}

function fmt(value, digits = 0) {
  return typeof value === 'number' && Number.isFinite(value) ? value.toFixed(digits) : '–';
}

const $ = (sel) => document.querySelector(sel);

// -- one athlete ---------------------------------------------------------------------

class Athlete {
  constructor(id) {
    this.id = id;
    this.info = null;
    this.summary = null;
    this.last = { left: null, right: null };
    this.data = [[], [], []]; // x (initial contact, s), left GCT, right GCT
    this.points = { left: 0, right: 0 };
    this.chart = null;
    this.chartDirty = false;
    this.textDirty = true;
    hooks.stepsReceived[id] = { left: 0, right: 0 };
    this.build();
  }

  build() {
    const metric = (label, testid, unit, cls = '') =>
      el(
        'div',
        { class: `metric ${cls}` },
        el('span', { class: 'label' }, label),
        el('span', { class: 'value' }, el('span', { 'data-testid': testid }, '–'), unit ? el('small', {}, unit) : ''),
      );
    this.nameEl = el('h2', { 'data-testid': 'athlete-name' }, this.id);
    this.subEl = el('span', { class: 'sub', 'data-testid': 'athlete-sub' }, this.id);
    this.sensorsEl = el('div', { class: 'sensors', 'data-testid': 'sensors' });
    this.chartEl = el('div', {
      class: 'chart',
      'data-testid': 'gct-chart',
      'data-points-left': '0',
      'data-points-right': '0',
    });
    this.tile = el(
      'section',
      { class: 'tile', 'data-athlete': this.id, 'data-testid': 'athlete-tile' },
      el('header', {}, el('div', { class: 'who' }, this.nameEl, this.subEl), this.sensorsEl),
      el(
        'div',
        { class: 'metrics' },
        metric('GCT left', 'gct-left', 'ms', 'left big'),
        metric('GCT right', 'gct-right', 'ms', 'right big'),
        metric('cadence', 'cadence', 'spm', 'big'),
        metric('steps left', 'steps-left', '', 'left'),
        metric('steps right', 'steps-right', '', 'right'),
        metric('GCT L−R', 'symmetry', '%'),
      ),
      this.chartEl,
    );
    this.fields = {};
    for (const node of this.tile.querySelectorAll('[data-testid]')) {
      this.fields[node.dataset.testid] = node;
    }
    insertSorted(this);
  }

  ensureChart() {
    if (this.chart) return;
    const width = Math.max(240, this.chartEl.clientWidth || 360);
    const series = (side) => ({
      label: side === 'left' ? 'left' : 'right',
      stroke: COLORS[side],
      width: 1.5,
      spanGaps: true,
      value: (u, v) => (v == null ? '–' : `${v.toFixed(0)} ms`),
      points: { size: 5, fill: COLORS[side] },
    });
    this.chart = new uPlot(
      {
        width,
        height: CHART_HEIGHT,
        scales: { x: { time: true } },
        series: [{ label: 'time' }, series('left'), series('right')],
        axes: [
          { stroke: '#475569', grid: { stroke: '#e2e8f0' } },
          {
            label: 'GCT (ms)',
            stroke: '#475569',
            grid: { stroke: '#e2e8f0' },
            size: 52,
            incrs: [1, 2, 5, 10, 20, 25, 50, 100, 200, 500],
          },
        ],
        legend: { live: true },
        cursor: { drag: { x: true, y: false } },
      },
      this.data,
      this.chartEl,
    );
    resizer.observe(this.chartEl);
  }

  // Replace all points (snapshot) with both sides merged in time order.
  resetSteps(steps) {
    const merged = [];
    for (const side of SIDES) {
      const block = steps?.[side];
      this.last[side] = block?.last ?? null;
      const n = block ? block.ic_s.length : 0;
      for (let i = 0; i < n; i++) merged.push([block.ic_s[i], side, block.gct_ms[i]]);
      hooks.stepsReceived[this.id][side] = n;
      this.points[side] = n;
    }
    merged.sort((a, b) => a[0] - b[0]);
    const xs = [];
    const ls = [];
    const rs = [];
    for (const [t, side, g] of merged) {
      xs.push(t);
      ls.push(side === 'left' ? g : null);
      rs.push(side === 'right' ? g : null);
    }
    this.data = [xs, ls, rs];
    this.trim();
    this.chartDirty = this.textDirty = true;
  }

  // Append new steps of one side; they nearly always belong at the end.
  addSteps(side, block) {
    const [xs, ls, rs] = this.data;
    const own = side === 'left' ? ls : rs;
    const other = side === 'left' ? rs : ls;
    for (let k = 0; k < block.ic_s.length; k++) {
      const t = block.ic_s[k];
      const g = block.gct_ms[k];
      let i = xs.length;
      while (i > 0 && xs[i - 1] > t) i--;
      if (i === xs.length) {
        xs.push(t);
        own.push(g);
        other.push(null);
      } else {
        xs.splice(i, 0, t);
        own.splice(i, 0, g);
        other.splice(i, 0, null);
      }
      this.points[side]++;
    }
    hooks.stepsReceived[this.id][side] += block.ic_s.length;
    if (block.last) this.last[side] = block.last;
    this.trim();
    this.chartDirty = this.textDirty = true;
  }

  trim() {
    const [xs, ls, rs] = this.data;
    const extra = xs.length - 2 * app.historySteps;
    if (extra <= 0) return;
    for (let i = 0; i < extra; i++) {
      if (ls[i] != null) this.points.left--;
      if (rs[i] != null) this.points.right--;
    }
    xs.splice(0, extra);
    ls.splice(0, extra);
    rs.splice(0, extra);
  }

  render() {
    if (this.textDirty) {
      this.textDirty = false;
      const name = this.info?.name || this.id;
      setText(this.nameEl, name);
      const mass = this.info?.body_mass_kg;
      setText(this.subEl, mass ? `${this.id} · ${fmt(mass)} kg` : this.id);
      const s = this.summary;
      for (const side of SIDES) {
        const last = this.last[side];
        setText(this.fields[`gct-${side}`], fmt(last?.gct_ms ?? s?.[side]?.gct_ms_last));
        const steps = last ? last.step_index : (s?.[side]?.steps ?? 0);
        setText(this.fields[`steps-${side}`], String(steps));
      }
      const newest = [this.last.left, this.last.right]
        .filter(Boolean)
        .sort((a, b) => b.ic_s - a.ic_s)[0];
      setText(this.fields.cadence, fmt(s?.cadence_spm ?? newest?.cadence_spm));
      const sym = s?.gct_symmetry_pct;
      setText(this.fields.symmetry, typeof sym === 'number' ? `${sym > 0 ? '+' : ''}${sym.toFixed(1)}` : '–');
      this.renderSensors();
    }
    if (this.chartDirty && (this.chart || this.data[0].length > 0)) {
      this.chartDirty = false;
      this.ensureChart();
      this.chart.setData(this.data);
      this.chartEl.dataset.pointsLeft = String(this.points.left);
      this.chartEl.dataset.pointsRight = String(this.points.right);
    }
  }

  renderSensors() {
    const chips = [];
    for (const [id, s] of [...app.sensors.entries()].sort()) {
      if (s.athlete !== this.id) continue;
      const chip = el(
        'span',
        { class: `chip ${s.state}`, 'data-testid': 'sensor', 'data-sensor': id, 'data-state': s.state },
        `${s.side === 'left' ? 'L' : 'R'} ${id}`,
      );
      chip.title = `${s.family} · ${s.state}${s.reason ? ` · ${s.reason}` : ''}`;
      chips.push(chip);
    }
    this.sensorsEl.replaceChildren(...chips);
  }

  remove() {
    this.chart?.destroy();
    this.tile.remove();
    delete hooks.stepsReceived[this.id];
  }
}

function insertSorted(athlete) {
  const grid = $('#athletes');
  let before = null;
  for (const tile of grid.children) {
    if (tile.dataset.athlete > athlete.id) {
      before = tile;
      break;
    }
  }
  grid.insertBefore(athlete.tile, before);
  $('[data-testid="empty"]').hidden = true;
}

function athlete(id) {
  let a = app.athletes.get(id);
  if (!a) {
    a = new Athlete(id);
    app.athletes.set(id, a);
  }
  return a;
}

// -- applying messages ---------------------------------------------------------------

function applyAthlete(id, entry, isSnapshot) {
  const a = athlete(id);
  if ('info' in entry) a.info = entry.info;
  if ('summary' in entry) a.summary = entry.summary;
  if (isSnapshot) a.resetSteps(entry.steps);
  else for (const side of SIDES) if (entry.steps?.[side]) a.addSteps(side, entry.steps[side]);
  a.textDirty = true;
}

function applySensors(sensors) {
  for (const [id, s] of Object.entries(sensors)) {
    const old = app.sensors.get(id);
    if (s === null) app.sensors.delete(id);
    else app.sensors.set(id, s);
    for (const who of [old?.athlete, s?.athlete]) {
      const a = who && app.athletes.get(who);
      if (a) a.textDirty = true;
    }
  }
}

function handle(msg) {
  if (msg.type === 'snapshot') {
    hooks.snapshots++;
    app.historySteps = msg.history_steps || app.historySteps;
    app.sensors.clear();
    for (const [id, a] of app.athletes) {
      if (!(id in msg.athletes)) {
        a.remove();
        app.athletes.delete(id);
      }
    }
    applySensors(msg.sensors);
    for (const [id, entry] of Object.entries(msg.athletes)) applyAthlete(id, entry, true);
    for (const a of app.athletes.values()) a.textDirty = true;
    $('[data-testid="empty"]').hidden = app.athletes.size > 0;
  } else if (msg.type === 'update') {
    hooks.updates++;
    if (msg.sensors) applySensors(msg.sensors);
    for (const [id, entry] of Object.entries(msg.athletes ?? {})) applyAthlete(id, entry, false);
  } else {
    return;
  }
  if ('broker_connected' in msg) {
    app.brokerConnected = msg.broker_connected;
    app.brokerEverConnected ||= msg.broker_connected;
  }
  if ('bridge' in msg) app.bridge = msg.bridge;
  if ('worker' in msg) app.worker = msg.worker;
  if ('rejected' in msg) app.rejected = msg.rejected;
  renderHeader();
  schedule();
}

// -- drawing -------------------------------------------------------------------------

let frameRequested = false;

function schedule() {
  if (frameRequested) return;
  frameRequested = true;
  requestAnimationFrame(() => {
    frameRequested = false;
    for (const a of app.athletes.values()) a.render();
  });
}

function renderService(testid, label, message) {
  const node = $(`[data-testid="${testid}"]`);
  const state = message?.state ?? 'unknown';
  node.dataset.state = state;
  setText(node, `${label}: ${message ? state : '–'}`);
  node.title = message?.last_error ? `last error: ${message.last_error}` : '';
}

function renderHeader() {
  renderService('bridge-state', 'bridge', app.bridge);
  renderService('worker-state', 'worker', app.worker);
  const rejected = $('[data-testid="rejected"]');
  setText(rejected, `${app.rejected} unreadable`);
  rejected.classList.toggle('warn', app.rejected > 0);
  renderStatus();
}

function renderStatus() {
  let state = 'live';
  let text = 'live';
  let detail = '';
  if (!app.wsOpen) {
    state = app.everOpen ? 'reconnecting' : 'connecting';
    text = app.everOpen ? 'reconnecting…' : 'connecting…';
    detail = app.everOpen ? 'dashboard server unreachable' : '';
  } else if (!app.brokerConnected) {
    state = app.brokerEverConnected ? 'reconnecting' : 'connecting';
    text = app.brokerEverConnected ? 'reconnecting…' : 'connecting…';
    detail = app.brokerEverConnected ? 'MQTT broker unreachable' : 'waiting for the MQTT broker';
  }
  const node = $('[data-testid="status"]');
  node.dataset.state = state;
  setText($('[data-testid="status-text"]'), text);
  setText($('[data-testid="status-detail"]'), detail);
  if (hooks.status !== state) {
    hooks.status = state;
    hooks.statusLog.push(state);
  }
}

// Keep charts as wide as their tiles.
const resizer = new ResizeObserver((entries) => {
  for (const entry of entries) {
    const a = app.athletes.get(entry.target.closest('[data-athlete]')?.dataset.athlete);
    const width = Math.floor(entry.contentRect.width);
    if (a?.chart && width > 0 && width !== a.chart.width) {
      a.chart.setSize({ width, height: CHART_HEIGHT });
    }
  }
});

// -- the socket ----------------------------------------------------------------------

let retryMs = RETRY_MIN_MS;

function connect() {
  // An athlete link (/a/<token>) has its own socket, which carries only its athlete.
  const path = window.location.pathname;
  const wsPath = path.startsWith('/a/') ? `${path.replace(/\/+$/, '')}/ws` : '/ws';
  const url = new URL(wsPath, window.location.href);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  const ws = new WebSocket(url);
  ws.onopen = () => {
    retryMs = RETRY_MIN_MS;
    app.wsOpen = true;
    app.everOpen = true;
    renderStatus();
  };
  ws.onmessage = (event) => {
    let msg;
    try {
      msg = JSON.parse(event.data);
    } catch {
      console.warn('calfload: ignored a message that is not JSON');
      return;
    }
    handle(msg);
  };
  ws.onclose = (event) => {
    if (event.code === 1008) {
      // Logged out, session expired or link revoked: the server shows what is left.
      window.location.reload();
      return;
    }
    app.wsOpen = false;
    renderStatus();
    setTimeout(connect, retryMs);
    retryMs = Math.min(RETRY_MAX_MS, retryMs * 2);
  };
}

renderHeader();
connect();
