// The chargers list. Rows are keyed by charger id and built once; a batch
// of events touches only the rows of the chargers it names, and within a
// row only the cells whose text changed. That keeps a thousand chargers
// streaming events cheap for the browser.

import { put, enc } from '../api.js';
import * as live from '../live.js';
import { h, setText, ago, badge, statusClass, chargerHref, toast, busy, field } from '../ui.js';

/** connectorsSig is a cheap signature of a charger's connector states. */
const connectorsSig = (c) => (c.connectors || []).filter((k) => k.connectorId > 0).map((k) => `${k.connectorId}:${k.status}`).join(',');

function matches(c, f) {
  if (f.registration && c.registration !== f.registration) return false;
  if (f.state) {
    const st = (c.connectors || []).map((k) => k.status);
    if (f.state === 'online' && !c.connected) return false;
    if (f.state === 'offline' && c.connected) return false;
    if (f.state === 'charging' && !st.includes('Charging')) return false;
    if (f.state === 'faulted' && !st.includes('Faulted')) return false;
  }
  if (f.search) {
    const s = f.search;
    if (!c.id.toLowerCase().includes(s) && !(c.model || '').toLowerCase().includes(s) && !(c.vendor || '').toLowerCase().includes(s)) return false;
  }
  return true;
}

/** approval buttons for a pending charger; admin only (the API checks too). */
export function approvalButtons(c, user) {
  if (user.role !== 'admin' || c.registration === 'Accepted') return null;
  const set = (registration, label) => h('button', {
    type: 'button', class: registration === 'Accepted' ? 'small primary' : 'small',
    'aria-label': `${label} ${c.id}`,
    onclick: (e) => busy(e.currentTarget, async () => {
      try {
        await put(`/chargers/${enc(c.id)}`, { registration });
        toast(`${c.id}: ${registration === 'Accepted' ? 'approved' : 'rejected'}`, 'ok');
      } catch (err) { toast(err.message, 'error'); }
    }),
  }, label);
  return h('span', { class: 'approval' }, set('Accepted', 'Approve'), c.registration === 'Pending' ? set('Rejected', 'Reject') : null);
}

export async function chargersPage(root, ctx) {
  const search = h('input', { type: 'search', placeholder: 'Charger id, vendor or model', value: ctx.query.get('search') || '' });
  const registration = h('select', null, ['', 'Accepted', 'Pending', 'Rejected'].map((v) => h('option', { value: v, selected: ctx.query.get('registration') === v }, v || 'Any')));
  const state = h('select', null, [['', 'Any'], ['online', 'Online'], ['offline', 'Offline'], ['charging', 'Charging'], ['faulted', 'Faulted']]
    .map(([v, t]) => h('option', { value: v, selected: ctx.query.get('state') === v }, t)));
  const count = h('p', { class: 'muted', 'aria-live': 'polite' }, 'Loading chargers…');
  // A grid of rows with table roles rather than a <table>: a changed cell
  // in a 1,000-row <table> makes the browser lay the whole table out again,
  // while grid rows are contained and rows out of view are skipped
  // (content-visibility), which keeps a streaming list at 60 frames/s.
  const tbody = h('div', { role: 'rowgroup', class: 'rows' });
  const empty = h('p', { class: 'empty', hidden: true });
  const table = h('div', { role: 'table', class: 'rowlist chargers', 'aria-label': 'Chargers', 'aria-describedby': 'chargers-count' },
    h('div', { role: 'rowgroup' }, h('div', { role: 'row', class: 'row head' },
      ['Charger', 'Connection', 'Connectors', 'Last seen', 'Model', 'Firmware', 'Registration'].map((t) => h('span', { role: 'columnheader' }, t)))),
    tbody);
  count.id = 'chargers-count';
  root.append(h('h1', null, 'Chargers'),
    h('form', { class: 'filters', role: 'search', onsubmit: (e) => e.preventDefault() },
      field('Search', search), field('Registration', registration), field('State', state)),
    count, table, empty);

  const rows = new Map(); // id → {tr, cells, sig}
  let filter = readFilter();

  function readFilter() {
    return { search: search.value.trim().toLowerCase(), registration: registration.value, state: state.value };
  }

  function buildRow(c) {
    const cells = {
      name: h('a', { href: chargerHref(c.id) }, c.id),
      conn: badge('', ''),
      connectors: h('span', { role: 'cell', class: 'connectors' }),
      seen: h('span', { role: 'cell', class: 'seen' }), model: h('span', { role: 'cell', class: 'model' }),
      fw: h('span', { role: 'cell', class: 'fw' }), reg: h('span', { role: 'cell', class: 'reg' }),
    };
    const tr = h('div', { role: 'row', class: 'row', dataset: { id: c.id } }, h('span', { role: 'rowheader', class: 'name' }, cells.name),
      h('span', { role: 'cell', class: 'conn' }, cells.conn), cells.connectors, cells.seen, cells.model, cells.fw, cells.reg);
    const row = { tr, cells, sig: '', regSig: '' };
    updateRow(row, c);
    return row;
  }

  function updateRow(row, c) {
    const { cells } = row;
    setText(cells.conn, c.connected ? 'online' : 'offline');
    cells.conn.className = `badge badge-${c.connected ? 'ok' : 'off'}`;
    row.tr.classList.toggle('offline', !c.connected);
    setText(cells.seen, ago(c.lastSeenAt));
    setText(cells.model, [c.vendor, c.model].filter(Boolean).join(' ') || '—');
    setText(cells.fw, c.firmwareVersion || '—');
    const sig = connectorsSig(c);
    if (sig !== row.sig) {
      row.sig = sig;
      cells.connectors.replaceChildren(...(c.connectors || []).filter((k) => k.connectorId > 0)
        .map((k) => h('span', { class: `badge badge-${statusClass(k.status)}`, title: `Connector ${k.connectorId}: ${k.status}` }, `${k.connectorId} ${k.status}`)));
    }
    if (row.regSig !== c.registration) {
      row.regSig = c.registration;
      cells.reg.replaceChildren(c.registration === 'Accepted' ? 'Accepted' : badge(c.registration === 'Pending' ? 'Awaiting approval' : c.registration, c.registration === 'Pending' ? 'busy' : 'bad'),
        ' ', approvalButtons(c, ctx.user) || '');
    }
    const hide = !matches(c, filter);
    if (row.tr.hidden !== hide) row.tr.hidden = hide;
  }

  function showCount() {
    let shown = 0;
    for (const r of rows.values()) if (!r.tr.hidden) shown++;
    setText(count, live.chargers.size === 0 ? '' : shown === live.chargers.size ? `${shown} charger${shown === 1 ? '' : 's'}` : `Showing ${shown} of ${live.chargers.size} chargers`);
    empty.hidden = shown > 0;
    setText(empty, live.chargers.size === 0
      ? 'No chargers yet. Point a charger at ws://<this host>/ocpp/<charger id> and it appears here.'
      : 'No charger matches these filters.');
  }

  let built = false;
  function rebuild() {
    built = true;
    rows.clear();
    const ids = [...live.chargers.keys()].sort();
    const frag = document.createDocumentFragment();
    for (const id of ids) {
      const row = buildRow(live.chargers.get(id));
      rows.set(id, row);
      frag.append(row.tr);
    }
    tbody.replaceChildren(frag);
    showCount();
    root.dataset.rendered = String(rows.size); // the browser tests wait for this
  }

  function insertSorted(id, row) {
    // Rows are in id order; a new charger goes before the first larger id.
    let before = null;
    for (const [other, r] of rows) if (other > id && (!before || other < before.dataset.id)) before = r.tr;
    tbody.insertBefore(row.tr, before);
    rows.set(id, row);
  }

  ctx.onLeave(live.subscribe(({ ids, reset }) => {
    if (reset) { rebuild(); return; }
    for (const id of ids) {
      const c = live.chargers.get(id);
      const row = rows.get(id);
      if (!c) { if (row) { row.tr.remove(); rows.delete(id); } continue; }
      if (row) updateRow(row, c); else insertSorted(id, buildRow(c));
    }
    if (ids.size) showCount();
  }));

  const applyFilter = () => {
    filter = readFilter();
    const q = new URLSearchParams();
    if (search.value.trim()) q.set('search', search.value.trim());
    if (registration.value) q.set('registration', registration.value);
    if (state.value) q.set('state', state.value);
    // Keep the filter in the address so back/forward and links keep it.
    history.replaceState(null, '', `/chargers${q.size ? `?${q}` : ''}`);
    for (const [id, row] of rows) row.tr.hidden = !matches(live.chargers.get(id), filter);
    showCount();
  };
  let t = 0;
  search.addEventListener('input', () => { clearTimeout(t); t = setTimeout(applyFilter, 120); });
  registration.addEventListener('change', applyFilter);
  state.addEventListener('change', applyFilter);

  // "Last seen 2 minutes ago" ages without events: refresh the text now and
  // then. Only local text changes; nothing is asked of the server.
  const tick = setInterval(() => {
    for (const [id, row] of rows) if (!row.tr.hidden) setText(row.cells.seen, ago(live.chargers.get(id)?.lastSeenAt));
  }, 30000);
  ctx.onLeave(() => clearInterval(tick));

  try {
    await live.load();
    if (!built) rebuild(); // else the load's reset batch already drew the list

  } catch (err) {
    setText(count, `Could not read the chargers: ${err.message}`);
    count.className = 'error';
  }
}
