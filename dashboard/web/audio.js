// Optional sound for the runner view, made in the browser (WebAudio): a metronome
// at a target cadence, and short cues when an alert starts. Browsers allow sound
// only after a user gesture, so it starts from the "Sound on" button.
//
// The metronome schedules its clicks slightly ahead on the audio clock (the
// look-ahead pattern from Chris Wilson, 2013, "A Tale of Two Clocks", web.dev),
// so timer jitter on a busy phone does not make the beat uneven.

import { hooks } from './store.js';

const LOOKAHEAD_S = 0.15;
const TICK_MS = 25;

export class Sound {
  constructor() {
    this.ctx = null;
    this.spm = 170;
    this.beat = true;
    this.next = 0;
    this.timer = null;
  }

  get running() {
    return this.timer !== null;
  }

  async start() {
    const Ctx = window.AudioContext || window.webkitAudioContext;
    if (!Ctx) throw new Error('this browser has no WebAudio');
    this.ctx ??= new Ctx();
    await this.ctx.resume();
    this.next = this.ctx.currentTime + 0.1;
    clearInterval(this.timer);
    this.timer = setInterval(() => this.tick(), TICK_MS);
    hooks.audio.running = true;
  }

  stop() {
    clearInterval(this.timer);
    this.timer = null;
    this.ctx?.suspend();
    hooks.audio.running = false;
  }

  setCadence(spm) {
    if (Number.isFinite(spm) && spm >= 60 && spm <= 260) this.spm = spm;
  }

  tick() {
    const ctx = this.ctx;
    const ahead = ctx.currentTime + LOOKAHEAD_S;
    if (this.next < ctx.currentTime - 1) this.next = ctx.currentTime + 0.05; // woke from a pause
    while (this.next < ahead) {
      if (this.beat) {
        this.tone(this.next, 1400, 0.03, 0.25, 'square');
        hooks.audio.beats++;
      }
      this.next += 60 / this.spm;
    }
  }

  tone(at, hz, length_s, volume, type = 'sine') {
    const ctx = this.ctx;
    const osc = ctx.createOscillator();
    const gain = ctx.createGain();
    osc.type = type;
    osc.frequency.value = hz;
    gain.gain.setValueAtTime(volume, at);
    gain.gain.exponentialRampToValueAtTime(0.001, at + length_s);
    osc.connect(gain).connect(ctx.destination);
    osc.start(at);
    osc.stop(at + length_s + 0.02);
  }

  // kind: "alarm" (falling tones: a limit was crossed) or "reward" (rising: back on target)
  cue(kind, why) {
    hooks.audio.cues.push(why);
    if (!this.running) return;
    const t = this.ctx.currentTime + 0.05;
    const notes = kind === 'reward' ? [660, 880] : [880, 523, 392];
    notes.forEach((hz, i) => this.tone(t + i * 0.18, hz, 0.16, 0.5, 'triangle'));
  }
}
