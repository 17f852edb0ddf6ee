// Diagnostics: the files chargers upload after GetDiagnostics, fleet-wide
// (the Diagnostics page) and per charger (a section of the charger page),
// with a form to ask a charger for one. Requests change live
// (diagnostics.updated events). Also the charger page's firmware section.

import { BASE, get, post, enc, qs } from '../api.js';
import * as live from '../live.js';
import { h, field, toast, busy, dateTime, ago, badge, link, chargerHref, setText } from '../ui.js';
import { targetClass } from './firmware.js';

const canOperate = (u) => u.role === 'operator' || u.role === 'admin';

export function diagClass(status) {
  switch (status) {
    case 'Received': return 'ok';
    case 'UploadFailed': case 'Failed': return 'bad';
    case 'NoFile': return 'off';
    default: return 'busy';
  }
}

const STATUS_TEXT = {
  Requested: 'asked', Accepted: 'the charger will upload', NoFile: 'the charger has nothing to upload', Uploading: 'uploading',
  Uploaded: 'the charger says it is uploaded', UploadFailed: 'the upload failed', Received: 'received', Failed: 'the command failed',
};

function window(d) {
  if (!d.startTime && !d.stopTime) return 'everything';
  return `${d.startTime ? dateTime(d.startTime) : '…'} – ${d.stopTime ? dateTime(d.stopTime) : 'now'}`;
}

/** requestsTable is a live table of diagnostics requests. */
function requestsTable(user, withCharger) {
  const tbody = h('tbody');
  const rows = new Map();
  const heads = ['#', ...(withCharger ? ['Charger'] : []), 'Status', 'File', 'Window', 'Requested', ''];
  const table = h('table', { class: 'list diagnostics' }, h('thead', null, h('tr', null, heads.map((t) => h('th', { scope: 'col' }, t)))), tbody);
  function row(d) {
    const file = d.fileId && canOperate(user)
      ? h('a', { href: `${BASE}/diagnostics/${d.id}/file`, download: d.fileName || 'diagnostics' }, d.fileName || 'Download')
      : (d.fileName || '—');
    return h('tr', { dataset: { diagnostics: d.id, status: d.status } }, h('th', { scope: 'row' }, `#${d.id}`),
      withCharger ? h('td', null, link(chargerHref(d.chargerId), d.chargerId)) : null,
      h('td', null, badge(d.status, diagClass(d.status)), h('small', { class: 'muted' }, ` ${d.detail || STATUS_TEXT[d.status] || ''}`)),
      h('td', null, file), h('td', null, window(d)),
      h('td', null, ago(d.requestedAt), d.requestedBy ? h('small', { class: 'muted' }, ` by ${d.requestedBy}`) : null), h('td', null, ''));
  }
  return {
    table,
    put(d, prepend) {
      const el = row(d);
      const old = rows.get(d.id);
      if (old) old.replaceWith(el); else if (prepend) tbody.prepend(el); else tbody.append(el);
      rows.set(d.id, el);
    },
    clear() { tbody.replaceChildren(); rows.clear(); },
    has: (id) => rows.has(id),
    get size() { return rows.size; },
  };
}

/** diagnosticsPage lists every charger's diagnostics requests. */
export async function diagnosticsPage(root, ctx) {
  const charger = h('input', { type: 'search', value: ctx.query.get('charger') || '', placeholder: 'All chargers' });
  const filters = h('form', { class: 'filters', 'aria-label': 'Filter diagnostics' }, field('Charger', charger),
    h('div', { class: 'field buttons' }, h('button', { type: 'submit' }, 'Show')));
  const note = h('p', { class: 'muted' });
  const more = h('button', { type: 'button', hidden: true }, 'Older requests');
  const t = requestsTable(ctx.user, true);
  root.append(h('h1', null, 'Diagnostics'),
    h('p', { class: 'muted' }, 'Files chargers uploaded when asked for their diagnostics. Ask a charger for one on its page.'),
    filters, note, h('div', { class: 'table-wrap' }, t.table), more);
  let next = '';
  async function load(reset) {
    try {
      const p = await get(`/diagnostics${qs({ charger: charger.value.trim(), limit: 100, before: reset ? '' : next })}`);
      next = p.next;
      if (reset) t.clear();
      for (const d of p.items) t.put(d);
      more.hidden = !next;
      setText(note, t.size ? '' : 'No diagnostics requested yet.');
    } catch (err) { setText(note, err.message); }
  }
  filters.addEventListener('submit', (e) => { e.preventDefault(); load(true); });
  more.addEventListener('click', () => busy(more, () => load(false)));
  ctx.onLeave(live.subscribe(({ events }) => {
    const only = charger.value.trim();
    for (const e of events) {
      if (e.type !== 'diagnostics.updated' || (only && e.chargerId !== only)) continue;
      get(`/diagnostics/${e.data.id}`).then((d) => { t.put(d, !t.has(d.id)); setText(note, ''); }).catch(() => {});
    }
  }));
  await load(true);
}

/** chargerDiagnostics is the charger page's section: a form and the requests. */
export function chargerDiagnostics(id, user) {
  const base = `/chargers/${enc(id)}`;
  const note = h('p', { class: 'muted' });
  const t = requestsTable(user, false);
  const section = h('section', { 'aria-labelledby': 'diag-title' }, h('h2', { id: 'diag-title' }, 'Diagnostics'),
    canOperate(user) ? form() : null, note, h('div', { class: 'table-wrap' }, t.table));

  function form() {
    const from = h('input', { type: 'datetime-local' });
    const to = h('input', { type: 'datetime-local' });
    const retries = h('input', { type: 'number', min: 0, max: 100, placeholder: 'charger default' });
    const interval = h('input', { type: 'number', min: 0, max: 86400, placeholder: 'charger default' });
    const out = h('p', { class: 'outcome', role: 'status' });
    const ok = h('button', { type: 'submit' }, 'Request diagnostics');
    const f = h('form', { class: 'card command', 'aria-label': 'Request diagnostics' },
      h('p', { class: 'muted small' }, 'The charger uploads its diagnostics file to Wattson; it appears below.'),
      h('div', { class: 'grid' }, field('From', from, 'Empty: from the start'), field('To', to, 'Empty: until now'), field('Retries', retries), field('Retry interval (s)', interval)),
      ok, out);
    f.addEventListener('submit', (e) => {
      e.preventDefault();
      busy(ok, async () => {
        const body = {};
        if (from.value) body.startTime = new Date(from.value).toISOString();
        if (to.value) body.stopTime = new Date(to.value).toISOString();
        if (retries.value !== '') body.retries = +retries.value;
        if (interval.value !== '') body.retryInterval = +interval.value;
        out.textContent = 'Asking the charger…';
        out.className = 'outcome';
        try {
          const d = await post(`${base}/diagnostics`, body);
          t.put(d, true);
          setText(note, '');
          const text = d.status === 'NoFile' ? 'The charger has no diagnostics to upload' : `The charger will upload ${d.fileName}`;
          out.textContent = text;
          out.className = `outcome ${d.status === 'NoFile' ? 'bad' : 'ok'}`;
          toast(text, d.status === 'NoFile' ? 'info' : 'ok');
        } catch (err) {
          out.textContent = err.message;
          out.className = 'outcome bad';
        }
      });
    });
    return f;
  }

  async function load() {
    try {
      const p = await get(`${base}/diagnostics?limit=20`);
      t.clear();
      for (const d of p.items) t.put(d);
      setText(note, t.size ? '' : 'No diagnostics requested yet.');
    } catch (err) { setText(note, err.message); }
  }
  return {
    section,
    load,
    event(e) {
      if (e.type === 'diagnostics.updated') get(`/diagnostics/${e.data.id}`).then((d) => { t.put(d, !t.has(d.id)); setText(note, ''); }).catch(() => {});
    },
  };
}

/** chargerFirmware is the charger page's firmware section. */
export function chargerFirmware(id, user) {
  const body = h('dl', { class: 'facts' });
  const section = h('section', { 'aria-labelledby': 'fw-title' }, h('h2', { id: 'fw-title' }, 'Firmware'), body,
    canOperate(user) ? h('p', null, link(`/firmware`, 'Update firmware…')) : null);
  async function load() {
    try {
      const f = await get(`/chargers/${enc(id)}/firmware`);
      body.replaceChildren(h('dt', null, 'Version'), h('dd', { 'data-testid': 'fw-version' }, f.firmwareVersion || '—'),
        h('dt', null, 'Last status'), h('dd', { 'data-testid': 'fw-status' }, f.status ? `${f.status} (${ago(f.statusAt)})` : 'none reported'),
        f.rollout ? [h('dt', null, 'Roll-out'), h('dd', null, link(`/firmware/rollouts/${f.rolloutId}`, `#${f.rolloutId}`), ' ',
          badge(f.rollout.status, targetClass(f.rollout.status)), f.rollout.detail ? ` ${f.rollout.detail}` : '')] : null);
    } catch (err) { body.replaceChildren(h('dd', null, err.message)); }
  }
  return {
    section,
    load,
    event(e) {
      if (e.type === 'firmware.target' || e.type === 'charger.booted' || (e.type === 'charger.notification' && e.data.kind === 'FirmwareStatusNotification')) return true;
      return false;
    },
  };
}
