// The waveform of a recording on a <canvas>: the peaks from the API's
// waveform route, the paused spans marked, the part already played in
// another colour. A click seeks.
import { clock } from './format.js';

const colours = {
  wave: '#5b6b7f',
  played: '#0b57d0',
  paused: 'rgba(179, 38, 30, 0.18)',
  pausedEdge: '#b3261e',
  cursor: '#0b1f3a',
};

export class Waveform {
  constructor(canvas, onSeek) {
    this.canvas = canvas;
    this.data = null; // {duration, peaks, paused}
    this.position = 0;
    this.onSeek = onSeek;
    canvas.addEventListener('click', (e) => {
      if (!this.data || !this.duration()) return;
      const r = canvas.getBoundingClientRect();
      const frac = Math.min(1, Math.max(0, (e.clientX - r.left) / r.width));
      this.onSeek(frac * this.duration());
    });
    this.resize = () => this.draw();
    window.addEventListener('resize', this.resize);
  }

  dispose() {
    window.removeEventListener('resize', this.resize);
  }

  duration() {
    return this.mediaDuration || this.data?.duration || 0;
  }

  set(data) {
    this.data = data;
    const spans = (data?.paused || []).map((p) => `${clock(p.start)} to ${clock(p.end)}`);
    this.canvas.setAttribute('aria-label', spans.length
      ? `Waveform of the recording, paused from ${spans.join(', ')}`
      : 'Waveform of the recording');
    this.canvas.dataset.peaks = String(data?.peaks?.length || 0);
    this.canvas.dataset.paused = String(data?.paused?.length || 0);
    this.draw();
  }

  setPosition(seconds, mediaDuration) {
    this.position = seconds;
    if (Number.isFinite(mediaDuration) && mediaDuration > 0) this.mediaDuration = mediaDuration;
    this.draw();
  }

  draw() {
    const c = this.canvas;
    const ratio = window.devicePixelRatio || 1;
    const width = Math.max(1, Math.round(c.clientWidth * ratio));
    const height = Math.max(1, Math.round(c.clientHeight * ratio));
    if (c.width !== width || c.height !== height) {
      c.width = width;
      c.height = height;
    }
    const g = c.getContext('2d');
    g.clearRect(0, 0, width, height);
    const peaks = this.data?.peaks || [];
    const total = this.duration();
    if (!peaks.length || !total) return;
    const x = (s) => (s / total) * width;
    const mid = height / 2;
    const step = width / peaks.length;
    const played = x(this.position);
    for (let i = 0; i < peaks.length; i += 1) {
      const px = i * step;
      const amp = Math.max(ratio, Math.min(1, Math.max(0, peaks[i])) * (height / 2 - ratio));
      g.fillStyle = px < played ? colours.played : colours.wave;
      g.fillRect(px, mid - amp, Math.max(ratio, step * 0.7), amp * 2);
    }
    for (const p of this.data.paused || []) {
      // A pause left out of the file is an instant: a marker with a flag.
      const x0 = x(p.start);
      const x1 = Math.max(x0 + 3 * ratio, x(p.end));
      g.fillStyle = colours.paused;
      g.fillRect(x0, 0, x1 - x0, height);
      g.fillStyle = colours.pausedEdge;
      g.fillRect(x0, 0, 2 * ratio, height);
      g.fillRect(x1 - 2 * ratio, 0, 2 * ratio, height);
      g.beginPath();
      g.moveTo(x0, 0);
      g.lineTo(x0 + 8 * ratio, 0);
      g.lineTo(x0, 8 * ratio);
      g.fill();
    }
    g.fillStyle = colours.cursor;
    g.fillRect(Math.min(width - ratio, played), 0, ratio * 2, height);
  }
}
