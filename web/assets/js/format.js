// How values from the API are shown.

const dateTime = new Intl.DateTimeFormat(undefined, {
  year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit',
});

export function when(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : dateTime.format(d);
}

// short is a local date and time to the minute, 2026-11-23 09:05.
export function short(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const pad = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

// clock: seconds as m:ss or h:mm:ss.
export function clock(seconds) {
  if (seconds === null || seconds === undefined || Number.isNaN(seconds)) return '—';
  const s = Math.max(0, Math.round(seconds));
  const hh = Math.floor(s / 3600);
  const mm = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return hh > 0 ? `${hh}:${String(mm).padStart(2, '0')}:${ss}` : `${mm}:${ss}`;
}

export function bytes(n) {
  if (n === null || n === undefined) return '—';
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i += 1; }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

const words = {
  inbound: 'Inbound', outbound: 'Outbound', internal: 'Internal', unknown: 'Unknown',
  policy: 'Automatic', dtmf: 'Feature code', api: 'API', sip_message: 'SIP message',
  hangup: 'Hang-up', external_to_external: 'Only outside parties left', pbx_lost: 'PBX link lost',
  failed: 'Failed', pending: 'Pending', recording: 'Recording', paused: 'Paused', stopped: 'Stopped',
  missing: 'File missing', corrupt: 'File corrupt', deleted: 'Deleted',
};

// word is the label of an API keyword (direction, state, started_by, …).
export function word(v) {
  if (!v) return '—';
  return words[v] || v;
}

// party is "Name (number)", or whichever of the two there is.
export function party(name, number) {
  if (name && number) return `${name} (${number})`;
  return name || number || '—';
}

// isoStartOfDay: a yyyy-mm-dd date at local midnight, plus days, as ISO 8601
// with this browser's offset (the API reads it as an instant).
export function isoStartOfDay(date, plusDays = 0) {
  const [y, m, d] = date.split('-').map(Number);
  const t = new Date(y, m - 1, d + plusDays, 0, 0, 0);
  const off = -t.getTimezoneOffset();
  const sign = off >= 0 ? '+' : '-';
  const abs = Math.abs(off);
  const pad = (n) => String(n).padStart(2, '0');
  return `${t.getFullYear()}-${pad(t.getMonth() + 1)}-${pad(t.getDate())}T00:00:00` +
    `${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
}

// userName is a confd user as people know them: the name, else the extension.
export function userName(u) {
  return `${u.firstname || ''} ${u.lastname || ''}`.trim() || u.extension || u.uuid;
}
