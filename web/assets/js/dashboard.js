// The dashboard strip over the recordings: recordings per day for the last
// 30 days, the storage used and free against its floor, and the PBX link.
import * as api from './api.js';
import { h } from './dom.js';
import { bytes, clock } from './format.js';

export function dashboardStrip() {
  const chart = h('div', { class: 'bars', role: 'img', id: 'dash-days' });
  const days = h('div', { class: 'dash-card' }, h('h2', {}, 'Recordings, last 30 days'), chart,
    h('p', { class: 'dash-note', id: 'dash-days-note' }));
  const meter = h('meter', { id: 'dash-storage', min: 0, max: 1, value: 0 });
  const storageText = h('p', { class: 'dash-note', id: 'dash-storage-note' });
  const storage = h('div', { class: 'dash-card' },
    h('h2', {}, h('label', { for: 'dash-storage' }, 'Storage free')), meter, storageText);
  const pbxText = h('p', { id: 'dash-pbx', class: 'pbx' });
  const pbx = h('div', { class: 'dash-card' }, h('h2', {}, 'PBX'), pbxText);
  const el = h('section', { class: 'dashboard', 'aria-label': 'Dashboard', hidden: true }, days, storage, pbx);

  async function load() {
    let d;
    try {
      d = await api.request('GET', api.paths.dashboard());
    } catch {
      el.hidden = true; // the strip is a summary: the page works without it
      return;
    }
    el.hidden = false;
    const perDay = d.recordings_per_day || [];
    const most = Math.max(1, ...perDay.map((x) => x.count));
    const total = perDay.reduce((n, x) => n + x.count, 0);
    const secs = perDay.reduce((n, x) => n + x.seconds, 0);
    chart.replaceChildren(...perDay.map((x) => {
      const bar = h('span', { class: 'bar', title: `${x.day}: ${x.count} recordings, ${clock(x.seconds)}`,
        dataset: { day: x.day, count: x.count } });
      bar.style.height = `${Math.round((x.count / most) * 100)}%`;
      return bar;
    }));
    const busiest = perDay.reduce((a, x) => (x.count > (a?.count ?? -1) ? x : a), null);
    chart.setAttribute('aria-label', `${total} recordings in 30 days` +
      (busiest && busiest.count ? `, most on ${busiest.day} (${busiest.count})` : ''));
    chart.dataset.total = String(total);
    days.querySelector('.dash-note').textContent = `${total} recordings, ${clock(secs)} in all`;

    const s = d.storage || {};
    const all = (s.used_bytes || 0) + (s.free_bytes || 0);
    meter.max = Math.max(1, all);
    meter.value = s.free_bytes || 0;
    meter.low = s.min_free_bytes || 0;
    meter.optimum = meter.max;
    const low = s.free_bytes < s.min_free_bytes;
    storageText.textContent = `${bytes(s.free_bytes)} free, recordings use ${bytes(s.used_bytes)}; ` +
      `new recordings stop below ${bytes(s.min_free_bytes)}${low ? ' — below it now' : ''}`;
    storageText.dataset.kind = low ? 'error' : '';

    const linked = !!d.pbx?.linked;
    pbxText.textContent = linked ? 'Linked' : `Not linked${d.pbx?.error ? `: ${d.pbx.error}` : ''}`;
    pbxText.dataset.linked = String(linked);
  }

  return { el, load };
}
