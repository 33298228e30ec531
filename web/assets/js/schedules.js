// Export schedules (callrecd's /export-schedules): each fires by its cron,
// in the tenant's timezone, and runs an ordinary export of the window of
// days before it (a week: Monday to Monday), mailing its link. Listed,
// created, switched off and on, deleted; the API's message is shown when it
// refuses one.
import * as api from './api.js';
import { h, field, message, section, checkField, announce, markInvalid } from './dom.js';
import { confirm } from './dialog.js';
import { short } from './format.js';
import { DIRECTIONS, directionSelect, userSelect } from './choices.js';

const WINDOWS = [
  ['previous_week', 'The previous week, Monday to Monday'],
  ['previous_day', 'The previous day'],
  ['previous_month', 'The previous month'],
];
const windowLabel = Object.fromEntries(WINDOWS);
const directionLabel = Object.fromEntries(DIRECTIONS);

export function schedulesSection({ users, signal }) {
  const names = new Map(); // schedule uuid → name, for the past exports
  let userNames = new Map();
  users.then((list) => { userNames = new Map(list); }, () => {});
  const msg = message('status');
  msg.id = 'schedule-msg';
  const listMsg = message('status');
  listMsg.id = 'schedules-msg';
  const name = h('input', { id: 'sch-name', autocomplete: 'off', maxlength: 128 });
  const cron = h('input', { id: 'sch-cron', autocomplete: 'off', spellcheck: 'false', placeholder: '22 1 * * 1',
    'aria-describedby': 'sch-cron-hint' });
  const cronHint = h('span', { class: 'field-hint', id: 'sch-cron-hint' });
  const win = h('select', { id: 'sch-window' }, WINDOWS.map(([v, t]) => h('option', { value: v }, t)));
  const email = h('input', { type: 'email', id: 'sch-email', autocomplete: 'email', placeholder: 'Optional' });
  const direction = directionSelect('sch-direction');
  const user = userSelect('sch-user', users);
  const enabled = h('input', { type: 'checkbox', id: 'sch-enabled', checked: true });
  const create = h('button', { type: 'submit', class: 'primary', id: 'schedule-create' }, 'Create the schedule');
  const form = h('form', { class: 'card settings-form', id: 'schedule-form', 'aria-label': 'New schedule',
    onsubmit: (e) => { e.preventDefault(); add(); } },
  h('div', { class: 'form-row' },
    field('Name', name),
    h('div', { class: 'field' }, h('label', { for: cron.id }, h('span', {}, 'When (cron)')), cron, cronHint),
    field('Exports', win)),
  h('div', { class: 'form-row' }, field('E-mail the link to', email, { class: 'field grow' }),
    field('Direction', direction), field('User', user)),
  checkField('Enabled', enabled),
  h('div', { class: 'form-actions' }, create, msg));
  setZone('');

  const body = h('tbody');
  const table = h('table', { class: 'grid schedules', id: 'schedules-table' },
    h('caption', { class: 'sr-only' }, 'Export schedules'),
    h('thead', {}, h('tr', {}, ['Name', 'When', 'Exports', 'Calls', 'E-mail', 'Next run', 'Last run', 'State',
      'Actions'].map((t) => h('th', { scope: 'col' }, t)))),
    body);
  const el = section('schedules', 'Schedules',
    h('p', { class: 'hint' }, 'Exports made on their own, e.g. every Monday for the week before.'),
    form, listMsg, h('div', { class: 'table-wrap' }, table));
  const heading = el.querySelector('h2');
  heading.tabIndex = -1;

  const controls = { name, cron, window: win, email, 'filters.call_direction': direction, 'filters.user_uuid': user };

  function setZone(tz) {
    cronHint.replaceChildren('Five fields (minute hour day month weekday) or @daily, @weekly, @monthly, in the ' +
      `tenant's timezone${tz ? ` (${tz})` : ''}: `, h('code', {}, '22 1 * * 1'), ' is every Monday at 01:22.');
  }

  function filtersText(f = {}) {
    const parts = [];
    if (f.call_direction) parts.push(directionLabel[f.call_direction] || f.call_direction);
    for (const u of f.user_uuid || []) parts.push(userNames.get(u) || u.slice(0, 8));
    if (f.search) parts.push(`“${f.search}”`);
    if (f.number) parts.push(f.number);
    return parts.join(', ') || 'All calls';
  }

  function row(sc) {
    const actions = h('td', { class: 'actions', 'data-label': 'Actions' });
    if (sc.source === 'config') {
      actions.append('Set in the configuration file');
    } else {
      const sr = h('span', { class: 'sr-only' }, ` the schedule ${sc.name}`);
      actions.append(
        h('button', { type: 'button', dataset: { action: 'toggle' }, onclick: () => toggle(sc) },
          sc.enabled ? 'Disable' : 'Enable', sr),
        h('button', { type: 'button', class: 'danger', dataset: { action: 'delete' }, onclick: () => remove(sc) },
          'Delete', sr.cloneNode(true)));
    }
    return h('tr', { dataset: { scheduleUuid: sc.uuid, enabled: String(sc.enabled) } },
      h('th', { scope: 'row', 'data-label': 'Name' }, sc.name),
      h('td', { 'data-label': 'When' }, h('code', {}, sc.cron)),
      h('td', { 'data-label': 'Exports' }, windowLabel[sc.window] || sc.window),
      h('td', { 'data-label': 'Calls' }, filtersText(sc.filters)),
      h('td', { 'data-label': 'E-mail' }, sc.email || '—'),
      h('td', { 'data-label': 'Next run' }, sc.next_run_at ? short(sc.next_run_at) : '—'),
      h('td', { 'data-label': 'Last run' }, sc.last_run_at ? short(sc.last_run_at) : 'Never'),
      h('td', { 'data-label': 'State', class: 'schedule-state' }, sc.enabled ? 'Enabled' : 'Disabled'),
      actions);
  }

  async function load() {
    try {
      const [list, tenant] = await Promise.all([api.request('GET', api.paths.schedules(), { signal }),
        api.request('GET', api.paths.tenant(api.currentTenant()), { signal })]);
      setZone(tenant.timezone);
      names.clear();
      for (const sc of list.items) names.set(sc.uuid, sc.name);
      body.replaceChildren(...list.items.map(row));
      if (!list.items.length) body.append(h('tr', {}, h('td', { colspan: 9, class: 'empty' }, 'No schedules yet.')));
      table.dataset.loaded = 'true';
    } catch (e) {
      if (e.name !== 'AbortError') listMsg.set(e.message, 'error');
    }
  }

  async function add() {
    const filters = {};
    if (direction.value) filters.call_direction = direction.value;
    if (user.value) filters.user_uuid = [user.value];
    create.disabled = true;
    msg.set('Saving…');
    try {
      const sc = await api.request('POST', api.paths.schedules(), { body: { name: name.value.trim(),
        cron: cron.value.trim(), window: win.value, email: email.value.trim(), filters, enabled: enabled.checked } });
      form.reset();
      markInvalid(controls, null);
      msg.set(`The schedule ${sc.name} was created.`, 'ok');
      announce(`Schedule ${sc.name} created`);
      await load();
    } catch (e) {
      msg.set(e.message, 'error');
      announce(e.message);
      markInvalid(controls, e);
    } finally {
      create.disabled = false;
    }
  }

  async function toggle(sc) {
    const on = !sc.enabled;
    try {
      await api.request('PUT', api.paths.schedule(sc.uuid), { body: { name: sc.name, cron: sc.cron,
        window: sc.window, filters: sc.filters, email: sc.email, webhook: sc.webhook, directory: sc.directory,
        enabled: on } });
      listMsg.set(`The schedule ${sc.name} is ${on ? 'enabled' : 'disabled'}.`, 'ok');
      announce(`Schedule ${sc.name} ${on ? 'enabled' : 'disabled'}`);
      await load();
      body.querySelector(`tr[data-schedule-uuid="${sc.uuid}"] button[data-action=toggle]`)?.focus();
    } catch (e) {
      listMsg.set(e.message, 'error');
    }
  }

  async function remove(sc) {
    const ok = await confirm({ title: `Delete the schedule ${sc.name}?`,
      text: 'It will not run again. The exports it made stay until they expire.', action: 'Delete schedule' });
    if (!ok) return;
    try {
      await api.request('DELETE', api.paths.schedule(sc.uuid));
      listMsg.set(`The schedule ${sc.name} was deleted.`, 'ok');
      announce(`Schedule ${sc.name} deleted`);
      await load();
      heading.focus();
    } catch (e) {
      listMsg.set(e.message, 'error');
    }
  }

  return { el, load, nameOf: (id) => names.get(id) };
}
