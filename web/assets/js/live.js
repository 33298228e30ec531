// The live calls panel: the calls going on now (GET /calld/calls, every
// 2 s while the page is visible), each with its recording's state and the
// buttons to start, pause, resume or stop it (PUT …/record/{verb}).
import * as api from './api.js';
import { h, message, announce } from './dom.js';
import { clock, party, word } from './format.js';

const POLL_MS = 2000;

// state is what a call's recording is doing: its latest recording's state
// (pending while the PBX has not confirmed the start), else Wazo's
// record_state.
function state(call) {
  const recs = call.recordings || [];
  const last = recs[recs.length - 1];
  if (last && ['pending', 'recording', 'paused'].includes(last.state)) return last.state;
  return call.record_state === 'active' ? 'recording' : call.record_state === 'paused' ? 'paused' : 'none';
}

const verbsFor = {
  none: ['start'], pending: ['stop'], recording: ['pause', 'stop'], paused: ['resume', 'stop'],
};
const verbLabel = { start: 'Start recording', stop: 'Stop', pause: 'Pause', resume: 'Resume' };
const stateLabel = { none: 'Not recording', pending: 'Starting…', recording: 'Recording', paused: 'Paused' };

// oneRowPerCall keeps one party channel of each call: a user's, if any.
function oneRowPerCall(items) {
  const byCall = new Map();
  for (const c of items) {
    const key = c.conversation_id || c.cdr_id || c.call_id;
    const had = byCall.get(key);
    if (!had || (!had.user_uuid && c.user_uuid)) byCall.set(key, c);
  }
  return [...byCall.values()].sort((a, b) => a.creation_time.localeCompare(b.creation_time));
}

export function livePanel() {
  const msg = message('status');
  const body = h('tbody');
  const empty = h('p', { class: 'dash-note', id: 'live-empty' }, 'No calls right now.');
  const table = h('table', { class: 'grid live', id: 'live-table', hidden: true },
    h('caption', { class: 'sr-only' }, 'Calls going on now'),
    h('thead', {}, h('tr', {}, ['Since', 'Caller', 'Talking to', 'Direction', 'Recording', 'Actions']
      .map((t) => h('th', { scope: 'col' }, t)))),
    body);
  const el = h('section', { class: 'live-panel', 'aria-labelledby': 'live-title' },
    h('h2', { id: 'live-title' }, 'Live calls'), msg, empty, h('div', { class: 'table-wrap' }, table));
  let timer = 0;
  let ctl = null;
  let stopped = false;
  let pollFailed = false;

  function row(c) {
    const st = state(c);
    const since = (Date.now() - new Date(c.answer_time || c.creation_time)) / 1000;
    const actions = h('td', { class: 'actions', 'data-label': 'Actions' },
      verbsFor[st].map((v) => h('button', { type: 'button', class: v === 'stop' ? 'danger' : v === 'start' ? 'primary' : '',
        dataset: { verb: v }, onclick: (e) => act(c, v, e.currentTarget) },
      verbLabel[v], h('span', { class: 'sr-only' }, ` for ${party(c.caller_id_name, c.caller_id_number)}`))));
    return h('tr', { dataset: { callId: c.call_id, state: st } },
      h('td', { 'data-label': 'Since' }, clock(since)),
      h('td', { 'data-label': 'Caller' }, party(c.caller_id_name, c.caller_id_number)),
      h('td', { 'data-label': 'Talking to' }, party(c.peer_caller_id_name, c.peer_caller_id_number)),
      h('td', { 'data-label': 'Direction' }, word(c.direction)),
      h('td', { 'data-label': 'Recording', class: 'live-state' }, stateLabel[st]),
      actions);
  }

  async function act(c, verb, button) {
    button.disabled = true;
    try {
      await api.request('PUT', api.paths.record(c.call_id, verb));
      msg.set('');
      announce(`${verbLabel[verb]}: done`);
    } catch (e) {
      msg.set(e.message, 'error');
    }
    poll();
  }

  async function poll() {
    clearTimeout(timer);
    if (stopped) return;
    if (ctl) ctl.abort();
    ctl = new AbortController();
    try {
      const list = await api.request('GET', api.paths.calls(), { signal: ctl.signal });
      const calls = oneRowPerCall(list.items || []);
      const focused = document.activeElement?.closest?.('#live-table tr')?.dataset.callId;
      body.replaceChildren(...calls.map(row));
      if (focused) body.querySelector(`tr[data-call-id="${CSS.escape(focused)}"] button`)?.focus();
      table.hidden = calls.length === 0;
      empty.hidden = calls.length > 0;
      if (pollFailed) msg.set('');
      pollFailed = false;
    } catch (e) {
      if (e.name === 'AbortError') return;
      pollFailed = true;
      msg.set(`Live calls unavailable: ${e.message}`, 'error');
    }
    if (!stopped) timer = setTimeout(poll, document.hidden ? POLL_MS * 5 : POLL_MS);
  }

  const onVisible = () => { if (!document.hidden) poll(); };
  document.addEventListener('visibilitychange', onVisible);
  return {
    el,
    start: poll,
    dispose() {
      stopped = true;
      clearTimeout(timer);
      if (ctl) ctl.abort();
      document.removeEventListener('visibilitychange', onVisible);
    },
  };
}
