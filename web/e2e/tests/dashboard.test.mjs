// The dashboard in a real browser against a real server and a simulated
// charger: sign in, a charger coming online live, approving it, starting
// and stopping a session with the toggle and its live charts, finding the
// transaction, a refused command, an offline charger, signing out.
// Screenshots go to web/e2e/artifacts/.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, startCharger, stop, launch, shot, signIn, USER } from '../lib/harness.mjs';

let server, browser, context, page, charger;
const errors = [];
const ID = 'E2E0001';

before(async () => {
  // Default -unknown-chargers pending: the charger waits for approval.
  server = await startServer();
  browser = await launch();
  context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  page = await context.newPage();
  page.setDefaultTimeout(20000);
  // Any script error or CSP violation fails the run.
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error' && !/status of 40[1-9]|status of 50\d/.test(m.text())) errors.push(`console: ${m.text()}`); });
});

after(async () => {
  await stop(charger);
  await browser?.close();
  await stop(server?.proc);
});

test('sign in', async () => {
  await page.goto(`${server.base}/chargers`);
  await page.getByRole('button', { name: 'Sign in' }).waitFor();
  await page.getByLabel('User name').fill(USER);
  await page.getByLabel('Password').fill('wrong password');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByText('That user name and password do not match.').waitFor();
  await shot(page, '01-sign-in-failed');
  await signIn(page, server.base);
  assert.match(await page.locator('#user-name').textContent(), new RegExp(USER));
  await page.locator('#live[data-state="on"]').waitFor();
  await shot(page, '02-overview-empty');
});

test('a charger comes online live and is approved', async () => {
  await page.getByRole('link', { name: 'Chargers', exact: true }).click();
  await page.getByText('No chargers yet').waitFor();
  // A marker on window: it survives only if the page is never reloaded.
  await page.evaluate(() => { window.__noReload = true; });
  charger = startCharger(server);
  const row = page.locator(`[data-id="${ID}"]`);
  await row.getByText('online').waitFor();
  await row.getByText('Awaiting approval').waitFor();
  await shot(page, '03-charger-pending');
  await row.getByRole('button', { name: `Approve ${ID}` }).click();
  // Accepted, it boots again and reports its connectors: connector 1 has
  // the EV plugged in (Preparing), connector 2 is free.
  await row.getByText('1 Preparing').waitFor();
  await row.getByText('2 Available').waitFor();
  assert.equal(await row.getByText('Awaiting approval').count(), 0);
  assert.equal(await page.evaluate(() => window.__noReload), true, 'the page was reloaded');
  await shot(page, '04-charger-approved');
});

test('overview counts and links the charger', async () => {
  await page.getByRole('link', { name: 'Overview' }).click();
  await page.locator('[data-stat="online"]').filter({ hasText: '1' }).waitFor();
  await shot(page, '05-overview');
});

test('create an id tag', async () => {
  await page.getByRole('link', { name: 'Id tags' }).click();
  await page.getByRole('button', { name: 'New id tag' }).click();
  await page.getByLabel('Id tag', { exact: true }).fill('E2E-CARD');
  await page.getByLabel('Owner').fill('Test Driver');
  await page.getByRole('button', { name: 'Create' }).click();
  await page.locator('tr[data-tag="E2E-CARD"]').getByText('Accepted').waitFor();
  await shot(page, '06-id-tags');
});

test('start a session with the toggle, watch it charge, stop it', async () => {
  await page.goto(`${server.base}/chargers/${ID}`);
  const status = page.locator('[data-testid="status-1"]');
  await status.filter({ hasText: 'Preparing' }).waitFor();
  const toggle = page.locator('[data-testid="toggle-1"]');
  assert.equal((await toggle.textContent()).trim(), 'Start charging');
  await toggle.click();
  const dialog = page.getByRole('dialog');
  await dialog.getByLabel(/Id tag/).fill('E2E-CARD');
  await dialog.getByRole('button', { name: 'Start' }).click();
  await status.filter({ hasText: 'Charging' }).waitFor();
  await page.locator('[data-testid="toggle-1"]', { hasText: 'Stop charging' }).waitFor();
  // Meter values every simulated minute (a second of real time) feed the
  // charts live; wait for a few points on the power chart.
  const powerChart = page.locator('figure.chart', { hasText: 'Power (kW)' }).locator('svg');
  await page.waitForFunction((el) => Number(el.dataset.points) >= 9, await powerChart.elementHandle(), { timeout: 20000 });
  const current = await page.locator('figure.chart', { hasText: 'Current (A)' }).locator('.legend-value').first().textContent();
  assert.match(current, /^\d+(\.\d)? A$/);
  await shot(page, '07-charging-with-chart');
  await page.locator('[data-testid="toggle-1"]').click();
  await page.locator('[data-testid="toggle-1"]', { hasText: 'Start charging' }).waitFor();
  await status.filter({ hasNotText: 'Charging' }).waitFor();
  await shot(page, '08-stopped');
});

test('the transaction is listed with its energy', async () => {
  await page.getByRole('link', { name: 'Transactions' }).click();
  const row = page.locator('table.transactions tbody tr').first();
  await row.getByText(ID).waitFor();
  const energyText = await row.locator('td.num').textContent();
  assert.match(energyText, /^\d+(\.\d+)? k?Wh$/);
  assert.notEqual(energyText, '0 Wh');
  const csv = await page.getByRole('link', { name: 'Export CSV' }).getAttribute('href');
  assert.match(csv, /^\/api\/v1\/transactions\.csv/);
  // The export downloads with the session cookie.
  const file = await page.evaluate((href) => fetch(href).then(async (r) => ({ status: r.status, type: r.headers.get('content-type'), body: await r.text() })), csv);
  assert.equal(file.status, 200);
  assert.match(file.type, /text\/csv/);
  assert.match(file.body, new RegExp(ID));
  await shot(page, '09-transactions');
  await row.locator('a').first().click();
  await page.getByRole('heading', { name: /Transaction #\d+/ }).waitFor();
  assert.match(await page.locator('[data-testid="energy"]').textContent(), /\d+(\.\d+)? k?Wh/);
  await shot(page, '10-transaction');
});

test('a refused command shows the charger\'s answer', async () => {
  await page.goto(`${server.base}/chargers/${ID}`);
  await page.getByRole('button', { name: 'Refresh from charger' }).click();
  const row = page.locator('tr[data-key="HeartbeatInterval"]');
  await row.getByRole('textbox').fill('soon');
  await row.getByRole('button', { name: 'Save' }).click();
  await row.locator('[data-testid="result"]', { hasText: 'Rejected' }).waitFor();
  await page.getByRole('alert').filter({ hasText: 'The charger refused: Rejected' }).waitFor();
  await shot(page, '11-command-rejected');
  // The message log shows the exchange, newest first.
  await page.getByRole('button', { name: 'Newest' }).click();
  await page.locator('.log .frame').first().getByText('CALLRESULT').waitFor();
});

test('a command to an offline charger says so', async () => {
  await stop(charger);
  charger = null;
  await page.locator('.notice', { hasText: "This charger is offline — commands can't reach it." }).waitFor();
  await page.getByRole('button', { name: 'Reset' }).click();
  await page.getByRole('alert').filter({ hasText: "This charger is offline — commands can't reach it." }).waitFor();
  await shot(page, '12-offline');
  // The overview lists it as needing attention, linking to it.
  await page.getByRole('link', { name: 'Overview' }).click();
  await page.locator('.alert-offline').getByRole('link', { name: ID }).waitFor();
  await shot(page, '12b-overview-alert');
});

test('phone layout', async () => {
  const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, storageState: await context.storageState() });
  const p = await phone.newPage();
  await p.goto(`${server.base}/chargers`);
  await p.locator(`[data-id="${ID}"]`).waitFor();
  await shot(p, '13-phone-chargers');
  const overflow = await p.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 1, `the page is ${overflow}px wider than the phone`);
  await phone.close();
});

test('sign out', async () => {
  await page.locator('details.user summary').click();
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByRole('button', { name: 'Sign in' }).waitFor();
  await shot(page, '14-signed-out');
  const res = await page.evaluate(() => fetch('/api/v1/session').then((r) => r.status));
  assert.equal(res, 401);
});

test('no script errors or CSP violations', () => {
  assert.deepEqual(errors, []);
});
