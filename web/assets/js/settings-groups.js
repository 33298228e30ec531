// Ring groups and queues: whether the member who answers a call through
// one may toggle its recording with *3 (confd's dtmf_record_toggle, saved
// with PUT /confd/1.1/groups|queues/{uuid}).
import * as api from './api.js';
import { h, message, section, saving } from './dom.js';

const KINDS = {
  group: { title: 'Ring groups', one: 'group', variable: 'CALLRECD_GROUP (FreeSWITCH: callrecd_group)' },
  queue: { title: 'Queues', one: 'queue', variable: 'CALLRECD_QUEUE (FreeSWITCH: callrecd_queue)' },
};

export function groupsSection(kind) {
  const k = KINDS[kind];
  const msg = message('status');
  const body = h('tbody');
  const el = section(`${kind}s`, k.title,
    h('p', { class: 'hint' }, `Whether the member who answers a call through a ${k.one} may start and stop its ` +
      `recording with *3, whatever that member's own on-demand setting is. The PBX names the ${k.one} ` +
      `in ${k.variable}.`),
    msg,
    h('div', { class: 'table-wrap' },
      h('table', { class: 'grid groups', id: `${kind}s-table` },
        h('caption', { class: 'sr-only' }, `${k.title} and their *3 setting`),
        h('thead', {}, h('tr', {}, ['Name', 'Label', 'Members', '*3 by the member', 'Save']
          .map((t) => h('th', { scope: 'col' }, t)))),
        body)));
  let ctl = null;

  function row(g) {
    const name = g.label || g.name;
    const status = message('status');
    status.id = `${kind}-status-${g.uuid}`;
    const box = h('input', { type: 'checkbox', id: `dtmf-${g.uuid}`, props: { checked: !!g.dtmf_record_toggle },
      'aria-describedby': status.id });
    const save = h('button', { type: 'button', class: 'primary', onclick: () => saving(save, status,
      `The ${k.one} ${name}`, () => api.request('PUT', api.paths.group(kind, g.uuid),
        { body: { dtmf_record_toggle: box.checked } })) },
    'Save', h('span', { class: 'sr-only' }, ` ${k.one} ${name}`));
    const members = g.members?.users?.length || 0;
    return h('tr', { dataset: { groupUuid: g.uuid, kind } },
      h('th', { scope: 'row', 'data-label': 'Name' }, g.name),
      h('td', { 'data-label': 'Label' }, g.label || '—'),
      h('td', { 'data-label': 'Members' }, String(members)),
      h('td', { 'data-label': '*3 by the member' },
        h('label', { for: box.id, class: 'check' }, box,
          h('span', { class: 'sr-only' }, `Let the member reached through ${k.one} ${name} record with *3`))),
      h('td', { 'data-label': 'Save' }, save, status));
  }

  async function load() {
    ctl = new AbortController();
    try {
      const list = await api.request('GET', api.paths.groups(kind), { signal: ctl.signal });
      body.replaceChildren(...list.items.map(row));
      if (!list.items.length) {
        body.append(h('tr', {}, h('td', { colspan: 5, class: 'empty' }, `No ${k.one}s in this tenant.`)));
      }
      if (list.total > list.items.length) {
        msg.set(`Showing the first ${list.items.length} of ${list.total} ${k.one}s.`);
      }
      body.closest('table').dataset.loaded = 'true';
    } catch (e) {
      if (e.name !== 'AbortError') msg.set(e.message, 'error');
    }
  }

  return { el, load, dispose: () => { if (ctl) ctl.abort(); } };
}
