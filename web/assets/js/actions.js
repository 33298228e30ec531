// What can be done with recordings: pick the one a row stands for,
// download, delete (after a confirmation), and, for a selection, a zip
// through the export API with its progress, or delete them all.
import * as api from './api.js';
import { confirm } from './dialog.js';

// primary is the recording a call's row stands for: its first one that
// still has a file, else its first.
export function primary(cdr) {
  const recs = cdr.recordings || [];
  return recs.find((r) => !r.deleted) || recs[0] || null;
}

// playable: a recording with a finished file to listen to.
export function playable(rec) {
  return !!rec && !rec.deleted && ['stopped', 'recording', 'paused'].includes(rec.state) && rec.size > 0;
}

export function canDelete(rec) {
  return !api.isUser() && !!rec && !rec.deleted && rec.state !== 'recording' && rec.state !== 'paused';
}

// downloadHref is the recording's media route, as an attachment.
export function downloadHref(cdr, rec) {
  return api.paths.download(cdr.id, rec.uuid);
}

// deleteRecording asks, then deletes; true when it was deleted.
export async function deleteRecording(cdr, rec) {
  const ok = await confirm({
    title: 'Delete this recording?',
    text: `The recording of call ${cdr.id} (${rec.filename || rec.uuid}) will be deleted for good. ` +
      'The call stays in the history.',
    action: 'Delete recording',
  });
  if (!ok) return false;
  await api.request('DELETE', api.paths.media(cdr.id, rec.uuid));
  return true;
}

// deleteCalls asks, then deletes every recording of these calls.
export async function deleteCalls(ids) {
  const ok = await confirm({
    title: `Delete the recordings of ${ids.length} ${ids.length === 1 ? 'call' : 'calls'}?`,
    text: 'Every recording of the selected calls will be deleted for good. The calls stay in the history.',
    action: 'Delete recordings',
  });
  if (!ok) return false;
  await api.request('DELETE', api.paths.bulkDelete(), { body: { cdr_ids: ids } });
  return true;
}

const sleep = (ms, signal) => new Promise((resolve, reject) => {
  const t = setTimeout(resolve, ms);
  signal?.addEventListener('abort', () => { clearTimeout(t); reject(new DOMException('aborted', 'AbortError')); },
    { once: true });
});

// startExport asks the server for a zip of the recordings of the calls the
// query's filters (and the optional call ids) match; it returns the job's uuid.
export async function startExport({ query, cdrIDs, signal } = {}) {
  const job = await api.request('POST', api.paths.exportCreate(),
    { query, body: cdrIDs ? { cdr_ids: cdrIDs } : {}, signal });
  return job.uuid;
}

// waitExport reports the job's status (files done of total) while it is
// built and resolves with its last status once finished.
export async function waitExport(uuid, onProgress, signal) {
  for (;;) {
    const st = await api.request('GET', api.paths.export(uuid), { signal });
    onProgress(st);
    if (st.status === 'finished') return st;
    if (st.status === 'error' || st.status === 'deleted') {
      throw new api.ApiError(500, { message: `The export failed: ${st.error || st.status}` });
    }
    await sleep(400, signal);
  }
}

// download has the browser fetch a URL as a file (the session cookie
// authenticates it).
export function download(href) {
  const a = document.createElement('a');
  a.href = href;
  a.download = '';
  document.body.append(a);
  a.click();
  a.remove();
}

// exportZip zips these calls' recordings through the export API, reports
// progress while it is built, then downloads it.
export async function exportZip(ids, onProgress, signal) {
  const uuid = await startExport({ cdrIDs: ids, signal });
  onProgress({ status: 'pending', files_done: 0, files_total: 0 });
  await waitExport(uuid, onProgress, signal);
  download(api.paths.exportDownload(uuid));
  return uuid;
}
