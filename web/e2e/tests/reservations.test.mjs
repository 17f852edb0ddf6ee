// Reservations in a real browser against a real server and a simulated
// charger (our own charge point, which enforces reservations): reserve a
// connector with the form and see it Accepted and Reserved on the charger
// page, see reservations made elsewhere and expiring arrive live, a refused
// request explained, cancel one with its button. Screenshots go to
// web/e2e/artifacts/.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, startCharger, stop, launch, shot, signIn } from '../lib/harness.mjs';

let server, browser, page, charger;
const errors = [];
const ID = 'RSV0001';

before(async () => {
  server = await startServer({ args: ['-unknown-chargers', 'accept'] });
  // No EV plugged in: both connectors stay Available until reserved. The
  // charger judges expiries by its own clock, so it runs on real time
  // (the simulator's default runs an hour a minute).
  charger = startCharger(server, 'RSV', ['-plug', '0', '-time-factor', '1']);
  for (const tag of ['ALICE', 'BOB']) {
    const res = await server.api('PUT', `/id-tags/${tag}`, { status: 'Accepted' });
    assert.ok(res.ok, `id tag ${tag}: ${res.status}`);
  }
  browser = await launch();
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  page = await context.newPage();
  page.setDefaultTimeout(20000);
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error' && !/status of 40[1-9]|status of 50\d/.test(m.text())) errors.push(`console: ${m.text()}`); });
});

after(async () => {
  await stop(charger);
  await browser?.close();
  await stop(server?.proc);
});

const form = () => page.getByRole('form', { name: 'New reservation' });
const row = (id) => page.locator(`tr[data-reservation="${id}"]`);

async function reservationsOf(query) {
  const res = await server.api('GET', `/reservations${query}`);
  assert.equal(res.status, 200);
  return (await res.json()).items;
}

test('the charger is online with both connectors free', async () => {
  await signIn(page, server.base);
  await page.goto(`${server.base}/chargers/${ID}`);
  await page.locator('[data-testid="connection"]', { hasText: 'online' }).waitFor();
  await page.locator('[data-testid="status-1"]', { hasText: 'Available' }).waitFor();
  await page.locator('[data-testid="status-2"]', { hasText: 'Available' }).waitFor();
});

test('reserve a connector with the form', async () => {
  await page.getByRole('link', { name: 'Reservations', exact: true }).click();
  await page.getByRole('heading', { name: 'Reservations', level: 1 }).waitFor();
  await page.getByText('No active reservations.').waitFor();
  await page.evaluate(() => { window.__noReload = true; });

  await form().getByLabel('Charger').fill(ID);
  await form().getByLabel('Connector').selectOption({ label: 'Connector 1' });
  await form().getByLabel('Id tag').fill('ALICE');
  await form().getByLabel('For').selectOption({ label: '1 hour' });
  await form().getByRole('button', { name: 'Reserve' }).click();
  await page.getByText(`Reserved connector 1 of ${ID} for ALICE until`).waitFor();

  const [r] = await reservationsOf(`?chargerId=${ID}&active=true`);
  assert.equal(r.status, 'Accepted');
  assert.equal(r.connectorId, 1);
  assert.equal(r.createdBy, 'e2e-admin');
  const tr = row(r.id);
  await tr.locator('.badge', { hasText: 'Accepted' }).waitFor();
  assert.match(await tr.textContent(), /ALICE/);
  assert.match(await tr.textContent(), new RegExp(ID));
  await shot(page, 'reservations-01-created');
});

test('the charger page shows the reservation on its connector', async () => {
  const [r] = await reservationsOf(`?chargerId=${ID}&active=true`);
  await page.getByRole('link', { name: ID }).first().click();
  await page.locator('[data-testid="status-1"]', { hasText: 'Reserved' }).waitFor();
  await page.locator('[data-testid="reservation-1"]', { hasText: `Reserved for ALICE until` }).waitFor();
  assert.match(await page.locator('[data-testid="reservation-1"]').textContent(), new RegExp(`#${r.id}`));
  assert.equal(await page.locator('[data-testid="reservation-2"]').isVisible(), false);
  await shot(page, 'reservations-02-charger-page');
  await page.getByRole('link', { name: 'Reservations', exact: true }).click();
  await row(r.id).waitFor();
});

test('a reservation made elsewhere appears live', async () => {
  const res = await server.api('POST', '/reservations', { chargerId: ID, connectorId: 2, idTag: 'BOB', duration: 3600 });
  assert.equal(res.status, 201);
  const r = await res.json();
  await row(r.id).locator('.badge', { hasText: 'Accepted' }).waitFor();
  // Newest first.
  assert.equal(await page.locator('tbody tr').first().getAttribute('data-reservation'), String(r.id));
  assert.equal(await page.evaluate(() => window.__noReload), true, 'the page was reloaded');
});

test('a second reservation of a reserved connector is explained', async () => {
  await form().getByLabel('Charger').fill(ID);
  await form().getByLabel('Connector').selectOption({ label: 'Connector 2' });
  await form().getByLabel('Id tag').fill('ALICE');
  await form().getByRole('button', { name: 'Reserve' }).click();
  await form().getByText('already has an active reservation for connector 2').waitFor();
  assert.equal((await reservationsOf(`?chargerId=${ID}&active=true`)).length, 2);
  await shot(page, 'reservations-03-conflict');
});

test('cancel a reservation with its button', async () => {
  const [bob] = (await reservationsOf(`?chargerId=${ID}&active=true`)).filter((r) => r.idTag === 'BOB');
  await row(bob.id).getByRole('button', { name: `Cancel reservation ${bob.id}` }).click();
  await page.getByText(`Reservation #${bob.id} cancelled`).waitFor();
  // Gone from the active ones; the charger frees the connector.
  await row(bob.id).waitFor({ state: 'detached' });
  const after = await server.api('GET', `/reservations/${bob.id}`);
  assert.equal((await after.json()).status, 'Cancelled');
  const conns = await (await server.api('GET', `/chargers/${ID}/connectors`)).json();
  const deadline = Date.now() + 15000;
  let c2 = conns.items.find((k) => k.connectorId === 2);
  while (c2.status !== 'Available' && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    c2 = (await (await server.api('GET', `/chargers/${ID}/connectors`)).json()).items.find((k) => k.connectorId === 2);
  }
  assert.equal(c2.status, 'Available');

  // "All" shows it with how it ended.
  await page.getByLabel('Show').selectOption('all');
  await row(bob.id).locator('.badge', { hasText: 'Cancelled' }).waitFor();
  assert.match(await row(bob.id).textContent(), /cancelled by e2e-admin/);
  await shot(page, 'reservations-04-cancelled');
});

test('a short reservation expires live', async () => {
  const res = await server.api('POST', '/reservations', { chargerId: ID, connectorId: 2, idTag: 'BOB', duration: 3 });
  assert.equal(res.status, 201, await res.clone().text());
  const r = await res.json();
  await row(r.id).locator('.badge', { hasText: 'Accepted' }).waitFor();
  await row(r.id).locator('.badge', { hasText: 'Expired' }).waitFor();
  const stored = await (await server.api('GET', `/reservations/${r.id}`)).json();
  assert.equal(stored.status, 'Expired');
  assert.equal(await page.evaluate(() => window.__noReload), true, 'the page was reloaded');
  await shot(page, 'reservations-05-expired');
});

test('no script errors or CSP violations', () => {
  assert.deepEqual(errors, []);
});
