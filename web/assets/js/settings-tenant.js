// The tenant's own options (GET/PUT /callrecd/1.0/tenants/{uuid}): the
// audio switch, the external-to-external rule, the file format, what *3
// does and the timezone; and its retention (PUT /call-logd/1.0/retention,
// an empty field = forever). The API's message is shown next to the form
// that it refused.
import * as api from './api.js';
import { h, field, message, section, checkField, saving, markInvalid } from './dom.js';

const FORMATS = {
  wav: 'WAV, as recorded (1 MB a minute)',
  mp3: 'MP3 (256 KB a minute)',
  amr: 'AMR-NB (100 KB a minute)',
};
const MODES = {
  pause: 'Pause and resume (one file)',
  stop: 'Stop; *3 again starts a new file',
};

let schema = null; // the Tenant schema's enums, from /api/openapi.json

// tenantEnums are the values the API accepts for format and *3 mode.
async function tenantEnums(signal) {
  if (!schema) {
    const doc = await api.request('GET', api.paths.openapi(), { signal });
    const props = doc?.components?.schemas?.Tenant?.properties || {};
    schema = { format: props.format?.enum || [], mode: props.online_record_mode?.enum || [] };
  }
  return schema;
}

function zoneNames() {
  const zones = typeof Intl.supportedValuesOf === 'function' ? Intl.supportedValuesOf('timeZone') : [];
  return zones.includes('UTC') ? zones : ['UTC', ...zones];
}

function options(select, values, labels, current) {
  const all = values.includes(current) || !current ? values : [...values, current];
  select.replaceChildren(...all.map((v) => h('option', { value: v }, labels[v] || v.toUpperCase())));
  select.value = current;
}

export function tenantSection() {
  const msg = message('status');
  msg.id = 'tenant-msg';
  const title = h('p', { class: 'hint', id: 'tenant-name' });
  const audio = h('input', { type: 'checkbox', id: 'tenant-audio' });
  const ext = h('input', { type: 'checkbox', id: 'tenant-ext2ext' });
  const format = h('select', { id: 'tenant-format' });
  const mode = h('select', { id: 'tenant-mode' });
  const tz = h('input', { id: 'tenant-timezone', list: 'tz-list', autocomplete: 'off', spellcheck: 'false',
    'aria-describedby': 'tenant-timezone-hint' });
  const save = h('button', { type: 'submit', class: 'primary', id: 'tenant-save' }, 'Save the tenant options');
  const form = h('form', { class: 'card settings-form', id: 'tenant-form', 'aria-label': 'Tenant options',
    onsubmit: (e) => { e.preventDefault(); submit(); } },
  checkField('Record audio', audio, 'Off: nothing of this tenant is recorded, neither automatically nor on demand.'),
  checkField('Keep recording when only outside parties remain', ext,
    'Off: a recording stops when the call is left to outside parties alone (a call transferred to a mobile).'),
  h('div', { class: 'form-row' },
    field('File format', format),
    field('What *3 does to a running recording', mode),
    h('div', { class: 'field' }, h('label', { for: tz.id }, h('span', {}, 'Timezone')), tz,
      h('span', { class: 'field-hint', id: 'tenant-timezone-hint' }, 'An IANA name such as Europe/Paris; ' +
        'export schedules run in it.'))),
  h('datalist', { id: 'tz-list' }, zoneNames().map((z) => h('option', { value: z }))),
  h('div', { class: 'form-actions' }, save, msg));
  const el = section('tenant', 'Tenant', title, form);
  let ctl = null;

  function fill(t, enums) {
    title.textContent = `Options of ${t.name || t.uuid}. Changes apply to the next call.`;
    audio.checked = !!t.audio_recording_enabled;
    ext.checked = !!t.record_external_to_external;
    options(format, enums.format, FORMATS, t.format);
    options(mode, enums.mode, MODES, t.online_record_mode);
    tz.value = t.timezone || '';
    form.dataset.loaded = 'true';
  }

  async function load() {
    ctl = new AbortController();
    try {
      const [t, enums] = await Promise.all([
        api.request('GET', api.paths.tenant(api.currentTenant()), { signal: ctl.signal }), tenantEnums(ctl.signal)]);
      fill(t, enums);
    } catch (e) {
      if (e.name !== 'AbortError') msg.set(e.message, 'error');
    }
  }

  const controls = { audio_recording_enabled: audio, record_external_to_external: ext, format,
    online_record_mode: mode, timezone: tz };
  function submit() {
    return saving(save, msg, 'Tenant options', async () => {
      const t = await api.request('PUT', api.paths.tenant(api.currentTenant()), { body: {
        audio_recording_enabled: audio.checked, record_external_to_external: ext.checked,
        format: format.value, online_record_mode: mode.value, timezone: tz.value.trim(),
      } });
      fill(t, await tenantEnums());
    }, (err) => markInvalid(controls, err));
  }

  return { el, load, dispose: () => { if (ctl) ctl.abort(); } };
}

const KEEP = [
  ['cdr_days', 'Call history'],
  ['recording_days', 'Recordings'],
  ['export_days', 'Finished exports'],
];

export function retentionSection() {
  const msg = message('status');
  msg.id = 'retention-msg';
  const inputs = KEEP.map(([key]) => h('input', { type: 'number', id: `ret-${key}`, min: 1, max: 36500, step: 1,
    inputmode: 'numeric', placeholder: 'Forever', 'aria-describedby': 'retention-hint' }));
  const save = h('button', { type: 'submit', class: 'primary', id: 'retention-save' }, 'Save the retention');
  const form = h('form', { class: 'card settings-form', id: 'retention-form', 'aria-label': 'Retention',
    onsubmit: (e) => {
      e.preventDefault();
      saving(save, msg, 'Retention', async () => {
        const body = {};
        KEEP.forEach(([key], i) => { body[key] = inputs[i].value === '' ? null : Number(inputs[i].value); });
        await api.request('PUT', api.paths.retention(), { body });
      }, (err) => markInvalid(Object.fromEntries(KEEP.map(([key], i) => [key, inputs[i]])), err));
    } },
  h('p', { class: 'field-hint', id: 'retention-hint' }, 'Days to keep each kind of data, 1 to 36500; ' +
    'leave a field empty to keep it forever. Recordings cannot be kept longer than the call history. ' +
    'Older data is deleted once a day.'),
  h('div', { class: 'form-row' }, KEEP.map(([, label], i) => field(`${label} (days)`, inputs[i]))),
  h('div', { class: 'form-actions' }, save, msg));
  const el = section('retention', 'Retention', form);
  let ctl = null;

  async function load() {
    ctl = new AbortController();
    try {
      const r = await api.request('GET', api.paths.retention(), { signal: ctl.signal });
      KEEP.forEach(([key], i) => { inputs[i].value = r[key] === null || r[key] === undefined ? '' : String(r[key]); });
      form.dataset.loaded = 'true';
    } catch (e) {
      if (e.name !== 'AbortError') msg.set(e.message, 'error');
    }
  }

  return { el, load, dispose: () => { if (ctl) ctl.abort(); } };
}
