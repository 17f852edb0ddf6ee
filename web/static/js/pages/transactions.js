import { get, qs, BASE } from '../api.js';
import * as live from '../live.js';
import { LineChart, PhaseCharts, phaseSeries } from '../chart.js';
import { h, dateTime, energy, duration, link, chargerHref, field, busy, emptyState, badge, setText } from '../ui.js';

/** toISO turns a datetime-local value into RFC 3339 (UTC), as the API wants. */
const toISO = (v) => (v ? new Date(v).toISOString() : '');
const fromISO = (v) => {
  if (!v) return '';
  const d = new Date(v);
  if (Number.isNaN(+d)) return '';
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
};

export async function transactionsPage(root, ctx) {
  const q = ctx.query;
  const charger = h('input', { value: q.get('chargerId') || '', autocomplete: 'off' });
  const tag = h('input', { value: q.get('idTag') || '', autocomplete: 'off', maxlength: 20 });
  const from = h('input', { type: 'datetime-local', value: fromISO(q.get('from')) });
  const to = h('input', { type: 'datetime-local', value: fromISO(q.get('to')) });
  const activeSel = h('select', null, [['', 'All'], ['true', 'Running'], ['false', 'Finished']].map(([v, t]) => h('option', { value: v, selected: q.get('active') === v }, t)));
  const csv = h('a', { class: 'button', download: 'transactions.csv' }, 'Export CSV');
  const tbody = h('tbody');
  const note = h('p', { class: 'muted', 'aria-live': 'polite' });
  const more = h('button', { type: 'button', hidden: true }, 'Older transactions');
  const form = h('form', { class: 'filters' }, field('Charger', charger), field('Id tag', tag), field('Started from', from), field('Started before', to),
    field('State', activeSel), h('div', { class: 'field buttons' }, h('button', { type: 'submit', class: 'primary' }, 'Show'), csv));
  root.append(h('h1', null, 'Transactions'), form, note,
    h('div', { class: 'table-wrap' }, h('table', { class: 'list transactions' },
      h('thead', null, h('tr', null, ['#', 'Charger', 'Connector', 'Id tag', 'Started', 'Duration', 'Energy', 'State'].map((t) => h('th', { scope: 'col' }, t)))), tbody)),
    more);

  const filters = () => ({ chargerId: charger.value.trim(), idTag: tag.value.trim(), from: toISO(from.value), to: toISO(to.value), active: activeSel.value });
  let next = '';
  const rows = new Map();
  const row = (t) => h('tr', { dataset: { id: t.id } },
    h('th', { scope: 'row' }, link(`/transactions/${t.id}`, `#${t.id}`)), h('td', null, link(chargerHref(t.chargerId), t.chargerId)),
    h('td', null, t.connectorId), h('td', null, t.idTag), h('td', null, dateTime(t.startedAt)), h('td', null, duration(t.startedAt, t.stoppedAt)),
    h('td', { class: 'num' }, t.active ? '…' : energy(t.energy)), h('td', null, t.active ? badge('Charging', 'charging') : (t.stopReason || 'Finished')));

  async function load(reset) {
    const f = filters();
    try {
      const page = await get(`/transactions${qs({ ...f, limit: 50, before: reset ? '' : next })}`);
      next = page.next;
      if (reset) { tbody.replaceChildren(); rows.clear(); }
      for (const t of page.items) { const r = row(t); rows.set(t.id, r); tbody.append(r); }
      more.hidden = !next;
      setText(note, rows.size ? '' : 'No transactions match these filters.');
    } catch (err) { setText(note, err.message); }
  }
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const f = filters();
    history.replaceState(null, '', `/transactions${qs(f)}`);
    csv.href = `${BASE}/transactions.csv${qs(f)}`;
    load(true);
  });
  more.addEventListener('click', () => busy(more, () => load(false)));
  csv.href = `${BASE}/transactions.csv${qs(filters())}`;

  // A session that starts or stops changes the list: update the row in
  // place, or read the first page again for a new one.
  ctx.onLeave(live.subscribe(({ events }) => {
    for (const e of events) {
      if (e.type === 'transaction.stopped' && rows.has(e.data?.id)) {
        const r = row(e.data);
        rows.get(e.data.id).replaceWith(r);
        rows.set(e.data.id, r);
      } else if (e.type === 'transaction.started' && !next && rows.size < 50) { load(true); return; }
    }
  }));
  await load(true);
}

export async function transactionPage(root, ctx) {
  const id = ctx.params[0];
  let t;
  try { t = await get(`/transactions/${id}`); } catch (err) {
    root.append(h('h1', null, `Transaction #${id}`), h('p', { class: 'error' }, err.status === 404 ? 'There is no such transaction.' : err.message));
    return;
  }
  const en = h('dd', { dataset: { testid: 'energy' } });
  const state = h('dd');
  const dur = h('dd');
  root.append(h('p', { class: 'crumbs' }, link('/transactions', 'Transactions'), ' / '),
    h('h1', null, `Transaction #${t.id}`),
    h('dl', { class: 'facts' }, h('dt', null, 'Charger'), h('dd', null, link(chargerHref(t.chargerId), t.chargerId), ` connector ${t.connectorId}`),
      h('dt', null, 'Id tag'), h('dd', null, t.idTag), h('dt', null, 'Started'), h('dd', null, dateTime(t.startedAt)),
      h('dt', null, 'Duration'), dur, h('dt', null, 'Energy'), en, h('dt', null, 'State'), state));
  const totals = new LineChart({ title: 'Power', unit: 'kW', series: ['Total'], digits: 2 });
  const phases = new PhaseCharts();
  root.append(h('section', { 'aria-label': 'Power curve' }, h('h2', null, 'Power curve'), totals.el),
    h('section', { 'aria-label': 'Per phase' }, h('h2', null, 'Per phase'), phases.el));
  const samples = t.meterValues || [];
  const draw = () => {
    setText(en, t.active ? `${energy(latestEnergy(samples) - t.meterStart)} so far` : energy(t.energy));
    setText(state, t.active ? 'Charging' : `Finished${t.stopReason ? ` (${t.stopReason})` : ''} ${dateTime(t.stoppedAt)}`);
    setText(dur, duration(t.startedAt, t.stoppedAt));
  };
  totals.set([phaseSeries(samples).total]);
  phases.set(samples);
  draw();
  if (!samples.length) root.append(emptyState('The charger sent no measurements for this session.'));
  ctx.onLeave(live.subscribe(({ events }) => {
    for (const e of events) {
      if (e.type === 'meter.values' && e.data.transactionId === t.id) {
        samples.push(...e.data.samples);
        for (const p of phaseSeries(e.data.samples).total) totals.append(0, p.t, p.v);
        phases.add(e.data.samples);
        draw();
      } else if (e.type === 'transaction.stopped' && e.data?.id === t.id) {
        t = { ...t, ...e.data };
        draw();
      }
    }
  }));
}

function latestEnergy(samples) {
  let best = null;
  for (const m of samples) {
    if ((m.measurand || 'Energy.Active.Import.Register') !== 'Energy.Active.Import.Register' || m.phase) continue;
    const v = parseFloat(m.value) * (m.unit === 'kWh' ? 1000 : 1);
    if (!best || m.timestamp >= best.t) best = { t: m.timestamp, v };
  }
  return best ? best.v : 0;
}
