// The page's entry: finds the session, shows the sign-in form or the
// requested page, and keeps the header (navigation, tenant, sign-out).
import * as api from './api.js';
import { h, clear, announce } from './dom.js';
import { signInPage } from './signin.js';
import { recordingsPage } from './recordings.js';
import { settingsPage } from './settings.js';
import { exportsPage } from './exports.js';

const main = document.getElementById('main');
const top = document.getElementById('top');

const routes = {
  recordings: { path: '/ui/', title: 'Call Recordings', render: recordingsPage },
  settings: { path: '/ui/settings', title: 'Recording settings', render: settingsPage, admin: true },
  exports: { path: '/ui/exports', title: 'Exports', render: exportsPage, admin: true },
};

function routeOf(pathname) {
  const rest = pathname.replace(/^\/ui\/?/, '').replace(/\/$/, '');
  return Object.hasOwn(routes, rest) ? rest : 'recordings';
}

let current = null; // the page shown: {name, dispose}

export function navigate(name, { replace = false } = {}) {
  const r = routes[name];
  if (replace) history.replaceState({}, '', r.path);
  else history.pushState({}, '', r.path);
  show();
}

async function show() {
  const s = api.getSession();
  if (!s) {
    top.hidden = true;
    render('signin', 'Sign in — callrecd', (el) => signInPage(el, onSignedIn));
    return;
  }
  let name = routeOf(location.pathname);
  if (routes[name].admin && api.isUser()) { // not a user's page: theirs instead
    name = 'recordings';
    history.replaceState({}, '', routes.recordings.path);
  }
  top.hidden = false;
  for (const a of top.querySelectorAll('nav a')) {
    a.hidden = a.hasAttribute('data-admin') && api.isUser();
    if (a.dataset.route === name) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  render(name, `${routes[name].title} — callrecd`, routes[name].render);
}

function render(name, title, fn) {
  if (current?.dispose) current.dispose();
  document.title = title;
  clear(main);
  const page = h('div', { class: 'page', dataset: { page: name } });
  main.append(page);
  current = { name, dispose: fn(page) };
}

async function onSignedIn() {
  await setUpAccount();
  show();
  main.focus();
}

// setUpAccount fills the header for the signed-in account; a system account
// picks its tenant (remembered for this tab).
async function setUpAccount() {
  const s = api.getSession();
  document.getElementById('whoami').textContent = `${s.username} (${s.role})`;
  const pick = document.getElementById('tenant-pick');
  pick.hidden = !api.isSystem();
  if (!api.isSystem()) {
    api.setTenant('');
    return;
  }
  const sel = document.getElementById('tenant-select');
  const list = await api.request('GET', api.paths.tenants());
  clear(sel);
  for (const t of list.items) sel.append(h('option', { value: t.uuid }, t.name || t.uuid));
  const saved = sessionStorage.getItem('callrecd.tenant');
  const chosen = list.items.some((t) => t.uuid === saved) ? saved : list.items[0]?.uuid || '';
  sel.value = chosen;
  api.setTenant(chosen);
}

document.getElementById('tenant-select').addEventListener('change', (e) => {
  api.setTenant(e.target.value);
  sessionStorage.setItem('callrecd.tenant', e.target.value);
  announce('Tenant changed');
  show();
});

document.getElementById('sign-out').addEventListener('click', async () => {
  try {
    await api.signOut();
  } catch {
    // Signed out here whatever the server said: the cookie is gone or dead.
  }
  announce('Signed out');
  navigate('recordings', { replace: true });
});

top.querySelector('nav').addEventListener('click', (e) => {
  const a = e.target.closest('a[data-route]');
  if (!a || e.ctrlKey || e.metaKey || e.shiftKey || e.button !== 0) return;
  e.preventDefault();
  navigate(a.dataset.route);
});

window.addEventListener('popstate', show);

api.whenUnauthorized(() => {
  api.forget();
  show();
  announce('Your session has ended. Sign in again.');
});

async function start() {
  try {
    if (await api.resume()) await setUpAccount();
  } catch (e) {
    main.append(h('p', { class: 'msg', role: 'alert', dataset: { kind: 'error' } }, e.message));
    return;
  }
  show();
}

start();
