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
