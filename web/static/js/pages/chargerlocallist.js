// The charger page's local list section: which list the charger has, what
// it holds and whether that is in sync, live; operators assign a list,
// sync it now and clear the charger's authorization cache.

import { get, post, put, enc } from '../api.js';
import * as live from '../live.js';
import { h, field, toast, busy, ago, dateTime, setText, link } from '../ui.js';
import { stateBadge } from './locallists.js';

const canEdit = (u) => u.role === 'operator' || u.role === 'admin';

export function localListSection(id, ctx) {
  const base = `/chargers/${enc(id)}`;
  const facts = h('dl', { class: 'facts', dataset: { testid: 'local-list' } });
  const el = h('section', { 'aria-labelledby': 'locallist-title' }, h('h2', { id: 'locallist-title' }, 'Local list'), facts);
  const choose = h('select', { name: 'localList' });
  if (canEdit(ctx.user)) {
    const save = h('button', { type: 'button', class: 'primary', onclick: (e) => assign(e.currentTarget) }, 'Save');
    const sync = h('button', { type: 'button', onclick: (e) => syncNow(e.currentTarget) }, 'Sync now');
    const clear = h('button', { type: 'button', onclick: (e) => clearCache(e.currentTarget) }, 'Clear cache');
    el.append(h('div', { class: 'toolbar' }, field('List', choose), save, sync, clear));
  }

  let state = null;
  // Answers and events may cross: the newest state wins. A charger that
  // never had a list has no time.
  function draw(s) {
    if (state?.updatedAt && s.updatedAt && Date.parse(s.updatedAt) < Date.parse(state.updatedAt)) return;
    state = s;
    const rows = [
      ['List', s.listId ? link(`/local-lists?list=${s.listId}`, s.listName) : 'none'],
      ['State', stateBadge(s.state)],
      ['Version', String(s.version)],
      ['Entries held', s.heldKnown ? String(s.entries) : 'not known'],
      ['Last attempt', s.attemptAt ? `${ago(s.attemptAt)} (${s.result || '—'})` : 'never'],
      ['In sync since', s.syncedAt && s.state === 'inSync' ? dateTime(s.syncedAt) : '—'],
    ];
    if (s.error && s.state !== 'inSync') rows.push(['Error', h('span', { class: 'error' }, s.error)]);
    if (s.nextAttemptAt && s.state === 'failed') rows.push(['Next attempt', ago(s.nextAttemptAt)]);
    facts.replaceChildren(...rows.flatMap(([k, v]) => [h('dt', null, k), h('dd', null, v)]));
    if (choose.options.length) choose.value = String(s.listId || '');
  }

  async function load() {
    try {
      const [s, lists] = await Promise.all([get(`${base}/local-list`), canEdit(ctx.user) ? get('/local-lists') : { items: [] }]);
      choose.replaceChildren(h('option', { value: '' }, 'none'), ...lists.items.map((l) => h('option', { value: String(l.id) }, l.name)));
      draw(s);
    } catch (err) { facts.replaceChildren(h('dd', { class: 'error' }, err.message)); }
  }

  async function assign(button) {
    await busy(button, async () => {
      try {
        draw(await put(`${base}/local-list`, { listId: choose.value ? Number(choose.value) : null }));
        toast(choose.value ? 'List assigned; the charger gets it now' : 'List taken away; the charger\'s list is cleared', 'ok');
      } catch (err) { toast(err.message, 'error'); }
    });
  }
  async function syncNow(button) {
    await busy(button, async () => {
      try { draw(await post(`${base}/local-list/sync`, {})); toast('Syncing the local list', 'ok'); } catch (err) { toast(err.message, 'error'); }
    });
  }
  async function clearCache(button) {
    await busy(button, async () => {
      try {
        const r = (await post('/authorization-cache/clear', { chargers: [id] })).results[0];
        toast(r.status ? `Cache: ${r.status}` : r.error, r.status === 'Accepted' ? 'ok' : 'error');
      } catch (err) { toast(err.message, 'error'); }
    });
  }

  ctx.onLeave(live.subscribe(({ events }) => {
    for (const e of events) if (e.type === 'localList.sync' && e.chargerId === id && e.data) draw({ ...e.data, connected: state?.connected });
  }));
  load();
  return el;
}
