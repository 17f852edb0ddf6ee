// The dashboard's entry point: session, routing and the page shell.
//
// Routing uses the History API with real paths (/chargers/CP1); the Go
// handler answers index.html for every path that is not a file, so a
// reload or a shared link opens the same page.

import { api, whenSignedOut } from './api.js';
import * as live from './live.js';
import { toast } from './ui.js';
import { signinPage } from './pages/signin.js';
import { overviewPage } from './pages/overview.js';
import { chargersPage } from './pages/chargers.js';
import { chargerPage } from './pages/charger.js';
import { transactionsPage, transactionPage } from './pages/transactions.js';
import { idTagsPage } from './pages/idtags.js';
import { smartChargingPage } from './pages/smartcharging.js';
import { firmwarePage, rolloutPage } from './pages/firmware.js';
import { diagnosticsPage } from './pages/diagnostics.js';
import { reservationsPage } from './pages/reservations.js';
import { configurationPage } from './pages/configuration.js';
import { localListsPage } from './pages/locallists.js';

const routes = [
  [/^\/$/, overviewPage, 'Overview'],
  [/^\/chargers$/, chargersPage, 'Chargers'],
  [/^\/chargers\/([^/]+)$/, chargerPage, 'Charger'],
  [/^\/transactions$/, transactionsPage, 'Transactions'],
  [/^\/transactions\/(\d+)$/, transactionPage, 'Transaction'],
  [/^\/id-tags$/, idTagsPage, 'Id tags'],
  [/^\/smart-charging$/, smartChargingPage, 'Smart charging'],
  [/^\/reservations$/, reservationsPage, 'Reservations'],
  [/^\/firmware$/, firmwarePage, 'Firmware'],
  [/^\/firmware\/rollouts\/(\d+)$/, rolloutPage, 'Roll-out'],
  [/^\/diagnostics$/, diagnosticsPage, 'Diagnostics'],
  [/^\/configuration$/, configurationPage, 'Configuration'],
  [/^\/local-lists$/, localListsPage, 'Local lists'],
  [/^\/signin$/, signinPage, 'Sign in'],
];

let user = null;
let leaving = [];
let firstRender = true;

export function navigate(to, { replace = false } = {}) {
  if (to !== location.pathname + location.search) history[replace ? 'replaceState' : 'pushState'](null, '', to);
  render();
}

function checkSession() {
  return api('GET', '/session');
}

function signedIn(u) {
  user = u;
  document.querySelector('.top').hidden = false;
  document.getElementById('user-name').textContent = u.username;
  document.getElementById('user-role').textContent = `Signed in as ${u.username} (${u.role})`;
  live.start(checkSession);
  live.load().catch(() => {});
}

function signedOut(message) {
  const wasIn = user !== null;
  user = null;
  live.stop();
  document.querySelector('.top').hidden = true;
  if (message && wasIn) toast(message, 'info');
  if (location.pathname !== '/signin') {
    const next = location.pathname + location.search;
    navigate(`/signin${next !== '/' ? `?next=${encodeURIComponent(next)}` : ''}`, { replace: true });
  }
}

async function render() {
  for (const fn of leaving) { try { fn(); } catch (err) { console.error(err); } }
  leaving = [];
  const path = location.pathname;
  if (!user && path !== '/signin') { signedOut(); return; }
  if (user && path === '/signin') { navigate('/', { replace: true }); return; }

  let page = null, params = [], title = 'Not found';
  for (const [re, fn, t] of routes) {
    const m = re.exec(path);
    if (m) { page = fn; params = m.slice(1).map(decodeURIComponent); title = t; break; }
  }
  // Each page draws into a fresh element: a slow page that finishes after
  // the user moved on writes into a detached node, not over the new page.
  const root = document.createElement('div');
  root.className = 'page';
  document.getElementById('main').replaceChildren(root);
  for (const a of document.querySelectorAll('.nav a')) {
    const href = a.getAttribute('href');
    const here = href === '/' ? path === '/' : path.startsWith(href);
    if (here) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
  }
  document.querySelector('details.user')?.removeAttribute('open');
  document.title = `${title} · Wattson`;
  if (!firstRender) document.getElementById('main').focus({ preventScroll: true });
  firstRender = false;
  window.scrollTo(0, 0);
  if (!page) {
    root.append(Object.assign(document.createElement('h1'), { textContent: 'Page not found' }));
    return;
  }
  const ctx = {
    params,
    query: new URLSearchParams(location.search),
    user,
    navigate,
    onLeave: (fn) => leaving.push(fn),
    signedIn: (u) => { signedIn(u); },
  };
  try {
    await page(root, ctx);
  } catch (err) {
    console.error(err);
    root.append(Object.assign(document.createElement('p'), { className: 'error', textContent: err.message || 'Something went wrong' }));
  }
}

// In-app links: a plain click on a same-origin link is handled here;
// modified clicks (new tab) and API links (the CSV download) are not.
document.addEventListener('click', (e) => {
  const a = e.target.closest('a[href]');
  if (!a || e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  if (a.target || a.hasAttribute('download') || a.origin !== location.origin) return;
  if (a.pathname.startsWith('/api/') || a.hash && a.pathname === location.pathname) return;
  e.preventDefault();
  navigate(a.pathname + a.search);
});
window.addEventListener('popstate', render);

document.getElementById('sign-out').addEventListener('click', async () => {
  try { await api('DELETE', '/session', undefined, { quiet401: true }); } catch { /* signed out either way */ }
  signedOut();
  toast('Signed out', 'info');
});
whenSignedOut(() => signedOut('Signed out — sign in again'));

// Close the user menu with Escape, as people expect of a menu.
document.addEventListener('keydown', (e) => {
  const d = document.querySelector('details.user[open]');
  if (e.key === 'Escape' && d) { d.removeAttribute('open'); d.querySelector('summary').focus(); }
});

(async () => {
  try {
    const s = await api('GET', '/session', undefined, { quiet401: true });
    signedIn(s.user);
  } catch { /* not signed in */ }
  render();
})();
