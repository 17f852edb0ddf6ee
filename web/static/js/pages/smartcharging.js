// Smart charging: the tree of circuits (groups) with their limits and live
// load, the connectors each group shares its current between and how each
// one is steered (mode, priority, Low-cost and Solar options), the price
// schedule with the hours Low-cost connectors plan to charge in, the site
// meter and the alerts of the last allocation round.
//
// What the groups and connectors are (their settings) is read once and
// again after every change; what the allocator decided (GET /smart-charging)
// is read again at most every 2 s while events arrive. The group charts are
// fed from history once and then from smartcharging.round events directly.

import { get, put, post, del, enc } from '../api.js';
import * as live from '../live.js';
import { LineChart } from '../chart.js';
import { h, setText, ago, badge, statusClass, toast, busy, field, emptyState, link, chargerHref, power, dateTime } from '../ui.js';
import { PriceChart, fmtPrice } from './pricechart.js';

const canEdit = (u) => u.role === 'operator' || u.role === 'admin';
const PHASES = ['L1', 'L2', 'L3'];
const MODES = [['on', 'On'], ['off', 'Off'], ['low-cost', 'Low-cost'], ['solar', 'Solar']];
const MODE_LABEL = Object.fromEntries(MODES);
const PHASE_CHOICES = [['', 'Unknown (counted on all three)'], ['L1', 'L1 only'], ['L2', 'L2 only'], ['L3', 'L3 only'],
  ['L1L2', 'L1 and L2'], ['L1L3', 'L1 and L3'], ['L2L3', 'L2 and L3'], ['L1L2L3', 'All three']];
const ALERT_LABEL = { unmanaged: 'Unmanaged', 'over-limit': 'Over the limit', invalid: 'Invalid setting', solar: 'Solar' };
const REFRESH_MS = 2000;
const MAX_POINTS = 2000;

const key = (chargerId, connectorId) => `${chargerId}/${connectorId}`;
/** amps: 16 → "16", 15.96 → "16", 7.25 → "7.3"; "—" for nothing. */
const amps = (v) => (v == null || !Number.isFinite(+v) ? '—' : String(+(+v).toFixed(1)));
const perPhase = (a) => `${(a || [null, null, null]).map(amps).join(' · ')} A`;
/** listOf reads a list answer: {"items": [...]} (older drafts named the list). */
const listOf = (r, name) => r?.items ?? r?.[name] ?? [];
const num = (input) => (input.value.trim() === '' ? null : Number(input.value));

let uid = 0;
const nextId = (p) => `${p}-${++uid}`;

/** settingBody is a connector setting as PUT wants it: without ids. */
const settingBody = (s) => ({
  groupId: s.groupId, priority: s.priority || 0, mode: s.mode || 'on', minCurrent: s.minCurrent || 0, maxCurrent: s.maxCurrent || 0,
  phases: s.phases || '', solarMinCurrent: s.solarMinCurrent || 0, priceBelow: s.priceBelow ?? null,
  cheapestHours: s.cheapestHours || 0, energyKWh: s.energyKWh || 0, readyBy: s.readyBy || '',
});
const groupBody = (g) => ({ name: g.name, parentId: g.parentId || '', limitA: g.limitA, powerLimitW: g.powerLimitW || 0, siteMeter: !!g.siteMeter });

/** slugify makes a group id from its name: "Garage left" → "garage-left". */
const slugify = (s) => s.toLowerCase().normalize('NFKD').replace(/[\u0300-\u036f]/g, '')
  .replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 48);

/** segmented builds a radio group that looks like a row of buttons. */
function segmented(label, choices, value, { disabled = false, testid } = {}) {
  const name = nextId('seg');
  const inputs = [];
  const el = h('div', { class: 'segmented', role: 'radiogroup', 'aria-label': label, dataset: testid ? { testid } : null },
    choices.map(([v, text]) => {
      const input = h('input', { type: 'radio', name, value: v, checked: v === value, disabled });
      inputs.push(input);
      return h('label', null, input, h('span', null, text));
    }));
  return {
    el,
    get value() { return inputs.find((i) => i.checked)?.value; },
    set value(v) { for (const i of inputs) i.checked = i.value === v; },
    set disabled(d) { for (const i of inputs) i.disabled = d; },
    onChange(fn) { for (const i of inputs) i.addEventListener('change', () => { if (i.checked) fn(i.value); }); },
  };
}

export async function smartChargingPage(root, ctx) {
  const editable = canEdit(ctx.user);
  let gone = false;
  ctx.onLeave(() => { gone = true; });

  // --- the page's frame -------------------------------------------------
  const summary = h('p', { class: 'muted', 'aria-live': 'polite' }, 'Loading…');
  const treeError = h('div', { class: 'notice notice-bad', role: 'alert', hidden: true, dataset: { testid: 'tree-error' } });
  const notLeader = h('p', { class: 'notice', hidden: true },
    'Another Wattson server runs smart charging at the moment. This one shows the settings, but not the live decisions.');
  const loadError = h('p', { class: 'error', role: 'alert', hidden: true });
  const alertList = h('ul', { class: 'alerts sc-alerts', dataset: { testid: 'sc-alerts' } });
  const siteBox = h('div', { class: 'sc-site' });
  const editor = h('div');
  const tree = h('ul', { class: 'sc-tree', dataset: { testid: 'group-tree' } });
  const treeEmpty = h('div', { hidden: true });
  const prices = new PriceChart();
  const planList = h('ul', { class: 'sc-plans' });
  const planPick = h('select', null);
  const priceTable = h('tbody');
  const priceNote = h('p', { class: 'muted small', 'aria-live': 'polite' });

  root.append(
    h('h1', null, 'Smart charging'), summary, treeError, notLeader, loadError,
    h('section', { 'aria-labelledby': 'sc-alerts-title' }, h('h2', { id: 'sc-alerts-title' }, 'Alerts'), alertList),
    h('section', { 'aria-labelledby': 'sc-groups-title' },
      h('div', { class: 'title-row sc-section-head' }, h('h2', { id: 'sc-groups-title' }, 'Groups'),
        editable ? h('button', { type: 'button', class: 'primary', onclick: () => editGroup(null) }, 'New group') : null),
      h('p', { class: 'muted small' }, 'A group is a circuit with a fuse: its connectors and the groups below it share its current, per phase.'),
      editor, treeEmpty, tree),
    h('section', { 'aria-labelledby': 'sc-prices-title' },
      h('h2', { id: 'sc-prices-title' }, 'Prices today and tomorrow'),
      prices.el, priceNote,
      h('div', { class: 'sc-plan-head' }, field('Highlight the plan of', planPick)), planList,
      h('details', { class: 'sc-price-table' }, h('summary', null, 'Prices as a table'),
        h('div', { class: 'table-wrap' }, h('table', { class: 'list' },
          h('thead', null, h('tr', null, ['Hour', 'Price per kWh', 'Planned'].map((t) => h('th', { scope: 'col' }, t)))), priceTable)))),
    h('section', { 'aria-labelledby': 'sc-site-title' }, h('h2', { id: 'sc-site-title' }, 'Site meter'),
      h('p', { class: 'muted small' }, 'The surplus the site meter measures (what the site feeds into the grid) is what Solar connectors share.'),
      siteBox),
  );

  // --- state -------------------------------------------------------------
  let groups = new Map(); // id → group settings (GET /smart-charging/groups)
  let settings = new Map(); // "charger/connector" → connector settings
  let status = null; // GET /smart-charging
  let priceSlots = [];
  const groupViews = new Map(); // id → view
  const memberViews = new Map(); // key → view

  const groupName = (id) => groups.get(id)?.name || id;
  let statusByKey = new Map(); // "charger/connector" → its part of status
  const statusOf = (k) => statusByKey.get(k);

  function fail(err, what) {
    if (err.status === 404 && !status) {
      loadError.textContent = 'This server does not offer smart charging (yet).';
    } else {
      loadError.textContent = `Could not ${what}: ${err.message}`;
    }
    loadError.hidden = false;
  }

  async function loadConfig() {
    const [g, c] = await Promise.all([get('/smart-charging/groups'), get('/smart-charging/connectors')]);
    groups = new Map(listOf(g, 'groups').map((x) => [x.id, x]));
    settings = new Map(listOf(c, 'connectors').map((x) => [key(x.chargerId, x.connectorId), x]));
  }

  let configLoading = null;
  /** reloadConfig reads the settings again and redraws the tree. */
  function reloadConfig() {
    if (configLoading) return configLoading;
    configLoading = (async () => {
      try { await loadConfig(); loadError.hidden = true; } catch (err) { fail(err, 'read the groups'); return; } finally { configLoading = null; }
      if (!gone) { drawTree(); drawLive(); }
    })();
    return configLoading;
  }

  // --- the tree of groups ---------------------------------------------------
  function children(parentId) {
    return [...groups.values()].filter((g) => (g.parentId || '') === parentId || (parentId === '' && g.parentId && !groups.has(g.parentId)))
      .sort((a, b) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id));
  }

  function drawTree() {
    const seen = new Set();
    const build = (parentId, depth) => children(parentId).filter((g) => !seen.has(g.id)).map((g) => {
      seen.add(g.id);
      const v = groupView(g);
      v.depth = depth;
      const kids = build(g.id, depth + 1);
      v.kids.replaceChildren(...kids);
      v.kids.hidden = !kids.length;
      return v.li;
    });
    tree.replaceChildren(...build('', 0));
    for (const [id, v] of groupViews) if (!seen.has(id)) { v.li.remove(); groupViews.delete(id); }
    for (const [k, v] of memberViews) if (!settings.has(k)) { v.el.remove(); memberViews.delete(k); }
    treeEmpty.hidden = groups.size > 0;
    treeEmpty.replaceChildren(emptyState(editable
      ? 'No groups yet. Create one for each circuit whose current the chargers on it must share, e.g. the garage\'s 3 × 32 A.'
      : 'No groups yet. An operator can set them up.'));
    for (const v of groupViews.values()) drawMembers(v);
  }

  /** groupView returns the group's card, built once and updated in place. */
  function groupView(g) {
    let v = groupViews.get(g.id);
    const sig = JSON.stringify([groupBody(g), groupName(g.parentId)]);
    if (v && v.sig === sig) return v;
    if (!v) {
      v = { id: g.id, li: h('li', { class: 'sc-node' }), kids: h('ul', { class: 'sc-tree' }), members: h('div', { class: 'sc-members' }) };
      v.phase = 0;
      // [phase][allocated, drawn, limit] → [{t, v}]. The limit is drawn
      // last, on top: dashed, it stays visible where the others reach it.
      v.series = [0, 1, 2].map(() => [[], [], []]);
      v.chart = new LineChart({ title: 'Current', unit: 'A', series: ['Allocated', 'Drawn', 'Limit'] });
      v.chart.el.classList.add('sc-chart');
      v.phasePick = segmented(`Phase shown in the chart of ${g.name}`, PHASES.map((p, i) => [String(i), p]), '0');
      v.phasePick.onChange((i) => { v.phase = +i; showPhase(v); });
      v.cells = { limit: [], allocated: [], drawn: [] };
      v.error = h('p', { class: 'error', role: 'alert', hidden: true });
      groupViews.set(g.id, v);
      loadHistory(v);
    }
    v.sig = sig;
    v.group = g;
    const titleId = nextId('grp');
    const row = (label, name, values) => h('tr', null, h('th', { scope: 'row' }, label),
      values.map((x, i) => { const td = h('td', { class: 'num' }, amps(x)); v.cells[name][i] = td; return td; }));
    const gs = status?.groups?.find((x) => x.id === g.id);
    const table = h('table', { class: 'sc-phases', 'aria-label': `Current of ${g.name} per phase, in A` },
      h('thead', null, h('tr', null, h('td'), PHASES.map((p) => h('th', { scope: 'col', class: 'num' }, p)))),
      h('tbody', null, row('Limit', 'limit', g.limitA), row('Allocated', 'allocated', gs?.allocatedA || [null, null, null]),
        row('Drawn', 'drawn', gs?.drawnA || [null, null, null])));
    const facts = [
      g.powerLimitW ? `Power limit ${power(g.powerLimitW)}` : 'No power limit',
      g.parentId ? `Part of ${groupName(g.parentId)}` : 'Top level',
    ];
    const actions = editable ? h('div', { class: 'sc-actions' },
      h('button', { type: 'button', class: 'small', onclick: () => editGroup(v.group) }, 'Edit'),
      h('button', { type: 'button', class: 'small', onclick: () => editGroup(null, v.group.id) }, 'New group below'),
      h('button', { type: 'button', class: 'small danger', onclick: (e) => removeGroup(v, e.currentTarget) }, 'Delete')) : null;
    v.chart.svg.setAttribute('aria-label', `${g.name}: limit, allocated and drawn current over time`);
    v.addForm = editable ? addConnectorForm(v) : null;
    v.card = h('article', { class: 'card sc-group', 'aria-labelledby': titleId, dataset: { group: g.id } },
      h('div', { class: 'sc-group-head' },
        h('div', null,
          h('div', { class: 'title-row' }, h('h3', { id: titleId }, g.name),
            g.name !== g.id ? h('span', { class: 'muted small' }, g.id) : null,
            g.siteMeter ? badge('site meter', 'charging') : null),
          h('p', { class: 'muted small' }, facts.join(' · '))),
        actions),
      v.error,
      h('div', { class: 'sc-group-body' },
        table,
        h('div', { class: 'sc-chart-box' }, v.phasePick.el, v.chart.el)),
      h('h4', null, 'Connectors'), v.members, v.addForm?.el);
    v.li.replaceChildren(v.card, v.kids);
    return v;
  }

  // --- the group charts ---------------------------------------------------
  function addPoint(v, t, limitA, allocatedA, drawnA) {
    if (!Number.isFinite(t)) return;
    for (let p = 0; p < 3; p++) {
      const vals = [allocatedA?.[p], drawnA?.[p], limitA?.[p]];
      vals.forEach((val, s) => {
        if (!Number.isFinite(val)) return;
        const d = v.series[p][s];
        const last = d[d.length - 1];
        if (last && t < last.t) return; // older than what is shown
        if (last && last.t === t) last.v = val; else d.push({ t, v: val });
        if (d.length > MAX_POINTS) d.splice(0, d.length - MAX_POINTS);
        if (p === v.phase && v.loaded) v.chart.append(s, t, val);
      });
    }
  }

  function showPhase(v) {
    v.chart.set(v.series[v.phase]);
    v.chart.el.querySelector('.chart-title').textContent = `Current on ${PHASES[v.phase]} (A)`;
  }

  async function loadHistory(v) {
    v.loaded = false;
    const early = v.series; // points from rounds that arrived meanwhile
    try {
      const r = await get(`/smart-charging/groups/${enc(v.id)}/history`);
      v.series = [0, 1, 2].map(() => [[], [], []]);
      for (const pt of listOf(r, 'points')) addPoint(v, Date.parse(pt.at), pt.limitA, pt.allocatedA, pt.drawnA);
      for (let p = 0; p < 3; p++) for (let s = 0; s < 3; s++) for (const pt of early[p][s]) {
        const d = v.series[p][s];
        if (!d.length || pt.t > d[d.length - 1].t) d.push(pt);
      }
    } catch (err) {
      if (err.status !== 404) toast(`Could not read the history of ${v.group?.name || v.id}: ${err.message}`, 'error');
    }
    v.loaded = true;
    showPhase(v);
  }

  // --- group editor -------------------------------------------------------
  /** descendants is the set of a group's ids below it (and itself). */
  function descendants(id) {
    const out = new Set([id]);
    let grew = true;
    while (grew) {
      grew = false;
      for (const g of groups.values()) if (g.parentId && out.has(g.parentId) && !out.has(g.id)) { out.add(g.id); grew = true; }
    }
    return out;
  }

  function editGroup(g, parentId = '') {
    const isNew = !g;
    g = g || { id: '', name: '', parentId, limitA: [32, 32, 32], powerLimitW: 0, siteMeter: false };
    const name = h('input', { value: g.name, required: true, maxlength: 100, autocomplete: 'off' });
    const id = h('input', { value: g.id, required: true, maxlength: 48, readonly: !isNew || null, autocomplete: 'off', spellcheck: 'false' });
    let idTouched = !isNew;
    id.addEventListener('input', () => { idTouched = true; });
    name.addEventListener('input', () => { if (!idTouched) id.value = slugify(name.value); });
    const below = isNew ? new Set() : descendants(g.id);
    const parent = h('select', null, h('option', { value: '' }, 'None (top level)'),
      [...groups.values()].filter((x) => !below.has(x.id)).sort((a, b) => a.name.localeCompare(b.name))
        .map((x) => h('option', { value: x.id, selected: x.id === (g.parentId || '') }, x.name)));
    const limits = PHASES.map((p, i) => h('input', { type: 'number', min: 0, step: 'any', required: true, value: g.limitA?.[i] ?? 0, inputmode: 'decimal' }));
    const powerKW = h('input', { type: 'number', min: 0, step: 'any', value: g.powerLimitW ? +(g.powerLimitW / 1000).toFixed(3) : '', inputmode: 'decimal' });
    const site = h('input', { type: 'checkbox', checked: !!g.siteMeter });
    const err = h('p', { class: 'error', role: 'alert', hidden: true });
    const ok = h('button', { type: 'submit', class: 'primary' }, isNew ? 'Create' : 'Save');
    const title = isNew ? 'New group' : `Edit ${g.name}`;
    // Typing the first phase's limit fills the others while they were equal:
    // most circuits are three-phase with one fuse size.
    limits[0].addEventListener('input', () => {
      if (limits[1].dataset.same !== 'false') limits[1].value = limits[0].value;
      if (limits[2].dataset.same !== 'false') limits[2].value = limits[0].value;
    });
    for (const l of limits.slice(1)) {
      l.dataset.same = String(l.value === limits[0].value);
      l.addEventListener('input', () => { l.dataset.same = 'false'; });
    }
    const form = h('form', { class: 'card editor', 'aria-label': title },
      h('h2', null, title),
      h('div', { class: 'grid' },
        field('Name', name),
        field('Id', id, isNew ? 'How the API names it; it cannot change later' : 'Cannot change'),
        field('Part of', parent, 'The group above it, whose fuse it is behind'),
        field('Power limit (kW)', powerKW, 'Empty: none')),
      h('fieldset', { class: 'sc-limits' }, h('legend', null, 'Current limit per phase (A)'),
        PHASES.map((p, i) => field(`Limit ${p} (A)`, limits[i]))),
      h('label', { class: 'check' }, site, ' The site meter measures this group (Solar connectors below share its surplus)'),
      err, h('div', { class: 'buttons' }, h('button', { type: 'button', onclick: () => editor.replaceChildren() }, 'Cancel'), ok));
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      busy(ok, async () => {
        err.hidden = true;
        const body = {
          name: name.value.trim(), parentId: parent.value, limitA: limits.map((l) => Number(l.value)),
          powerLimitW: powerKW.value.trim() === '' ? 0 : Math.round(Number(powerKW.value) * 1000), siteMeter: site.checked,
        };
        try {
          if (isNew) await post('/smart-charging/groups', { id: id.value.trim(), ...body });
          else await put(`/smart-charging/groups/${enc(g.id)}`, body);
          toast(`${body.name} ${isNew ? 'created' : 'saved'}`, 'ok');
          editor.replaceChildren();
          await reloadConfig();
          refreshSoon();
        } catch (x) {
          err.textContent = x.status === 409 && isNew ? `There is already a group with the id “${id.value.trim()}”. Choose another id.` : x.message;
          err.hidden = false;
        }
      });
    });
    form.addEventListener('keydown', (e) => { if (e.key === 'Escape') { editor.replaceChildren(); } });
    editor.replaceChildren(form);
    form.scrollIntoView({ block: 'nearest' });
    name.focus();
  }

  async function removeGroup(v, button) {
    const g = v.group;
    const n = [...settings.values()].filter((s) => s.groupId === g.id).length;
    if (!confirm(`Delete the group “${g.name}”?${n ? ` Its ${n} connector${n === 1 ? '' : 's'} leave smart charging and their limits are cleared.` : ''}`)) return;
    v.error.hidden = true;
    await busy(button, async () => {
      try {
        await del(`/smart-charging/groups/${enc(g.id)}`);
        toast(`${g.name} deleted`, 'ok');
        await reloadConfig();
        refreshSoon();
      } catch (err) {
        // The API says why (409: groups below it) and what to do.
        v.error.textContent = `Can't delete “${g.name}”: ${err.message}`;
        v.error.hidden = false;
        toast(v.error.textContent, 'error');
      }
    });
  }

  // --- the connectors of a group -------------------------------------------
  function drawMembers(v) {
    const list = [...settings.values()].filter((s) => s.groupId === v.id)
      .sort((a, b) => a.chargerId.localeCompare(b.chargerId) || a.connectorId - b.connectorId);
    const els = list.map((s) => memberView(s).el);
    if (!els.length) els.push(h('p', { class: 'muted small sc-none' }, editable ? 'No connectors yet: add one below.' : 'No connectors yet.'));
    v.members.replaceChildren(...els);
    v.addForm?.fill();
  }

  function memberView(s) {
    const k = key(s.chargerId, s.connectorId);
    let m = memberViews.get(k);
    const sig = JSON.stringify(settingBody(s));
    if (m && m.sig === sig) return m;
    m = buildMember(s);
    m.sig = sig;
    const old = memberViews.get(k);
    if (old) old.el.replaceWith(m.el);
    memberViews.set(k, m);
    updateMember(m);
    return m;
  }

  function buildMember(s) {
    const k = key(s.chargerId, s.connectorId);
    const label = `${s.chargerId} connector ${s.connectorId}`;
    const m = { key: k, setting: s };
    m.status = h('span', { class: 'badge', dataset: { testid: 'sc-status' } });
    m.unmanaged = badge('unmanaged', 'bad');
    m.unmanaged.hidden = true;
    m.measured = h('dd', { dataset: { testid: 'sc-measured' } });
    m.limit = h('dd', { dataset: { testid: 'sc-limit' } });
    m.reason = h('dd', { dataset: { testid: 'sc-reason' } });
    m.plan = h('p', { class: 'muted small', hidden: true });

    const mode = segmented(`Mode of ${label}`, MODES, s.mode || 'on', { disabled: !editable, testid: 'sc-mode' });
    const modeOut = h('span', { class: 'outcome small', role: 'status' });
    mode.onChange((value) => saveMode(m, value, mode, modeOut));
    m.mode = mode;

    // The settings form: priority, the mode's own options, limits.
    const priority = h('input', { type: 'number', step: 1, value: s.priority || 0, inputmode: 'numeric' });
    const choice = s.priceBelow != null ? 'below' : s.energyKWh > 0 ? 'energy' : 'cheapest';
    const lcName = nextId('lc');
    const radio = (v, text) => h('input', { type: 'radio', name: lcName, value: v, checked: choice === v, 'aria-label': text });
    const hours = h('input', { type: 'number', min: 1, max: 24, step: 1, value: s.cheapestHours || 4, inputmode: 'numeric', 'aria-label': 'Number of cheapest hours' });
    const below = h('input', { type: 'number', step: 'any', value: s.priceBelow ?? '', inputmode: 'decimal', 'aria-label': 'Highest price per kWh' });
    const kwh = h('input', { type: 'number', min: 0, step: 'any', value: s.energyKWh || '', inputmode: 'decimal', 'aria-label': 'Energy in kWh' });
    const by = h('input', { type: 'time', value: s.readyBy || '07:00', 'aria-label': 'Ready by' });
    const rCheapest = radio('cheapest', 'The day\'s cheapest hours');
    const rBelow = radio('below', 'When the price is at or below a limit');
    const rEnergy = radio('energy', 'Enough energy by a time');
    // Typing into an option's input chooses that option.
    hours.addEventListener('input', () => { rCheapest.checked = true; });
    below.addEventListener('input', () => { rBelow.checked = true; });
    for (const x of [kwh, by]) x.addEventListener('input', () => { rEnergy.checked = true; });
    const lowCost = h('fieldset', { class: 'sc-lowcost' }, h('legend', null, 'Low-cost: charge'),
      h('div', { class: 'sc-option' }, rCheapest, h('span', null, 'in the day\'s'), hours, h('span', null, 'cheapest hours')),
      h('div', { class: 'sc-option' }, rBelow, h('span', null, 'when the price is at or below'), below),
      h('div', { class: 'sc-option' }, rEnergy, kwh, h('span', null, 'kWh by'), by));
    const solarMin = h('input', { type: 'number', min: 0, step: 'any', value: s.solarMinCurrent || 0, inputmode: 'decimal' });
    const solar = field('Solar: at least this much from the grid (A)', solarMin, '0: only from the surplus');
    solar.classList.add('sc-solar');
    const minC = h('input', { type: 'number', min: 0, step: 'any', value: s.minCurrent || '', placeholder: '6', inputmode: 'decimal' });
    const maxC = h('input', { type: 'number', min: 0, step: 'any', value: s.maxCurrent || '', placeholder: 'the group\'s', inputmode: 'decimal' });
    const phases = h('select', null, PHASE_CHOICES.map(([v, t]) => h('option', { value: v, selected: v === (s.phases || '') }, t)));
    const save = h('button', { type: 'submit', class: 'small primary' }, 'Save');
    const out = h('span', { class: 'outcome small', role: 'status' });
    const form = h('form', { class: 'sc-settings', 'aria-label': `Settings of ${label}` },
      h('fieldset', { disabled: !editable, class: 'sc-plain' },
        field('Priority', priority, 'Higher goes first'),
        lowCost, solar,
        h('details', { class: 'sc-more' }, h('summary', null, 'Current and phases'),
          h('div', { class: 'grid sc-more-grid' }, field('Minimum (A)', minC, 'Empty: 6 A'), field('Maximum (A)', maxC, 'Empty: the group\'s limit'),
            field('Phases', phases))),
        editable ? h('div', { class: 'sc-save' }, save, out) : null));
    m.showOptions = (modeValue) => {
      lowCost.hidden = modeValue !== 'low-cost';
      solar.hidden = modeValue !== 'solar';
    };
    m.showOptions(s.mode || 'on');
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      const c = rCheapest.checked ? 'cheapest' : rBelow.checked ? 'below' : 'energy';
      const body = {
        ...settingBody(m.setting),
        priority: Math.trunc(Number(priority.value) || 0),
        minCurrent: num(minC) ?? 0, maxCurrent: num(maxC) ?? 0, phases: phases.value,
        solarMinCurrent: num(solarMin) ?? 0,
      };
      // Low-cost: exactly one way to choose the hours is set.
      if (c === 'below') {
        if (num(below) == null) { say(out, false, 'Enter the highest price to charge at.'); below.focus(); return; }
        Object.assign(body, { priceBelow: num(below), energyKWh: 0 });
      } else if (c === 'energy') {
        if (!(num(kwh) > 0)) { say(out, false, 'Enter how many kWh the car needs.'); kwh.focus(); return; }
        Object.assign(body, { priceBelow: null, energyKWh: num(kwh), readyBy: by.value || '07:00' });
      } else {
        Object.assign(body, { priceBelow: null, energyKWh: 0, cheapestHours: Math.trunc(num(hours) || 4) });
      }
      busy(save, () => saveSetting(m, body, out, 'saved'));
    });

    const remove = editable ? h('button', { type: 'button', class: 'small danger', onclick: (e) => removeMember(m, e.currentTarget) }, 'Remove') : null;
    m.el = h('article', { class: 'card sc-member', 'aria-label': label, dataset: { connector: k } },
      h('div', { class: 'title-row' },
        h('h5', null, link(chargerHref(s.chargerId), s.chargerId), ` · connector ${s.connectorId}`),
        m.status, m.unmanaged),
      h('dl', { class: 'facts sc-facts' },
        h('dt', null, 'Measured'), m.measured,
        h('dt', null, 'Limit in force'), m.limit,
        h('dt', null, 'Why'), m.reason),
      m.plan,
      h('div', { class: 'sc-mode-row' }, mode.el, modeOut),
      form,
      remove ? h('div', { class: 'sc-remove' }, remove) : null);
    return m;
  }

  function say(out, ok, text) {
    out.textContent = text;
    out.className = `outcome small ${ok ? 'ok' : 'bad'}`;
    if (!ok) toast(text, 'error');
  }

  async function saveSetting(m, body, out, verb) {
    const s = m.setting;
    const label = `${s.chargerId} connector ${s.connectorId}`;
    out.textContent = 'Saving…';
    out.className = 'outcome small';
    try {
      const saved = await put(`/smart-charging/connectors/${enc(s.chargerId)}/${s.connectorId}`, body);
      const next = { ...s, ...body, ...(saved && typeof saved === 'object' ? saved : {}) };
      m.setting = next;
      m.sig = JSON.stringify(settingBody(next));
      settings.set(m.key, next);
      say(out, true, verb === 'mode' ? `Saved: ${MODE_LABEL[body.mode]}` : 'Saved');
      toast(`${label}: ${verb === 'mode' ? `mode ${MODE_LABEL[body.mode]}` : 'settings saved'}`, 'ok');
      refreshSoon();
      return true;
    } catch (err) {
      say(out, false, `${label}: ${err.message}`);
      return false;
    }
  }

  async function saveMode(m, value, mode, out) {
    const before = m.setting.mode || 'on';
    mode.disabled = true;
    m.showOptions(value);
    const ok = await saveSetting(m, { ...settingBody(m.setting), mode: value }, out, 'mode');
    if (!ok) { mode.value = before; m.showOptions(before); }
    mode.disabled = !editable;
    mode.el.dataset.saved = ok ? value : before; // the browser tests wait for this
  }

  async function removeMember(m, button) {
    const s = m.setting;
    if (!confirm(`Remove ${s.chargerId} connector ${s.connectorId} from “${groupName(s.groupId)}”? Smart charging stops steering it and clears its limits.`)) return;
    await busy(button, async () => {
      try {
        await del(`/smart-charging/connectors/${enc(s.chargerId)}/${s.connectorId}`);
        toast(`${s.chargerId} connector ${s.connectorId} removed`, 'ok');
        await reloadConfig();
        refreshSoon();
      } catch (err) { toast(err.message, 'error'); }
    });
  }

  /** addConnectorForm picks a charger (GET /chargers, kept live) and one of its connectors. */
  function addConnectorForm(v) {
    const charger = h('select', { 'aria-label': `Charger to add to ${v.group.name}` });
    const connector = h('select', { 'aria-label': 'Connector' });
    const add = h('button', { type: 'submit', class: 'small' }, 'Add');
    const el = h('form', { class: 'sc-add', 'aria-label': `Add a connector to ${v.group.name}` },
      h('span', { class: 'small muted' }, 'Add a connector:'), charger, connector, add);
    function fillConnectors() {
      const c = live.chargers.get(charger.value);
      let ids = (c?.connectors || []).map((x) => x.connectorId).filter((x) => x > 0);
      if (!ids.length) ids = [1];
      const was = connector.value;
      connector.replaceChildren(...ids.map((n) => {
        const s = settings.get(key(charger.value, n));
        const here = s?.groupId === v.id;
        return h('option', { value: n, disabled: here, selected: false },
          `Connector ${n}${here ? ' (already here)' : s ? ` (in ${groupName(s.groupId)}: moves here)` : ''}`);
      }));
      const opts = [...connector.options];
      const first = opts.find((o) => !o.disabled && o.value === was) || opts.find((o) => !o.disabled);
      if (first) first.selected = true;
      add.disabled = !charger.value || !first;
    }
    let idsSig = null;
    /** fill lists the chargers again when they changed, else only the chosen one's connectors. */
    function fill(changed) {
      const ids = [...live.chargers.keys()].sort();
      const sig = ids.join('\n');
      if (sig === idsSig) {
        if (!changed || changed.has(charger.value)) fillConnectors();
        return;
      }
      idsSig = sig;
      const was = charger.value;
      charger.replaceChildren(ids.length ? h('option', { value: '' }, 'Choose a charger') : h('option', { value: '' }, 'No chargers yet'),
        ...ids.map((id) => h('option', { value: id, selected: id === was }, id)));
      fillConnectors();
    }
    charger.addEventListener('change', fillConnectors);
    el.addEventListener('submit', (e) => {
      e.preventDefault();
      const cid = charger.value, n = Number(connector.value);
      if (!cid || !n) return;
      busy(add, async () => {
        const old = settings.get(key(cid, n));
        const body = { ...settingBody({ priority: 0, mode: 'on', ...(old || {}) }), groupId: v.id };
        try {
          await put(`/smart-charging/connectors/${enc(cid)}/${n}`, body);
          toast(`${cid} connector ${n} added to ${v.group.name}`, 'ok');
          charger.value = '';
          await reloadConfig();
          refreshSoon();
        } catch (err) { toast(err.message, 'error'); }
      });
    });
    fill();
    return { el, fill };
  }

  // --- live state -------------------------------------------------------
  function updateMember(m) {
    const st = statusOf(m.key);
    const c = live.chargers.get(m.setting.chargerId);
    const ocpp = st?.status || c?.connectors?.find((x) => x.connectorId === m.setting.connectorId)?.status || 'Unknown';
    setText(m.status, ocpp);
    m.status.className = `badge badge-${statusClass(ocpp)}`;
    m.unmanaged.hidden = !st?.unmanaged;
    m.unmanaged.title = st?.unmanaged ? st.reason || 'The charger refused charging profiles: its worst case is counted.' : '';
    setText(m.measured, st ? perPhase(st.measuredA) + (st.phases ? ` · ${st.phases}` : '') : '—');
    const lim = st?.limitA;
    const limText = lim == null ? 'none sent' : `${amps(lim)} A${st.confirmed ? '' : ' (unconfirmed)'}`;
    const target = st && st.targetA != null && (lim == null || Math.abs(st.targetA - lim) >= 0.05) ? ` · target ${amps(st.targetA)} A` : '';
    setText(m.limit, limText + target);
    m.limit.classList.toggle('sc-unconfirmed', lim != null && !st.confirmed);
    setText(m.reason, st?.reason || (status?.lastRun ? '—' : 'not decided yet'));
    const planText = st?.planNote ? `${st.planNote}${st.cheapNow === true ? ' · cheap now' : st.cheapNow === false ? ' · not cheap now' : ''}` : '';
    setText(m.plan, planText);
    m.plan.hidden = !planText;
  }

  function drawGroupLive(v) {
    const gs = status?.groups?.find((x) => x.id === v.id);
    if (!gs) return;
    // The last round is a point too (the same as its event's, if that
    // arrived): a young group's history has one point, and a line needs two.
    if (status.lastRun) addPoint(v, Date.parse(status.lastRun), gs.limitA, gs.allocatedA, gs.drawnA);
    for (let i = 0; i < 3; i++) {
      if (v.cells.allocated[i]) setText(v.cells.allocated[i], amps(gs.allocatedA?.[i]));
      if (v.cells.drawn[i]) setText(v.cells.drawn[i], amps(gs.drawnA?.[i]));
    }
  }

  function drawLive() {
    if (!status) return;
    setText(summary, status.lastRun
      ? `Last allocation round ${ago(status.lastRun)} (${dateTime(status.lastRun)}).`
      : status.leader ? 'No allocation round yet.' : 'Smart charging does not run on this server.');
    treeError.hidden = !status.treeError;
    treeError.replaceChildren(h('strong', null, 'The groups do not form a valid tree, so smart charging is on hold: '), status.treeError || '');
    notLeader.hidden = status.leader !== false;
    drawAlerts();
    drawSite();
    for (const v of groupViews.values()) drawGroupLive(v);
    for (const m of memberViews.values()) updateMember(m);
    drawPrices();
  }

  function subjectText(subject) {
    const i = subject.lastIndexOf('/');
    if (i > 0) {
      const cid = subject.slice(0, i);
      return [link(chargerHref(cid), cid), ` connector ${subject.slice(i + 1)}`];
    }
    if (subject === 'site-meter') return ['Site meter'];
    return [groups.has(subject) ? `Group ${groupName(subject)}` : subject];
  }

  let alertSig = '';
  function drawAlerts() {
    const list = status.alerts || [];
    const sig = JSON.stringify(list);
    if (sig === alertSig) return;
    alertSig = sig;
    alertList.replaceChildren(...(list.length ? list.map((a) => h('li', { class: `alert sc-alert sc-alert-${a.kind}` },
      h('span', { class: `badge badge-${a.kind === 'solar' ? 'busy' : 'bad'}` }, ALERT_LABEL[a.kind] || a.kind), ' ',
      subjectText(a.subject), a.message ? ` — ${a.message}` : ''))
      : [h('li', null, emptyState('No alerts: every group is within its limits and every connector follows its limit.'))]));
  }

  // --- site meter ---------------------------------------------------------
  const siteReading = h('p', { dataset: { testid: 'site-reading' } });
  const surplus = h('input', { type: 'number', step: 'any', required: true, inputmode: 'decimal' });
  const siteSet = h('button', { type: 'submit' }, 'Set');
  const siteForm = h('form', { class: 'inline sc-site-form', 'aria-label': 'Set the surplus by hand' },
    field('Surplus (W)', surplus, 'For a site without a meter feed, or to try Solar'), siteSet);
  siteForm.addEventListener('submit', (e) => {
    e.preventDefault();
    busy(siteSet, async () => {
      try {
        await put('/smart-charging/site-meter', { surplusW: Number(surplus.value) });
        toast(`Surplus set to ${power(Number(surplus.value))}`, 'ok');
        surplus.value = '';
        refreshSoon(0);
      } catch (err) { toast(err.message, 'error'); }
    });
  });
  siteBox.append(siteReading);
  if (editable) siteBox.append(siteForm);
  function drawSite() {
    const r = status.siteMeter;
    siteReading.replaceChildren(r
      ? h('span', null, h('strong', null, r.surplusW < 0 ? `No surplus: the site draws ${power(-r.surplusW)} from the grid` : `Surplus ${power(r.surplusW)}`), h('span', { class: 'muted' }, ` · ${r.source ? `from ${r.source}, ` : ''}${ago(r.at)}`))
      : h('span', { class: 'muted' }, 'No reading yet.'));
  }

  // --- prices and plans ------------------------------------------------------
  const dayStart = () => { const d = new Date(); d.setHours(0, 0, 0, 0); return d; };
  let priceFrom = 0, priceTo = 0, priceHour = -1;
  async function loadPrices() {
    const from = dayStart();
    const to = new Date(from);
    to.setDate(to.getDate() + 2);
    priceFrom = +from; priceTo = +to;
    try {
      const r = await get(`/prices?from=${enc(from.toISOString())}&to=${enc(to.toISOString())}`);
      priceSlots = listOf(r, 'slots');
      priceNote.classList.remove('error');
      setText(priceNote, priceSlots.length ? '' : 'No prices for today and tomorrow yet: Low-cost connectors charge as if On until there are.');
    } catch (err) {
      priceSlots = [];
      setText(priceNote, `Could not read the prices: ${err.message}`);
      priceNote.classList.add('error');
    }
    drawPrices();
  }

  const fmtHour = new Intl.DateTimeFormat(undefined, { weekday: 'short', hour: '2-digit', minute: '2-digit' });
  const fmtTime = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
  /** ranges merges adjacent slots: 02:00–03:00, 03:00–04:00 → 02:00–04:00. */
  function ranges(plan) {
    const out = [];
    for (const p of [...plan].sort((a, b) => Date.parse(a.start) - Date.parse(b.start))) {
      const last = out[out.length - 1];
      if (last && Date.parse(p.start) <= last.end) last.end = Math.max(last.end, Date.parse(p.end));
      else out.push({ start: Date.parse(p.start), end: Date.parse(p.end) });
    }
    return out.map((r) => `${fmtHour.format(r.start)}–${fmtTime.format(r.end)}`).join(', ');
  }

  let planSig = '';
  let loadingPrices = null;
  function drawPrices() {
    const lowCost = (status?.connectors || []).filter((c) => (settings.get(key(c.chargerId, c.connectorId))?.mode ?? '') === 'low-cost' || c.plan?.length || c.planNote);
    const sig = JSON.stringify(lowCost.map((c) => [c.chargerId, c.connectorId, c.plan, c.planNote, c.cheapNow]));
    if (sig !== planSig && planSig && !loadingPrices) {
      // A plan changed: the prices may have too.
      loadingPrices = loadPrices().finally(() => { loadingPrices = null; });
    }
    planSig = sig;
    const was = planPick.value;
    planPick.replaceChildren(h('option', { value: '' }, lowCost.length ? 'All Low-cost connectors' : 'No Low-cost connectors'),
      ...lowCost.map((c) => { const k = key(c.chargerId, c.connectorId); return h('option', { value: k, selected: k === was }, `${c.chargerId} connector ${c.connectorId}`); }));
    planPick.closest('.sc-plan-head').hidden = !lowCost.length;
    const shown = planPick.value ? lowCost.filter((c) => key(c.chargerId, c.connectorId) === planPick.value) : lowCost;
    const planned = shown.flatMap((c) => c.plan || []);
    prices.set({ slots: priceSlots, planned, from: priceFrom, to: priceTo });
    planList.replaceChildren(...(lowCost.length ? [] : [h('li', { class: 'muted' }, 'No connector is in Low-cost mode: switch one to Low-cost to see the hours it plans to charge in.')]), ...lowCost.map((c) => h('li', null,
      h('strong', null, `${c.chargerId} connector ${c.connectorId}: `),
      c.plan?.length ? ranges(c.plan) : 'no hours planned', c.planNote ? h('span', { class: 'muted' }, ` — ${c.planNote}`) : '')));
    priceTable.replaceChildren(...priceSlots.filter((x) => Date.parse(x.end) > priceFrom && Date.parse(x.start) < priceTo).map((x) => {
      const isPlanned = planned.some((p) => Date.parse(p.start) < Date.parse(x.end) && Date.parse(p.end) > Date.parse(x.start));
      return h('tr', null, h('th', { scope: 'row' }, `${fmtHour.format(Date.parse(x.start))}–${fmtTime.format(Date.parse(x.end))}`),
        h('td', { class: 'num' }, fmtPrice(x.price)), h('td', null, isPlanned ? 'planned' : ''));
    }));
  }
  planPick.addEventListener('change', drawPrices);

  // --- refresh --------------------------------------------------------------
  let lastStatusSig = '';
  async function refresh() {
    try {
      status = await get('/smart-charging');
      statusByKey = new Map((status.connectors || []).map((c) => [key(c.chargerId, c.connectorId), c]));
      loadError.hidden = true;
    } catch (err) { fail(err, 'read the smart charging state'); return; }
    if (gone) return;
    // Someone else changed the groups or connectors: read them again.
    const known = [...groups.keys()].sort().join(',') + '|' + [...settings.values()].map((s) => `${key(s.chargerId, s.connectorId)}@${s.groupId}`).sort().join(',');
    const now = (status.groups || []).map((g) => g.id).sort().join(',') + '|' + (status.connectors || []).map((c) => `${key(c.chargerId, c.connectorId)}@${c.groupId}`).sort().join(',');
    // Compared only when the state changed, as smart charging may take a
    // moment to see a change made here.
    if (known !== now && now !== lastStatusSig) await reloadConfig();
    lastStatusSig = now;
    drawLive();
  }

  let last = 0, timer = 0, running = false;
  /** refreshSoon reads the state again, at most every 2 s. */
  function refreshSoon(wait) {
    if (timer) return;
    const w = wait ?? Math.max(0, last + REFRESH_MS - Date.now());
    timer = setTimeout(async () => {
      if (running) { timer = 0; refreshSoon(); return; }
      running = true;
      last = Date.now();
      try { await refresh(); } finally { running = false; timer = 0; }
    }, w);
  }
  ctx.onLeave(() => clearTimeout(timer));

  ctx.onLeave(live.subscribe(({ ids, events, reset }) => {
    let want = reset;
    for (const e of events) {
      switch (e.type) {
        case 'smartcharging.round':
          for (const g of e.data?.groups || []) {
            const v = groupViews.get(g.id);
            if (!v) continue;
            addPoint(v, Date.parse(e.data.at || e.time), g.limitA, g.allocatedA, g.drawnA);
            for (let i = 0; i < 3; i++) {
              if (v.cells.allocated[i]) setText(v.cells.allocated[i], amps(g.allocatedA?.[i]));
              if (v.cells.drawn[i]) setText(v.cells.drawn[i], amps(g.drawnA?.[i]));
            }
          }
          want = true;
          break;
        case 'smartcharging.limit': {
          // The charger accepted a limit: show it at once.
          const st = statusOf(key(e.chargerId, e.data?.connectorId));
          if (st && e.data?.limitA != null) {
            st.limitA = e.data.limitA;
            st.confirmed = true;
            const m = memberViews.get(key(e.chargerId, e.data.connectorId));
            if (m) updateMember(m);
          }
          want = true;
          break;
        }
        case 'smartcharging.alert':
          want = true;
          break;
        case 'connector.status': case 'meter.values': case 'transaction.started': case 'transaction.stopped':
          if ([...settings.values()].some((s) => s.chargerId === e.chargerId)) want = true;
          break;
      }
    }
    // The add forms list the chargers and their connectors: keep them
    // current, but not under the user's hands.
    if (reset || ids.size) {
      for (const v of groupViews.values()) if (v.addForm && !v.addForm.el.contains(document.activeElement)) v.addForm.fill(reset ? null : ids);
    }
    if (want) refreshSoon();
  }));

  // "2 minutes ago" ages and the current hour moves: redraw now and then.
  const tick = setInterval(() => {
    if (status) drawLive();
    const hour = new Date().getHours();
    if (priceHour !== -1 && hour !== priceHour && hour === 0) loadPrices(); // a new day
    priceHour = hour;
    prices.redraw();
  }, 30000);
  ctx.onLeave(() => clearInterval(tick));

  // --- first load -----------------------------------------------------------
  try {
    await Promise.all([loadConfig(), live.load().catch(() => {})]);
  } catch (err) {
    setText(summary, '');
    fail(err, 'read the groups');
    return;
  }
  if (gone) return;
  drawTree();
  last = Date.now();
  await Promise.all([refresh(), loadPrices()]);
  priceHour = new Date().getHours();
}
