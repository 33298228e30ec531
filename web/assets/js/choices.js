// Choices the export forms share: call directions and the tenant's users.
import * as api from './api.js';
import { h } from './dom.js';
import { userName } from './format.js';

export const DIRECTIONS = [['', 'Any direction'], ['inbound', 'Inbound'], ['outbound', 'Outbound'],
  ['internal', 'Internal']];

export function directionSelect(id) {
  return h('select', { id }, DIRECTIONS.map(([v, t]) => h('option', { value: v }, t)));
}

// loadUsers is the tenant's users as [uuid, name], by name.
export async function loadUsers(signal) {
  const list = await api.request('GET', api.paths.users(), { query: { limit: 1000 }, signal });
  return list.items.map((u) => [u.uuid, userName(u)]).sort((a, b) => a[1].localeCompare(b[1]));
}

// userSelect is a select of "Any user" and then the users, once known.
export function userSelect(id, users) {
  const sel = h('select', { id }, h('option', { value: '' }, 'Any user'));
  users.then((list) => sel.append(...list.map(([uuid, name]) => h('option', { value: uuid }, name))), () => {});
  return sel;
}
