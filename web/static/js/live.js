// The live state of the chargers, kept current by the event stream.
//
// All chargers are read once (GET /chargers) and then changed in place by
// each event; pages subscribe and are told, once per animation frame,
// which chargers changed and which events arrived. Batching per frame is
// what keeps a thousand chargers' events from re-rendering on every
// message: many events for a charger within a frame cost one row update.

import { BASE, get, enc } from './api.js';

/** chargers maps a charger id to its charger as GET /chargers gives it. */
export const chargers = new Map();

const TYPES = ['charger.connected', 'charger.disconnected', 'charger.booted', 'charger.updated',
  'connector.status', 'transaction.started', 'transaction.stopped', 'meter.values', 'charger.notification',
  'smartcharging.round', 'smartcharging.limit', 'smartcharging.alert'];
TYPES.push('reservation.updated');
TYPES.push('firmware.rollout', 'firmware.target', 'diagnostics.updated');
// Local list sync states (pages/locallists.js).
TYPES.push('localList.sync');

const listeners = new Set();
let changedIds = new Set();
let events = [];
let frame = 0;
let resetPending = false;

/**
 * subscribe calls fn({ids, events, reset}) after each batch: ids of the
 * chargers that changed, the events in arrival order, and reset when the
 * whole list was read again (after a reconnect). Returns unsubscribe.
 */
export function subscribe(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

function schedule() {
  if (frame) return;
  // requestAnimationFrame pauses in a background tab; the timeout makes
  // sure the batch is still applied (and memory freed) there.
  const run = () => { cancelAnimationFrame(frame); clearTimeout(timer); frame = 0; flush(); };
  frame = requestAnimationFrame(run);
  const timer = setTimeout(run, 500);
}

function flush() {
  const batch = { ids: changedIds, events, reset: resetPending };
  changedIds = new Set();
  events = [];
  resetPending = false;
  for (const fn of listeners) {
    try { fn(batch); } catch (err) { console.error('live listener', err); }
  }
}

let loading = null;
/** load reads every charger (pages of 1,000); the first call's promise is shared. */
export function load(force = false) {
  if (loading && !force) return loading;
  loading = (async () => {
    const next = new Map();
    let after = '';
    do {
      const page = await get(`/chargers?limit=1000${after ? `&after=${enc(after)}` : ''}`);
      for (const c of page.items) next.set(c.id, c);
      after = page.next;
    } while (after);
    chargers.clear();
    for (const [id, c] of next) chargers.set(id, c);
    resetPending = true;
    schedule();
  })();
  loading.catch(() => { loading = null; });
  return loading;
}

const fetching = new Set();
/** refresh reads one charger again, e.g. one the list did not know yet. */
function refresh(id) {
  if (fetching.has(id)) return;
  fetching.add(id);
  get(`/chargers/${enc(id)}`)
    .then((c) => { chargers.set(id, c); changedIds.add(id); schedule(); })
    .catch(() => {})
    .finally(() => fetching.delete(id));
}

function apply(e) {
  const id = e.chargerId;
  // Smart charging's events say what Wattson decided, not what a charger did.
  if (!id || e.type.startsWith('smartcharging.')) return;
  // Reservations are records that may outlive their charger.
  if (e.type.startsWith('reservation.')) return;
  if (e.type.startsWith('localList.')) return; // nor do local list states
  // Roll-outs and diagnostics requests are Wattson's records too.
  if (e.type.startsWith('firmware.') || e.type.startsWith('diagnostics.')) return;
  let c = chargers.get(id);
  if (!c) {
    if (e.type === 'charger.updated' && e.data?.deleted) return;
    // A charger we have not seen: show it at once, complete it from the API.
    c = { id, registration: 'Pending', connected: false, connectors: [], vendor: '', model: '', firmwareVersion: '', lastSeenAt: null };
    chargers.set(id, c);
    refresh(id);
  }
  const d = e.data || {};
  if (e.type !== 'charger.updated' && e.type !== 'charger.disconnected') c.lastSeenAt = e.time;
  switch (e.type) {
    case 'charger.connected': c.connected = true; break;
    case 'charger.disconnected': c.connected = false; break;
    case 'charger.booted':
      c.vendor = d.vendor ?? c.vendor; c.model = d.model ?? c.model;
      c.firmwareVersion = d.firmwareVersion ?? c.firmwareVersion;
      if (d.registration) c.registration = d.registration;
      c.lastBootAt = e.time;
      c.connected = true;
      break;
    case 'charger.updated':
      if (d.deleted) { chargers.delete(id); break; }
      if (d.registration) c.registration = d.registration;
      if ('hasPassword' in d) c.hasPassword = d.hasPassword;
      break;
    case 'connector.status': {
      const list = c.connectors || (c.connectors = []);
      const i = list.findIndex((x) => x.connectorId === d.connectorId);
      if (i >= 0) list[i] = { ...list[i], ...d }; else { list.push(d); list.sort((a, b) => a.connectorId - b.connectorId); }
      c.connected = true;
      break;
    }
  }
}

let es = null;
let retry = 1000;
let hadError = false;
let stopped = true;
let retryTimer = 0;

function setLive(state, text) {
  const el = document.getElementById('live');
  if (!el) return;
  el.dataset.state = state;
  el.textContent = text;
}

function onMessage(msg) {
  let e;
  try { e = JSON.parse(msg.data); } catch { return; }
  apply(e);
  if (e.chargerId) changedIds.add(e.chargerId);
  events.push(e);
  schedule();
}

/** start opens the event stream; it reconnects by itself until stop. */
export function start(checkSession) {
  stopped = false;
  if (es) return;
  es = new EventSource(`${BASE}/events`);
  for (const t of TYPES) es.addEventListener(t, onMessage);
  es.addEventListener('open', () => {
    retry = 1000;
    setLive('on', 'live');
    // Events are not replayed: after a gap, read the state again.
    if (hadError) { hadError = false; load(true).catch(() => {}); }
  });
  es.addEventListener('error', () => {
    hadError = true;
    setLive('off', 'reconnecting…');
    if (es.readyState !== EventSource.CLOSED) return; // the browser retries by itself
    // Closed for good (e.g. a 401 or a server restart): check the session,
    // then open a new stream with a growing delay.
    es.close();
    es = null;
    if (stopped) return;
    clearTimeout(retryTimer);
    retryTimer = setTimeout(async () => {
      if (stopped) return;
      try { await checkSession(); } catch { return; }
      start(checkSession);
    }, retry);
    retry = Math.min(retry * 2, 30000);
  });
}

/** stop closes the stream (at sign-out). */
export function stop() {
  stopped = true;
  clearTimeout(retryTimer);
  if (es) { es.close(); es = null; }
  chargers.clear();
  loading = null;
}
