// Id tags: RFID cards and other tokens drivers charge with.

import { get, put, del, enc, qs } from '../api.js';
import { h, field, toast, busy, dateTime, badge, link, chargerHref, setText, energy } from '../ui.js';

const STATUSES = ['Accepted', 'Blocked', 'Expired', 'Invalid'];
const statusBadge = (s) => badge(s, s === 'Accepted' ? 'ok' : 'bad');
const canEdit = (u) => u.role === 'operator' || u.role === 'admin';

export async function idTagsPage(root, ctx) {
  const search = h('input', { type: 'search', placeholder: 'Search id tags', value: ctx.query.get('search') || '' });
  const note = h('p', { class: 'muted', 'aria-live': 'polite' });
  const tbody = h('tbody');
  const more = h('button', { type: 'button', hidden: true }, 'More');
  const editor = h('div');
  root.append(h('h1', null, 'Id tags'),
    h('div', { class: 'toolbar' }, field('Search', search), canEdit(ctx.user) ? h('button', { type: 'button', class: 'primary', onclick: () => edit(null) }, 'New id tag') : null),
    editor, note,
    h('div', { class: 'table-wrap' }, h('table', { class: 'list idtags' },
      h('thead', null, h('tr', null, ['Id tag', 'Status', 'Owner', 'Expires', 'Parent', 'Last used', ''].map((t) => h('th', { scope: 'col' }, t)))), tbody)),
    more);

  let next = '';
  async function load(reset) {
    try {
      const p = await get(`/id-tags${qs({ search: search.value.trim(), limit: 100, after: reset ? '' : next })}`);
      next = p.next;
      if (reset) tbody.replaceChildren();
      tbody.append(...p.items.map(row));
      more.hidden = !next;
      setText(note, tbody.children.length ? '' : search.value ? 'No id tag matches.' : 'No id tags yet. Create one so drivers can charge with it.');
    } catch (err) { setText(note, err.message); }
  }

  function row(t) {
    const used = h('td', null, h('button', { type: 'button', class: 'small link-button', onclick: (e) => lastUse(t.idTag, used, e.currentTarget) }, 'Show'));
    const save = (patch, verb) => async (e) => busy(e.currentTarget, async () => {
      try {
        await put(`/id-tags/${enc(t.idTag)}`, { ...body(t), ...patch });
        toast(`${t.idTag} ${verb}`, 'ok');
        load(true);
      } catch (err) { toast(err.message, 'error'); }
    });
    const actions = canEdit(ctx.user) ? h('td', { class: 'actions' },
      h('button', { type: 'button', class: 'small', onclick: () => edit(t) }, 'Edit'),
      t.status === 'Blocked' ? h('button', { type: 'button', class: 'small', onclick: save({ status: 'Accepted' }, 'unblocked') }, 'Unblock')
        : h('button', { type: 'button', class: 'small', onclick: save({ status: 'Blocked' }, 'blocked') }, 'Block'),
      h('button', { type: 'button', class: 'small', onclick: save({ expiryDate: new Date().toISOString() }, 'expires now') }, 'Expire now'),
      h('button', { type: 'button', class: 'small danger', onclick: (e) => remove(t, e.currentTarget) }, 'Delete')) : h('td');
    return h('tr', { dataset: { tag: t.idTag } }, h('th', { scope: 'row' }, t.idTag), h('td', null, statusBadge(t.status)), h('td', null, t.owner || '—'),
      h('td', null, t.expiryDate ? dateTime(t.expiryDate) : 'never'), h('td', null, t.parentIdTag || '—'), used, actions);
  }

  // Who used a tag last comes from the transactions, asked only on demand:
  // one request per tag for a whole page would be wasteful.
  async function lastUse(tag, cell, button) {
    await busy(button, async () => {
      try {
        const p = await get(`/transactions${qs({ idTag: tag, limit: 1 })}`);
        const t = p.items[0];
        cell.replaceChildren(t ? h('span', null, link(`/transactions/${t.id}`, dateTime(t.startedAt)), ' at ', link(chargerHref(t.chargerId), t.chargerId),
          t.active ? ' (charging now)' : ` (${energy(t.energy)})`) : 'never');
      } catch (err) { toast(err.message, 'error'); }
    });
  }

  async function remove(t, button) {
    if (!confirm(`Delete the id tag ${t.idTag}? Chargers will no longer accept it.`)) return;
    await busy(button, async () => {
      try { await del(`/id-tags/${enc(t.idTag)}`); toast(`${t.idTag} deleted`, 'ok'); load(true); } catch (err) { toast(err.message, 'error'); }
    });
  }

  function edit(t) {
    const isNew = !t;
    t = t || { idTag: '', status: 'Accepted', expiryDate: null, parentIdTag: '', owner: '', note: '' };
    const idTag = h('input', { value: t.idTag, required: true, maxlength: 20, readonly: !isNew || null, autocomplete: 'off' });
    const status = h('select', null, STATUSES.map((s) => h('option', { value: s, selected: s === t.status }, s)));
    const expiry = h('input', { type: 'datetime-local', value: t.expiryDate ? localValue(t.expiryDate) : '' });
    const parent = h('input', { value: t.parentIdTag || '', maxlength: 20, autocomplete: 'off' });
    const owner = h('input', { value: t.owner || '', maxlength: 200 });
    const noteIn = h('input', { value: t.note || '', maxlength: 2000 });
    const err = h('p', { class: 'error', role: 'alert', hidden: true });
    const ok = h('button', { type: 'submit', class: 'primary' }, isNew ? 'Create' : 'Save');
    const form = h('form', { class: 'card editor', 'aria-label': isNew ? 'New id tag' : `Edit ${t.idTag}` },
      h('h2', null, isNew ? 'New id tag' : `Edit ${t.idTag}`),
      h('div', { class: 'grid' }, field('Id tag', idTag, 'As the card reader sends it, up to 20 characters'), field('Status', status),
        field('Expires', expiry, 'Empty: never'), field('Parent id tag', parent, 'Groups tags, e.g. one fleet card for several drivers'),
        field('Owner', owner), field('Note', noteIn)),
      err, h('div', { class: 'buttons' }, h('button', { type: 'button', onclick: () => editor.replaceChildren() }, 'Cancel'), ok));
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      busy(ok, async () => {
        try {
          await put(`/id-tags/${enc(idTag.value.trim())}`, {
            status: status.value, expiryDate: expiry.value ? new Date(expiry.value).toISOString() : null,
            parentIdTag: parent.value.trim(), owner: owner.value.trim(), note: noteIn.value.trim(),
          });
          toast(`${idTag.value.trim()} saved`, 'ok');
          editor.replaceChildren();
          load(true);
        } catch (x) { err.textContent = x.message; err.hidden = false; }
      });
    });
    editor.replaceChildren(form);
    (isNew ? idTag : status).focus();
  }

  let timer = 0;
  search.addEventListener('input', () => { clearTimeout(timer); timer = setTimeout(() => load(true), 200); });
  more.addEventListener('click', () => busy(more, () => load(false)));
  await load(true);
}

const body = (t) => ({ status: t.status, expiryDate: t.expiryDate, parentIdTag: t.parentIdTag || '', owner: t.owner || '', note: t.note || '' });
function localValue(iso) {
  const d = new Date(iso);
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}
