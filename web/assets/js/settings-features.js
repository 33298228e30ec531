// Feature codes (confd's /extensions/features): each one on or off and
// its code, saved with PUT /confd/1.1/extensions/features/{id}. callrecd
// reads *3, *48 and *49 in the call's digits itself, so a change applies at
// once; *26 is dialled as a call, so the PBX's dialplan must follow.
import * as api from './api.js';
import { h, message, section, saving } from './dom.js';

const FEATURES = {
  callrecord: ['Toggle my automatic recording', 'dialled as a call: turns the caller\'s own automatic recording on or off'],
  onlinerec: ['Record on demand', 'during a call: starts, pauses or stops its recording'],
  pauserecord: ['Pause the recording', 'during a call'],
  resumerecord: ['Resume the recording', 'during a call'],
};

// dialplan is what the PBX needs for a *26 code (README: "Pointing it at
// an existing Asterisk" and "… FreeSWITCH").
const dialplan = (code) => `exten => ${code},1,Stasis(callrecd,feature,callrecord)`;

export function featuresSection() {
  const msg = message('status');
  const body = h('tbody');
  const note = h('p', { class: 'note', id: 'feature-dialplan-note' },
    h('strong', {}, 'Changing the *26 code also needs a dialplan change on the PBX. '),
    'callrecd reads *3, *48 and *49 in the call\'s digits itself, so a new code or switch applies at once. ',
    '*26 is a dialplan extension: a new code also needs ', h('code', {}, dialplan('<code>')),
    ' in the Asterisk dialplan (on FreeSWITCH, the *26 extension of dialplan_callrecd.xml), ',
    'and switching it off here does not remove it from the dialplan: do that there too.');
  const el = section('features', 'Feature codes',
    h('p', { class: 'hint' }, 'The codes the people on the phones dial.'),
    note, msg,
    h('div', { class: 'table-wrap' },
      h('table', { class: 'grid features', id: 'features-table' },
        h('caption', { class: 'sr-only' }, 'Feature codes'),
        h('thead', {}, h('tr', {}, ['Feature', 'Code', 'On', 'Save'].map((t) => h('th', { scope: 'col' }, t)))),
        body)));
  let ctl = null;

  function row(f) {
    const [title, what] = FEATURES[f.feature] || [f.feature, ''];
    const status = message('status');
    status.id = `feature-status-${f.id}`;
    const exten = h('input', { id: `feature-exten-${f.id}`, value: f.exten, size: 6, autocomplete: 'off',
      spellcheck: 'false', 'aria-describedby': status.id });
    const on = h('input', { type: 'checkbox', id: `feature-enabled-${f.id}`, props: { checked: !!f.enabled },
      'aria-describedby': status.id });
    let saved = f.exten;
    const save = h('button', { type: 'button', class: 'primary', onclick: () => saving(save, status, title, async () => {
      const code = exten.value.trim();
      await api.request('PUT', api.paths.feature(f.id), { body: { exten: code, enabled: on.checked } });
      const moved = code !== saved;
      saved = code;
      if (f.feature === 'callrecord' && moved) return `Saved. Now change the PBX's dialplan: ${dialplan(code)}`;
      return 'Saved.';
    }) }, 'Save', h('span', { class: 'sr-only' }, ` ${title}`));
    return h('tr', { dataset: { featureId: f.id, feature: f.feature } },
      h('th', { scope: 'row', 'data-label': 'Feature' }, h('div', {}, title, h('span', { class: 'sub' }, what))),
      h('td', { 'data-label': 'Code' }, h('label', { for: exten.id, class: 'sr-only' }, `Code of ${title}`), exten),
      h('td', { 'data-label': 'On' }, h('label', { for: on.id, class: 'check' }, on,
        h('span', { class: 'sr-only' }, `${title} is on`))),
      h('td', { 'data-label': 'Save' }, save, status));
  }

  async function load() {
    ctl = new AbortController();
    try {
      const list = await api.request('GET', api.paths.features(), { signal: ctl.signal });
      body.replaceChildren(...list.items.map(row));
      body.closest('table').dataset.loaded = 'true';
    } catch (e) {
      if (e.name !== 'AbortError') msg.set(e.message, 'error');
    }
  }

  return { el, load, dispose: () => { if (ctl) ctl.abort(); } };
}
