// calfload live dashboard: one WebSocket in, one of three views out.
//
// The server sends one "snapshot" (everything this page may see) when the socket
// opens, then "update" messages with only what changed. Which view this page is
// comes from <body data-view>: the therapist's grid, one athlete's detail, or the
// runner view (also what an athlete link opens). Views redraw at most once per
// animation frame; data is never written as HTML.

import 'uplot/dist/uPlot.min.css';
import './style.css';
import { $, setText } from './dom.js';
import { AthleteData, SIDES, app, epochMs, hooks } from './store.js';
import { GridView } from './grid.js';
import { DetailView } from './detail.js';
import { RunnerView } from './runner.js';

const RETRY_MIN_MS = 500;
const RETRY_MAX_MS = 5000;
const MAX_EVENTS = 500; // as the server keeps

const kind = document.body.dataset.view || 'grid';
const focus = document.body.dataset.focus || null;
const view = kind === 'detail' ? new DetailView(focus) : kind === 'runner' ? new RunnerView(focus) : new GridView();

function athlete(id) {
  let a = app.athletes.get(id);
  if (!a) {
    a = new AthleteData(id);
    app.athletes.set(id, a);
    view.added(a);
  }
  return a;
}

function applyAthlete(id, entry, isSnapshot) {
  const a = athlete(id);
  if ('info' in entry) a.info = entry.info;
  if ('summary' in entry) a.summary = entry.summary;
  if ('watch' in entry) a.watch = entry.watch;
  if (isSnapshot) a.events = [...(entry.events ?? [])];
  else if (entry.events) {
    a.events.push(...entry.events);
    if (a.events.length > MAX_EVENTS) a.events.splice(0, a.events.length - MAX_EVENTS);
  }
  for (const side of SIDES) {
    if (isSnapshot || entry.steps?.[side]) a.applySteps(side, entry.steps?.[side], isSnapshot);
  }
  view.changed(a, isSnapshot);
}

function applySensors(target, sensors) {
  for (const [id, s] of Object.entries(sensors)) {
    const old = target.get(id);
    if (s === null) target.delete(id);
    else target.set(id, s);
    for (const who of [old?.athlete, s?.athlete]) {
      const a = who && app.athletes.get(who);
      if (a) view.changed(a, false);
    }
  }
}

function handle(msg) {
  if (msg.type === 'snapshot') {
    hooks.snapshots++;
    app.historySteps = msg.history_steps || app.historySteps;
    app.sensors.clear();
    app.quality.clear();
    for (const [id, a] of app.athletes) {
      if (!(id in msg.athletes)) {
        view.removed(a);
        app.athletes.delete(id);
        delete hooks.stepsReceived[id];
      }
    }
    applySensors(app.sensors, msg.sensors ?? {});
    applySensors(app.quality, msg.quality ?? {});
    for (const [id, entry] of Object.entries(msg.athletes)) applyAthlete(id, entry, true);
  } else if (msg.type === 'update') {
    hooks.updates++;
    if (msg.sensors) applySensors(app.sensors, msg.sensors);
    if (msg.quality) applySensors(app.quality, msg.quality);
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
    view.render();
    const now = epochMs();
    for (const a of app.athletes.values()) a.markDrawn(now);
  });
}

function renderService(testid, label, message) {
  const node = $(`[data-testid="${testid}"]`);
  if (!node) return;
  const state = message?.state ?? 'unknown';
  node.dataset.state = state;
  setText(node, `${label}: ${message ? state : '–'}`);
  node.title = message?.last_error ? `last error: ${message.last_error}` : '';
}

function renderHeader() {
  renderService('bridge-state', 'bridge', app.bridge);
  renderService('worker-state', 'worker', app.worker);
  const rejected = $('[data-testid="rejected"]');
  if (rejected) {
    setText(rejected, `${app.rejected} unreadable`);
    rejected.classList.toggle('warn', app.rejected > 0);
  }
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
    detail = app.brokerEverConnected ? 'MQTT broker unreachable: totals catch up when it returns' : 'waiting for the MQTT broker';
  }
  const node = $('[data-testid="status"]');
  node.dataset.state = state;
  document.body.dataset.status = state;
  setText($('[data-testid="status-text"]'), text);
  setText($('[data-testid="status-detail"]'), detail);
  if (hooks.status !== state) {
    hooks.status = state;
    hooks.statusLog.push(state);
  }
}

// -- the socket ----------------------------------------------------------------------

let retryMs = RETRY_MIN_MS;

function socketUrl() {
  // An athlete link (/a/<token>) has its own socket, which carries only its athlete.
  const path = window.location.pathname;
  if (path.startsWith('/a/')) return `${path.replace(/\/+$/, '')}/ws`;
  const params = new URLSearchParams();
  if (focus) params.set('athlete', focus);
  if (!view.columns) params.set('columns', '0');
  const query = params.toString();
  return query ? `/ws?${query}` : '/ws';
}

function connect() {
  const url = new URL(socketUrl(), window.location.href);
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
