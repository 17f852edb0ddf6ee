// Charger configuration: the charger page's section (the stored snapshot
// with its time, a Refresh, each key editable with the charger's answer
// kept) and the Configuration page (one key on many chargers: its values
// across the fleet from the snapshots, pick chargers, apply, a result per
// charger).

import { get, post, put, enc, qs, commandOutcome } from '../api.js';
import * as live from '../live.js';
import { h, setText, ago, dateTime, badge, toast, busy, field, emptyState, link, chargerHref } from '../ui.js';

const OFFLINE = "This charger is offline — commands can't reach it.";
const APPLY_CHUNK = 1000; // the API's limit per request
const MAX_ROWS = 500; // chargers drawn in the picker at once
const MAX_VALUE_PAGES = 20; // pages of 1,000 of the fleet view read for a key

/** changeBadge shows a key's last change: its answer, and a pending reboot. */
export function changeBadge(ch) {
  if (!ch) return '';
  let cls = 'bad';
  let text = ch.status;
  if (ch.status === 'Accepted') cls = 'ok';
  else if (ch.status === 'RebootRequired') {
    cls = ch.pendingReboot ? 'busy' : 'ok';
    text = ch.pendingReboot ? 'RebootRequired · pending reboot' : 'RebootRequired · rebooted since';
  }
  return h('span', { class: 'change', dataset: { testid: 'last-change', status: ch.status, pending: String(!!ch.pendingReboot) } },
    badge(text, cls), ' ', h('span', { class: 'muted small', title: dateTime(ch.at) },
      `${ch.value !== '' ? `“${ch.value}” ` : ''}${ago(ch.at)}`));
}

/** keyHint says what a key is, from the list of known keys. */
function keyHint(k) {
  if (!k) return 'Not a standard OCPP 1.6 key and not seen in any snapshot — the charger may answer NotSupported.';
  const parts = [];
  if (k.standard) parts.push(`OCPP 1.6 ${k.profile || ''} key`.replace('  ', ' '));
  else parts.push('Vendor key seen in a snapshot');
  if (k.type) parts.push(k.type === 'CSL' ? 'comma-separated list' : k.type);
  if (k.unit) parts.push(`in ${k.unit}`);
  if (k.readonly) parts.push('read-only: chargers reject changes');
  return parts.join(' · ');
}

/** keyOptions fills a datalist with the known keys. */
async function loadKeys(list) {
  try {
    const res = await get('/configuration/keys');
    list.replaceChildren(...res.keys.map((k) => h('option', { value: k.key }, k.readonly ? `${k.key} (read-only)` : k.key)));
    return new Map(res.keys.map((k) => [k.key.toLowerCase(), k]));
  } catch { return new Map(); }
}

/**
 * chargerConfigSection is the charger page's Configuration section.
 * charger() returns the charger as the page knows it.
 */
export function chargerConfigSection(id, charger, ctx) {
  const base = `/chargers/${enc(id)}`;
  const taken = h('p', { class: 'muted', dataset: { testid: 'config-taken' } }, 'Loading the configuration…');
  const pending = h('p', { class: 'notice', role: 'status', hidden: true, dataset: { testid: 'config-pending' } });
  const out = h('p', { class: 'outcome', role: 'status' });
  const refresh = h('button', { type: 'button', class: 'primary' }, 'Refresh from charger');
  const filter = h('input', { type: 'search', placeholder: 'Filter keys', 'aria-label': 'Filter keys' });
  const tbody = h('tbody');
  const table = h('table', { class: 'list config', hidden: true, 'aria-label': 'Configuration keys' },
    h('thead', null, h('tr', null, ['Key', 'Value', 'Last change'].map((t) => h('th', { scope: 'col' }, t)))), tbody);
  const others = h('div', { class: 'config-others' });
  const rows = new Map(); // lower-case key → row
  let snap = null;

  // A key the snapshot does not list (a vendor key GetConfiguration does
  // not show) can still be changed by name.
  const otherKey = h('input', { name: 'key', maxlength: 50, list: 'cfg-keys-charger', autocomplete: 'off', required: true });
  const otherValue = h('input', { name: 'value', maxlength: 500 });
  const otherOut = h('p', { class: 'outcome', role: 'status' });
  const otherSave = h('button', { type: 'submit' }, 'Change');
  const keyList = h('datalist', { id: 'cfg-keys-charger' });
  const otherForm = h('form', { class: 'toolbar', 'aria-label': 'Change a key by name' },
    field('Key', otherKey), field('Value', otherValue), otherSave, keyList);
  otherForm.addEventListener('submit', (e) => {
    e.preventDefault();
    const key = otherKey.value.trim();
    if (key) save(key, otherValue.value, otherSave, otherOut);
  });
  loadKeys(keyList);

  async function load() {
    try {
      snap = await get(`${base}/configuration`);
    } catch (err) {
      if (err.status !== 404) { setText(taken, `Could not read the configuration: ${err.message}`); return; }
      snap = null;
    }
    draw();
  }

  // drawButtons follows the charger's connection; it touches nothing
  // else, so a live update never takes the focus from a value being typed.
  function drawButtons() {
    const c = charger();
    const title = c.connected ? '' : OFFLINE;
    for (const b of [refresh, otherSave, ...[...rows.values()].map((r) => r.save).filter(Boolean)]) {
      b.disabled = !c.connected;
      b.title = title;
    }
  }

  let order = '';
  function draw() {
    if (!snap) {
      setText(taken, 'No snapshot yet — Refresh reads every key from the charger and keeps it here with its time.');
      table.hidden = true;
      pending.hidden = true;
      others.replaceChildren();
      drawButtons();
      return;
    }
    const unknown = snap.unknownKeys.length ? ` · unknown to the charger: ${snap.unknownKeys.join(', ')}` : '';
    setText(taken, `Snapshot taken at ${dateTime(snap.takenAt)} (${ago(snap.takenAt)}) · ${snap.keys.length} keys${unknown}`);
    taken.dataset.takenAt = snap.takenAt;
    const waiting = snap.changes.filter((ch) => ch.pendingReboot);
    pending.hidden = !waiting.length;
    setText(pending, waiting.length
      ? `Waiting for a reboot: ${waiting.map((ch) => `${ch.key} = ${ch.value}`).join(', ')}. The charger applies ${waiting.length === 1 ? 'this change' : 'these changes'} when it restarts (Commands → Reset).`
      : '');

    const seen = new Set();
    for (const k of [...snap.keys].sort((a, b) => a.key.localeCompare(b.key))) {
      const lk = k.key.toLowerCase();
      seen.add(lk);
      let r = rows.get(lk);
      if (!r) { r = row(k); rows.set(lk, r); }
      update(r, k);
    }
    for (const [lk, r] of rows) if (!seen.has(lk)) { r.tr.remove(); rows.delete(lk); }
    const sorted = [...rows.values()].sort((a, b) => a.key.localeCompare(b.key));
    const sig = sorted.map((r) => r.key).join('\n');
    if (sig !== order) { order = sig; tbody.replaceChildren(...sorted.map((r) => r.tr)); }
    table.hidden = false;
    drawButtons();
    applyFilter();

    const extra = snap.changes.filter((ch) => !seen.has(ch.key.toLowerCase()));
    others.replaceChildren(...(extra.length ? [h('h3', null, 'Other keys changed'),
      h('ul', { class: 'plain' }, extra.map((ch) => h('li', { dataset: { key: ch.key } }, h('strong', null, ch.key), ' ', changeBadge(ch))))] : []));
  }

  function row(k) {
    const input = h('input', { value: k.value ?? '', 'aria-label': k.key, readonly: k.readonly || null, maxlength: 500 });
    const res = h('span', { class: 'outcome small', role: 'status', dataset: { testid: 'result' } });
    const saveBtn = k.readonly ? null : h('button', { type: 'submit', class: 'small' }, 'Save');
    const last = h('td', { class: 'last' });
    const form = h('form', { class: 'inline' }, input, k.readonly ? badge('read-only', 'off') : saveBtn, res);
    const r = { key: k.key, input, res, save: saveBtn, last, dirty: false, tr: null };
    input.addEventListener('input', () => { r.dirty = true; });
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      if (saveBtn && !saveBtn.disabled) saveRow(r);
    });
    r.tr = h('tr', { dataset: { key: k.key } },
      h('th', { scope: 'row' }, link(`/configuration${qs({ key: k.key })}`, k.key)), h('td', null, form), last);
    return r;
  }

  function update(r, k) {
    if (!r.dirty && document.activeElement !== r.input) r.input.value = k.value ?? '';
    r.last.replaceChildren(changeBadge(k.lastChange));
  }

  async function saveRow(r) {
    const ok = await save(r.key, r.input.value, r.save, r.res);
    if (ok) r.dirty = false;
  }

  // save changes one key and shows the charger's answer; the snapshot is
  // read again, so the value and the last change show what was kept.
  async function save(key, value, button, resEl) {
    let ok = false;
    await busy(button, async () => {
      resEl.textContent = 'Waiting for the charger…';
      resEl.className = 'outcome small';
      try {
        const ch = await put(`${base}/configuration/${enc(key)}`, { value });
        const r = commandOutcome(ch);
        resEl.textContent = ch.status;
        resEl.className = `outcome small ${r.ok ? 'ok' : 'bad'}`;
        resEl.title = r.text;
        toast(`${ch.key}: ${r.text}`, r.ok ? 'ok' : 'error');
        ok = true;
      } catch (err) {
        resEl.textContent = err.message;
        resEl.className = 'outcome small bad';
        toast(`${key}: ${err.message}`, 'error');
      }
    });
    await load();
    return ok;
  }

  refresh.addEventListener('click', () => busy(refresh, async () => {
    out.textContent = 'Asking the charger…';
    out.className = 'outcome';
    try {
      snap = await post(`${base}/configuration/refresh`);
      for (const r of rows.values()) r.dirty = false;
      out.textContent = `Read ${snap.keys.length} keys from the charger.`;
      out.className = 'outcome ok';
      draw();
    } catch (err) {
      out.textContent = err.message;
      out.className = 'outcome bad';
      toast(err.message, 'error');
    }
  }));

  function applyFilter() {
    const f = filter.value.trim().toLowerCase();
    for (const [lk, r] of rows) r.tr.hidden = !!f && !lk.includes(f);
  }
  filter.addEventListener('input', applyFilter);

  // A reboot clears pending changes; going on- or offline enables the
  // buttons or not.
  ctx.onLeave(live.subscribe(({ ids, events, reset }) => {
    if (events.some((e) => e.chargerId === id && e.type === 'charger.booted')) load();
    else if (reset || ids.has(id)) drawButtons();
  }));
  load();

  return h('section', { 'aria-labelledby': 'cfg-title', class: 'config-section' }, h('h2', { id: 'cfg-title' }, 'Configuration'),
    h('div', { class: 'toolbar' }, refresh, filter), taken, pending, out, h('div', { class: 'table-wrap' }, table), others,
    h('details', null, h('summary', null, 'Change a key that is not listed'), otherForm, otherOut));
}

/** resultBadge shows one charger's result of an apply or a refresh. */
function resultBadge(r, refresh) {
  if (r.error) {
    const offline = r.errorKind === 'charger-not-connected';
    return badge(offline ? 'offline' : (r.errorKind || 'error'), offline ? 'off' : 'bad');
  }
  if (refresh) return badge('Snapshot taken', 'ok');
  return badge(r.status, r.status === 'Accepted' ? 'ok' : r.status === 'RebootRequired' ? 'busy' : 'bad');
}

function resultText(r, refresh) {
  if (r.error) return r.error;
  if (refresh) return `${r.keys} keys at ${dateTime(r.takenAt)}`;
  return commandOutcome(r).text;
}

/** tally counts results: "18 Accepted · 2 offline". */
function tally(results, refresh) {
  const n = new Map();
  for (const r of results) {
    const k = r.error ? (r.errorKind === 'charger-not-connected' ? 'offline' : (r.errorKind || 'error')) : refresh ? 'snapshot taken' : r.status;
    n.set(k, (n.get(k) || 0) + 1);
  }
  return [...n].sort((a, b) => b[1] - a[1]).map(([k, v]) => `${v} ${k}`).join(' · ');
}

export async function configurationPage(root, ctx) {
  if (ctx.user.role !== 'operator' && ctx.user.role !== 'admin') {
    // Values may hold secrets: the API serves configuration to operators.
    root.append(h('h1', null, 'Configuration'), emptyState('Charger configuration needs the operator or admin role.'));
    return;
  }
  const keyInput = h('input', { name: 'key', maxlength: 50, list: 'cfg-keys', autocomplete: 'off', placeholder: 'e.g. HeartbeatInterval',
    value: ctx.query.get('key') || '' });
  const keyList = h('datalist', { id: 'cfg-keys' });
  const hint = h('small', { class: 'muted', dataset: { testid: 'key-hint' } });
  const valueInput = h('input', { name: 'value', maxlength: 500, placeholder: 'new value' });
  const search = h('input', { type: 'search', placeholder: 'Charger id, vendor or model' });
  const state = h('select', null, [['', 'Any'], ['online', 'Online'], ['offline', 'Offline']].map(([v, t]) => h('option', { value: v }, t)));
  const having = h('select', null, [['', 'Any'], ['differs', 'Differs from the new value'], ['none', 'No snapshot']].map(([v, t]) => h('option', { value: v }, t)));
  const all = h('input', { type: 'checkbox', 'aria-label': 'Select all chargers shown' });
  const count = h('p', { class: 'muted', 'aria-live': 'polite', dataset: { testid: 'picker-count' } });
  const summary = h('p', { class: 'muted', dataset: { testid: 'values-summary' } });
  const tbody = h('tbody');
  const table = h('table', { class: 'list picker', 'aria-label': 'Chargers' },
    h('thead', null, h('tr', null, h('th', { scope: 'col' }, all), ...['Charger', 'Connection', 'Value', 'Snapshot taken', 'Last change'].map((t) => h('th', { scope: 'col' }, t)))),
    tbody);
  const applyBtn = h('button', { type: 'submit', class: 'primary' }, 'Apply');
  const refreshBtn = h('button', { type: 'button' }, 'Refresh snapshots');
  const progress = h('p', { class: 'outcome', role: 'status' });
  const resultsTitle = h('h2', { id: 'cfg-results' }, 'Results');
  const resultsNote = h('p', { class: 'muted', dataset: { testid: 'results-summary' } });
  const resultsBody = h('tbody');
  const results = h('section', { 'aria-labelledby': 'cfg-results', hidden: true }, resultsTitle, resultsNote,
    h('div', { class: 'table-wrap' }, h('table', { class: 'list results', 'aria-label': 'Results' },
      h('thead', null, h('tr', null, ['Charger', 'Result', 'Detail'].map((t) => h('th', { scope: 'col' }, t)))), resultsBody)));

  const form = h('form', { class: 'card config-apply', 'aria-label': 'Change a key on many chargers' },
    h('div', { class: 'toolbar' }, field('Key', keyInput), field('New value', valueInput), keyList),
    hint,
    h('div', { class: 'filters' }, field('Search chargers', search), field('Connection', state), field('Value', having)),
    count, summary, h('div', { class: 'table-wrap' }, table),
    h('div', { class: 'buttons' }, refreshBtn, applyBtn), progress);
  root.append(h('h1', null, 'Configuration'),
    h('p', { class: 'muted' }, 'Change one configuration key on many chargers at once (ChangeConfiguration) and see each charger’s answer. Values come from the snapshots Wattson keeps of each charger’s configuration (GetConfiguration): refresh them for current values.'),
    form, results);

  const selected = new Set();
  let values = new Map(); // charger id → fleet view item of the key
  let valuesKey = '';
  let valuesNote = '';
  let known = new Map();
  const rows = new Map(); // charger id → row

  function matches(c) {
    const s = search.value.trim().toLowerCase();
    if (s && !c.id.toLowerCase().includes(s) && !(c.model || '').toLowerCase().includes(s) && !(c.vendor || '').toLowerCase().includes(s)) return false;
    if (state.value === 'online' && !c.connected) return false;
    if (state.value === 'offline' && c.connected) return false;
    const v = values.get(c.id);
    if (having.value === 'none' && v?.takenAt) return false;
    if (having.value === 'differs' && v?.found && v.value === valueInput.value) return false;
    return true;
  }

  function row(id) {
    const box = h('input', { type: 'checkbox', 'aria-label': `Select ${id}` });
    box.addEventListener('change', () => { if (box.checked) selected.add(id); else selected.delete(id); showCount(); });
    const conn = badge('', '');
    const value = h('td', { dataset: { testid: 'value' } });
    const takenCell = h('td', { class: 'small' });
    const last = h('td');
    const tr = h('tr', { dataset: { id } }, h('td', null, box), h('th', { scope: 'row' }, link(chargerHref(id), id)), h('td', null, conn), value, takenCell, last);
    return { tr, box, conn, value, takenCell, last, sig: '' };
  }

  function update(r, c) {
    r.box.checked = selected.has(c.id);
    setText(r.conn, c.connected ? 'online' : 'offline');
    r.conn.className = `badge badge-${c.connected ? 'ok' : 'off'}`;
    const v = values.get(c.id);
    const sig = `${valuesKey}\n${JSON.stringify(v || null)}`;
    if (sig === r.sig) return;
    r.sig = sig;
    if (!valuesKey) { r.value.replaceChildren('—'); r.takenCell.replaceChildren(''); r.last.replaceChildren(''); return; }
    r.value.replaceChildren(!v?.takenAt ? h('span', { class: 'muted' }, 'no snapshot') : v.found ? h('code', null, v.value === '' ? '""' : v.value)
      : h('span', { class: 'muted' }, 'not listed'), v?.readonly ? ' ' : '', v?.readonly ? badge('read-only', 'off') : '');
    r.takenCell.replaceChildren(v?.takenAt ? h('span', { title: dateTime(v.takenAt) }, ago(v.takenAt)) : '');
    r.last.replaceChildren(changeBadge(v?.lastChange));
  }

  // draw shows the matching chargers, at most MAX_ROWS of them.
  function draw() {
    const ids = [...live.chargers.keys()].sort();
    const show = [];
    let matching = 0;
    for (const id of ids) {
      if (!matches(live.chargers.get(id))) continue;
      matching++;
      if (show.length < MAX_ROWS) show.push(id);
    }
    for (const id of rows.keys()) if (!live.chargers.has(id)) rows.delete(id);
    const trs = show.map((id) => {
      let r = rows.get(id);
      if (!r) { r = row(id); rows.set(id, r); }
      update(r, live.chargers.get(id));
      return r.tr;
    });
    tbody.replaceChildren(...trs);
    count.dataset.matching = String(matching);
    showCount(matching, show.length);
    drawSummary();
    root.dataset.rendered = String(trs.length); // the browser tests wait for this
  }

  let lastMatching = 0, lastShown = 0;
  function showCount(matching = lastMatching, shown = lastShown) {
    lastMatching = matching; lastShown = shown;
    const more = matching > shown ? ` (showing the first ${shown}; narrow the search to see the others)` : '';
    setText(count, live.chargers.size ? `${matching} of ${live.chargers.size} chargers match${more} · ${selected.size} selected` : 'No chargers yet.');
    all.checked = matching > 0 && [...live.chargers.values()].every((c) => !matches(c) || selected.has(c.id));
    setText(applyBtn, selected.size ? `Apply to ${selected.size} charger${selected.size === 1 ? '' : 's'}` : 'Apply');
    setText(refreshBtn, selected.size ? `Refresh snapshots of ${selected.size}` : 'Refresh snapshots');
    applyBtn.disabled = refreshBtn.disabled = working || !selected.size;
  }

  function drawSummary() {
    if (!valuesKey) { setText(summary, 'Choose a key to see its values across the chargers.'); return; }
    const n = new Map();
    let none = 0;
    for (const id of live.chargers.keys()) {
      const v = values.get(id);
      if (!v?.takenAt) { none++; continue; }
      const k = v.found ? `“${v.value}”` : 'not listed';
      n.set(k, (n.get(k) || 0) + 1);
    }
    const parts = [...n].sort((a, b) => b[1] - a[1]).map(([k, c]) => `${k} on ${c}`);
    if (none) parts.push(`no snapshot on ${none}`);
    setText(summary, `${valuesKey} in the snapshots: ${parts.join(' · ') || 'no charger'}${valuesNote}`);
  }

  all.addEventListener('change', () => {
    for (const c of live.chargers.values()) {
      if (!matches(c)) continue;
      if (all.checked) selected.add(c.id); else selected.delete(c.id);
    }
    draw();
  });

  // The values of the key across the fleet, a page of 1,000 at a time.
  let loadSeq = 0;
  async function loadValues() {
    const key = keyInput.value.trim();
    const seq = ++loadSeq;
    const k = known.get(key.toLowerCase());
    setText(hint, key ? keyHint(k) : '');
    if (!key) { values = new Map(); valuesKey = ''; draw(); return; }
    const next = new Map();
    let after = '';
    let pages = 0;
    try {
      do {
        const p = await get(`/configuration${qs({ key, limit: 1000, after })}`);
        if (seq !== loadSeq) return;
        for (const it of p.items) next.set(it.chargerId, it);
        after = p.next;
      } while (after && ++pages < MAX_VALUE_PAGES);
    } catch (err) {
      if (seq === loadSeq) toast(`Could not read the values of ${key}: ${err.message}`, 'error');
      return;
    }
    values = next;
    valuesKey = key;
    valuesNote = after ? ` (the first ${next.size} chargers)` : '';
    const u = new URL(location.href);
    u.searchParams.set('key', key);
    history.replaceState(null, '', u.pathname + u.search);
    draw();
  }
  let t = 0;
  keyInput.addEventListener('input', () => { clearTimeout(t); t = setTimeout(loadValues, 250); });
  search.addEventListener('input', () => { clearTimeout(t); t = setTimeout(draw, 120); });
  state.addEventListener('change', draw);
  having.addEventListener('change', draw);
  valueInput.addEventListener('input', () => { if (having.value === 'differs') draw(); });

  function showResults(title, list, refresh) {
    results.hidden = false;
    setText(resultsTitle, title);
    setText(resultsNote, tally(list, refresh));
    resultsBody.replaceChildren(...list.map((r) => h('tr', { dataset: { id: r.chargerId } },
      h('th', { scope: 'row' }, link(chargerHref(r.chargerId), r.chargerId)),
      h('td', { dataset: { testid: 'result' } }, resultBadge(r, refresh)), h('td', { class: 'small' }, resultText(r, refresh)))));
  }

  let working = false;
  // run sends the selection in chunks the API takes and shows the results
  // as they come.
  async function run(button, path, body, title, refresh) {
    const ids = [...selected].sort();
    const list = [];
    working = true;
    showCount();
    progress.className = 'outcome';
    try {
      await busy(button, async () => {
        for (let i = 0; i < ids.length; i += APPLY_CHUNK) {
          setText(progress, `Waiting for the chargers… ${i} of ${ids.length} done`);
          try {
            const res = await post(path, { ...body, chargers: ids.slice(i, i + APPLY_CHUNK) });
            list.push(...res.results);
          } catch (err) {
            setText(progress, err.message);
            progress.className = 'outcome bad';
            toast(err.message, 'error');
            return;
          }
          showResults(title, list, refresh);
        }
        setText(progress, `Done: ${tally(list, refresh)}`);
        progress.className = 'outcome ok';
      });
    } finally {
      working = false;
      showCount();
    }
    if (valuesKey) await loadValues();
  }

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const key = keyInput.value.trim();
    if (!key) { setText(progress, 'Choose a key first.'); progress.className = 'outcome bad'; keyInput.focus(); return; }
    run(applyBtn, '/configuration/apply', { key, value: valueInput.value }, `Results: ${key} = “${valueInput.value}”`, false);
  });
  refreshBtn.addEventListener('click', () => run(refreshBtn, '/configuration/refresh', {}, 'Results: snapshots refreshed', true));

  ctx.onLeave(live.subscribe(({ ids, reset }) => {
    if (reset) { draw(); return; }
    // Rows drawn follow their charger; only a charger that would join the
    // rows drawn redraws them, not every event of a big fleet.
    let added = false;
    for (const id of ids) {
      const r = rows.get(id);
      const c = live.chargers.get(id);
      if (r && c) update(r, c);
      else if (!c || (!r && lastShown < MAX_ROWS && matches(c))) added = true;
    }
    if (added) draw();
  }));

  known = await loadKeys(keyList);
  await live.load().catch(() => {});
  draw();
  if (keyInput.value) loadValues();
}
