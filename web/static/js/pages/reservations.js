// Reservations: a connector, or any connector of a charger, kept for one
// id tag until an expiry (OCPP ReserveNow). The list follows the
// reservation.updated events live; operators reserve and cancel here.

import { get, post, del, qs } from '../api.js';
import * as live from '../live.js';
import { h, field, toast, busy, dateTime, badge, link, chargerHref, setText } from '../ui.js';

const canOperate = (u) => u.role === 'operator' || u.role === 'admin';

const DURATIONS = [[15, '15 minutes'], [30, '30 minutes'], [60, '1 hour'], [120, '2 hours'], [240, '4 hours'], [480, '8 hours'], [1440, '24 hours']];

/** reservationClass maps a reservation status to a badge colour. */
export function reservationClass(status) {
  switch (status) {
    case 'Accepted': case 'Pending': return 'ok';
    case 'Used': return 'charging';
    case 'Cancelled': case 'Expired': return 'off';
    default: return 'bad';
  }
}

/** connectorLabel names a reservation's connector for people. */
export const connectorLabel = (k) => (k === 0 ? 'any connector' : `connector ${k}`);

/** reservationText says in one line what a reservation holds. */
export function reservationText(r) {
  return `Reserved for ${r.idTag} until ${dateTime(r.expiryDate)} (#${r.id})`;
}

export async function reservationsPage(root, ctx) {
  const q = ctx.query;
  const show = h('select', { 'aria-label': 'Show' }, [['active', 'Active'], ['all', 'All']].map(([v, t]) => h('option', { value: v, selected: (q.get('show') || 'active') === v }, t)));
  const chargerFilter = h('input', { value: q.get('chargerId') || '', autocomplete: 'off', placeholder: 'All chargers', list: 'res-chargers' });
  const note = h('p', { class: 'muted', 'aria-live': 'polite' });
  const tbody = h('tbody');
  const more = h('button', { type: 'button', hidden: true }, 'Older reservations');
  const chargerList = h('datalist', { id: 'res-chargers' });
  const tagList = h('datalist', { id: 'res-tags' });
  const filters = h('form', { class: 'filters', 'aria-label': 'Filter reservations' }, field('Show', show), field('Charger', chargerFilter),
    h('div', { class: 'field buttons' }, h('button', { type: 'submit' }, 'Show')));
  root.append(h('h1', null, 'Reservations'),
    h('p', { class: 'muted' }, 'A reservation keeps a connector — or any connector of a charger — for one id tag until it expires. The charger lets only that tag (or one with the same parent) start there.'),
    canOperate(ctx.user) ? reserveForm() : null, filters, note,
    h('div', { class: 'table-wrap' }, h('table', { class: 'list reservations' },
      h('thead', null, h('tr', null, ['#', 'Charger', 'Connector', 'Id tag', 'Expires', 'Status', 'Created by', ''].map((t) => h('th', { scope: 'col' }, t)))), tbody)),
    more, chargerList, tagList);

  const activeOnly = () => show.value === 'active';
  const rows = new Map(); // id → { el, r }
  let next = '';

  function row(r) {
    const status = h('td', null, badge(r.status, reservationClass(r.status)), r.reason ? h('small', { class: 'muted' }, ` ${r.reason}`) : null);
    const actions = h('td', { class: 'actions' });
    if (r.active && canOperate(ctx.user)) {
      actions.append(h('button', { type: 'button', class: 'small danger', 'aria-label': `Cancel reservation ${r.id}`, onclick: (e) => cancel(r, e.currentTarget) }, 'Cancel'));
    }
    if (r.transactionId) actions.append(link(`/transactions/${r.transactionId}`, `Session #${r.transactionId}`));
    return h('tr', { dataset: { reservation: r.id, status: r.status } },
      h('th', { scope: 'row' }, `#${r.id}`), h('td', null, link(chargerHref(r.chargerId), r.chargerId)),
      h('td', null, r.connectorId === 0 ? 'Any' : String(r.connectorId)), h('td', null, r.idTag),
      h('td', null, dateTime(r.expiryDate)), status, h('td', null, r.createdBy || '—'), actions);
  }

  function put(r, { prepend = false } = {}) {
    const old = rows.get(r.id);
    if (old && old.r.updatedAt > r.updatedAt) return; // an older event arrived late
    if (activeOnly() && !r.active) {
      if (old) { old.el.remove(); rows.delete(r.id); }
      return;
    }
    const el = row(r);
    if (old) old.el.replaceWith(el);
    else if (prepend) tbody.prepend(el);
    else tbody.append(el);
    rows.set(r.id, { el, r });
  }

  const oldest = () => Math.min(...rows.keys());

  function drawNote() {
    setText(note, rows.size ? '' : activeOnly() ? 'No active reservations.' : 'No reservations yet.');
  }

  async function load(reset) {
    try {
      const p = await get(`/reservations${qs({ chargerId: chargerFilter.value.trim(), active: activeOnly() ? 'true' : '', limit: 100, before: reset ? '' : next })}`);
      next = p.next;
      if (reset) { tbody.replaceChildren(); rows.clear(); }
      for (const r of p.items) put(r);
      more.hidden = !next;
      drawNote();
    } catch (err) { setText(note, err.message); }
  }

  async function cancel(r, button) {
    await busy(button, async () => {
      try {
        const got = await del(`/reservations/${r.id}`);
        put(got);
        drawNote();
        toast(`Reservation #${r.id} cancelled`, 'ok');
      } catch (err) { toast(err.message, 'error'); }
    });
  }

  function reserveForm() {
    const charger = h('input', { required: true, autocomplete: 'off', list: 'res-chargers', value: q.get('chargerId') || '' });
    const connector = h('select');
    const idTag = h('input', { required: true, maxlength: 20, autocomplete: 'off', list: 'res-tags' });
    const duration = h('select', null, DURATIONS.map(([m, t]) => h('option', { value: m, selected: m === 60 }, t)));
    const until = h('input', { type: 'datetime-local' });
    const err = h('p', { class: 'error', role: 'alert', hidden: true });
    const ok = h('button', { type: 'submit', class: 'primary' }, 'Reserve');
    const fillConnectors = () => {
      const c = live.chargers.get(charger.value.trim());
      const ids = (c?.connectors || []).map((k) => k.connectorId).filter((k) => k > 0);
      if (!ids.length) ids.push(1, 2);
      const keep = connector.value;
      connector.replaceChildren(h('option', { value: 0 }, 'Any connector'), ...ids.map((k) => h('option', { value: k }, `Connector ${k}`)));
      if ([...connector.options].some((o) => o.value === keep)) connector.value = keep;
    };
    charger.addEventListener('input', fillConnectors);
    charger.addEventListener('change', fillConnectors);
    fillConnectors();
    const form = h('form', { class: 'card editor', 'aria-label': 'New reservation' },
      h('h2', null, 'New reservation'),
      h('div', { class: 'grid' }, field('Charger', charger), field('Connector', connector, '“Any connector” lets the charger pick; not every charger supports it'),
        field('Id tag', idTag, 'The driver’s card; a card with the same parent may use it too'),
        field('For', duration), field('Or until', until, 'Overrides “For” when set')),
      err, h('div', { class: 'buttons' }, ok));
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      err.hidden = true;
      busy(ok, async () => {
        const body = { chargerId: charger.value.trim(), connectorId: +connector.value, idTag: idTag.value.trim() };
        if (until.value) body.expiryDate = new Date(until.value).toISOString();
        else body.duration = +duration.value * 60;
        try {
          const r = await post('/reservations', body);
          put(r, { prepend: true });
          drawNote();
          toast(`Reserved ${connectorLabel(r.connectorId)} of ${r.chargerId} for ${r.idTag} until ${dateTime(r.expiryDate)}`, 'ok');
        } catch (x) {
          const refused = x.kind === 'command-rejected' ? x.problem.answer?.status : '';
          err.textContent = refused ? refusal(refused, body.connectorId) : x.message;
          err.hidden = false;
          // A refusal is kept as a reservation with the charger's status.
          if (refused && !activeOnly()) load(true);
        }
      });
    });
    return form;
  }

  // Suggestions: accepted chargers and id tags. The lists are capped: the
  // server checks what is typed anyway.
  live.load().then(() => {
    const ids = [...live.chargers.values()].filter((c) => c.registration === 'Accepted').map((c) => c.id).sort().slice(0, 500);
    chargerList.replaceChildren(...ids.map((id) => h('option', { value: id })));
    root.querySelector('form[aria-label="New reservation"] input')?.dispatchEvent(new Event('change'));
  }).catch(() => {});
  get('/id-tags?limit=200').then((p) => tagList.replaceChildren(...p.items.filter((t) => t.status === 'Accepted').map((t) => h('option', { value: t.idTag })))).catch(() => {});

  filters.addEventListener('submit', (e) => {
    e.preventDefault();
    history.replaceState(null, '', `/reservations${qs({ show: show.value === 'all' ? 'all' : '', chargerId: chargerFilter.value.trim() })}`);
    load(true);
  });
  show.addEventListener('change', () => filters.requestSubmit());
  more.addEventListener('click', () => busy(more, () => load(false)));

  ctx.onLeave(live.subscribe(({ events, reset }) => {
    if (reset) { load(true); return; }
    const only = chargerFilter.value.trim();
    for (const e of events) {
      if (e.type !== 'reservation.updated' || (only && e.chargerId !== only)) continue;
      // Known rows change in place and new reservations go on top; one
      // older than every row loaded belongs to a page not read yet.
      const known = rows.has(e.data.id);
      if (known || !next || e.data.id > oldest()) put(e.data, { prepend: !known });
    }
    drawNote();
  }));
  await load(true);
}

function refusal(status, connectorId) {
  switch (status) {
    case 'Occupied': return 'The charger refused: Occupied — the connector is in use or already reserved.';
    case 'Faulted': return 'The charger refused: Faulted — the connector reports a fault.';
    case 'Unavailable': return 'The charger refused: Unavailable — the connector is out of service.';
    case 'Rejected': return connectorId === 0
      ? 'The charger refused: Rejected — it may not take reservations of any connector; pick a connector.'
      : 'The charger refused: Rejected — it does not take this reservation.';
  }
  return `The charger refused: ${status}`;
}

/**
 * chargerReservations keeps the active reservations of one charger for
 * the charger page: load() reads them, event(e) applies a
 * reservation.updated, of(k) returns connector k's (0: any connector).
 */
export function chargerReservations(id) {
  const byConnector = new Map();
  return {
    async load() {
      try {
        const p = await get(`/reservations${qs({ chargerId: id, active: 'true', limit: 100 })}`);
        byConnector.clear();
        for (const r of p.items) byConnector.set(r.connectorId, r);
      } catch { /* the cards show without them */ }
    },
    event(e) {
      if (e.type !== 'reservation.updated' || e.chargerId !== id) return false;
      const r = e.data;
      const cur = byConnector.get(r.connectorId);
      if (r.active) byConnector.set(r.connectorId, r);
      else if (cur && cur.id === r.id) byConnector.delete(r.connectorId);
      else return false;
      return true;
    },
    of: (k) => byConnector.get(k),
  };
}
