/**
 * The one clock of simulation playback: every overlay (vehicles, residents, pipes, flooding,
 * density) will read the same simulated time, before and after alike, so a comparison
 * stays in step. Play/pause, speed (1× to 600× real time) and scrub.
 *
 * Until simulation results are loaded (simulations.js calls `setDuration` with the longest
 * shown), the clock bar stays hidden and the clock holds at t = 0. Overlays subscribe
 * with `onTick(listener)`, called with the time in seconds after every change.
 */
import { t, onLanguageChange } from './i18n.js';

export const SPEEDS = [1, 10, 60, 120, 300, 600];

export class Clock {
  constructor() {
    this.time = 0;          // simulated seconds since the start of the results
    this.duration = 0;      // seconds of results loaded; 0 = nothing to play
    this.speed = 60;        // simulated seconds per real second
    this.playing = false;
    this.listeners = new Set();
    this.lastFrame = 0;
    this.frameRequest = 0;
  }

  onTick(listener) {
    this.listeners.add(listener);
  }

  notify() {
    for (const listener of this.listeners) listener(this.time, this);
  }

  setDuration(seconds) {
    this.duration = Math.max(0, Number(seconds) || 0);
    this.setTime(Math.min(this.time, this.duration));
  }

  /** Jump to `seconds` (clamped to the results); what `window.__setTime` calls. */
  setTime(seconds) {
    const value = Number(seconds);
    this.time = Math.min(this.duration, Math.max(0, Number.isFinite(value) ? value : 0));
    this.notify();
    return this.time;
  }

  setSpeed(speed) {
    if (!SPEEDS.includes(speed)) throw new Error(`speed ${speed} is not one of ${SPEEDS}`);
    this.speed = speed;
    this.notify();
  }

  play() {
    if (this.playing || this.duration <= 0) return;
    if (this.time >= this.duration) this.time = 0;
    this.playing = true;
    this.lastFrame = performance.now();
    // performance.now(), not the frame's timestamp: headless Chromium's frame times can run
    // seconds ahead of the page clock, which would jump playback forward on the first frame.
    const advance = () => {
      if (!this.playing) return;
      const now = performance.now();
      this.setTime(this.time + ((now - this.lastFrame) / 1000) * this.speed);
      this.lastFrame = now;
      if (this.time >= this.duration) this.pause();
      else this.frameRequest = requestAnimationFrame(advance);
    };
    this.frameRequest = requestAnimationFrame(advance);
    this.notify();
  }

  pause() {
    this.playing = false;
    cancelAnimationFrame(this.frameRequest);
    this.notify();
  }

  toggle() {
    if (this.playing) this.pause();
    else this.play();
  }
}

function formatTime(seconds) {
  const whole = Math.floor(seconds);
  const h = Math.floor(whole / 3600);
  const m = Math.floor((whole % 3600) / 60);
  const s = whole % 60;
  return `${h}:${String(m).padStart(2, '0')}:${String(s).padStart(2, '0')}`;
}

/** Wire the clock bar (play button, speed select, scrub slider, time readout) to `clock`. */
export function bindClockBar(clock, bar) {
  const play = bar.querySelector('.clock-play');
  const speed = bar.querySelector('.clock-speed');
  const scrub = bar.querySelector('.clock-scrub');
  const readout = bar.querySelector('.clock-time');
  speed.replaceChildren(...SPEEDS.map((value) => new Option(`${value}×`, String(value))));
  play.addEventListener('click', () => clock.toggle());
  speed.addEventListener('change', () => clock.setSpeed(Number(speed.value)));
  scrub.addEventListener('input', () => clock.setTime(Number(scrub.value)));
  const show = () => {
    bar.hidden = clock.duration <= 0;
    // (‖, not ⏸: the screening fonts have no glyph for the media symbol)
    play.textContent = clock.playing ? `‖ ${t('clock.pause')}` : `▶ ${t('clock.play')}`;
    speed.value = String(clock.speed);
    scrub.max = String(clock.duration);
    scrub.value = String(clock.time);
    readout.textContent = `${formatTime(clock.time)} / ${formatTime(clock.duration)}`;
  };
  clock.onTick(show);
  onLanguageChange(show);
  show();
}
