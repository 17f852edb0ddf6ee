// Firmware: upload images, roll them out to chargers a few at a time, and
// follow each roll-out charger by charger. Roll-outs and their chargers
// change live (firmware.rollout and firmware.target events).

import { BASE, ApiError, get, post, del, enc, qs } from '../api.js';
import * as live from '../live.js';
import { h, field, toast, busy, dateTime, ago, badge, link, chargerHref, setText, emptyState } from '../ui.js';

const canOperate = (u) => u.role === 'operator' || u.role === 'admin';

/** size formats a byte count. */
export function size(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1 << 20) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / (1 << 20)).toFixed(1)} MiB`;
}

export function rolloutClass(status) {
  switch (status) {
    case 'Running': return 'charging';
    case 'Completed': return 'ok';
    case 'Paused': return 'busy';
    case 'Halted': return 'bad';
    default: return 'off';
  }
}

export function targetClass(status) {
  switch (status) {
    case 'Installed': return 'ok';
    case 'Failed': return 'bad';
    case 'Queued': case 'Cancelled': return 'off';
    default: return 'busy';
  }
}

const IN_FLIGHT = ['Sent', 'Downloading', 'Downloaded', 'Installing'];

/** progress is a bar of installed, failed and updating chargers. */
function progress(r) {
  const c = r.counts || {};
  const total = r.total || 1;
  const busyN = IN_FLIGHT.reduce((s, k) => s + (c[k] || 0), 0);
  // Widths through the CSSOM: the page's CSP refuses style attributes.
  const bar = (cls, n) => { const el = h('span', { class: cls }); el.style.width = `${(100 * n) / total}%`; return el; };
  return h('div', { class: 'progress', role: 'img', 'aria-label': `${c.Installed || 0} installed, ${c.Failed || 0} failed, ${busyN} updating of ${r.total}` },
    bar('ok', c.Installed || 0), bar('bad', c.Failed || 0), bar('busy', busyN));
}

function summary(r) {
  const c = r.counts || {};
  const busyN = IN_FLIGHT.reduce((s, k) => s + (c[k] || 0), 0);
  return `${c.Installed || 0} installed · ${c.Failed || 0} failed · ${busyN} updating · ${c.Queued || 0} queued${c.Cancelled ? ` · ${c.Cancelled} cancelled` : ''} of ${r.total}`;
}

/** upload sends a file as a multipart form; fetch, so the CSRF header goes with it. */
async function upload(file, version, note) {
  const form = new FormData();
  form.append('version', version);
  form.append('note', note);
  form.append('file', file, file.name);
  let res;
  try {
    res = await fetch(`${BASE}/firmware/files`, { method: 'POST', body: form, credentials: 'same-origin', headers: { 'X-Wattson-CSRF': '1', Accept: 'application/json' } });
  } catch { throw new ApiError(0, { title: 'Network error' }); }
  const data = await res.json().catch(() => ({}));
  if (!res.ok) throw new ApiError(res.status, data);
  return data;
}

export async function firmwarePage(root, ctx) {
  const filesBody = h('tbody');
  const filesNote = h('p', { class: 'muted' });
  const rolloutsBody = h('tbody');
  const rolloutsNote = h('p', { class: 'muted' });
  const files = new Map();
  const operate = canOperate(ctx.user);
  const creator = operate ? rolloutForm(ctx, files) : null;

  root.append(h('h1', null, 'Firmware'),
    h('p', { class: 'muted' }, 'Upload a firmware image, then roll it out: Wattson sends UpdateFirmware to a few chargers at a time, each with its own download link, follows them to Installed, and halts the roll-out if too many fail.'),
    operate ? uploadForm() : null,
    h('section', { 'aria-labelledby': 'fw-files' }, h('h2', { id: 'fw-files' }, 'Firmware files'), filesNote,
      h('div', { class: 'table-wrap' }, h('table', { class: 'list firmware-files' },
        h('thead', null, h('tr', null, ['File', 'Version', 'Size', 'SHA-256', 'Uploaded', ''].map((t) => h('th', { scope: 'col' }, t)))), filesBody))),
    creator?.form,
    h('section', { 'aria-labelledby': 'fw-rollouts' }, h('h2', { id: 'fw-rollouts' }, 'Roll-outs'), rolloutsNote,
      h('div', { class: 'table-wrap' }, h('table', { class: 'list rollouts' },
        h('thead', null, h('tr', null, ['#', 'File', 'Status', 'Progress', 'Started', ''].map((t) => h('th', { scope: 'col' }, t)))), rolloutsBody))));

  function fileRow(f) {
    const actions = h('td', { class: 'actions' },
      operate ? h('a', { href: `${BASE}/firmware/files/${f.id}/content`, download: f.name, class: 'small' }, 'Download') : null,
      operate ? h('button', { type: 'button', class: 'small', onclick: () => creator.choose(f.id) }, 'Roll out…') : null,
      operate ? h('button', { type: 'button', class: 'small danger', 'aria-label': `Delete ${f.name}`, onclick: (e) => remove(f, e.currentTarget) }, 'Delete') : null);
    return h('tr', { dataset: { file: f.id } }, h('th', { scope: 'row' }, f.name, f.note ? h('small', { class: 'muted' }, ` ${f.note}`) : null),
      h('td', null, f.version || '—'), h('td', null, size(f.size)), h('td', null, h('code', { title: f.sha256 }, f.sha256.slice(0, 12))),
      h('td', null, dateTime(f.createdAt), f.createdBy ? h('small', { class: 'muted' }, ` by ${f.createdBy}`) : null), actions);
  }

  async function remove(f, button) {
    if (!confirm(`Delete ${f.name}?`)) return;
    await busy(button, async () => {
      try {
        await del(`/firmware/files/${f.id}`);
        toast(`${f.name} deleted`, 'ok');
        loadFiles();
      } catch (err) { toast(err.message, 'error'); }
    });
  }

  async function loadFiles() {
    try {
      const p = await get('/firmware/files?limit=200');
      files.clear();
      for (const f of p.items) files.set(f.id, f);
      filesBody.replaceChildren(...p.items.map(fileRow));
      setText(filesNote, p.items.length ? '' : 'No firmware files yet.');
      creator?.files();
    } catch (err) { setText(filesNote, err.message); }
  }

  function rolloutRow(r) {
    const f = files.get(r.fileId);
    return h('tr', { dataset: { rollout: r.id, status: r.status } }, h('th', { scope: 'row' }, link(`/firmware/rollouts/${r.id}`, `#${r.id}`)),
      h('td', null, f ? `${f.name}${f.version ? ` (${f.version})` : ''}` : `file ${r.fileId}`),
      h('td', null, badge(r.status, rolloutClass(r.status)), r.detail ? h('small', { class: 'muted' }, ` ${r.detail}`) : null),
      h('td', null, progress(r), h('small', { class: 'muted' }, summary(r))), h('td', null, dateTime(r.createdAt)),
      h('td', { class: 'actions' }, link(`/firmware/rollouts/${r.id}`, 'Details')));
  }

  async function loadRollouts() {
    try {
      const p = await get('/firmware/rollouts?limit=50');
      rolloutsBody.replaceChildren(...p.items.map(rolloutRow));
      setText(rolloutsNote, p.items.length ? '' : 'No roll-outs yet.');
    } catch (err) { setText(rolloutsNote, err.message); }
  }

  function uploadForm() {
    const file = h('input', { type: 'file', required: true });
    const version = h('input', { maxlength: 50, placeholder: 'e.g. 2.1.0' });
    const note = h('input', { maxlength: 2000 });
    const out = h('p', { class: 'outcome', role: 'status' });
    const ok = h('button', { type: 'submit', class: 'primary' }, 'Upload');
    const form = h('form', { class: 'card editor', 'aria-label': 'Upload firmware' }, h('h2', null, 'Upload firmware'),
      h('div', { class: 'grid' }, field('File', file), field('Version', version, 'The version the image installs'), field('Note', note)),
      h('div', { class: 'buttons' }, ok), out);
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      if (!file.files.length) return;
      busy(ok, async () => {
        out.textContent = 'Uploading…';
        out.className = 'outcome';
        try {
          const f = await upload(file.files[0], version.value.trim(), note.value.trim());
          out.textContent = `Stored ${f.name} (${size(f.size)}, SHA-256 ${f.sha256.slice(0, 12)}…)`;
          out.className = 'outcome ok';
          form.reset();
          await loadFiles();
        } catch (err) {
          out.textContent = err.message;
          out.className = 'outcome bad';
        }
      });
    });
    return form;
  }

  let pending = 0;
  ctx.onLeave(live.subscribe(({ events, reset }) => {
    if (!reset && !events.some((e) => e.type === 'firmware.rollout' || e.type === 'firmware.target')) return;
    // Many chargers report at once: one reload for a burst.
    clearTimeout(pending);
    pending = setTimeout(loadRollouts, 300);
  }));
  ctx.onLeave(() => clearTimeout(pending));
  await loadFiles();
  await loadRollouts();
  if (ctx.query.get('file')) creator?.choose(+ctx.query.get('file'));
}

/** rolloutForm picks a file and chargers and starts a roll-out. */
function rolloutForm(ctx, files) {
  const file = h('select', { required: true });
  const search = h('input', { type: 'search', placeholder: 'Id, model or firmware version' });
  const onlyOnline = h('input', { type: 'checkbox' });
  const list = h('div', { class: 'pick-list', role: 'group', 'aria-label': 'Chargers to update' });
  const count = h('p', { class: 'muted', 'aria-live': 'polite' });
  const all = h('button', { type: 'button', class: 'small' }, 'Select all shown');
  const none = h('button', { type: 'button', class: 'small' }, 'Clear');
  const concurrent = h('input', { type: 'number', min: 1, max: 1000, value: 10 });
  const failure = h('input', { type: 'number', min: 0, max: 100, step: 'any', value: 10 });
  const minFinished = h('input', { type: 'number', min: 0, value: 5 });
  const retries = h('input', { type: 'number', min: 0, max: 100, placeholder: 'charger default' });
  const interval = h('input', { type: 'number', min: 0, max: 86400, placeholder: 'charger default' });
  const retrieve = h('input', { type: 'datetime-local' });
  const timeout = h('input', { type: 'number', min: 1, max: 10080, value: 120 });
  const err = h('p', { class: 'error', role: 'alert', hidden: true });
  const ok = h('button', { type: 'submit', class: 'primary' }, 'Start roll-out');
  const chosen = new Set();

  const form = h('form', { class: 'card editor', 'aria-label': 'New roll-out' }, h('h2', null, 'New roll-out'),
    h('div', { class: 'grid' }, field('Firmware file', file)),
    h('fieldset', null, h('legend', null, 'Chargers'),
      h('div', { class: 'toolbar' }, field('Filter', search), h('label', { class: 'check' }, onlyOnline, ' Online only'), all, none), count, list),
    h('div', { class: 'grid' },
      field('At once', concurrent, 'Chargers updating at the same time'),
      field('Halt above (% failed)', failure, 'Of the chargers that finished'),
      field('Judge after', minFinished, 'Finished chargers before the rate counts'),
      field('Retries', retries, 'Download attempts the charger makes'),
      field('Retry interval (s)', interval),
      field('Not before', retrieve, 'Chargers download from this time on'),
      field('Timeout (minutes)', timeout, 'A charger that has not reported Installed by then failed')),
    err, h('div', { class: 'buttons' }, ok));

  function matches(c) {
    if (c.registration !== 'Accepted') return false;
    if (onlyOnline.checked && !c.connected) return false;
    const s = search.value.trim().toLowerCase();
    return !s || c.id.toLowerCase().includes(s) || (c.model || '').toLowerCase().includes(s) || (c.firmwareVersion || '').toLowerCase().includes(s);
  }
  function shown() { return [...live.chargers.values()].filter(matches).sort((a, b) => a.id.localeCompare(b.id)); }
  function draw() {
    const cs = shown();
    // A thousand checkboxes are fine; beyond that the filter narrows.
    list.replaceChildren(...cs.slice(0, 1000).map((c) => {
      const box = h('input', { type: 'checkbox', value: c.id, checked: chosen.has(c.id) });
      box.addEventListener('change', () => { if (box.checked) chosen.add(c.id); else chosen.delete(c.id); drawCount(); });
      return h('label', { class: 'check' }, box, ` ${c.id}`, h('small', { class: 'muted' }, ` ${c.model || ''} ${c.firmwareVersion || ''}${c.connected ? '' : ' · offline'}`));
    }), ...(cs.length > 1000 ? [h('p', { class: 'muted' }, `${cs.length - 1000} more — narrow the filter, or use “Select all shown”.`)] : []));
    drawCount();
  }
  function drawCount() { setText(count, `${chosen.size} selected`); }
  search.addEventListener('input', draw);
  onlyOnline.addEventListener('change', draw);
  all.addEventListener('click', () => { for (const c of shown()) chosen.add(c.id); draw(); });
  none.addEventListener('click', () => { chosen.clear(); draw(); });
  live.load().then(draw).catch(() => {});

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    err.hidden = true;
    busy(ok, async () => {
      const body = { fileId: +file.value, chargers: [...chosen].sort(), maxConcurrent: +concurrent.value, maxFailurePercent: +failure.value,
        minFinished: +minFinished.value, timeoutSeconds: Math.round(+timeout.value * 60) };
      if (retries.value !== '') body.retries = +retries.value;
      if (interval.value !== '') body.retryInterval = +interval.value;
      if (retrieve.value) body.retrieveDate = new Date(retrieve.value).toISOString();
      try {
        if (!body.chargers.length) throw new Error('Pick at least one charger');
        const r = await post('/firmware/rollouts', body);
        toast(`Roll-out #${r.id} started to ${r.total} chargers`, 'ok');
        ctx.navigate(`/firmware/rollouts/${r.id}`);
      } catch (x) {
        err.textContent = x.message;
        err.hidden = false;
      }
    });
  });
  return {
    form,
    files() {
      const keep = file.value;
      file.replaceChildren(...[...files.values()].map((f) => h('option', { value: f.id }, `${f.name}${f.version ? ` (${f.version})` : ''}`)));
      if (keep) file.value = keep;
    },
    choose(id) {
      file.value = String(id);
      form.scrollIntoView({ block: 'start' });
      search.focus();
    },
  };
}

/** rolloutPage is one roll-out: its state, controls and chargers. */
export async function rolloutPage(root, ctx) {
  const id = ctx.params[0];
  const head = h('div');
  const status = h('select', { 'aria-label': 'Show chargers' }, [['', 'All'], ['Failed', 'Failed'], [IN_FLIGHT.join(','), 'Updating'], ['Queued', 'Queued'], ['Installed', 'Installed']]
    .map(([v, t]) => h('option', { value: v }, t)));
  const tbody = h('tbody');
  const note = h('p', { class: 'muted' });
  const more = h('button', { type: 'button', hidden: true }, 'More chargers');
  root.append(h('p', null, link('/firmware', '← Firmware')), head,
    h('section', { 'aria-labelledby': 'ro-targets' }, h('h2', { id: 'ro-targets' }, 'Chargers'),
      h('div', { class: 'toolbar' }, field('Show', status)), note,
      h('div', { class: 'table-wrap' }, h('table', { class: 'list targets' },
        h('thead', null, h('tr', null, ['#', 'Charger', 'Status', 'Detail', 'Sent', 'Updated'].map((t) => h('th', { scope: 'col' }, t)))), tbody)), more));

  const rows = new Map();
  let next = '';
  let r = null;
  let file = null;

  async function drawHead() {
    r = await get(`/firmware/rollouts/${enc(id)}`);
    if (!file) file = await get(`/firmware/files/${r.fileId}`).catch(() => null);
    const controls = [];
    if (canOperate(ctx.user)) {
      const act = (action, label, cls = 'small') => h('button', { type: 'button', class: cls, onclick: (e) => busy(e.currentTarget, async () => {
        try { await post(`/firmware/rollouts/${r.id}/${action}`); toast(`Roll-out #${r.id}: ${label.toLowerCase()}`, 'ok'); await drawHead(); } catch (x) { toast(x.message, 'error'); }
      }) }, label);
      if (r.status === 'Running') controls.push(act('pause', 'Pause'));
      if (r.status === 'Paused' || r.status === 'Halted') controls.push(act('resume', 'Resume', 'small primary'));
      if (!['Completed', 'Cancelled'].includes(r.status)) controls.push(act('cancel', 'Cancel', 'small danger'));
    }
    head.replaceChildren(h('h1', null, `Roll-out #${r.id}`),
      h('p', null, badge(r.status, rolloutClass(r.status)), ' ', h('span', { 'data-testid': 'rollout-detail' }, r.detail || '')),
      h('div', { class: 'card' }, progress(r), h('p', { 'data-testid': 'rollout-summary' }, summary(r)),
        h('dl', { class: 'facts' },
          h('dt', null, 'File'), h('dd', null, file ? `${file.name}${file.version ? ` (version ${file.version})` : ''}` : `#${r.fileId}`),
          h('dt', null, 'At once'), h('dd', null, String(r.maxConcurrent)),
          h('dt', null, 'Halts'), h('dd', null, `above ${r.maxFailurePercent}% failed, after ${r.minFinished} finished`),
          h('dt', null, 'Retries'), h('dd', null, r.retries == null ? 'charger default' : `${r.retries} every ${r.retryInterval ?? '?'} s`),
          h('dt', null, 'Not before'), h('dd', null, r.retrieveDate ? dateTime(r.retrieveDate) : 'when sent'),
          h('dt', null, 'Timeout'), h('dd', null, `${Math.round(r.timeoutSeconds / 60)} minutes`),
          h('dt', null, 'Started'), h('dd', null, `${dateTime(r.createdAt)}${r.createdBy ? ` by ${r.createdBy}` : ''}`),
          r.finishedAt ? [h('dt', null, 'Finished'), h('dd', null, dateTime(r.finishedAt))] : null),
        controls.length ? h('div', { class: 'buttons' }, controls) : null));
    document.title = `Roll-out #${r.id} · Wattson`;
  }

  function row(t) {
    return h('tr', { dataset: { charger: t.chargerId, status: t.status } }, h('td', null, String(t.seq)), h('th', { scope: 'row' }, link(chargerHref(t.chargerId), t.chargerId)),
      h('td', null, badge(t.status, targetClass(t.status))), h('td', null, t.detail || ''), h('td', null, t.sentAt ? ago(t.sentAt) : '—'), h('td', null, ago(t.updatedAt)));
  }

  async function load(reset) {
    try {
      const p = await get(`/firmware/rollouts/${enc(id)}/targets${qs({ status: status.value, limit: 500, after: reset ? '' : next })}`);
      next = p.next;
      if (reset) { tbody.replaceChildren(); rows.clear(); }
      for (const t of p.items) { const el = row(t); rows.set(t.chargerId, el); tbody.append(el); }
      more.hidden = !next;
      setText(note, rows.size ? '' : 'No chargers in this view.');
    } catch (err) { setText(note, err.message); }
  }

  status.addEventListener('change', () => load(true));
  more.addEventListener('click', () => busy(more, () => load(false)));
  let pending = 0;
  ctx.onLeave(live.subscribe(({ events, reset }) => {
    let touched = reset;
    for (const e of events) {
      if (e.type === 'firmware.target' && String(e.data.rolloutId) === id) {
        touched = true;
        const el = rows.get(e.data.chargerId);
        if (el) {
          el.dataset.status = e.data.status;
          el.children[2].replaceChildren(badge(e.data.status, targetClass(e.data.status)));
          setText(el.children[3], e.data.detail || '');
          setText(el.children[5], 'just now');
        }
      }
      if (e.type === 'firmware.rollout' && String(e.data.rolloutId) === id) touched = true;
    }
    if (!touched) return;
    clearTimeout(pending);
    pending = setTimeout(() => drawHead().catch(() => {}), 300);
  }));
  ctx.onLeave(() => clearTimeout(pending));
  try {
    await drawHead();
  } catch (err) {
    head.replaceChildren(h('h1', null, 'Roll-out'), emptyState(err.message));
    return;
  }
  await load(true);
}
