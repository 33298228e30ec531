// The sign-in form: a username and password (an account from `callrecd
// account create`), or an API token.
import * as api from './api.js';
import { h, field, message } from './dom.js';

export function signInPage(root, done) {
  const err = message('alert');
  const user = h('input', { name: 'username', autocomplete: 'username', required: true, id: 'signin-username' });
  const pass = h('input', { name: 'password', type: 'password', autocomplete: 'current-password', required: true,
    id: 'signin-password' });
  const token = h('input', { name: 'token', type: 'password', autocomplete: 'off', required: true,
    id: 'signin-token', spellcheck: 'false' });

  const submit = async (e, credentials, form) => {
    e.preventDefault();
    err.set('');
    const buttons = form.querySelectorAll('button');
    buttons.forEach((b) => { b.disabled = true; });
    try {
      await api.signIn(credentials);
      pass.value = '';
      token.value = '';
      await done();
    } catch (x) {
      let text = x.message;
      if (x.status === 429) {
        const wait = x.retryAfter || Number(x.details?.retry_after) || 0;
        if (wait > 0) text = `${text} Try again in ${wait} s.`;
      }
      err.set(text, 'error');
      (credentials.token ? token : pass).focus();
    } finally {
      buttons.forEach((b) => { b.disabled = false; });
    }
  };

  const pwForm = h('form', { class: 'card', 'aria-labelledby': 'signin-pw-title',
    onsubmit: (e) => submit(e, { username: user.value.trim(), password: pass.value }, pwForm) },
  h('h2', { id: 'signin-pw-title' }, 'With your account'),
  field('Username', user),
  field('Password', pass),
  h('button', { type: 'submit', class: 'primary', id: 'signin-submit' }, 'Sign in'));

  const tokForm = h('form', { class: 'card', 'aria-labelledby': 'signin-token-title',
    onsubmit: (e) => submit(e, { token: token.value.trim() }, tokForm) },
  h('h2', { id: 'signin-token-title' }, 'With an API token'),
  field('API token', token),
  h('button', { type: 'submit', id: 'signin-token-submit' }, 'Sign in with the token'));

  root.append(
    h('section', { class: 'signin', 'aria-labelledby': 'signin-title' },
      h('h1', { id: 'signin-title' }, 'Sign in to Call Recordings'),
      err,
      h('div', { class: 'signin-forms' }, pwForm, tokForm)),
  );
  user.focus();
  return null;
}
