// The Local lists page, in a real browser against a real server and
// simulated chargers (our own charge point): create a list, add id tags,
// assign a charger and watch it come in sync live; block a card and see
// the charger's version move on; clear caches on selected chargers with a
// result each; the charger page shows its list and assigns one.
// Screenshots go to web/e2e/artifacts/.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, startCharger, stop, launch, shot, signIn } from '../lib/harness.mjs';

let server, browser, page, chargerA, chargerB;
const errors = [];
const A = 'LLA0001';
const B = 'LLB0001';

async function waitAPI(fn, what, ms = 20000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await fn()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

async function state(id) {
  return (await server.api('GET', `/chargers/${id}/local-list`)).json();
}

before(async () => {
  server = await startServer({ args: ['-unknown-chargers', 'accept'] });
  chargerA = startCharger(server, 'LLA', ['-plug', '0']);
  chargerB = startCharger(server, 'LLB', ['-plug', '0']);
  for (const tag of ['CARD-1', 'CARD-2', 'CARD-3']) {
    const r = await server.api('PUT', `/id-tags/${tag}`, { status: 'Accepted', owner: `Driver ${tag.slice(-1)}` });
    assert.equal(r.status, 201);
  }
  // Both chargers are known (they booted) before the page lists them.
  await waitAPI(async () => (await server.api('GET', `/chargers/${A}`)).ok && (await server.api('GET', `/chargers/${B}`)).ok, 'the chargers');
  browser = await launch();
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  page = await context.newPage();
  page.setDefaultTimeout(20000);
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  // The refused unknown id tag is a 400 on purpose.
  page.on('console', (m) => { if (m.type() === 'error' && !/status of 4\d\d|status of 50\d/.test(m.text())) errors.push(`console: ${m.text()}`); });
});

after(async () => {
  await stop(chargerA);
  await stop(chargerB);
  await browser?.close();
  await stop(server?.proc);
});

const chargerRow = (id) => page.locator(`.list-chargers tr[data-charger="${id}"]`);

test('create a list from the nav link', async () => {
  await signIn(page, server.base);
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Local lists' }).click();
  await page.getByRole('heading', { name: 'Local lists', level: 1 }).waitFor();
  await page.getByText('No local lists yet').waitFor();
  await page.getByRole('button', { name: 'New list' }).click();
  const form = page.getByRole('form', { name: 'New local list' });
  await form.getByLabel('Name').fill('Depot');
  await form.getByLabel('Description').fill('Fleet cards of the depot');
  await form.getByRole('button', { name: 'Create' }).click();
  await page.getByRole('region', { name: 'List Depot' }).waitFor();
  assert.match(page.url(), /\/local-lists\?list=\d+$/);
  await page.getByText('No id tags on this list yet.').waitFor();
  await page.getByText('No charger has this list yet.').waitFor();
});

test('add id tags, with an unknown one refused', async () => {
  const form = page.getByRole('form', { name: 'Add id tags' });
  await form.getByRole('combobox').fill('CARD-1, NOPE');
  await form.getByRole('button', { name: 'Add' }).click();
  await page.getByText(/no id tag "NOPE"/).waitFor();
  await form.getByRole('combobox').fill('CARD-1 CARD-2');
  await form.getByRole('button', { name: 'Add' }).click();
  await page.locator('.members tr[data-tag="CARD-1"]').waitFor();
  await page.locator('.members tr[data-tag="CARD-2"]').waitFor();
  assert.equal(await page.locator('.members tbody tr').count(), 2);
  await page.locator('.locallists tr', { hasText: 'Depot' }).locator('td').first().filter({ hasText: '2' }).waitFor();
});

test('assign a charger and see it come in sync live', async () => {
  const form = page.getByRole('form', { name: 'Assign chargers' });
  await form.getByRole('combobox').fill(A);
  await form.getByRole('button', { name: 'Assign' }).click();
  await chargerRow(A).locator('[data-state="inSync"]').waitFor();
  assert.match(await chargerRow(A).textContent(), /online/);
  const s = await state(A);
  assert.equal(s.state, 'inSync');
  assert.equal(s.entries, 2);
  assert.equal((await chargerRow(A).locator('td.num').nth(1).textContent()).trim(), '2');
  await page.locator('[data-testid="list-counts"]', { hasText: '1 of 1 in sync' }).waitFor();
  await shot(page, 'local-lists-01-in-sync');
});

test('blocking a card reaches the charger', async () => {
  const before = await state(A);
  const r = await server.api('PUT', '/id-tags/CARD-1', { status: 'Blocked' });
  assert.equal(r.status, 200);
  await waitAPI(async () => { const s = await state(A); return s.state === 'inSync' && s.version > before.version; }, 'a new version on the charger');
  const after = await state(A);
  // The row follows the sync event: the version shown moves on.
  await chargerRow(A).locator('td.num').first().filter({ hasText: String(after.version) }).waitFor();
  await page.reload();
  await page.locator('.members tr[data-tag="CARD-1"]', { hasText: 'Blocked' }).waitFor();
});

test('clear the cache on selected chargers, with a result each', async () => {
  await chargerRow(A).getByRole('checkbox').check();
  await page.getByRole('button', { name: 'Clear cache on selected' }).click();
  await page.locator(`.clear-results li[data-charger="${A}"]`, { hasText: 'Accepted' }).waitFor();
  await shot(page, 'local-lists-02-clear-cache');
});

test('the charger page shows its list, and assigns one', async () => {
  await page.goto(`${server.base}/chargers/${A}`);
  const sec = page.getByRole('region', { name: 'Local list' });
  await sec.getByRole('link', { name: 'Depot' }).waitFor();
  await sec.locator('[data-state="inSync"]').waitFor();

  await page.goto(`${server.base}/chargers/${B}`);
  const secB = page.getByRole('region', { name: 'Local list' });
  await secB.getByText('none').first().waitFor();
  await secB.getByLabel('List').selectOption({ label: 'Depot' });
  await secB.getByRole('button', { name: 'Save' }).click();
  await secB.locator('[data-state="inSync"]').waitFor();
  const s = await state(B);
  assert.equal(s.listName, 'Depot');
  assert.equal(s.entries, 2);
  await shot(page, 'local-lists-03-charger');
});

test('removing a charger clears its list', async () => {
  await page.goto(`${server.base}/local-lists`);
  await chargerRow(B).waitFor();
  await chargerRow(B).getByRole('button', { name: 'Remove' }).click();
  await chargerRow(B).waitFor({ state: 'detached' });
  await waitAPI(async () => (await state(B)).state === 'none', `${B}'s list cleared`);
  const s = await state(B);
  assert.equal(s.listId, null);
  assert.equal(s.entries, 0);
});

test('no script errors or CSP violations', () => {
  assert.deepEqual(errors, []);
});
