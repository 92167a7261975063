// calfload protocol runner page: follows one run (polling its JSON), shows the stage, the
// repetition count and a metronome (visual; WebAudio beeps when ticked), then the result.
// Every value goes into the page through textContent, never as HTML.

const POLL_MS = 500;

function el(tag, text, attrs = {}) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  return node;
}

function fmt(v, digits = 1) {
  if (v === null || v === undefined) return '–';
  return typeof v === 'number' ? v.toFixed(digits).replace(/\.0+$/, '') : String(v);
}

function stageRow(s) {
  if (s.run) {
    const r = s.run;
    return [s.name, `${r.steps} steps · ${fmt(r.cadence_spm)} spm`,
      `GCT L ${fmt(r.left.gct_ms)} / R ${fmt(r.right.gct_ms)} ms`,
      `Achilles L ${fmt(r.left.achilles_force_bw, 2)} / R ${fmt(r.right.achilles_force_bw, 2)} BW`,
      `GCT symmetry ${fmt(r.symmetry_pct.gct_ms, 2)} %`];
  }
  if (s.heel_rise) {
    const h = s.heel_rise;
    return [s.name, `${h.reps} reps (stop: ${h.stop_reason})`,
      `peak height ${fmt(h.peak_height_m === null ? null : h.peak_height_m * 100)} cm`,
      `work ${fmt(h.total_work_j, 0)} J`, `decline ${fmt(h.height_decline_pct)} %`];
  }
  if (s.hops) {
    const h = s.hops;
    return [s.name, `${h.hops} hops`, `contact ${fmt(h.contact_ms, 0)} ms`,
      `height ${fmt(h.height_m === null ? null : h.height_m * 100)} cm`, `RSI ${fmt(h.rsi, 2)}`];
  }
  if (s.heel_drop) {
    const d = s.heel_drop;
    return [s.name, `${d.reps} / ${fmt(d.target_reps)} heel drops`, d.complete ? 'complete' : 'incomplete', '', ''];
  }
  return null;
}

function renderResult(box, result) {
  box.replaceChildren();
  box.append(el('h2', result.complete ? 'Result' : 'Result (incomplete)'));
  const table = el('table', null, { 'data-testid': 'result-table' });
  const body = el('tbody');
  for (const s of result.stages) {
    const cells = stageRow(s);
    if (!cells) continue;
    const tr = el('tr', null, { 'data-stage': String(s.index) });
    for (const c of cells) tr.append(el('td', c));
    body.append(tr);
  }
  table.append(body);
  box.append(table);
  const extra = el('ul', null, { 'data-testid': 'result-extra' });
  for (const [k, v] of Object.entries(result.symmetry || {})) extra.append(el('li', `${k}: ${fmt(v)}`));
  for (const n of result.norms || []) {
    extra.append(el('li', `${n.side || ''} ${n.metric}: ${fmt(n.value, 0)} vs norm ${fmt(n.norm, 0)} (${n.band}) — ${n.source}`));
  }
  box.append(extra);
}

class Metronome {
  constructor(dot, sound) {
    this.dot = dot;
    this.sound = sound;
    this.ctx = null;
    this.period = 0;
    this.origin = 0;
    this.last = -1;
    requestAnimationFrame(() => this.frame());
  }

  set(bpm, originS) {
    this.period = bpm ? 60 / bpm : 0;
    this.origin = originS;
  }

  frame() {
    if (this.period > 0) {
      const t = Date.now() / 1000 - this.origin;
      const beat = Math.floor(t / this.period);
      this.dot.classList.toggle('on', t - beat * this.period < 0.12);
      if (beat !== this.last && beat >= 0) {
        this.last = beat;
        if (this.sound.checked) this.click(beat % 2 === 0);
      }
    } else {
      this.dot.classList.remove('on');
    }
    requestAnimationFrame(() => this.frame());
  }

  click(up) {
    try {
      this.ctx = this.ctx || new AudioContext();
      const osc = this.ctx.createOscillator();
      const gain = this.ctx.createGain();
      osc.frequency.value = up ? 1320 : 880;
      gain.gain.setValueAtTime(0.3, this.ctx.currentTime);
      gain.gain.exponentialRampToValueAtTime(0.001, this.ctx.currentTime + 0.08);
      osc.connect(gain).connect(this.ctx.destination);
      osc.start();
      osc.stop(this.ctx.currentTime + 0.09);
    } catch (e) {
      this.sound.checked = false; // no audio here: keep the visual beat only
    }
  }
}

function follow(section) {
  const id = section.dataset.run;
  const q = (name) => section.querySelector(`[data-testid="${name}"]`);
  const metronome = new Metronome(q('beat'), q('metronome-sound'));
  let timer = null;

  async function poll() {
    let data;
    try {
      const response = await fetch(`/protocols/runs/${encodeURIComponent(id)}`, { cache: 'no-store' });
      if (!response.ok) {
        q('run-state').textContent = response.status === 404 ? 'unknown run' : `error ${response.status}`;
        return;
      }
      data = await response.json();
    } catch (e) {
      q('run-state').textContent = 'connection lost, retrying…';
      timer = setTimeout(poll, 2000);
      return;
    }
    section.dataset.state = data.state;
    q('run-title').textContent = `${data.title} · ${data.athlete}`;
    q('run-state').textContent = data.state === 'failed' ? `failed: ${data.error}` : data.state;
    const stage = data.stage;
    if (stage) {
      q('stage-name').textContent = stage.stage;
      q('stage-count').textContent = `stage ${stage.stage_index + 1} of ${data.stages}`;
      q('stage-cue').textContent = stage.cue || '';
      metronome.set(data.state === 'running' ? stage.metronome_bpm : 0, stage.t_s);
    }
    q('reps').textContent = data.reps === null || data.reps === undefined ? '–' : String(data.reps);
    if (data.result) {
      renderResult(q('result'), data.result);
      const stop = q('stop-form');
      if (stop) stop.hidden = true;
    }
    if (data.state === 'running') timer = setTimeout(poll, POLL_MS);
  }
  poll();
  return () => clearTimeout(timer);
}

document.addEventListener('DOMContentLoaded', () => {
  const section = document.getElementById('run');
  if (section && section.dataset.run) follow(section);
});
