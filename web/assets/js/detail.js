// "Show call": the call's details and every one of its recordings, each
// with its own player, download and delete.
import * as api from './api.js';
import { h, message, announce } from './dom.js';
import { modal } from './dialog.js';
import { bytes, clock, party, when, word } from './format.js';
import { Player } from './player.js';
import { playable, canDelete, downloadHref, deleteRecording } from './actions.js';

// showCall opens the call's dialog; onChange runs after a deletion.
export async function showCall(row, onChange) {
  let cdr = row;
  if (!api.isUser()) cdr = await api.request('GET', api.paths.cdr(row.id));
  const player = new Player();
  const msg = message('status');
  const facts = h('dl', { class: 'facts' });
  const add = (k, v) => facts.append(h('dt', {}, k), h('dd', {}, v));
  add('Start', when(cdr.start));
  add('Answered', cdr.answer ? when(cdr.answer) : 'Not answered');
  add('End', when(cdr.end));
  add('Duration', clock(cdr.duration));
  add('Direction', word(cdr.call_direction));
  add('From', party(cdr.source_name, cdr.source_extension));
  add('To', party(cdr.destination_name, cdr.destination_extension));
  if (cdr.conversation_id) add('PBX call id', cdr.conversation_id);
  if (cdr.tags?.length) add('Tags', cdr.tags.join(', '));

  const tbody = h('tbody');
  const table = h('table', { class: 'grid recordings-of-call' },
    h('caption', {}, `Recordings (${cdr.recordings.length})`),
    h('thead', {}, h('tr', {}, ['Start', 'Duration', 'Format', 'Size', 'State', 'Started by', 'Stop reason',
      'Paused', 'Actions'].map((t) => h('th', { scope: 'col' }, t)))),
    tbody);
  const fill = () => {
    tbody.replaceChildren();
    cdr.recordings.forEach((rec, i) => tbody.append(recordingRow(cdr, rec, i)));
  };
  const recordingRow = (c, rec, i) => {
    const state = rec.deleted ? 'deleted' : rec.state;
    const actions = h('td', { class: 'actions', 'data-label': 'Actions' });
    if (playable(rec)) {
      actions.append(h('button', { type: 'button', onclick: () => player.play(c, rec) },
        'Play', h('span', { class: 'sr-only' }, ` recording ${i + 1}`)));
      actions.append(h('a', { class: 'button', href: downloadHref(c, rec), download: '' },
        'Download', h('span', { class: 'sr-only' }, ` recording ${i + 1}`)));
    }
    if (canDelete(rec)) {
      actions.append(h('button', { type: 'button', class: 'danger',
        onclick: async () => {
          try {
            if (!await deleteRecording(c, rec)) return;
            player.stop(rec.uuid);
            rec.deleted = true;
            fill();
            msg.set('Recording deleted.');
            announce('Recording deleted');
            onChange();
          } catch (e) {
            msg.set(e.message, 'error');
          }
        } }, 'Delete', h('span', { class: 'sr-only' }, ` recording ${i + 1}`)));
    }
    const paused = (rec.paused_intervals || []).map((p) => `${when(p.start)} – ${when(p.end)}`).join('; ');
    return h('tr', { dataset: { recordingUuid: rec.uuid } },
      h('td', { 'data-label': 'Start' }, when(rec.start_time)),
      h('td', { 'data-label': 'Duration' }, clock(rec.duration)),
      h('td', { 'data-label': 'Format' }, (rec.format || '—').toUpperCase()),
      h('td', { 'data-label': 'Size' }, bytes(rec.size)),
      h('td', { 'data-label': 'State' }, word(state), rec.failure_reason ? ` (${rec.failure_reason})` : ''),
      h('td', { 'data-label': 'Started by' }, word(rec.started_by)),
      h('td', { 'data-label': 'Stop reason' }, word(rec.stop_reason)),
      h('td', { 'data-label': 'Paused' }, paused || '—'),
      actions);
  };
  fill();
  const m = modal({
    title: `Call ${cdr.id}`,
    body: [facts, msg, h('div', { class: 'table-wrap' }, table), player.el],
    className: 'call-detail',
  });
  m.dialog.dataset.cdrId = String(cdr.id);
  await m.done;
  player.dispose();
}
