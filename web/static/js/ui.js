// Small DOM and formatting helpers shared by the pages.

/**
 * h builds an element: h('a', {href: '/x', class: 'btn'}, 'text', child).
 * Props starting with "on" become listeners; everything else is an
 * attribute (or a property for value/checked/disabled/hidden). Text is
 * always inserted as text, never parsed as HTML, so charger-supplied
 * strings cannot inject markup.
 */
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  if (props) {
    for (const [k, v] of Object.entries(props)) {
      if (v == null || v === false) continue;
      if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
      else if (k === 'value' || k === 'checked' || k === 'disabled' || k === 'hidden' || k === 'selected') el[k] = v;
      else if (k === 'dataset') Object.assign(el.dataset, v);
      else el.setAttribute(k, v === true ? '' : String(v));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c == null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : String(c));
  }
}

/** setText changes a node's text only when it differs: no needless layout. */
export function setText(el, text) {
  text = String(text ?? '');
  if (el.textContent !== text) el.textContent = text;
}

/** toast shows a short message in the aria-live region. kind: ok | error | info. */
export function toast(message, kind = 'info') {
  const box = document.getElementById('toasts');
  const t = h('div', { class: `toast toast-${kind}`, role: kind === 'error' ? 'alert' : 'status' }, message);
  box.append(t);
  setTimeout(() => t.remove(), kind === 'error' ? 8000 : 4000);
}

const rtf = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });
const dtf = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
const tf = new Intl.DateTimeFormat(undefined, { timeStyle: 'medium' });

/** ago: "3 minutes ago" for a time string, "never" for null. */
export function ago(iso) {
  if (!iso) return 'never';
  const s = (Date.parse(iso) - Date.now()) / 1000;
  const a = Math.abs(s);
  if (a < 45) return 'just now';
  if (a < 3600) return rtf.format(Math.round(s / 60), 'minute');
  if (a < 86400) return rtf.format(Math.round(s / 3600), 'hour');
  return rtf.format(Math.round(s / 86400), 'day');
}
export const dateTime = (iso) => (iso ? dtf.format(new Date(iso)) : '—');
export const timeOnly = (ms) => tf.format(new Date(ms));

export function energy(wh) {
  if (wh == null) return '—';
  return wh >= 1000 ? `${(wh / 1000).toFixed(wh >= 100000 ? 0 : 2)} kWh` : `${Math.round(wh)} Wh`;
}
export function power(w) {
  if (w == null) return '—';
  return w >= 1000 ? `${(w / 1000).toFixed(1)} kW` : `${Math.round(w)} W`;
}
export function duration(fromIso, toIso) {
  const ms = (toIso ? Date.parse(toIso) : Date.now()) - Date.parse(fromIso);
  const m = Math.max(0, Math.round(ms / 60000));
  return m < 60 ? `${m} min` : `${Math.floor(m / 60)} h ${m % 60} min`;
}

/** statusClass maps an OCPP connector status to a badge colour. */
export function statusClass(status) {
  switch (status) {
    case 'Available': return 'ok';
    case 'Charging': return 'charging';
    case 'Preparing': case 'SuspendedEV': case 'SuspendedEVSE': case 'Finishing': case 'Reserved': return 'busy';
    case 'Faulted': return 'bad';
    case 'Unavailable': return 'off';
    default: return 'off';
  }
}
export const badge = (text, cls) => h('span', { class: `badge badge-${cls}` }, text);

/** link builds an in-app link; the router intercepts the click. */
export const link = (href, ...children) => h('a', { href }, ...children);
export const chargerHref = (id) => `/chargers/${encodeURIComponent(id)}`;

/** emptyState is what a list shows when there is nothing in it. */
export const emptyState = (text) => h('p', { class: 'empty' }, text);

/** field wraps an input with its label. */
export function field(label, input, hint) {
  const id = input.id || (input.id = `f-${Math.random().toString(36).slice(2, 9)}`);
  return h('div', { class: 'field' }, h('label', { for: id }, label), input, hint ? h('small', { class: 'muted' }, hint) : null);
}

/** busy disables a button while a promise runs, so a click is sent once. */
export async function busy(button, fn) {
  button.disabled = true;
  button.setAttribute('aria-busy', 'true');
  try {
    return await fn();
  } finally {
    button.disabled = false;
    button.removeAttribute('aria-busy');
  }
}
