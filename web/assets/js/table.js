// The recordings table: one row per call (the server pages and sorts
// calls), its columns from the call and the recording the row stands for.
import * as api from './api.js';
import { h } from './dom.js';
import { bytes, clock, party, short, when, word } from './format.js';
import { primary, playable, canDelete, downloadHref } from './actions.js';

// The columns; sort is the API's order key for the sortable ones.
const columns = [
  { key: 'start', title: 'Start', sort: 'start', nowrap: true },
  { key: 'duration', title: 'Duration', sort: 'duration' },
  { key: 'from', title: 'From', sort: 'source_name' },
  { key: 'to', title: 'To', sort: 'destination_name' },
  { key: 'direction', title: 'Direction', sort: 'call_direction' },
  { key: 'user', title: 'User' },
  { key: 'file', title: 'File', sort: 'recording_size', nowrap: true }, // format and size
  { key: 'state', title: 'State', sort: 'recording_state' },
  { key: 'started_by', title: 'Started by', sort: 'recording_started_by' },
  { key: 'stop_reason', title: 'Stop reason', sort: 'recording_stop_reason' },
];

// userNames are the internal users of the call, by name where known.
function userNames(cdr, users) {
  const out = [];
  const add = (id, fallback) => {
    if (!id) return;
    const name = users.get(id) || fallback || id.slice(0, 8);
    if (!out.includes(name)) out.push(name);
  };
  add(cdr.source_user_uuid, cdr.source_internal_name || cdr.source_name);
  add(cdr.destination_user_uuid, cdr.destination_details?.user_name || cdr.destination_name);
  return out.join(', ') || '—';
}

// who is a party as its name with its number under it.
function who(name, number) {
  if (name && number) return [name, h('span', { class: 'sub' }, number)];
  return name || number || '—';
}

function cell(col, cdr, rec, users) {
  const recs = cdr.recordings || [];
  switch (col.key) {
    case 'start': return h('time', { datetime: cdr.start, title: when(cdr.start) }, short(cdr.start));
    case 'duration': return clock(cdr.duration);
    case 'from': return who(cdr.source_name, cdr.source_extension);
    case 'to': return who(cdr.destination_name, cdr.destination_extension);
    case 'direction': return word(cdr.call_direction);
    case 'user': return userNames(cdr, users);
    case 'file': return rec ? [(rec.format || '—').toUpperCase(), h('span', { class: 'sub' }, bytes(rec.size))] : '—';
    case 'state': {
      if (!rec) return 'Not recorded';
      const s = word(rec.deleted ? 'deleted' : rec.state);
      return recs.length > 1 ? `${s} (+${recs.length - 1} more)` : s;
    }
    case 'started_by': return rec ? word(rec.started_by) : '—';
    case 'stop_reason': return rec ? word(rec.stop_reason) : '—';
    default: return '';
  }
}

// recordingsTable renders the page of calls. state has order/direction;
// selected is a Map of cdr id → cdr; on holds the callbacks.
export function recordingsTable(items, { users, state, selected, on }) {
  const sr = (t) => h('span', { class: 'sr-only' }, t);
  const selectable = !api.isUser(); // a selection is for a zip or a deletion: an administrator's
  const all = h('input', { type: 'checkbox', id: 'select-page',
    props: { checked: items.length > 0 && items.every((c) => selected.has(c.id)) },
    onchange: (e) => on.selectPage(items, e.target.checked) });
  const head = h('tr', {},
    selectable ? h('th', { scope: 'col', class: 'select' }, h('label', { for: 'select-page' },
      sr('Select every call on this page')), all) : null,
    columns.map((col) => {
      if (!col.sort) return h('th', { scope: 'col' }, col.title);
      const active = state.order === col.sort;
      const dir = active ? state.direction : 'none';
      const aria = { asc: 'ascending', desc: 'descending', none: 'none' }[dir];
      return h('th', { scope: 'col', 'aria-sort': aria, dataset: { sort: col.sort } },
        h('button', { type: 'button', class: 'sort', onclick: () => on.sort(col.sort) },
          col.title, h('span', { class: 'sort-mark', 'aria-hidden': 'true' },
            { asc: ' ▲', desc: ' ▼', none: '' }[dir]),
          sr(active ? `, sorted ${aria}` : ', sort')));
    }),
    h('th', { scope: 'col' }, 'Actions'));

  const body = h('tbody');
  for (const cdr of items) {
    const rec = primary(cdr);
    const canPlay = playable(rec);
    const box = h('input', { type: 'checkbox', id: `select-${cdr.id}`, props: { checked: selected.has(cdr.id) },
      onchange: (e) => on.select(cdr, e.target.checked) });
    const actions = h('td', { class: 'actions', 'data-label': 'Actions' });
    if (canPlay) {
      actions.append(
        h('button', { type: 'button', class: 'play', onclick: () => on.play(cdr, rec) }, 'Play', sr(` call ${cdr.id}`)),
        h('a', { class: 'button', href: downloadHref(cdr, rec), download: '' }, 'Download', sr(` call ${cdr.id}`)));
    }
    if (canDelete(rec)) {
      actions.append(h('button', { type: 'button', class: 'danger', onclick: () => on.remove(cdr, rec) },
        'Delete', sr(` the recording of call ${cdr.id}`)));
    }
    actions.append(h('button', { type: 'button', onclick: () => on.show(cdr) }, 'Show call', sr(` ${cdr.id}`)));
    const tr = h('tr', {
      tabindex: 0,
      class: canPlay ? 'playable' : '',
      dataset: { cdrId: cdr.id },
      'aria-label': `Call ${cdr.id}, ${when(cdr.start)}, ${party(cdr.source_name, cdr.source_extension)} to ` +
        `${party(cdr.destination_name, cdr.destination_extension)}${canPlay ? '. Enter plays it.' : ''}`,
      ondblclick: (e) => {
        if (canPlay && !e.target.closest('button, a, input, label')) on.play(cdr, rec);
      },
      onkeydown: (e) => {
        if (e.key === 'Enter' && e.target === tr && canPlay) {
          e.preventDefault();
          on.play(cdr, rec);
        }
      },
    },
    selectable ? h('td', { class: 'select', 'data-label': 'Select' },
      h('label', { for: box.id }, sr(`Select call ${cdr.id}`)), box) : null,
    columns.map((col) => h('td', { 'data-label': col.title, dataset: { col: col.key },
      class: col.nowrap ? 'nowrap' : null }, cell(col, cdr, rec, users))),
    actions);
    body.append(tr);
  }
  if (!items.length) {
    body.append(h('tr', {}, h('td', { colspan: columns.length + (selectable ? 2 : 1), class: 'empty' }, 'No calls match.')));
  }
  const caption = api.isUser() ? 'Your calls' : 'Calls';
  return h('table', { class: 'grid recordings', id: 'recordings-table' },
    h('caption', { class: 'sr-only' }, caption), h('thead', {}, head), body);
}
