// The runner's view: phone-sized, two large numbers (cadence, calf load against the
// budget) and one cue; optional sound. High contrast for sunlight.
//
// Cues follow the advice to prefer progressive, positive feedback over constant
// warnings (Rush 2023, as the project's peer review notes it): a reward cue when the cadence comes
// back to target, and an alarm only when a limit is newly crossed.

import { $, byTestId, fmt, setAttr, setText } from './dom.js';
import { SIDES } from './store.js';
import { loadText } from './shared.js';
import { Sound } from './audio.js';

const ON_TARGET_SPM = 2;
const CUED_KINDS = ['budget', 'asymmetry'];

export class RunnerView {
  constructor(id) {
    this.id = id;
    this.columns = false;
    this.a = null;
    this.root = $('[data-testid="runner"]');
    this.f = byTestId(this.root);
    this.sound = new Sound();
    this.alertKeys = null; // the alert kinds and levels last seen (null: none yet)
    this.onTarget = null;
    this.userSpm = null;
    this.f['sound-toggle'].addEventListener('click', () => this.toggleSound());
    this.f['metronome-spm'].addEventListener('change', () => {
      const spm = Number(this.f['metronome-spm'].value);
      if (Number.isFinite(spm) && spm > 0) {
        this.userSpm = spm;
        this.sound.setCadence(spm);
      }
    });
    this.f['metronome-on'].addEventListener('change', () => {
      this.sound.beat = this.f['metronome-on'].checked;
    });
  }

  async toggleSound() {
    const button = this.f['sound-toggle'];
    if (this.sound.running) {
      this.sound.stop();
    } else {
      this.sound.setCadence(this.targetSpm() ?? 170);
      try {
        await this.sound.start();
      } catch (err) {
        setText(this.f['runner-cue'], `No sound: ${err.message}`);
      }
    }
    setAttr(button, 'aria-pressed', String(this.sound.running));
    setText(button, this.sound.running ? 'Sound off' : 'Sound on');
  }

  targetSpm() {
    return this.userSpm ?? this.a?.watch?.thresholds?.target_cadence_spm ?? null;
  }

  added(a) {
    if (!this.id || a.id === this.id) this.a = a;
  }

  changed(a) {
    if (!this.id || a.id === this.id) {
      this.a = a;
      this.dirty = true;
    }
  }

  removed() {}

  render() {
    if (!this.a || !this.dirty) return;
    this.dirty = false;
    const a = this.a;
    const f = this.f;
    setAttr(this.root, 'data-athlete', a.id);
    setText(f['athlete-name'], a.name);
    const cadence = a.cadence();
    setText(f['runner-cadence'], fmt(cadence));
    const target = this.targetSpm();
    if (target && document.activeElement !== f['metronome-spm'] && !f['metronome-spm'].value) {
      f['metronome-spm'].value = String(Math.round(target));
    }
    if (!this.userSpm && target) this.sound.setCadence(target);
    setText(f['runner-target'], target ? `target ${fmt(target)}` : '');
    const load = loadText(a);
    setText(f['runner-load'], load.short);
    setText(f['runner-load-unit'], load.unit);
    f['runner-load-bar'].style.width = `${Math.min(100, load.pct ?? 0)}%`;
    setAttr(f['runner-load-bar'], 'data-level', load.level);
    for (const side of SIDES) setText(f[`steps-${side}`], String(a.steps(side)));
    this.renderCue(cadence, target);
  }

  renderCue(cadence, target) {
    const alerts = (this.a.watch?.alerts ?? []).filter((x) => CUED_KINDS.includes(x.kind));
    const keys = new Set(alerts.map((x) => `${x.kind}:${x.level}`));
    if (this.alertKeys !== null) {
      for (const key of keys) if (!this.alertKeys.has(key)) this.sound.cue('alarm', key);
    }
    this.alertKeys = keys;
    let text;
    let level = 'ok';
    const budget = alerts.find((x) => x.kind === 'budget');
    const asym = alerts.find((x) => x.kind === 'asymmetry');
    if (budget?.level === 'alarm') {
      text = 'Calf load budget reached: time to ease off';
      level = 'alarm';
    } else if (asym) {
      text = `Even out your stride: ${asym.text}`;
      level = 'warn';
    } else if (budget) {
      text = 'Nearly at today’s calf load budget';
      level = 'warn';
    } else if (target && typeof cadence === 'number') {
      const diff = target - cadence;
      const on = Math.abs(diff) <= ON_TARGET_SPM;
      if (on && this.onTarget === false) this.sound.cue('reward', 'cadence on target');
      this.onTarget = on;
      text = on ? 'Cadence on target, well done' : diff > 0 ? `Quicker, lighter steps: +${fmt(diff)} spm` : `A little slower: ${fmt(diff)} spm`;
    } else if (typeof cadence === 'number') {
      text = 'Running well';
    } else {
      text = 'Waiting for your first steps…';
    }
    setText(this.f['runner-cue'], text);
    setAttr(this.f['runner-cue-box'], 'data-level', level);
  }
}
