// The Call Recordings page: filters, the server-paged and -sorted table,
// the inline player, and what to do with a selection.
import * as api from './api.js';
import { h, field, message, announce } from './dom.js';
import { isoStartOfDay, userName } from './format.js';
import { recordingsTable } from './table.js';
import { Player } from './player.js';
import { showCall } from './detail.js';
import { deleteRecording, deleteCalls, exportZip } from './actions.js';
import { dashboardStrip } from './dashboard.js';
import { livePanel } from './live.js';

const PAGE_SIZES = [10, 25, 50, 100];

export function recordingsPage(root) {
  const state = { limit: 25, offset: 0, order: 'start', direction: 'desc', search: '', from: '', until: '',
    user: '', call_direction: '', recorded: 'true' };
  const selected = new Map(); // cdr id → cdr, across pages
  let users = new Map(); // user uuid → name
  let loading = null;
  let exporting = null;
  const player = new Player();
  const dash = dashboardStrip();
  const live = livePanel();
  const msg = message('status');
  const tableWrap = h('div', { class: 'table-wrap' });
  const pageInfo = h('span', { class: 'page-info', id: 'page-info', 'aria-live': 'polite' });

  // Filters.
  const search = h('input', { type: 'search', id: 'f-search', name: 'search', placeholder: 'Name or number' });
  const from = h('input', { type: 'date', id: 'f-from', name: 'from' });
  const until = h('input', { type: 'date', id: 'f-until', name: 'until' });
  const user = h('select', { id: 'f-user', name: 'user' }, h('option', { value: '' }, 'Any user'));
  const direction = h('select', { id: 'f-direction', name: 'call_direction' },
    [['', 'Any direction'], ['inbound', 'Inbound'], ['outbound', 'Outbound'], ['internal', 'Internal']]
      .map(([v, t]) => h('option', { value: v }, t)));
  const recorded = h('select', { id: 'f-recorded', name: 'recorded' },
    [['true', 'Recorded calls'], ['', 'All calls'], ['false', 'Calls not recorded']]
      .map(([v, t]) => h('option', { value: v }, t)));
  const size = h('select', { id: 'f-limit', name: 'limit' },
    PAGE_SIZES.map((n) => h('option', { value: n, props: { selected: n === state.limit } }, String(n))));
  const filters = h('form', { class: 'filters', role: 'search', 'aria-label': 'Find calls',
    onsubmit: (e) => { e.preventDefault(); applyFilters(); } },
  field('Search', search, { class: 'field grow' }),
  field('From', from), field('Until', until),
  api.isUser() ? null : field('User', user),
  field('Direction', direction), field('Show', recorded),
  h('button', { type: 'submit', class: 'primary' }, 'Search'),
  h('button', { type: 'reset', onclick: () => setTimeout(applyFilters) }, 'Clear'));
  for (const el of [from, until, user, direction, recorded]) el.addEventListener('change', applyFilters);
  let typing = 0;
  search.addEventListener('input', () => {
    clearTimeout(typing);
    typing = setTimeout(applyFilters, 350);
  });
  size.addEventListener('change', () => { state.limit = Number(size.value); state.offset = 0; load(); });

  function applyFilters() {
    clearTimeout(typing);
    Object.assign(state, { search: search.value.trim(), from: from.value, until: until.value, user: user.value,
      call_direction: direction.value, recorded: recorded.value, offset: 0 });
    load();
  }

  // Paging.
  const prev = h('button', { type: 'button', id: 'page-prev', onclick: () => turn(-1) }, 'Previous page');
  const next = h('button', { type: 'button', id: 'page-next', onclick: () => turn(1) }, 'Next page');
  const pager = h('nav', { class: 'pager', 'aria-label': 'Pages' }, prev, pageInfo, next,
    field('Rows per page', size, { class: 'field inline' }));
  function turn(d) {
    state.offset = Math.max(0, state.offset + d * state.limit);
    load();
  }

  // Selection.
  const selInfo = h('span', { id: 'selection-info' });
  const zip = h('button', { type: 'button', id: 'selection-zip', onclick: () => zipSelection() }, 'Download zip');
  const delSel = h('button', { type: 'button', id: 'selection-delete', class: 'danger', hidden: api.isUser(),
    onclick: () => deleteSelection() }, 'Delete');
  const clearSel = h('button', { type: 'button', onclick: () => { selected.clear(); redraw(); } }, 'Clear selection');
  const progress = h('progress', { id: 'export-progress', max: 1, value: 0, hidden: true,
    'aria-label': 'Export progress' });
  const progressText = h('span', { id: 'export-status', role: 'status' });
  const selBar = h('section', { class: 'selection', 'aria-label': 'Selected calls', hidden: true },
    selInfo, api.isUser() ? null : zip, delSel, clearSel, progress, progressText);

  root.append(
    h('h1', {}, api.isUser() ? 'My call recordings' : 'Call Recordings'),
    dash.el, live.el, filters, msg, player.el, selBar, tableWrap, pager);

  let last = { items: [], total: 0, filtered: 0 };

  async function load() {
    if (loading) loading.abort();
    const ctl = new AbortController();
    loading = ctl;
    root.setAttribute('aria-busy', 'true');
    const query = { limit: state.limit, offset: state.offset, order: state.order, direction: state.direction,
      search: state.search, from: state.from && isoStartOfDay(state.from),
      until: state.until && isoStartOfDay(state.until, 1), user_uuid: state.user,
      call_direction: state.call_direction, recorded: state.recorded };
    try {
      last = await api.request('GET', api.paths.cdrList(), { query, signal: ctl.signal });
      msg.set('');
      redraw();
    } catch (e) {
      if (e.name === 'AbortError') return;
      msg.set(e.message, 'error');
    } finally {
      if (loading === ctl) {
        loading = null;
        root.removeAttribute('aria-busy');
      }
    }
  }

  function redraw() {
    const focusedRow = document.activeElement?.closest?.('tr[data-cdr-id]')?.dataset.cdrId;
    tableWrap.replaceChildren(recordingsTable(last.items, { users, state, selected, on }));
    if (focusedRow) tableWrap.querySelector(`tr[data-cdr-id="${focusedRow}"]`)?.focus();
    const count = last.filtered;
    const pages = Math.max(1, Math.ceil(count / state.limit));
    const page = Math.floor(state.offset / state.limit) + 1;
    pageInfo.textContent = `Page ${page} of ${pages} · ${count} ${count === 1 ? 'call' : 'calls'}`;
    prev.disabled = state.offset === 0;
    next.disabled = state.offset + state.limit >= count;
    selBar.hidden = selected.size === 0 && !exporting;
    selInfo.textContent = `${selected.size} selected`;
    zip.disabled = delSel.disabled = selected.size === 0 || !!exporting;
  }

  const on = {
    sort(key) {
      if (state.order === key) state.direction = state.direction === 'asc' ? 'desc' : 'asc';
      else Object.assign(state, { order: key, direction: key === 'start' || key === 'duration' ? 'desc' : 'asc' });
      state.offset = 0;
      load().then(() => tableWrap.querySelector(`th[data-sort="${key}"] button`)?.focus());
    },
    select(cdr, on) {
      if (on) selected.set(cdr.id, cdr);
      else selected.delete(cdr.id);
      redraw();
    },
    selectPage(items, on) {
      for (const c of items) {
        if (on) selected.set(c.id, c);
        else selected.delete(c.id);
      }
      redraw();
    },
    play(cdr, rec) {
      player.play(cdr, rec);
      announce(`Playing call ${cdr.id}`);
    },
    async remove(cdr, rec) {
      try {
        if (!await deleteRecording(cdr, rec)) return;
        player.stop(rec.uuid);
        msg.set(`The recording of call ${cdr.id} was deleted.`);
        dash.load();
        await load();
      } catch (e) {
        msg.set(e.message, 'error');
      }
    },
    async show(cdr) {
      try {
        await showCall(cdr, () => load());
      } catch (e) {
        msg.set(e.message, 'error');
      }
    },
  };

  async function zipSelection() {
    const ids = [...selected.keys()];
    exporting = new AbortController();
    progress.hidden = false;
    progress.removeAttribute('value'); // indeterminate until the total is known
    progressText.textContent = 'Preparing the zip…';
    redraw();
    try {
      const uuid = await exportZip(ids, (st) => {
        if (st.files_total > 0) {
          progress.max = st.files_total;
          progress.value = st.files_done;
        }
        progressText.textContent = `Preparing the zip: ${st.files_done} of ${st.files_total || '?'} files`;
      }, exporting.signal);
      progress.max = 1;
      progress.value = 1;
      progressText.textContent = 'The zip is ready; its download has started.';
      progressText.dataset.export = uuid;
    } catch (e) {
      if (e.name !== 'AbortError') progressText.textContent = e.message;
    } finally {
      exporting = null;
      redraw();
    }
  }

  async function deleteSelection() {
    const ids = [...selected.keys()];
    try {
      if (!await deleteCalls(ids)) return;
      for (const c of selected.values()) for (const r of c.recordings || []) player.stop(r.uuid);
      selected.clear();
      msg.set(`The recordings of ${ids.length} ${ids.length === 1 ? 'call were' : 'calls were'} deleted.`);
      dash.load();
      await load();
    } catch (e) {
      msg.set(e.message, 'error');
    }
  }

  async function loadUsers() {
    if (api.isUser()) return;
    try {
      const list = await api.request('GET', api.paths.users(), { query: { limit: 1000 } });
      users = new Map(list.items.map((u) => [u.uuid, userName(u)]));
      const sorted = [...users.entries()].sort((a, b) => a[1].localeCompare(b[1]));
      user.replaceChildren(h('option', { value: '' }, 'Any user'),
        ...sorted.map(([id, name]) => h('option', { value: id }, name)));
    } catch (e) {
      msg.set(e.message, 'error');
    }
  }

  dash.load();
  live.start();
  loadUsers().then(load);
  return () => {
    if (loading) loading.abort();
    if (exporting) exporting.abort();
    clearTimeout(typing);
    live.dispose();
    player.dispose();
  };
}
