// The therapist's grid: one compact tile per athlete, sorted by alert severity.

import { $, byTestId, el, fmt, setAttr, setText, signed } from './dom.js';
import { SIDES, app } from './store.js';
import { loadText, sensorChip, symmetryOf } from './shared.js';

const LEVEL = ['ok', 'warn', 'alarm'];

class Tile {
  constructor(a) {
    this.a = a;
    this.dirty = true;
    const pair = (label, testid, unit) =>
      el(
        'div',
        { class: 'pair', title: `${label} left / right (${unit})` },
        el('span', { class: 'label' }, label, el('small', {}, unit)),
        el(
          'span',
          { class: 'value' },
          el('span', { class: 'l', 'data-testid': `${testid}-left` }, '–'),
          el('span', { class: 'slash' }, '/'),
          el('span', { class: 'r', 'data-testid': `${testid}-right` }, '–'),
        ),
      );
    this.node = el(
      'section',
      { class: 'tile', 'data-athlete': a.id, 'data-testid': 'athlete-tile', 'data-severity': '0' },
      el(
        'header',
        {},
        el(
          'div',
          { class: 'who' },
          el('a', { href: `/athlete/${encodeURIComponent(a.id)}`, class: 'name-link' }, el('h2', { 'data-testid': 'athlete-name' }, a.id)),
          el('span', { class: 'sub', 'data-testid': 'athlete-sub' }, a.id),
        ),
        el('span', { class: 'badge', 'data-testid': 'alert-badge', 'data-level': 'ok' }, 'OK'),
      ),
      el('div', { class: 'sensors', 'data-testid': 'sensors' }),
      el(
        'div',
        { class: 'metrics' },
        el(
          'div',
          { class: 'pair cadence' },
          el('span', { class: 'label' }, 'cadence'),
          el('span', { class: 'value' }, el('span', { 'data-testid': 'cadence' }, '–'), el('small', {}, 'spm')),
        ),
        pair('GCT', 'gct', 'ms'),
        pair('push-off', 'pushoff', 'N·s'),
        pair('Achilles', 'achilles', 'BW'),
      ),
      el(
        'div',
        { class: 'barrow' },
        el('span', { class: 'label', 'data-testid': 'symmetry-label' }, 'L−R'),
        el(
          'div',
          { class: 'symbar', 'data-testid': 'symmetry-bar' },
          el('div', { class: 'limit' }),
          el('div', { class: 'centre' }),
          el('div', { class: 'marker' }),
        ),
        el('span', { class: 'num', 'data-testid': 'symmetry' }, '–'),
      ),
      el(
        'div',
        { class: 'barrow' },
        el('span', { class: 'label' }, 'load'),
        el('div', { class: 'loadbar', 'data-testid': 'load-bar' }, el('div', { class: 'fill' })),
        el('span', { class: 'num', 'data-testid': 'load' }, '–'),
      ),
      el(
        'footer',
        {},
        el('span', { class: 'alert-text', 'data-testid': 'alert-text' }, ''),
        el(
          'span',
          { class: 'steps' },
          'steps ',
          el('span', { 'data-testid': 'steps-left' }, '0'),
          '/',
          el('span', { 'data-testid': 'steps-right' }, '0'),
        ),
      ),
    );
    this.f = byTestId(this.node);
  }

  render() {
    if (!this.dirty) return;
    this.dirty = false;
    const { a, f } = this;
    setText(f['athlete-name'], a.name);
    const mass = a.info?.body_mass_kg;
    setText(f['athlete-sub'], mass ? `${a.id} · ${fmt(mass)} kg` : a.id);
    setText(f.cadence, fmt(a.cadence()));
    for (const side of SIDES) {
      const last = a.last[side];
      setText(f[`gct-${side}`], fmt(last?.gct_ms ?? a.summary?.[side]?.gct_ms_last));
      setText(f[`pushoff-${side}`], fmt(last?.push_off_impulse_ns));
      setText(f[`achilles-${side}`], fmt(last?.achilles_force_bw, 1));
      setText(f[`steps-${side}`], String(a.steps(side)));
    }
    // symmetry bar: the recent window's index, Achilles force when known, else GCT
    const sym = symmetryOf(a);
    const limit = a.watch?.thresholds?.asymmetry_pct ?? null;
    const span = Math.max(20, 2 * (limit ?? 10));
    setText(f['symmetry-label'], sym ? `${sym.label} L−R` : 'L−R');
    setText(f.symmetry, sym ? `${signed(sym.value)}%` : '–');
    const bar = f['symmetry-bar'];
    const pos = sym ? Math.max(-1, Math.min(1, sym.value / span)) : 0;
    bar.querySelector('.marker').style.left = `${50 + 48 * pos}%`;
    bar.querySelector('.marker').hidden = !sym;
    const lim = bar.querySelector('.limit');
    lim.hidden = limit === null;
    if (limit !== null) {
      const w = Math.min(100, (100 * limit) / span);
      lim.style.left = `${50 - w / 2}%`;
      lim.style.width = `${w}%`;
    }
    setAttr(bar, 'data-over', sym && limit !== null && Math.abs(sym.value) > limit ? 'true' : 'false');
    // load against the session budget
    const load = loadText(a);
    setText(f.load, load.text);
    const fill = f['load-bar'].firstChild;
    fill.style.width = `${Math.min(100, load.pct ?? 0)}%`;
    setAttr(f['load-bar'], 'data-level', load.level);
    // alerts
    const level = LEVEL[a.severity] ?? 'ok';
    const alerts = a.watch?.alerts ?? [];
    setAttr(this.node, 'data-severity', String(a.severity));
    setAttr(f['alert-badge'], 'data-level', level);
    setText(f['alert-badge'], alerts.length ? `${alerts.length} alert${alerts.length > 1 ? 's' : ''}` : 'OK');
    setText(f['alert-text'], alerts[0]?.text ?? '');
    f['alert-text'].title = alerts.map((x) => x.text).join('\n');
    // sensors (rebuilt only when a sensor's state or quality changed)
    const ids = a.sensorIds();
    const key = JSON.stringify(ids.map((id) => [id, app.sensors.get(id), app.quality.get(id)]));
    if (key !== this.sensorKey) {
      this.sensorKey = key;
      f.sensors.replaceChildren(...ids.map((id) => sensorChip(id, app.sensors.get(id), app.quality.get(id))));
    }
  }
}

export class GridView {
  constructor() {
    this.columns = false;
    this.tiles = new Map();
    this.grid = $('#athletes');
    this.orderDirty = true;
  }

  added(a) {
    const tile = new Tile(a);
    this.tiles.set(a.id, tile);
    this.grid.append(tile.node);
    this.orderDirty = true;
    $('[data-testid="empty"]').hidden = true;
  }

  changed(a) {
    const tile = this.tiles.get(a.id);
    if (!tile) return;
    tile.dirty = true;
    if (String(a.severity) !== tile.node.dataset.severity) this.orderDirty = true;
  }

  removed(a) {
    this.tiles.get(a.id)?.node.remove();
    this.tiles.delete(a.id);
    $('[data-testid="empty"]').hidden = this.tiles.size > 0;
  }

  render() {
    for (const tile of this.tiles.values()) tile.render();
    if (this.orderDirty) {
      this.orderDirty = false;
      // Most severe first; then by name, so the order is stable.
      const order = [...this.tiles.values()].sort(
        (x, y) => y.a.severity - x.a.severity || x.a.name.localeCompare(y.a.name) || x.a.id.localeCompare(y.a.id),
      );
      const current = [...this.grid.children];
      if (order.some((t, i) => current[i] !== t.node)) {
        for (const t of order) this.grid.append(t.node);
      }
    }
  }
}
