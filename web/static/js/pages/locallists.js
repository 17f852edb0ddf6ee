// Local lists: named lists of id tags that chargers keep, so drivers can
// start while a charger is offline. The page edits lists, their members
// and their chargers, and shows each charger's sync state live
// (localList.sync events).

import { get, post, put, del, enc, qs } from '../api.js';
import * as live from '../live.js';
import { h, field, toast, busy, ago, dateTime, badge, link, chargerHref, setText, emptyState } from '../ui.js';

const canEdit = (u) => u.role === 'operator' || u.role === 'admin';

const STATES = {
  inSync: ['in sync', 'ok'],
  pending: ['pending', 'busy'],
  failed: ['failed', 'bad'],
  notSupported: ['not supported', 'off'],
  none: ['no list', 'off'],
};

/** stateBadge shows a charger's local list state. */
export function stateBadge(state) {
  const [text, cls] = STATES[state] || [state || '—', 'off'];
  const b = badge(text, cls);
  b.dataset.state = state;
  return b;
}

/** summary says how a list's chargers are doing. */
function summary(l) {
  if (!l.chargers) return 'no chargers';
  const parts = [`${l.chargers - l.pending} of ${l.chargers} in sync`];
  if (l.pending - l.failed > 0) parts.push(`${l.pending - l.failed} pending`);
  if (l.failed) parts.push(`${l.failed} failed`);
  return parts.join(' · ');
}

export async function localListsPage(root, ctx) {
  const editor = h('div');
  const note = h('p', { class: 'muted', 'aria-live': 'polite' });
  const tbody = h('tbody');
  const detail = h('div', { class: 'locallist-detail' });
  root.append(h('h1', null, 'Local lists'),
    h('p', { class: 'muted' }, 'A local list is a set of id tags that its chargers keep, so drivers can start while a charger is offline. ',
      'Wattson sends the list to every charger assigned to it and keeps it up to date: adding, blocking or deleting an id tag reaches the chargers within seconds, and offline chargers when they come back.'),
    canEdit(ctx.user) ? h('div', { class: 'toolbar' }, h('button', { type: 'button', class: 'primary', onclick: () => edit(null) }, 'New list')) : null,
    editor, note,
    h('div', { class: 'table-wrap' }, h('table', { class: 'list locallists' },
      h('thead', null, h('tr', null, ['List', 'Id tags', 'Chargers', 'Sync'].map((t) => h('th', { scope: 'col' }, t)))), tbody)),
    detail);

  let lists = [];
  let selected = Number(ctx.query.get('list')) || 0;
  let shown = null; // the detail of the selected list

  async function loadLists() {
    try {
      lists = (await get('/local-lists')).items;
    } catch (err) { setText(note, err.message); return; }
    tbody.replaceChildren(...lists.map((l) => h('tr', { dataset: { list: l.id }, class: l.id === selected ? 'selected' : null },
      h('th', { scope: 'row' }, link(`/local-lists?list=${l.id}`, l.name)),
      h('td', { class: 'num' }, l.members), h('td', { class: 'num' }, l.chargers),
      h('td', { dataset: { testid: 'sync-summary' } }, summary(l)))));
    setText(note, lists.length ? '' : 'No local lists yet. Create one, add id tags and assign chargers.');
    if (selected && !lists.some((l) => l.id === selected)) selected = 0;
    if (!selected && lists.length === 1) selected = lists[0].id;
    const l = lists.find((x) => x.id === selected);
    if (!l) { detail.replaceChildren(); shown = null; return; }
    if (shown?.id === l.id) shown.update(l);
    else { shown = listDetail(l); detail.replaceChildren(shown.el); }
  }

  function edit(l) {
    const isNew = !l;
    const name = h('input', { value: l?.name || '', required: true, maxlength: 100 });
    const desc = h('input', { value: l?.description || '', maxlength: 2000 });
    const err = h('p', { class: 'error', role: 'alert', hidden: true });
    const ok = h('button', { type: 'submit', class: 'primary' }, isNew ? 'Create' : 'Save');
    const form = h('form', { class: 'card editor', 'aria-label': isNew ? 'New local list' : `Edit ${l.name}` },
      h('h2', null, isNew ? 'New local list' : `Edit ${l.name}`),
      h('div', { class: 'grid' }, field('Name', name, 'E.g. the site or fleet whose cards it holds'), field('Description', desc)),
      err, h('div', { class: 'buttons' }, h('button', { type: 'button', onclick: () => editor.replaceChildren() }, 'Cancel'), ok));
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      busy(ok, async () => {
        try {
          const body = { name: name.value.trim(), description: desc.value.trim() };
          const saved = isNew ? await post('/local-lists', body) : await put(`/local-lists/${l.id}`, body);
          toast(`${saved.name} saved`, 'ok');
          editor.replaceChildren();
          if (isNew) { ctx.navigate(`/local-lists?list=${saved.id}`); return; }
          loadLists();
        } catch (x) { err.textContent = x.message; err.hidden = false; }
      });
    });
    editor.replaceChildren(form);
    name.focus();
  }

  // listDetail draws one list: its members and its chargers.
  function listDetail(l) {
    const title = h('h2', null, l.name);
    const desc = h('p', { class: 'muted' });
    const counts = h('p', { dataset: { testid: 'list-counts' } });
    const el = h('section', { class: 'card', 'aria-label': `List ${l.name}` }, h('div', { class: 'title-row' }, title), desc, counts);
    if (canEdit(ctx.user)) {
      el.append(h('div', { class: 'toolbar' },
        h('button', { type: 'button', onclick: () => edit(l) }, 'Rename'),
        h('button', { type: 'button', onclick: (e) => syncAll(e.currentTarget, false) }, 'Sync now'),
        h('button', { type: 'button', onclick: (e) => syncAll(e.currentTarget, true) }, 'Resend whole list'),
        h('button', { type: 'button', class: 'danger', onclick: (e) => removeList(e.currentTarget) }, 'Delete list')));
    }
    function update(x) {
      l = x;
      setText(title, l.name);
      setText(desc, l.description || '');
      setText(counts, `${l.members} id tags · ${summary(l)}`);
    }
    update(l);

    async function syncAll(button, full) {
      await busy(button, async () => {
        try {
          const r = await post(`/local-lists/${l.id}/sync`, { full });
          toast(`Syncing ${r.chargers} charger${r.chargers === 1 ? '' : 's'}${full ? ' with the whole list' : ''}`, 'ok');
        } catch (err) { toast(err.message, 'error'); }
      });
    }
    async function removeList(button) {
      if (!confirm(`Delete the list ${l.name}? Its chargers' lists are cleared.`)) return;
      await busy(button, async () => {
        try { await del(`/local-lists/${l.id}`); toast(`${l.name} deleted`, 'ok'); ctx.navigate('/local-lists'); } catch (err) { toast(err.message, 'error'); }
      });
    }

    // --- members ------------------------------------------------------
    const memberBody = h('tbody');
    const memberNote = h('p', { class: 'muted' });
    const moreMembers = h('button', { type: 'button', hidden: true }, 'More');
    const members = h('section', { 'aria-labelledby': 'members-title' }, h('h3', { id: 'members-title' }, 'Id tags'));
    if (canEdit(ctx.user)) {
      const tag = h('input', { name: 'idTag', maxlength: 20, list: 'tag-options', autocomplete: 'off', placeholder: 'Id tag' });
      const options = h('datalist', { id: 'tag-options' });
      const add = h('button', { type: 'submit', class: 'primary' }, 'Add');
      const form = h('form', { class: 'toolbar', 'aria-label': 'Add id tags' },
        field('Add id tags (separate several with spaces or commas)', tag), options, add);
      let timer = 0;
      tag.addEventListener('input', () => {
        clearTimeout(timer);
        timer = setTimeout(async () => {
          const q = tag.value.split(/[\s,]+/).pop();
          if (!q) return;
          try {
            const p = await get(`/id-tags${qs({ search: q, limit: 20 })}`);
            options.replaceChildren(...p.items.map((t) => h('option', { value: t.idTag }, t.owner || t.status)));
          } catch { /* suggestions only */ }
        }, 200);
      });
      form.addEventListener('submit', (e) => {
        e.preventDefault();
        const tags = [...new Set(tag.value.split(/[\s,]+/).filter(Boolean))];
        if (!tags.length) return;
        busy(add, async () => {
          try {
            await post(`/local-lists/${l.id}/members`, { add: tags });
            toast(`Added ${tags.join(', ')}`, 'ok');
            tag.value = '';
            loadMembers(true);
            loadLists();
          } catch (err) { toast(err.message, 'error'); }
        });
      });
      members.append(form);
    }
    members.append(memberNote, h('div', { class: 'table-wrap' }, h('table', { class: 'list members' },
      h('thead', null, h('tr', null, ['Id tag', 'Status', 'Expires', 'Parent', 'Owner', ''].map((t) => h('th', { scope: 'col' }, t)))), memberBody)), moreMembers);
    el.append(members);

    let nextMember = '';
    async function loadMembers(reset) {
      try {
        const p = await get(`/local-lists/${l.id}/members${qs({ limit: 100, after: reset ? '' : nextMember })}`);
        nextMember = p.next;
        if (reset) memberBody.replaceChildren();
        memberBody.append(...p.items.map(memberRow));
        moreMembers.hidden = !nextMember;
        setText(memberNote, memberBody.children.length ? '' : 'No id tags on this list yet.');
      } catch (err) { setText(memberNote, err.message); }
    }
    function memberRow(t) {
      return h('tr', { dataset: { tag: t.idTag } }, h('th', { scope: 'row' }, t.idTag),
        h('td', null, badge(t.status, t.status === 'Accepted' ? 'ok' : 'bad')), h('td', null, t.expiryDate ? dateTime(t.expiryDate) : 'never'),
        h('td', null, t.parentIdTag || '—'), h('td', null, t.owner || '—'),
        canEdit(ctx.user) ? h('td', { class: 'actions' }, h('button', { type: 'button', class: 'small', onclick: (e) => removeMember(t.idTag, e.currentTarget) }, 'Remove')) : h('td'));
    }
    async function removeMember(tag, button) {
      await busy(button, async () => {
        try { await del(`/local-lists/${l.id}/members/${enc(tag)}`); toast(`${tag} removed from ${l.name}`, 'ok'); loadMembers(true); loadLists(); } catch (err) { toast(err.message, 'error'); }
      });
    }
    moreMembers.addEventListener('click', () => busy(moreMembers, () => loadMembers(false)));

    // --- chargers -----------------------------------------------------
    const chargerBody = h('tbody');
    const chargerNote = h('p', { class: 'muted' });
    const moreChargers = h('button', { type: 'button', hidden: true }, 'More');
    const results = h('div', { class: 'clear-results', 'aria-live': 'polite' });
    const selectAll = h('input', { type: 'checkbox', 'aria-label': 'Select all chargers' });
    const chargersBox = h('section', { 'aria-labelledby': 'chargers-title' }, h('h3', { id: 'chargers-title' }, 'Chargers'));
    if (canEdit(ctx.user)) {
      const cid = h('input', { name: 'chargerId', list: 'charger-options', autocomplete: 'off', placeholder: 'Charger id' });
      const options = h('datalist', { id: 'charger-options' }, [...live.chargers.keys()].sort().slice(0, 1000).map((id) => h('option', { value: id })));
      const add = h('button', { type: 'submit', class: 'primary' }, 'Assign');
      const form = h('form', { class: 'toolbar', 'aria-label': 'Assign chargers' },
        field('Assign chargers (a charger has one list: it moves from any other)', cid), options, add);
      form.addEventListener('submit', (e) => {
        e.preventDefault();
        const ids = [...new Set(cid.value.split(/[\s,]+/).filter(Boolean))];
        if (!ids.length) return;
        busy(add, async () => {
          try {
            await post(`/local-lists/${l.id}/chargers`, { add: ids });
            toast(`Assigned ${ids.join(', ')}`, 'ok');
            cid.value = '';
            loadChargers(true);
            loadLists();
          } catch (err) { toast(err.message, 'error'); }
        });
      });
      const picked = () => [...chargerBody.querySelectorAll('input[type=checkbox]:checked')].map((b) => b.value);
      const clear = h('button', { type: 'button', onclick: (e) => clearCaches(picked(), e.currentTarget) }, 'Clear cache on selected');
      const sync = h('button', { type: 'button', onclick: (e) => syncSelected(picked(), e.currentTarget) }, 'Sync selected');
      chargersBox.append(form, h('div', { class: 'toolbar' }, sync, clear));
      selectAll.addEventListener('change', () => { for (const b of chargerBody.querySelectorAll('input[type=checkbox]')) b.checked = selectAll.checked; });
    }
    chargersBox.append(chargerNote, h('div', { class: 'table-wrap' }, h('table', { class: 'list list-chargers' },
      h('thead', null, h('tr', null, canEdit(ctx.user) ? h('th', { scope: 'col' }, selectAll) : null,
        ['Charger', 'Connection', 'State', 'Version', 'Entries', 'Last attempt', 'Error', ''].map((t) => h('th', { scope: 'col' }, t)))), chargerBody)),
    moreChargers, results);
    el.append(chargersBox);

    const rows = new Map(); // charger id → row parts
    let nextCharger = '';
    async function loadChargers(reset) {
      try {
        const p = await get(`/local-lists/${l.id}/chargers${qs({ limit: 100, after: reset ? '' : nextCharger })}`);
        nextCharger = p.next;
        if (reset) { chargerBody.replaceChildren(); rows.clear(); }
        for (const s of p.items) chargerBody.append(chargerRow(s));
        moreChargers.hidden = !nextCharger;
        setText(chargerNote, chargerBody.children.length ? '' : 'No charger has this list yet.');
      } catch (err) { setText(chargerNote, err.message); }
    }
    function chargerRow(s) {
      const r = {
        conn: h('td'), state: h('td'), version: h('td', { class: 'num' }), entries: h('td', { class: 'num' }),
        attempt: h('td'), error: h('td', { class: 'small' }),
      };
      r.el = h('tr', { dataset: { charger: s.chargerId } },
        canEdit(ctx.user) ? h('td', null, h('input', { type: 'checkbox', value: s.chargerId, 'aria-label': `Select ${s.chargerId}` })) : null,
        h('th', { scope: 'row' }, link(chargerHref(s.chargerId), s.chargerId)), r.conn, r.state, r.version, r.entries, r.attempt, r.error,
        canEdit(ctx.user) ? h('td', { class: 'actions' }, h('button', { type: 'button', class: 'small', onclick: (e) => unassign(s.chargerId, e.currentTarget) }, 'Remove')) : h('td'));
      rows.set(s.chargerId, r);
      drawRow(s);
      return r.el;
    }
    function drawRow(s) {
      const r = rows.get(s.chargerId);
      if (!r) return;
      // Answers and events may cross: the newest state wins.
      if (r.at && s.updatedAt && Date.parse(s.updatedAt) < r.at) return;
      r.at = Date.parse(s.updatedAt || '') || r.at;
      const connected = s.connected ?? live.chargers.get(s.chargerId)?.connected;
      r.conn.replaceChildren(badge(connected ? 'online' : 'offline', connected ? 'ok' : 'off'));
      r.state.replaceChildren(stateBadge(s.state));
      setText(r.version, s.version);
      setText(r.entries, s.heldKnown ? s.entries : '?');
      setText(r.attempt, s.attemptAt ? ago(s.attemptAt) : 'never');
      r.attempt.title = s.attemptAt ? dateTime(s.attemptAt) : '';
      setText(r.error, s.state === 'inSync' ? '' : s.error);
    }
    async function unassign(id, button) {
      await busy(button, async () => {
        try {
          await post(`/local-lists/${l.id}/chargers`, { remove: [id] });
          toast(`${id} no longer has ${l.name}; its list is cleared`, 'ok');
          loadChargers(true);
          loadLists();
        } catch (err) { toast(err.message, 'error'); }
      });
    }
    async function syncSelected(ids, button) {
      if (!ids.length) { toast('Select chargers first', 'info'); return; }
      await busy(button, async () => {
        try {
          await Promise.all(ids.map((id) => post(`/chargers/${enc(id)}/local-list/sync`, {})));
          toast(`Syncing ${ids.length} charger${ids.length === 1 ? '' : 's'}`, 'ok');
        } catch (err) { toast(err.message, 'error'); }
      });
    }
    async function clearCaches(ids, button) {
      if (!ids.length) { toast('Select chargers first', 'info'); return; }
      await busy(button, async () => {
        try {
          const r = await post('/authorization-cache/clear', { chargers: ids });
          results.replaceChildren(h('h4', null, 'Clear cache'), h('ul', { class: 'results' }, r.results.map((x) =>
            h('li', { dataset: { charger: x.chargerId } }, h('strong', null, x.chargerId), ': ',
              x.status ? badge(x.status, x.status === 'Accepted' ? 'ok' : 'bad') : h('span', { class: 'error' }, x.error)))));
          const ok = r.results.filter((x) => x.status === 'Accepted').length;
          toast(`Cache cleared on ${ok} of ${ids.length}`, ok === ids.length ? 'ok' : 'error');
        } catch (err) { toast(err.message, 'error'); }
      });
    }
    moreChargers.addEventListener('click', () => busy(moreChargers, () => loadChargers(false)));

    loadMembers(true);
    loadChargers(true);
    return {
      id: l.id, el, update,
      // event is a localList.sync state for one charger.
      event(s) {
        if (rows.has(s.chargerId)) {
          if (s.listId === l.id) drawRow(s); else loadChargers(true);
        } else if (s.listId === l.id) loadChargers(true);
      },
      connection(id) {
        const r = rows.get(id);
        const c = live.chargers.get(id);
        if (r && c) r.conn.replaceChildren(badge(c.connected ? 'online' : 'offline', c.connected ? 'ok' : 'off'));
      },
    };
  }

  // Live: sync states as they change; counts are read again at most every
  // half second.
  let countsTimer = 0;
  ctx.onLeave(() => clearTimeout(countsTimer));
  ctx.onLeave(live.subscribe(({ ids, events }) => {
    let any = false;
    for (const e of events) {
      if (e.type !== 'localList.sync' || !e.data) continue;
      any = true;
      shown?.event(e.data);
    }
    if (shown) for (const id of ids) shown.connection(id);
    if (any && !countsTimer) countsTimer = setTimeout(() => { countsTimer = 0; loadLists(); }, 500);
  }));
  await live.load().catch(() => {});
  await loadLists();
}
