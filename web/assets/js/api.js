// The REST client: the page calls the same API as every other client,
// authenticated by the session cookie the sign-in set. Every request that
// changes something carries the session's CSRF token; a system account
// names the tenant it acts on (Wazo-Tenant, or ?tenant= in a URL the
// browser fetches by itself: <audio src>, a download link).

const CALL_LOGD = '/api/call-logd/1.0';
const CALLD = '/api/calld/1.0';
const CONFD = '/api/confd/1.1';
const OWN = '/api/callrecd/1.0';

let session = null; // {username, role, tenant_uuid, user_uuid, csrf_token, expires_at}
let tenant = ''; // the tenant a system account acts on

// ApiError carries Wazo's error body: message is what the user is shown.
export class ApiError extends Error {
  constructor(status, body) {
    const msg = (body && typeof body.message === 'string' && body.message) ||
      `The server answered ${status}.`;
    super(msg);
    this.status = status;
    this.errorID = body && body.error_id;
    this.details = (body && body.details) || {};
  }
}

export function getSession() { return session; }
export function isUser() { return session?.role === 'user'; }
export function isSystem() { return session?.role === 'system'; }
export function setTenant(t) { tenant = t || ''; }
export function getTenant() { return tenant; }
// currentTenant is the tenant the page acts on: the account's, or the one a
// system account picked.
export function currentTenant() { return isSystem() ? tenant : session?.tenant_uuid || ''; }

function url(path, query) {
  const u = new URL(path, location.origin);
  for (const [k, v] of Object.entries(query || {})) {
    if (v !== undefined && v !== null && v !== '') u.searchParams.set(k, String(v));
  }
  return u;
}

// request sends one API call and returns its JSON (null for 204); an error
// answer throws ApiError. onUnauthorized runs when the session has ended.
export async function request(method, path, { query, body, signal } = {}) {
  const headers = new Headers({ Accept: 'application/json' });
  if (body !== undefined) headers.set('Content-Type', 'application/json');
  if (method !== 'GET' && method !== 'HEAD' && session?.csrf_token) {
    headers.set('X-CSRF-Token', session.csrf_token);
  }
  if (isSystem() && tenant) headers.set('Wazo-Tenant', tenant);
  let res;
  try {
    res = await fetch(url(path, query), {
      method, headers, signal, credentials: 'same-origin',
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new ApiError(0, { message: 'The server cannot be reached. Check your connection and try again.' });
  }
  const text = res.status === 204 ? '' : await res.text();
  let data = null;
  if (text) {
    try { data = JSON.parse(text); } catch { data = null; }
  }
  if (!res.ok) {
    const err = new ApiError(res.status, data);
    err.retryAfter = Number(res.headers.get('Retry-After')) || 0;
    if (res.status === 401 && session && !path.endsWith('/session')) onUnauthorized(err);
    throw err;
  }
  return data;
}

let onUnauthorized = () => {};
export function whenUnauthorized(fn) { onUnauthorized = fn; }

// The session.
const SIGNED_IN = 'callrecd.signedIn'; // a hint only: the cookie is HttpOnly

export async function signIn(credentials) {
  session = await request('POST', `${OWN}/session`, { body: credentials });
  localStorage.setItem(SIGNED_IN, '1');
  return session;
}

// resume returns the current session, or null when there is none. Without
// the hint that this browser signed in, nobody is asked (no 401 to log).
export async function resume() {
  if (!localStorage.getItem(SIGNED_IN)) return null;
  try {
    session = await request('GET', `${OWN}/session`);
    return session;
  } catch (e) {
    if (e.status === 401) {
      localStorage.removeItem(SIGNED_IN);
      return null;
    }
    throw e;
  }
}

export async function signOut() {
  try {
    await request('DELETE', `${OWN}/session`);
  } finally {
    session = null;
    localStorage.removeItem(SIGNED_IN);
  }
}

export function forget() {
  session = null;
  localStorage.removeItem(SIGNED_IN);
}

// Paths, by the account's role: a user reads the users/me forms.
const me = () => (isUser() ? '/users/me' : '');

// withTenant adds ?tenant= for URLs the browser loads without our headers.
function withTenant(path, query = {}) {
  const q = { ...query };
  if (isSystem() && tenant) q.tenant = tenant;
  const u = url(path, q);
  return u.pathname + u.search;
}

export const paths = {
  cdrList: () => `${CALL_LOGD}${me()}/cdr`,
  cdr: (id) => `${CALL_LOGD}/cdr/${id}`,
  media: (id, rec) => `${CALL_LOGD}${me()}/cdr/${id}/recordings/${rec}/media`,
  download: (id, rec) => withTenant(paths.media(id, rec), { disposition: 'attachment' }),
  playable: (id, rec) => withTenant(`${OWN}${me()}/cdr/${id}/recordings/${rec}/playable`),
  waveform: (id, rec) => `${OWN}${me()}/cdr/${id}/recordings/${rec}/waveform`,
  bulkDelete: () => `${CALL_LOGD}/cdr/recordings/media`,
  exportCreate: () => `${CALL_LOGD}/cdr/recordings/media/export`,
  export: (id) => `${CALL_LOGD}/exports/${id}`,
  exportDownload: (id) => withTenant(`${CALL_LOGD}/exports/${id}/download`),
  exports: () => `${OWN}/exports`,
  schedules: () => `${OWN}/export-schedules`,
  schedule: (id) => `${OWN}/export-schedules/${id}`,
  users: () => `${CONFD}/users`,
  user: (id) => `${CONFD}/users/${id}`,
  groups: (kind) => `${CONFD}/${kind}s`,
  group: (kind, id) => `${CONFD}/${kind}s/${id}`,
  features: () => `${CONFD}/extensions/features`,
  feature: (id) => `${CONFD}/extensions/features/${id}`,
  tenants: () => `${OWN}/tenants`,
  tenant: (id) => `${OWN}/tenants/${id}`,
  retention: () => `${CALL_LOGD}/retention`,
  openapi: () => '/api/openapi.json',
  calls: () => `${CALLD}${me()}/calls`,
  record: (callID, verb) => `${CALLD}${me()}/calls/${encodeURIComponent(callID)}/record/${verb}`,
  dashboard: () => `${OWN}${me()}/dashboard`,
};
