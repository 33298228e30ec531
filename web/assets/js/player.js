// The inline player: an <audio> element on the recording's playable route
// (the session cookie authenticates the browser's own GET, Range
// included), with the waveform under it.
import * as api from './api.js';
import { h, message } from './dom.js';
import { clock, party, when } from './format.js';
import { Waveform } from './waveform.js';

export class Player {
  constructor() {
    this.title = h('h2', { class: 'player-title', id: `player-title-${Math.random().toString(36).slice(2)}` });
    this.audio = h('audio', { controls: true, preload: 'auto', class: 'player-audio' });
    this.canvas = h('canvas', { class: 'waveform', role: 'img', 'aria-label': 'Waveform of the recording' });
    this.time = h('span', { class: 'player-time', 'aria-hidden': 'true' });
    this.msg = message('status');
    this.pauses = h('span', { class: 'player-pauses' });
    this.el = h('section', { class: 'player', 'aria-labelledby': this.title.id, hidden: true },
      this.title, this.audio, this.canvas, h('div', { class: 'player-foot' }, this.time, this.pauses, this.msg));
    this.wave = new Waveform(this.canvas, (s) => this.seek(s));
    const tick = () => {
      this.wave.setPosition(this.audio.currentTime, this.audio.duration);
      this.time.textContent = `${clock(this.audio.currentTime)} / ${clock(this.audio.duration)}`;
    };
    for (const ev of ['timeupdate', 'seeked', 'loadedmetadata', 'durationchange']) {
      this.audio.addEventListener(ev, tick);
    }
    this.audio.addEventListener('error', () => {
      if (this.audio.getAttribute('src')) this.msg.set('This recording cannot be played in the browser.', 'error');
    });
    this.loading = null;
  }

  // play loads one recording of a call and starts it.
  async play(cdr, rec) {
    this.el.hidden = false;
    this.el.dataset.cdrId = String(cdr.id);
    this.el.dataset.recordingUuid = rec.uuid;
    this.title.textContent = `Call ${cdr.id}: ${party(cdr.source_name, cdr.source_extension)} → ` +
      `${party(cdr.destination_name, cdr.destination_extension)}, ${when(rec.start_time)}`;
    this.msg.set('');
    this.audio.src = api.paths.playable(cdr.id, rec.uuid);
    this.wave.set(null);
    this.wave.setPosition(0);
    this.pauses.textContent = '';
    this.loadWaveform(cdr, rec);
    try {
      await this.audio.play();
    } catch (e) {
      // Autoplay may be refused (no user gesture) and a newer load aborts
      // this one: the controls are there to start it by hand.
      if (e.name !== 'AbortError' && e.name !== 'NotAllowedError') {
        this.msg.set('This recording cannot be played in the browser.', 'error');
      }
    }
  }

  async loadWaveform(cdr, rec) {
    if (this.loading) this.loading.abort();
    const ctl = new AbortController();
    this.loading = ctl;
    try {
      const data = await api.request('GET', api.paths.waveform(cdr.id, rec.uuid), { signal: ctl.signal });
      if (ctl.signal.aborted) return;
      this.wave.set(data);
      this.pauses.textContent = pausesText(data.paused || [], rec.paused_intervals || []);
    } catch (e) {
      if (e.name === 'AbortError') return;
      this.msg.set(`Waveform unavailable: ${e.message}`, 'error');
    }
  }

  seek(seconds) {
    this.audio.currentTime = seconds;
  }

  // stop ends playback (the recording was deleted, the page changes).
  stop(uuid) {
    if (uuid && this.el.dataset.recordingUuid !== uuid) return;
    this.audio.pause();
    this.audio.removeAttribute('src');
    this.audio.load();
    this.el.hidden = true;
  }

  dispose() {
    this.stop();
    this.wave.dispose();
    if (this.loading) this.loading.abort();
  }
}

// pausesText says where the recording was paused: a pause left out of the
// file is an instant on its timeline (how long it lasted comes from the
// call's paused intervals); a masked one is a span of silence.
function pausesText(spans, intervals) {
  if (!spans.length) return '';
  const parts = spans.map((p, i) => {
    if (p.end - p.start >= 0.5) return `${clock(p.start)}–${clock(p.end)} (silence)`;
    const iv = intervals[i];
    const secs = iv && iv.end ? (new Date(iv.end) - new Date(iv.start)) / 1000 : null;
    return secs ? `${clock(p.start)} (${Math.round(secs)} s left out)` : clock(p.start);
  });
  return `Paused at ${parts.join(', ')}`;
}
