// What the page knows: filled from the server's "snapshot", then "update" messages.
// See calfload.dashboard.state for their shapes.

export const SIDES = ['left', 'right'];
export const COLUMNS = [
  'ic_s',
  'gct_ms',
  'flight_ms',
  'cadence_spm',
  'peak_force_bw',
  'achilles_force_bw',
  'push_off_impulse_ns',
  'achilles_impulse_ns',
];
const DRAWN_KEEP = 50000;

export const app = {
  athletes: new Map(), // id -> AthleteData
  sensors: new Map(), // sensor id -> availability message
  quality: new Map(), // sensor id -> quality message
  historySteps: 3000,
  wsOpen: false,
  everOpen: false,
  brokerConnected: false,
  brokerEverConnected: false,
  bridge: null,
  worker: null,
  rejected: 0,
};

// Hooks for tests, the benchmark and curious people with a console open.
export const hooks = {
  stepsReceived: {}, // athlete -> {left: n, right: n}: steps the server has seen
  status: 'connecting',
  statusLog: ['connecting'],
  snapshots: 0,
  updates: 0,
  // [athlete, side, newest step index, epoch ms] each time a step reached the screen;
  // recorded only once something asked for it (the benchmark), so a page left open
  // for hours keeps nothing.
  drawn: [],
  recordDrawn: false,
  takeDrawn() {
    hooks.recordDrawn = true;
    const out = hooks.drawn;
    hooks.drawn = [];
    return out;
  },
  audio: { running: false, beats: 0, cues: [] },
};
window.calfload = hooks;

function emptyColumns() {
  return Object.fromEntries(COLUMNS.map((c) => [c, []]));
}

export class AthleteData {
  constructor(id) {
    this.id = id;
    this.info = null;
    this.summary = null;
    this.watch = null;
    this.events = [];
    this.last = { left: null, right: null };
    this.received = { left: 0, right: 0 };
    this.cols = { left: emptyColumns(), right: emptyColumns() };
    this.fresh = { left: [], right: [] }; // new steps (columns) since the view last drew
    this.undrawn = { left: null, right: null }; // newest step index not yet on screen
    hooks.stepsReceived[id] = { left: 0, right: 0 };
  }

  get name() {
    return this.info?.name || this.id;
  }

  get severity() {
    return this.watch?.severity ?? 0;
  }

  newest() {
    return [this.last.left, this.last.right].filter(Boolean).sort((a, b) => b.ic_s - a.ic_s)[0] ?? null;
  }

  cadence() {
    return this.summary?.cadence_spm ?? this.newest()?.cadence_spm ?? null;
  }

  steps(side) {
    const last = this.last[side];
    const fromSummary = this.summary?.[side]?.steps ?? 0;
    return Math.max(last ? last.step_index : 0, fromSummary);
  }

  applySteps(side, block, isSnapshot) {
    if (!block) return;
    if (isSnapshot) {
      this.cols[side] = emptyColumns();
      this.fresh[side] = [];
    }
    if (Array.isArray(block.ic_s)) {
      const target = this.cols[side];
      const n = block.ic_s.length;
      for (const c of COLUMNS) {
        const values = block[c] ?? [];
        for (let i = 0; i < n; i++) target[c].push(values[i] ?? null);
      }
      const extra = target.ic_s.length - app.historySteps;
      if (extra > 0) for (const c of COLUMNS) target[c].splice(0, extra);
      if (!isSnapshot) {
        for (let i = 0; i < n; i++) {
          this.fresh[side].push(Object.fromEntries(COLUMNS.map((c) => [c, block[c]?.[i] ?? null])));
        }
      }
    }
    if (block.last) {
      this.last[side] = block.last;
      this.undrawn[side] = block.last.step_index;
    }
    if (typeof block.received === 'number') this.received[side] = block.received;
    hooks.stepsReceived[this.id][side] = this.received[side];
  }

  // The view drew this athlete: record which steps reached the screen.
  markDrawn(now) {
    for (const side of SIDES) {
      if (this.undrawn[side] !== null) {
        if (hooks.recordDrawn) hooks.drawn.push([this.id, side, this.undrawn[side], now]);
        this.undrawn[side] = null;
      }
    }
    if (hooks.drawn.length > DRAWN_KEEP) hooks.drawn.splice(0, hooks.drawn.length - DRAWN_KEEP);
  }

  sensorIds() {
    const ids = new Set();
    for (const [id, s] of app.sensors) if (s.athlete === this.id) ids.add(id);
    for (const [id, q] of app.quality) if (q.athlete === this.id) ids.add(id);
    return [...ids].sort();
  }
}

export function epochMs() {
  return performance.timeOrigin + performance.now();
}
