// Pieces more than one view shows.

import { el, fmt } from './dom.js';

export const METRIC_LABELS = {
  achilles_force_bw: 'Achilles',
  gct_ms: 'GCT',
  peak_force_bw: 'peak force',
  push_off_impulse_ns: 'push-off',
};

// The symmetry index to show: the most asymmetric of the metrics the alert watches
// (calfload.dashboard.alerts.SYMMETRY_METRICS), so the bar and the alert agree.
export function symmetryOf(a) {
  const sym = a.watch?.symmetry_pct ?? {};
  let best = null;
  for (const key of Object.keys(METRIC_LABELS)) {
    const value = sym[key];
    if (typeof value === 'number' && (best === null || Math.abs(value) > Math.abs(best.value))) {
      best = { key, label: METRIC_LABELS[key], value };
    }
  }
  return best;
}

// Cumulative calf load against the athlete's budget.
export function loadText(a) {
  const load = a.summary?.load;
  const alarmAt = a.watch?.thresholds?.budget_pct ?? 100;
  if (!load) return { text: '–', pct: null, level: 'ok', short: '–', unit: '' };
  const pct = load.budget_used_pct;
  if (typeof pct === 'number') {
    const level = pct >= alarmAt ? 'alarm' : pct >= 0.9 * alarmAt ? 'warn' : 'ok';
    return { text: `${fmt(pct)}% of budget`, pct, level, short: fmt(pct), unit: '% of budget' };
  }
  const bws = load.achilles_impulse_bws;
  return { text: `${fmt(bws)} BW·s (no budget)`, pct: null, level: 'ok', short: fmt(bws), unit: 'BW·s (no budget set)' };
}

export function sensorChip(id, availability, quality) {
  const state = availability?.state ?? 'unknown';
  const side = availability?.side ?? quality?.side;
  const loss = quality ? `${fmt(quality.loss_pct, 1)}%` : '';
  const battery = typeof availability?.battery_pct === 'number' ? ` · ${fmt(availability.battery_pct)}% batt` : '';
  const chip = el(
    'span',
    { class: `chip ${state}`, 'data-testid': 'sensor', 'data-sensor': id, 'data-state': state },
    `${side === 'left' ? 'L' : side === 'right' ? 'R' : '?'} ${loss}${battery}`.trim(),
  );
  const parts = [id, availability?.family, state, availability?.reason];
  if (quality) parts.push(`loss ${fmt(quality.loss_pct, 2)}%`, `${fmt(quality.effective_fs_hz, 1)} Hz`, `longest gap ${fmt(quality.longest_gap_s, 2)} s`);
  parts.push(typeof availability?.battery_pct === 'number' ? `battery ${fmt(availability.battery_pct)}%` : 'battery not reported');
  chip.title = parts.filter(Boolean).join(' · ');
  return chip;
}
