// One charger: its connectors with a start/stop toggle, the live session
// charts, charging profiles (profiles.js), configuration, commands and the
// OCPP message log.

import { get, post, enc, qs, commandOutcome } from '../api.js';
import * as live from '../live.js';
import { PhaseCharts } from '../chart.js';
import { h, setText, ago, dateTime, badge, statusClass, energy, duration, toast, busy, field, emptyState, link } from '../ui.js';
import { approvalButtons } from './chargers.js';
import { profilesSection } from './profiles.js';
import { chargerReservations, reservationText } from './reservations.js';
import { chargerDiagnostics, chargerFirmware } from './diagnostics.js';
import { chargerConfigSection } from './configuration.js';
import { localListSection } from './chargerlocallist.js';

const OFFLINE = "This charger is offline — commands can't reach it.";
const canOperate = (u) => u.role === 'operator' || u.role === 'admin';
const LAST_TAG = 'wattson.lastIdTag';

export async function chargerPage(root, ctx) {
  const id = ctx.params[0];
  const base = `/chargers/${enc(id)}`;
  await live.load().catch(() => {});
  let c = live.chargers.get(id);
  if (!c) {
    try { c = await get(base); } catch (err) {
      root.append(h('h1', null, id), h('p', { class: 'error' }, err.status === 404 ? 'There is no charger with this id.' : err.message), link('/chargers', 'All chargers'));
      return;
    }
  }

  // --- header ---------------------------------------------------------
  const conn = badge('', '');
  const reg = h('span');
  const facts = h('dl', { class: 'facts' });
  const offline = h('p', { class: 'notice', role: 'status', hidden: true }, OFFLINE);
  root.append(h('p', { class: 'crumbs' }, link('/chargers', 'Chargers'), ' / '),
    h('div', { class: 'title-row' }, h('h1', null, id), conn, reg), offline, facts);

  let regSig = '';
  function drawHeader() {
    c = live.chargers.get(id) || c;
    setText(conn, c.connected ? 'online' : 'offline');
    conn.className = `badge badge-${c.connected ? 'ok' : 'off'}`;
    conn.dataset.testid = 'connection';
    offline.hidden = !!c.connected;
    if (regSig !== c.registration) {
      regSig = c.registration;
      reg.replaceChildren(c.registration === 'Accepted' ? '' : badge(c.registration === 'Pending' ? 'Awaiting approval' : c.registration, c.registration === 'Pending' ? 'busy' : 'bad'),
        ' ', approvalButtons(c, ctx.user) || '');
    }
    const f = [['Vendor and model', [c.vendor, c.model].filter(Boolean).join(' ') || '—'], ['Firmware', c.firmwareVersion || '—'],
      ['Serial number', c.serialNumber || c.chargeBoxSerialNumber || '—'], ['Last seen', ago(c.lastSeenAt)], ['Last boot', dateTime(c.lastBootAt)]];
    facts.replaceChildren(...f.flatMap(([k, v]) => [h('dt', null, k), h('dd', null, v)]));
  }
  drawHeader();

  // --- connectors and sessions ---------------------------------------
  const active = new Map(); // connectorId → transaction
  const lastTags = [];
  const connBox = h('div', { class: 'connectors-grid' });
  const reservations = chargerReservations(id);
  const anyReserved = h('p', { class: 'notice', dataset: { testid: 'reservation-0' }, hidden: true });
  root.append(h('section', { 'aria-labelledby': 'conn-title' }, h('h2', { id: 'conn-title' }, 'Connectors'),
    canOperate(ctx.user) ? h('p', { class: 'muted small' }, link(`/reservations?chargerId=${enc(id)}`, 'Reserve a connector')) : null,
    anyReserved, connBox));
  const cards = new Map(); // connectorId → {el, status, info, tx, button}

  async function loadActive() {
    try {
      const page = await get(`/transactions${qs({ chargerId: id, active: 'true', limit: 50 })}`);
      active.clear();
      for (const t of page.items) active.set(t.connectorId, t);
      const recent = await get(`/transactions${qs({ chargerId: id, limit: 5 })}`);
      lastTags.splice(0, lastTags.length, ...recent.items.map((t) => t.idTag));
    } catch { /* the cards still show live states */ }
  }

  function card(k) {
    const status = h('span', { class: 'badge', dataset: { testid: `status-${k}` } });
    const info = h('p', { class: 'muted small' });
    const tx = h('div', { class: 'tx' });
    const res = h('p', { class: 'reservation', dataset: { testid: `reservation-${k}` }, hidden: true });
    const button = h('button', { type: 'button', class: 'toggle', dataset: { testid: `toggle-${k}` }, onclick: () => toggle(k, button) });
    const el = h('article', { class: 'connector card', 'aria-label': `Connector ${k}` },
      h('div', { class: 'title-row' }, h('h3', null, `Connector ${k}`), status), info, res, tx, canOperate(ctx.user) ? button : null);
    return { el, status, info, tx, button, res };
  }

  function drawConnectors() {
    const any = reservations.of(0);
    setText(anyReserved, any ? `Any connector: ${reservationText(any)}` : '');
    anyReserved.hidden = !any;
    const list = (c.connectors || []).filter((k) => k.connectorId > 0);
    if (!list.length) {
      connBox.replaceChildren(emptyState(c.connected ? 'No connector has reported its state yet.' : 'No connector has reported its state yet. ' + OFFLINE));
      cards.clear();
      return;
    }
    if (cards.size === 0) connBox.replaceChildren();
    for (const k of list) {
      let cd = cards.get(k.connectorId);
      if (!cd) { cd = card(k.connectorId); cards.set(k.connectorId, cd); connBox.append(cd.el); }
      setText(cd.status, k.status);
      cd.status.className = `badge badge-${statusClass(k.status)}`;
      setText(cd.info, [k.errorCode && k.errorCode !== 'NoError' ? `Error: ${k.errorCode}` : '', k.info || '', `since ${ago(k.updatedAt)}`].filter(Boolean).join(' · '));
      const rv = reservations.of(k.connectorId);
      setText(cd.res, rv ? reservationText(rv) : '');
      cd.res.hidden = !rv;
      const t = active.get(k.connectorId);
      const txSig = t ? `${t.id}` : '';
      if (cd.tx.dataset.sig !== txSig) {
        cd.tx.dataset.sig = txSig;
        cd.tx.replaceChildren(t ? h('p', null, 'Session ', link(`/transactions/${t.id}`, `#${t.id}`), ` for ${t.idTag}, started ${ago(t.startedAt)}`) : '');
      }
      setText(cd.button, t ? 'Stop charging' : 'Start charging');
      cd.button.className = t ? 'toggle danger' : 'toggle primary';
      cd.button.setAttribute('aria-pressed', t ? 'true' : 'false');
      cd.button.disabled = !c.connected;
      cd.button.title = c.connected ? '' : OFFLINE;
    }
  }

  // The start dialog: asks for the id tag, offering the last one used.
  const tagInput = h('input', { name: 'idTag', required: true, maxlength: 20, list: 'known-tags', autocomplete: 'off' });
  const tagList = h('datalist', { id: 'known-tags' });
  const dlgMsg = h('p', { class: 'error', role: 'alert', hidden: true });
  const dlgOk = h('button', { type: 'submit', class: 'primary' }, 'Start');
  const dlgTitle = h('h2', { id: 'start-title' }, 'Start charging');
  const dialog = h('dialog', { 'aria-labelledby': 'start-title' },
    h('form', { method: 'dialog' }, dlgTitle, field('Id tag (RFID card) to charge for', tagInput, 'The session is billed to this tag.'), tagList, dlgMsg,
      h('div', { class: 'buttons' }, h('button', { type: 'button', onclick: () => dialog.close() }, 'Cancel'), dlgOk)));
  root.append(dialog);
  ctx.onLeave(() => dialog.close());
  let startConnector = 0;
  dialog.querySelector('form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const idTag = tagInput.value.trim();
    if (!idTag) return;
    dlgMsg.hidden = true;
    await busy(dlgOk, async () => {
      try {
        await post(`${base}/start`, { connectorId: startConnector, idTag });
        localStorage.setItem(LAST_TAG, idTag);
        dialog.close();
        toast(`Connector ${startConnector}: the charger accepted the start`, 'ok');
      } catch (err) {
        dlgMsg.textContent = err.message;
        dlgMsg.hidden = false;
      }
    });
  });

  async function toggle(k, button) {
    if (!c.connected) { toast(OFFLINE, 'error'); return; }
    const t = active.get(k);
    if (!t) {
      startConnector = k;
      setText(dlgTitle, `Start charging on connector ${k}`);
      tagInput.value = localStorage.getItem(LAST_TAG) || lastTags[0] || '';
      dlgMsg.hidden = true;
      dialog.showModal();
      tagInput.select();
      get('/id-tags?limit=100').then((p) => tagList.replaceChildren(...p.items.filter((x) => x.status === 'Accepted').map((x) => h('option', { value: x.idTag })))).catch(() => {});
      return;
    }
    await busy(button, async () => {
      try {
        await post(`${base}/stop`, { transactionId: t.id });
        toast(`Connector ${k}: the charger accepted the stop`, 'ok');
      } catch (err) { toast(err.message, 'error'); }
    });
  }

  // --- live charts of the running session -----------------------------
  const chartTitle = h('h2', { id: 'chart-title' }, 'Session');
  const chartNote = h('p', { class: 'muted' });
  const charts = new PhaseCharts();
  const chartBox = h('section', { class: 'session', 'aria-labelledby': 'chart-title' }, chartTitle, chartNote, charts.el);
  root.append(chartBox);
  let charted = null; // the transaction id the charts show

  async function chooseChart() {
    const t = [...active.values()].sort((a, b) => a.connectorId - b.connectorId)[0];
    if (!t) {
      charted = null;
      setText(chartTitle, 'Session');
      setText(chartNote, 'Nothing is charging. Current, voltage and power per phase appear here while a session runs.');
      charts.set([]);
      return;
    }
    if (charted === t.id) return;
    charted = t.id;
    setText(chartTitle, `Session #${t.id} on connector ${t.connectorId}`);
    setText(chartNote, `For ${t.idTag}, running ${duration(t.startedAt)}. Measurements arrive live from the charger.`);
    try {
      const d = await get(`/transactions/${t.id}`);
      if (charted === t.id) charts.set(d.meterValues || []);
    } catch { charts.set([]); }
  }

  // --- charging profiles and composite schedules ----------------------
  const profiles = profilesSection(base, () => c, ctx.user);
  root.append(profiles.el);
  const firmware = chargerFirmware(id, ctx.user);
  const diagnostics = chargerDiagnostics(id, ctx.user);
  root.append(firmware.section, diagnostics.section);
  root.append(localListSection(id, ctx));

  // --- events ---------------------------------------------------------
  ctx.onLeave(live.subscribe(async ({ ids, events, reset }) => {
    let txChanged = false;
    let resChanged = false;
    let fwChanged = false;
    for (const e of events) {
      if (e.chargerId !== id) continue;
      if (reservations.event(e)) resChanged = true;
      if (firmware.event(e)) fwChanged = true;
      diagnostics.event(e);
      if (e.type === 'transaction.started') { active.set(e.data.connectorId, e.data); txChanged = true; }
      else if (e.type === 'transaction.stopped') {
        for (const [k, t] of active) if (t.id === (e.data.id ?? e.data.transactionId)) active.delete(k);
        txChanged = true;
      } else if (e.type === 'meter.values' && charted != null && e.data.transactionId === charted) {
        charts.add(e.data.samples || []);
      }
    }
    if (reset) { await Promise.all([loadActive(), reservations.load(), diagnostics.load()]); txChanged = true; fwChanged = true; }
    if (fwChanged) firmware.load();
    if (reset || ids.has(id) || txChanged || resChanged) { drawHeader(); drawConnectors(); profiles.changed(txChanged); }
    if (txChanged) chooseChart();
  }));

  await Promise.all([loadActive(), reservations.load(), firmware.load(), diagnostics.load()]);
  drawConnectors();
  chooseChart();
  profiles.refresh();

  if (canOperate(ctx.user)) {
    root.append(commandsSection(base, () => c), chargerConfigSection(id, () => c, ctx), logSection(base));
  }
}

/** say shows a command's outcome next to its form and as a toast. */
function say(out, ok, text) {
  out.textContent = text;
  out.className = `outcome ${ok ? 'ok' : 'bad'}`;
  toast(text, ok ? 'ok' : 'error');
}

async function command(base, action, body, out, button) {
  await busy(button, async () => {
    out.textContent = 'Waiting for the charger…';
    out.className = 'outcome';
    try {
      const answer = await post(`${base}/ocpp/${action}`, body);
      const r = commandOutcome(answer);
      say(out, r.ok, r.text);
    } catch (err) { say(out, false, err.message); }
  });
}

function connectorOptions(c, withZero) {
  const ids = (c.connectors || []).map((k) => k.connectorId).filter((k) => withZero || k > 0);
  if (!ids.length) ids.push(withZero ? 0 : 1);
  return ids.map((k) => h('option', { value: k }, k === 0 ? '0 (whole charger)' : String(k)));
}

function commandsSection(base, charger) {
  const forms = [];
  const add = (title, action, inputs, body, help) => {
    const out = h('p', { class: 'outcome', role: 'status' });
    const button = h('button', { type: 'submit' }, title);
    const form = h('form', { class: 'command card', 'aria-label': title },
      h('h3', null, title), help ? h('p', { class: 'muted small' }, help) : null, ...inputs, button, out);
    form.addEventListener('submit', (e) => { e.preventDefault(); command(base, action, body(), out, button); });
    forms.push(form);
  };
  const c = charger();
  const resetType = h('select', null, h('option', { value: 'Soft' }, 'Soft (restart the software)'), h('option', { value: 'Hard' }, 'Hard (power cycle)'));
  add('Reset', 'Reset', [field('Kind', resetType)], () => ({ type: resetType.value }), 'Running sessions are stopped first.');
  const unlockConn = h('select', null, connectorOptions(c, false));
  add('Unlock connector', 'UnlockConnector', [field('Connector', unlockConn)], () => ({ connectorId: +unlockConn.value }), 'Releases a stuck cable.');
  const availConn = h('select', null, connectorOptions(c, true));
  const availType = h('select', null, h('option', { value: 'Operative' }, 'Operative'), h('option', { value: 'Inoperative' }, 'Inoperative'));
  add('Change availability', 'ChangeAvailability', [field('Connector', availConn), field('Make it', availType)], () => ({ connectorId: +availConn.value, type: availType.value }));
  const trig = h('select', null, ['StatusNotification', 'MeterValues', 'Heartbeat', 'BootNotification', 'FirmwareStatusNotification', 'DiagnosticsStatusNotification'].map((m) => h('option', { value: m }, m)));
  const trigConn = h('select', null, h('option', { value: '' }, 'all'), connectorOptions(c, false));
  add('Trigger message', 'TriggerMessage', [field('Message', trig), field('Connector', trigConn)],
    () => (trigConn.value ? { requestedMessage: trig.value, connectorId: +trigConn.value } : { requestedMessage: trig.value }), 'Asks the charger to send a message now.');
  add('Clear cache', 'ClearCache', [], () => ({}), 'Forgets the id tags the charger remembered.');
  return h('section', { 'aria-labelledby': 'cmd-title' }, h('h2', { id: 'cmd-title' }, 'Commands'), h('div', { class: 'commands' }, forms));
}

const FRAME_KIND = { 2: 'CALL', 3: 'CALLRESULT', 4: 'CALLERROR' };

function logSection(base) {
  const list = h('ol', { class: 'log' });
  const more = h('button', { type: 'button', hidden: true }, 'Older messages');
  const reload = h('button', { type: 'button' }, 'Newest');
  const note = h('p', { class: 'muted' });
  let next = '';
  async function page(reset) {
    try {
      const p = await get(`${base}/log${qs({ limit: 25, before: reset ? '' : next })}`);
      next = p.next;
      const items = p.items.map((e) => {
        const f = e.frame;
        const kind = Array.isArray(f) ? FRAME_KIND[f[0]] || '?' : 'not JSON';
        const action = Array.isArray(f) && f[0] === 2 ? f[2] : Array.isArray(f) && f[0] === 4 ? f[2] : '';
        return h('li', { class: `frame frame-${e.direction}` },
          h('div', { class: 'frame-head' }, h('span', { class: 'dir' }, e.direction === 'in' ? '← from charger' : '→ to charger'),
            ` ${kind} ${action}`, h('time', { datetime: e.time, class: 'muted' }, ` ${dateTime(e.time)}`)),
          h('pre', null, typeof f === 'string' ? f : JSON.stringify(f, null, 2)));
      });
      if (reset) list.replaceChildren(...items); else list.append(...items);
      more.hidden = !next;
      setText(note, list.children.length ? '' : 'No messages logged yet.');
    } catch (err) { setText(note, `Could not read the log: ${err.message}`); }
  }
  more.addEventListener('click', () => busy(more, () => page(false)));
  reload.addEventListener('click', () => busy(reload, () => page(true)));
  page(true);
  return h('section', { 'aria-labelledby': 'log-title' }, h('h2', { id: 'log-title' }, 'OCPP messages'),
    h('div', { class: 'toolbar' }, reload), note, list, more);
}
