// The users part of the settings: the four automatic-recording flags
// (confd's call_record_*_enabled), on-demand recording and the extension,
// saved with PUT /confd/1.1/users/{uuid}. The API's message is shown when it
// refuses a value.
import * as api from './api.js';
import { h, field, message, section, saving } from './dom.js';
import { userName } from './format.js';

const FLAGS = [
  ['call_record_incoming_internal_enabled', 'Incoming internal', (n) => `Record incoming internal calls of ${n}`],
  ['call_record_incoming_external_enabled', 'Incoming external', (n) => `Record incoming external calls of ${n}`],
  ['call_record_outgoing_internal_enabled', 'Outgoing internal', (n) => `Record outgoing internal calls of ${n}`],
  ['call_record_outgoing_external_enabled', 'Outgoing external', (n) => `Record outgoing external calls of ${n}`],
  ['online_call_record_enabled', 'On demand (*3)', (n) => `Let ${n} record on demand`],
];

const PAGE = 50;

export function usersSection() {
  const msg = message('status');
  const search = h('input', { type: 'search', id: 'users-search', placeholder: 'Name or extension' });
  const body = h('tbody');
  const info = h('span', { class: 'page-info', 'aria-live': 'polite' });
  let offset = 0;
  let total = 0;
  let ctl = null;
  const prev = h('button', { type: 'button', onclick: () => { offset = Math.max(0, offset - PAGE); load(); } },
    'Previous page', h('span', { class: 'sr-only' }, ' of users'));
  const next = h('button', { type: 'button', onclick: () => { offset += PAGE; load(); } },
    'Next page', h('span', { class: 'sr-only' }, ' of users'));

  const el = section('users', 'Users',
    h('p', { class: 'hint' }, 'Which calls of each user are recorded automatically, and whether they may record ' +
      'on demand. Changes apply to the next call.'),
    h('form', { class: 'filters', role: 'search', 'aria-label': 'Find users',
      onsubmit: (e) => { e.preventDefault(); offset = 0; load(); } },
    field('Search users', search, { class: 'field grow' }),
    h('button', { type: 'submit', class: 'primary' }, 'Search')),
    msg,
    h('div', { class: 'table-wrap' },
      h('table', { class: 'grid users', id: 'users-table' },
        h('caption', { class: 'sr-only' }, 'Users and their recording settings'),
        h('thead', {}, h('tr', {},
          h('th', { scope: 'col' }, 'User'),
          h('th', { scope: 'col' }, 'Extension'),
          FLAGS.map(([, t]) => h('th', { scope: 'col' }, t)),
          h('th', { scope: 'col' }, 'Save'))),
        body)),
    h('nav', { class: 'pager', 'aria-label': 'Pages of users' }, prev, info, next));

  async function load() {
    if (ctl) ctl.abort();
    ctl = new AbortController();
    try {
      const list = await api.request('GET', api.paths.users(),
        { query: { limit: PAGE, offset, search: search.value.trim() }, signal: ctl.signal });
      total = list.total;
      body.replaceChildren(...list.items.map(userRow));
      if (!list.items.length) body.append(h('tr', {}, h('td', { colspan: FLAGS.length + 3 }, 'No users match.')));
      const pages = Math.max(1, Math.ceil(total / PAGE));
      info.textContent = `Page ${Math.floor(offset / PAGE) + 1} of ${pages} · ${total} users`;
      prev.disabled = offset === 0;
      next.disabled = offset + PAGE >= total;
      msg.set('');
    } catch (e) {
      if (e.name !== 'AbortError') msg.set(e.message, 'error');
    }
  }

  function userRow(u) {
    const name = userName(u);
    const status = message('status');
    const exten = h('input', { id: `exten-${u.uuid}`, value: u.extension, size: 8, inputmode: 'tel',
      autocomplete: 'off', 'aria-describedby': `status-${u.uuid}` });
    status.id = `status-${u.uuid}`;
    const boxes = FLAGS.map(([key]) => h('input', { type: 'checkbox', id: `${key}-${u.uuid}`,
      dataset: { flag: key }, props: { checked: !!u[key] } }));
    const save = h('button', { type: 'button', class: 'primary', onclick: () => saving(save, status,
      `Settings of ${name}`, async () => {
        const change = { extension: exten.value.trim() };
        FLAGS.forEach(([key], i) => { change[key] = boxes[i].checked; });
        await api.request('PUT', api.paths.user(u.uuid), { body: change });
      }) }, 'Save', h('span', { class: 'sr-only' }, ` ${name}`));
    return h('tr', { dataset: { userUuid: u.uuid } },
      h('th', { scope: 'row', 'data-label': 'User' }, name),
      h('td', { 'data-label': 'Extension' },
        h('label', { for: exten.id, class: 'sr-only' }, `Extension of ${name}`), exten),
      FLAGS.map(([, title, label], i) => h('td', { 'data-label': title },
        h('label', { for: boxes[i].id, class: 'check' }, boxes[i], h('span', { class: 'sr-only' }, label(name))))),
      h('td', { 'data-label': 'Save' }, save, status));
  }

  return { el, load, dispose: () => { if (ctl) ctl.abort(); } };
}
