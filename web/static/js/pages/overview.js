import { get } from '../api.js';
import * as live from '../live.js';
import { h, setText, energy, power, ago, link, chargerHref, emptyState } from '../ui.js';

const ALERT_TEXT = {
  offline: 'Offline',
  faulted: 'Fault',
  pending: 'Awaiting approval',
};

export async function overviewPage(root, ctx) {
  const stat = (label, key, cls = '') => {
    const v = h('strong', { class: 'stat-value', dataset: { stat: key } }, '…');
    return [h('div', { class: `stat ${cls}` }, h('span', { class: 'stat-label' }, label), v), v];
  };
  const [online, vOnline] = stat('Online', 'online', 'stat-ok');
  const [offline, vOffline] = stat('Offline', 'offline', 'stat-off');
  const [charging, vCharging] = stat('Charging', 'charging', 'stat-charging');
  const [faulted, vFaulted] = stat('Faulted', 'faulted', 'stat-bad');
  const [pw, vPower] = stat('Power now', 'power');
  const [en, vEnergy] = stat('Energy today', 'energy');
  const total = h('p', { class: 'muted' });
  const alerts = h('ul', { class: 'alerts' });
  const error = h('p', { class: 'error', hidden: true });
  root.append(
    h('h1', null, 'Overview'), total,
    h('section', { class: 'stats', 'aria-label': 'Chargers and energy' }, online, offline, charging, faulted, pw, en),
    error,
    h('section', { 'aria-labelledby': 'alerts-title' }, h('h2', { id: 'alerts-title' }, 'Needs attention'), alerts));

  async function refresh() {
    try {
      const o = await get('/overview');
      error.hidden = true;
      const c = o.chargers;
      setText(vOnline, c.online); setText(vOffline, c.offline); setText(vCharging, c.charging); setText(vFaulted, c.faulted);
      setText(vPower, power(o.powerW)); setText(vEnergy, energy(o.energyTodayWh));
      setText(total, c.total ? `${c.total} charger${c.total === 1 ? '' : 's'} known${c.pending ? `, ${c.pending} awaiting approval` : ''}.`
        : 'No chargers yet. Point a charger at ws://<this host>/ocpp/<charger id>.');
      alerts.replaceChildren(...(o.alerts.length ? o.alerts.map((a) => h('li', { class: `alert alert-${a.kind}` },
        h('span', { class: 'badge' }, ALERT_TEXT[a.kind] || a.kind), ' ',
        link(chargerHref(a.chargerId), a.chargerId), a.connectorId ? ` connector ${a.connectorId}` : '',
        // A fault's message carries the charger's error code; for the
        // others our own words (and a relative time) say it better.
        a.kind === 'faulted' && a.message ? ` — ${a.message}` : '',
        a.since ? h('span', { class: 'muted' }, ` · since ${ago(a.since)}`) : ''))
        : [h('li', null, emptyState('All is well: every charger is online and none reports a fault.'))]));
    } catch (err) {
      error.textContent = `Could not read the overview: ${err.message}`;
      error.hidden = false;
    }
  }

  // Figures change with events; read them again at most every 2 s while
  // events arrive (power and energy come from meter values the browser does
  // not sum itself), never on a timer of its own.
  let last = 0, timer = 0;
  ctx.onLeave(live.subscribe(({ events, reset }) => {
    if (!reset && !events.length) return;
    if (timer) return;
    const wait = Math.max(0, last + 2000 - Date.now());
    timer = setTimeout(() => { timer = 0; last = Date.now(); refresh(); }, wait);
  }));
  ctx.onLeave(() => clearTimeout(timer));
  last = Date.now();
  await refresh();
}
