// The Exports page (administrators): a bulk export of every recording of
// the calls a date range and filters match (POST …/recordings/media/export),
// its progress and its zip; the past exports; and the export schedules.
import * as api from './api.js';
import { h, field, message, section, announce } from './dom.js';
import { bytes, isoStartOfDay, short } from './format.js';
import { directionSelect, loadUsers, userSelect } from './choices.js';
import { startExport, waitExport } from './actions.js';
import { schedulesSection } from './schedules.js';

const STATUS = { pending: 'Waiting', processing: 'Being built', finished: 'Finished', error: 'Failed', deleted: 'Expired' };
const PAST = 20;

export function exportsPage(root) {
  const ctl = new AbortController();
  const users = loadUsers(ctl.signal);
  const schedules = schedulesSection({ users, signal: ctl.signal });
  const past = pastExports(schedules.nameOf, ctl.signal);
  const start = newExport(users, ctl.signal, () => past.load());
  root.append(h('h1', {}, 'Exports'), start.el, past.el, schedules.el);
  users.catch((e) => { if (e.name !== 'AbortError') start.msg.set(`Users unavailable: ${e.message}`, 'error'); });
  schedules.load().finally(() => past.load());
  return () => ctl.abort();
}

function newExport(users, signal, onChange) {
  const msg = message('status');
  msg.id = 'export-msg';
  const from = h('input', { type: 'date', id: 'x-from' });
  const until = h('input', { type: 'date', id: 'x-until' });
  const user = userSelect('x-user', users);
  const direction = directionSelect('x-direction');
  const search = h('input', { type: 'search', id: 'x-search', placeholder: 'Name or number' });
  const email = h('input', { type: 'email', id: 'x-email', autocomplete: 'email', placeholder: 'Optional',
    'aria-describedby': 'x-email-hint' });
  const go = h('button', { type: 'submit', class: 'primary', id: 'export-start' }, 'Start the export');

  const progress = h('progress', { id: 'export-job-progress', max: 1, value: 0, 'aria-label': 'Progress of the export' });
  const status = h('p', { id: 'export-job-status', role: 'status' });
  const link = h('a', { class: 'button primary', id: 'export-job-download', download: '', hidden: true }, 'Download the zip');
  const job = h('div', { class: 'export-job', id: 'export-job', hidden: true }, progress, status, link);

  const form = h('form', { class: 'card settings-form', id: 'export-form', 'aria-label': 'New export',
    onsubmit: (e) => { e.preventDefault(); run(); } },
  h('p', { class: 'field-hint' }, 'Every recording of every matching call, never a deleted or still-running one, ' +
    'in one zip with manifest.csv and manifest.json. Dates are whole days in this browser\'s time; ' +
    'the Until day is included.'),
  h('div', { class: 'form-row' }, field('From', from), field('Until', until), field('User', user),
    field('Direction', direction), field('Search', search, { class: 'field grow' })),
  h('div', { class: 'form-row' }, h('div', { class: 'field grow' },
    h('label', { for: email.id }, h('span', {}, 'E-mail when ready')), email,
    h('span', { class: 'field-hint', id: 'x-email-hint' }, 'Sends a download link valid for 48 hours ' +
      '(needs the server\'s smtp settings).'))),
  h('div', { class: 'form-actions' }, go, msg),
  job);

  function show(st) {
    job.dataset.status = st.status;
    if (st.files_total > 0) {
      progress.max = st.files_total;
      progress.value = st.files_done;
    }
    status.textContent = `${STATUS[st.status] || st.status}: ${st.files_done} of ${st.files_total || '?'} files, ` +
      `${bytes(st.bytes_done)}`;
  }

  async function run() {
    if (from.value && until.value && until.value < from.value) {
      msg.set('The Until day is before the From day.', 'error');
      return;
    }
    const query = { from: from.value && isoStartOfDay(from.value), until: until.value && isoStartOfDay(until.value, 1),
      user_uuid: user.value, call_direction: direction.value, search: search.value.trim(), email: email.value.trim() };
    go.disabled = true;
    msg.set('');
    let uuid = '';
    try {
      uuid = await startExport({ query, signal });
      Object.assign(job.dataset, { export: uuid, status: 'pending' });
      job.hidden = false;
      link.hidden = true;
      progress.removeAttribute('value'); // indeterminate until the total is known
      status.textContent = 'Waiting to start…';
      onChange();
      const st = await waitExport(uuid, show, signal);
      progress.max = 1;
      progress.value = 1;
      const missing = st.files_missing ? `, ${st.files_missing} missing (see the manifest)` : '';
      status.textContent = `Finished: ${st.files_done} files${missing}.`;
      link.href = api.paths.exportDownload(uuid);
      link.replaceChildren(`Download the zip (${bytes(st.size)})`);
      link.hidden = false;
      announce('The export is ready');
      onChange();
    } catch (e) {
      if (e.name === 'AbortError') return;
      if (uuid) {
        status.textContent = e.message;
        job.dataset.status = 'error';
        onChange();
      } else {
        msg.set(e.message, 'error');
      }
    } finally {
      go.disabled = false;
    }
  }

  return { el: section('new-export', 'New export', form), msg };
}

function pastExports(nameOf, signal) {
  const msg = message('status');
  const body = h('tbody');
  let offset = 0;
  let seq = 0;
  const newer = h('button', { type: 'button', id: 'exports-newer', onclick: () => { offset = Math.max(0, offset - PAST); load(); } },
    'Newer exports');
  const older = h('button', { type: 'button', id: 'exports-older', onclick: () => { offset += PAST; load(); } },
    'Older exports');
  const refresh = h('button', { type: 'button', id: 'exports-refresh', onclick: () => load() }, 'Refresh');
  const table = h('table', { class: 'grid exports', id: 'exports-table' },
    h('caption', { class: 'sr-only' }, 'Past exports, newest first'),
    h('thead', {}, h('tr', {}, ['Requested', 'Status', 'Files', 'Size', 'Made by', 'Actions']
      .map((t) => h('th', { scope: 'col' }, t)))),
    body);
  const el = section('past-exports', 'Past exports',
    h('p', { class: 'hint' }, 'Newest first. A finished export can be downloaded until it expires.'),
    msg, h('div', { class: 'table-wrap' }, table),
    h('nav', { class: 'pager', 'aria-label': 'Pages of exports' }, newer, older, refresh));

  function row(x) {
    const when = short(x.requested_at);
    const files = `${x.files_done} of ${x.files_total}` + (x.files_missing ? `, ${x.files_missing} missing` : '');
    const by = x.schedule_uuid ? `Schedule ${nameOf(x.schedule_uuid) || x.schedule_uuid.slice(0, 8)}` : 'By hand';
    const actions = h('td', { class: 'actions', 'data-label': 'Actions' });
    if (x.status === 'finished') {
      actions.append(h('a', { class: 'button', href: api.paths.exportDownload(x.uuid), download: '' },
        'Download', h('span', { class: 'sr-only' }, ` the export of ${when}`)));
    } else {
      actions.append('—');
    }
    return h('tr', { dataset: { exportUuid: x.uuid, status: x.status } },
      h('td', { 'data-label': 'Requested', class: 'nowrap' }, h('time', { datetime: x.requested_at }, when)),
      h('td', { 'data-label': 'Status' }, STATUS[x.status] || x.status,
        x.error ? h('span', { class: 'sub' }, x.error) : null),
      h('td', { 'data-label': 'Files' }, files),
      h('td', { 'data-label': 'Size' }, x.status === 'finished' ? bytes(x.size) : '—'),
      h('td', { 'data-label': 'Made by' }, by, x.email ? h('span', { class: 'sub' }, `to ${x.email}`) : null,
        x.notify_error ? h('span', { class: 'sub' }, x.notify_error) : null),
      actions);
  }

  async function load() {
    const mine = ++seq; // a later load wins
    try {
      const list = await api.request('GET', api.paths.exports(), { query: { limit: PAST, offset }, signal });
      if (mine !== seq) return;
      body.replaceChildren(...list.items.map(row));
      if (!list.items.length) body.append(h('tr', {}, h('td', { colspan: 6, class: 'empty' }, 'No exports yet.')));
      newer.disabled = offset === 0;
      older.disabled = list.items.length < PAST; // the list has no total: a short page is the last
      table.dataset.loaded = 'true';
      msg.set('');
    } catch (e) {
      if (e.name !== 'AbortError') msg.set(e.message, 'error');
    }
  }

  return { el, load };
}
