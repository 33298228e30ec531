// Small DOM helpers: elements are built with h(), never from HTML strings,
// so no text from the API is ever parsed as markup.

// h(tag, attrs, ...children): attrs keys are attributes, except
// on<event> (listeners), class, and properties given as {prop: {...}}.
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') {
      el.addEventListener(k.slice(2).toLowerCase(), v);
    } else if (k === 'props') {
      Object.assign(el, v);
    } else if (k === 'dataset') {
      Object.assign(el.dataset, v);
    } else {
      el.setAttribute(k, v === true ? '' : String(v));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : String(c));
  }
}

// clear empties an element.
export function clear(el) {
  el.replaceChildren();
  return el;
}

// announce tells screen readers (and the tests) what just happened.
export function announce(text) {
  const el = document.getElementById('announce');
  el.textContent = '';
  // A new text node each time, so the same message is read again.
  requestAnimationFrame(() => { el.textContent = text; });
}

// field is a <label> around a control, with its visible text.
export function field(text, control, attrs = {}) {
  return h('label', { class: 'field', ...attrs }, h('span', {}, text), control);
}

// message is an inline status/alert line; set(text, kind) changes it.
export function message(role = 'status') {
  const el = h('p', { class: 'msg', role, hidden: true });
  el.set = (text, kind = 'info') => {
    el.textContent = text || '';
    el.hidden = !text;
    el.dataset.kind = kind;
  };
  return el;
}

// section is a titled part of a page: <section> named by its <h2>.
export function section(id, title, ...children) {
  return h('section', { class: 'panel', id, 'aria-labelledby': `${id}-title` },
    h('h2', { id: `${id}-title` }, title), children);
}

// checkField is a checkbox with its label, and a hint that describes it.
export function checkField(text, control, hint) {
  const hintID = `${control.id}-hint`;
  if (hint) control.setAttribute('aria-describedby', hintID);
  return h('div', { class: 'check-field' },
    h('label', { for: control.id }, control, h('span', {}, text)),
    hint ? h('p', { class: 'field-hint', id: hintID }, hint) : null);
}

// saving runs one save: the button is off meanwhile, status says how it
// went (fn may return the text to show instead of "Saved."), and screen
// readers hear it. done(err) runs after it, err null when it went through.
export async function saving(button, status, what, fn, done = () => {}) {
  button.disabled = true;
  status.set('Saving…');
  try {
    const said = await fn();
    status.set(typeof said === 'string' ? said : 'Saved.', 'ok');
    announce(`${what} saved`);
    done(null);
  } catch (e) {
    status.set(e.message, 'error');
    announce(e.message);
    done(e);
  } finally {
    button.disabled = false;
  }
}

// markInvalid flags the controls (by API field name) that the API's error
// names in its details, and focuses the first; with no error it clears them.
export function markInvalid(controls, err) {
  let first = null;
  for (const [key, el] of Object.entries(controls)) {
    const bad = !!err && Object.hasOwn(err.details || {}, key);
    if (bad) el.setAttribute('aria-invalid', 'true');
    else el.removeAttribute('aria-invalid');
    if (bad && !first) first = el;
  }
  first?.focus();
}
