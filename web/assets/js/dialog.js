// Modal dialogs on the native <dialog> element: focus is trapped and
// Escape closes it; focus goes back where it was.
import { h } from './dom.js';

// modal shows a dialog with a title and body; close() ends it. It resolves
// with the dialog's returnValue.
export function modal({ title, body, buttons = [], className = '' }) {
  const titleID = `dlg-${Math.random().toString(36).slice(2)}`;
  const back = document.activeElement;
  const form = h('form', { method: 'dialog', class: 'dialog-actions' }, buttons);
  const dlg = h('dialog', { class: `dialog ${className}`, 'aria-labelledby': titleID },
    h('div', { class: 'dialog-head' },
      h('h2', { id: titleID }, title),
      h('form', { method: 'dialog' },
        h('button', { type: 'submit', value: 'close', class: 'icon', 'aria-label': 'Close' }, '×'))),
    h('div', { class: 'dialog-body' }, body),
    buttons.length ? form : null);
  document.body.append(dlg);
  const done = new Promise((resolve) => {
    dlg.addEventListener('close', () => {
      resolve(dlg.returnValue);
      dlg.remove();
      if (back && back.isConnected) back.focus();
    }, { once: true });
  });
  dlg.showModal();
  return { dialog: dlg, done, close: (v = 'close') => dlg.close(v) };
}

// confirm asks a yes/no question; resolves true only on the action button.
export async function confirm({ title, text, action, danger = true }) {
  const cancel = h('button', { type: 'submit', value: 'cancel', autofocus: true }, 'Cancel');
  const ok = h('button', { type: 'submit', value: 'ok', class: danger ? 'danger' : 'primary' }, action);
  const m = modal({ title, body: h('p', {}, text), buttons: [cancel, ok], className: 'confirm' });
  cancel.focus();
  return (await m.done) === 'ok';
}
