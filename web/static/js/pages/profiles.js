// The charger page's "Charging profiles" section: the profiles the charger
// accepted (OCPP 1.6 can't read them back, so Wattson lists what it
// recorded), a form to set one, and per connector the composite schedule
// the charger reports, as a step chart of the limit over the next 24 h.

import { get, post, del, qs } from '../api.js';
import { LineChart } from '../chart.js';
import { h, setText, dateTime, timeOnly, toast, busy, field, emptyState, power } from '../ui.js';

const HORIZON = 24 * 3600; // seconds of composite schedule to chart
const PURPOSES = {
  TxDefaultProfile: 'Default for sessions',
  ChargePointMaxProfile: 'Whole charger maximum',
  TxProfile: 'Running session only',
};
const SOURCES = { operator: 'Operator', 'smart-charging': 'Smart charging' };

const canOperate = (u) => u.role === 'operator' || u.role === 'admin';
const connectorName = (k) => (k === 0 ? '0 (whole charger)' : String(k));

/** limitText formats a limit in its unit: "10 A", "11 kW". */
function limitText(limit, unit) {
  if (limit == null || !Number.isFinite(+limit)) return '—';
  return unit === 'W' ? power(+limit) : `${+(+limit).toFixed(1)} A`;
}

/** isoSeconds is an OCPP date-time without milliseconds. */
const isoSeconds = (d) => d.toISOString().replace(/\.\d+Z$/, 'Z');

/**
 * profilesSection builds the section. charger() returns the charger as the
 * page knows it (connected, connectors). It returns {el, refresh, changed}:
 * refresh reloads everything; changed() is called when the charger or its
 * sessions changed and reloads what depends on that.
 */
export function profilesSection(base, charger, user) {
  const operate = canOperate(user);
  const listNote = h('p', { class: 'outcome', role: 'status' });
  const listBox = h('div');
  let records = [];

  // --- the recorded profiles ------------------------------------------
  async function loadList() {
    try {
      const res = await get(`${base}/charging-profiles`);
      records = res.items || [];
      setText(listNote, '');
      listNote.className = 'outcome';
      drawList();
    } catch (err) {
      setText(listNote, `Could not read the charging profiles: ${err.message}`);
      listNote.className = 'outcome bad';
    }
  }

  function drawList() {
    if (!records.length) {
      listBox.replaceChildren(emptyState('No charging profiles are set on this charger — it charges as fast as it and the car allow.'));
      return;
    }
    const head = ['Connector', 'Id', 'Purpose', 'Stack level', 'Limit', 'Source', 'Set at'];
    if (operate) head.push('');
    listBox.replaceChildren(h('div', { class: 'table-wrap' }, h('table', { class: 'list profiles' },
      h('thead', null, h('tr', null, head.map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', null, records.map(row)))));
  }

  function row(p) {
    const sch = p.profile?.chargingSchedule || {};
    const periods = sch.chargingSchedulePeriod || [];
    const more = periods.length > 1 ? h('span', { class: 'muted small' }, ` then ${periods.length - 1} more period${periods.length > 2 ? 's' : ''}`) : null;
    const purpose = [PURPOSES[p.purpose] || p.purpose, h('br'), h('span', { class: 'muted small' }, p.purpose,
      p.transactionId != null ? ` · session #${p.transactionId}` : '')];
    const cells = [
      h('td', null, connectorName(p.connectorId)),
      h('th', { scope: 'row' }, String(p.chargingProfileId)),
      h('td', null, purpose),
      h('td', { class: 'num' }, String(p.stackLevel)),
      h('td', { dataset: { testid: 'limit' } }, limitText(periods[0]?.limit, sch.chargingRateUnit), more),
      h('td', null, SOURCES[p.source] || p.source || '—'),
      h('td', null, dateTime(p.setAt)),
    ];
    if (operate) {
      const clear = h('button', { type: 'button', class: 'small danger', 'aria-label': `Clear profile ${p.chargingProfileId}` }, 'Clear');
      clear.addEventListener('click', () => clearProfile(p, clear));
      cells.push(h('td', null, clear));
    }
    return h('tr', { dataset: { profile: String(p.chargingProfileId) } }, cells);
  }

  async function clearProfile(p, button) {
    await busy(button, async () => {
      try {
        const res = await del(`${base}/charging-profiles${qs({ id: p.chargingProfileId })}`);
        toast(res.status === 'Accepted' ? `Profile ${p.chargingProfileId} cleared`
          : `The charger no longer had profile ${p.chargingProfileId}; it is removed from the list`, 'ok');
      } catch (err) {
        toast(`Profile ${p.chargingProfileId}: ${err.message}`, 'error');
        return;
      }
      await refresh();
    });
  }

  // --- the form ---------------------------------------------------------
  const out = h('p', { class: 'outcome', role: 'status' });
  const connSel = h('select', { name: 'connectorId' });
  const purposeSel = h('select', { name: 'purpose' },
    Object.entries(PURPOSES).map(([v, t]) => h('option', { value: v }, `${t} (${v})`)));
  const stackIn = h('input', { name: 'stackLevel', type: 'number', min: 0, max: 100, step: 1, value: '0', required: true });
  const limitIn = h('input', { name: 'limit', type: 'number', min: 0, step: 0.1, required: true, inputmode: 'decimal', placeholder: 'e.g. 16' });
  const unitSel = h('select', { name: 'unit' }, h('option', { value: 'A' }, 'A (amps per phase)'), h('option', { value: 'W' }, 'W (watts)'));
  const kindSel = h('select', { name: 'kind' },
    h('option', { value: 'Absolute' }, 'From now on (Absolute)'),
    h('option', { value: 'Relative' }, 'From the start of each session (Relative)'),
    h('option', { value: 'Daily' }, 'Every day from midnight (Recurring daily)'));
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Set profile');
  const form = h('form', { class: 'card command', 'aria-label': 'Set a charging profile' },
    h('h3', null, 'Set a charging profile'),
    h('p', { class: 'muted small' }, 'A limit the charger keeps until the profile is cleared. With several profiles, the highest stack level wins; the whole-charger maximum caps them all.'),
    h('div', { class: 'filters' },
      field('Connector', connSel), field('Purpose', purposeSel), field('Stack level', stackIn),
      field('Limit', limitIn), field('Unit', unitSel), field('Kind', kindSel)),
    submit, out);

  function connectorIds(withZero) {
    const ids = (charger().connectors || []).map((k) => k.connectorId).filter((k) => k > 0).sort((a, b) => a - b);
    if (!ids.length) ids.push(1);
    return withZero ? [0, ...ids] : ids;
  }

  function fillConnectors() {
    const keep = connSel.value;
    connSel.replaceChildren(...connectorIds(true).map((k) => h('option', { value: k }, connectorName(k))));
    if ([...connSel.options].some((o) => o.value === keep)) connSel.value = keep;
    else connSel.value = String(connectorIds(false)[0]);
    fitConnector();
  }

  // OCPP ties purposes to connectors: the maximum is for the whole
  // charger (0), a session profile for a connector.
  function fitConnector() {
    const p = purposeSel.value;
    for (const o of connSel.options) o.disabled = p === 'TxProfile' && o.value === '0';
    if (p === 'ChargePointMaxProfile') connSel.value = '0';
    else if (p === 'TxProfile' && connSel.value === '0') connSel.value = String(connectorIds(false)[0]);
    connSel.disabled = p === 'ChargePointMaxProfile';
  }
  purposeSel.addEventListener('change', fitConnector);

  function build() {
    const kind = kindSel.value;
    const limit = Math.round(parseFloat(limitIn.value) * 10) / 10;
    const schedule = { chargingRateUnit: unitSel.value, chargingSchedulePeriod: [{ startPeriod: 0, limit }] };
    const profile = {
      chargingProfileId: Math.max(0, ...records.map((p) => p.chargingProfileId)) + 1,
      stackLevel: parseInt(stackIn.value, 10),
      chargingProfilePurpose: purposeSel.value,
      chargingProfileKind: kind === 'Daily' ? 'Recurring' : kind,
      chargingSchedule: schedule,
    };
    if (kind === 'Absolute') {
      const now = new Date();
      now.setSeconds(0, 0);
      schedule.startSchedule = isoSeconds(now);
    } else if (kind === 'Daily') {
      const midnight = new Date();
      midnight.setHours(0, 0, 0, 0);
      profile.recurrencyKind = 'Daily';
      schedule.startSchedule = isoSeconds(midnight);
      schedule.duration = 86400;
    }
    return { connectorId: parseInt(connSel.value, 10), csChargingProfiles: profile };
  }

  function setError(err, body) {
    const p = err.problem || {};
    switch (err.kind) {
      case 'no-active-transaction':
        return `Nothing is charging on connector ${body.connectorId} — a session profile (TxProfile) needs a running session.`;
      case 'command-rejected':
        return p.answer?.status === 'NotSupported' ? "The charger doesn't support charging profiles (NotSupported)"
          : `The charger refused the profile (${p.answer?.status || 'Rejected'})`;
      case 'conflict':
        if (p.field === 'csChargingProfiles.stackLevel' && p.detail) return `${p.detail[0].toUpperCase()}${p.detail.slice(1)} — choose another stack level.`;
    }
    return err.message;
  }

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    if (!charger().connected) { say(false, "This charger is offline — commands can't reach it."); return; }
    const limit = parseFloat(limitIn.value);
    if (!Number.isFinite(limit) || limit < 0) { say(false, 'Enter a limit of 0 or more.'); limitIn.focus(); return; }
    const body = build();
    busy(submit, async () => {
      out.textContent = 'Waiting for the charger…';
      out.className = 'outcome';
      try {
        await post(`${base}/charging-profiles`, body);
        say(true, `The charger accepted the profile: ${limitText(body.csChargingProfiles.chargingSchedule.chargingSchedulePeriod[0].limit, unitSel.value)} on connector ${connectorName(body.connectorId)}`);
      } catch (err) {
        say(false, setError(err, body));
        return;
      }
      await refresh();
    });
  });

  function say(ok, text) {
    out.textContent = text;
    out.className = `outcome ${ok ? 'ok' : 'bad'}`;
    toast(text, ok ? 'ok' : 'error');
  }

  // --- composite schedules --------------------------------------------
  const schedBox = h('div', { class: 'charts' });
  const schedules = new Map(); // connectorId → {el, note, chart}
  let schedSig = '';

  function scheduleCard(k) {
    const note = h('p', { class: 'muted small', role: 'status' });
    const holder = h('div');
    const el = h('div', { class: 'schedule', dataset: { testid: `schedule-${k}` } }, holder, note);
    return { el, holder, note, chart: null, unit: '' };
  }

  function chartFor(card, k, unit) {
    if (card.chart && card.unit === unit) return card.chart;
    card.unit = unit;
    card.chart = new LineChart({ title: `Connector ${k} limit`, unit, series: ['Limit'], digits: unit === 'W' ? 0 : 1 });
    card.chart.svg.setAttribute('aria-label', `Composite schedule of connector ${k}: the limit over the next 24 hours`);
    card.holder.replaceChildren(card.chart.el);
    return card.chart;
  }

  async function loadSchedule(k) {
    const card = schedules.get(k);
    if (!card) return;
    if (!charger().connected) {
      const chart = chartFor(card, k, card.unit || 'A');
      chart.empty.textContent = 'Charger offline';
      chart.set([[]]);
      setText(card.note, "This charger is offline — its composite schedule can't be read.");
      return;
    }
    setText(card.note, 'Asking the charger…');
    let res;
    try {
      res = await get(`${base}/connectors/${k}/composite-schedule${qs({ duration: HORIZON })}`);
    } catch (err) {
      const chart = chartFor(card, k, card.unit || 'A');
      chart.empty.textContent = 'No schedule';
      chart.set([[]]);
      setText(card.note, err.kind === 'command-rejected'
        ? `The charger would not report a schedule for connector ${k} (${err.problem.answer?.status || 'Rejected'}).`
        : `Could not read the composite schedule: ${err.message}`);
      return;
    }
    const sch = res.chargingSchedule || {};
    const unit = sch.chargingRateUnit === 'W' ? 'W' : 'A';
    // Periods in order of start; of periods that start together, the last
    // one counts (some chargers report a change within the first second
    // that way).
    const periods = [];
    for (const p of sch.chargingSchedulePeriod || []) {
      if (!Number.isFinite(p.startPeriod) || !Number.isFinite(p.limit)) continue;
      while (periods.length && periods[periods.length - 1].startPeriod >= p.startPeriod) periods.pop();
      if (periods.length && periods[periods.length - 1].limit === p.limit) continue;
      periods.push(p);
    }
    const chart = chartFor(card, k, unit);
    if (!periods.length) {
      chart.empty.textContent = 'No limit';
      chart.set([[]]);
      setText(card.note, `No limit: no charging profile restricts connector ${k} over the next 24 hours, so it may charge as fast as the charger and the car allow.`);
      return;
    }
    // A step chart: each period holds its limit until the next starts.
    const start = Date.parse(res.scheduleStart || sch.startSchedule) || Date.now();
    const end = start + 1000 * (sch.duration > 0 ? sch.duration : HORIZON);
    const points = [];
    periods.forEach((p, i) => {
      const from = start + 1000 * p.startPeriod;
      const to = i + 1 < periods.length ? start + 1000 * periods[i + 1].startPeriod : Math.max(end, from);
      points.push({ t: from, v: p.limit }, { t: to, v: p.limit });
    });
    chart.set([points]);
    const now = periods.filter((p) => p.startPeriod <= 0).pop() || periods[0];
    const changes = periods.filter((p) => p.startPeriod > 0).slice(0, 3)
      .map((p) => `from ${timeOnly(start + 1000 * p.startPeriod)}: ${limitText(p.limit, unit)}`);
    setText(card.note, `Now ${limitText(now.limit, unit)}${changes.length ? `; ${changes.join('; ')}` : ' for the next 24 hours'}.`);
  }

  async function loadSchedules() {
    const ids = connectorIds(false);
    const sig = ids.join(',');
    if (sig !== schedSig) {
      schedSig = sig;
      schedules.clear();
      schedBox.replaceChildren();
      for (const k of ids) {
        const card = scheduleCard(k);
        schedules.set(k, card);
        schedBox.append(card.el);
      }
    }
    await Promise.all(ids.map(loadSchedule));
  }

  // --- putting it together --------------------------------------------
  const reload = h('button', { type: 'button' }, 'Refresh');
  reload.addEventListener('click', () => busy(reload, refresh));
  const el = h('section', { class: 'profiles-section', 'aria-labelledby': 'prof-title' },
    h('h2', { id: 'prof-title' }, 'Charging profiles'),
    h('p', { class: 'muted' }, 'Limits set on the charger through Wattson. OCPP 1.6 chargers cannot report their profiles, so this is the list of the ones this charger accepted; profiles of finished sessions drop out by themselves.'),
    h('div', { class: 'toolbar' }, reload),
    listNote, listBox,
    operate ? form : null,
    h('h3', { class: 'schedule-title' }, 'Composite schedule'),
    h('p', { class: 'muted small' }, 'What each connector may draw over the next 24 hours with all its profiles combined, as the charger itself works it out.'),
    schedBox);

  let lastConnected = !!charger().connected;
  let lastConnSig = connectorIds(true).join(',');

  async function refresh() {
    fillConnectors();
    await Promise.all([loadList(), loadSchedules()]);
  }

  /** changed reloads after a session started or stopped, the charger came online or reported new connectors. */
  function changed(txChanged) {
    const c = charger();
    const sig = connectorIds(true).join(',');
    const came = !!c.connected && !lastConnected;
    const went = !c.connected && lastConnected;
    const conns = sig !== lastConnSig;
    lastConnected = !!c.connected;
    lastConnSig = sig;
    if (txChanged || came) refresh();
    else if (conns || went) { fillConnectors(); loadSchedules(); }
  }

  fillConnectors();
  return { el, refresh, changed };
}
