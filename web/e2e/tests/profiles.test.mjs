// Charging profiles on the charger page, in a real browser against a real
// server and a simulated charger (our own charge point): set a 10 A
// TxDefaultProfile with the form, see it listed and the composite schedule
// chart show 10 A, clear it and see it gone. Screenshots go to
// web/e2e/artifacts/.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, startCharger, stop, launch, shot, signIn } from '../lib/harness.mjs';

let server, browser, page, charger;
const errors = [];
const ID = 'PRF0001';

before(async () => {
  server = await startServer({ args: ['-unknown-chargers', 'accept'] });
  // No EV: the connectors stay Available; profiles do not need a session.
  charger = startCharger(server, 'PRF', ['-plug', '0']);
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

const section = () => page.locator('section', { has: page.getByRole('heading', { name: 'Charging profiles', exact: true }) });
const schedule = (k) => page.locator(`[data-testid="schedule-${k}"]`);

test('the charger page shows the charging profiles section', async () => {
  await signIn(page, server.base);
  await page.goto(`${server.base}/chargers/${ID}`);
  await page.locator('[data-testid="connection"]', { hasText: 'online' }).waitFor();
  await section().getByText('No charging profiles are set on this charger').waitFor();
  // Without profiles the charger allows its maximum: some limit, not 10 A.
  await schedule(1).getByText(/^Now \d+(\.\d)? A/).waitFor();
  assert.doesNotMatch(await schedule(1).locator('p').textContent(), /^Now 10 A/);
  await shot(page, 'profiles-01-none');
});

test('set a 10 A TxDefaultProfile with the form', async () => {
  const form = page.getByRole('form', { name: 'Set a charging profile' });
  await form.getByLabel('Connector').selectOption('1');
  await form.getByLabel('Purpose').selectOption('TxDefaultProfile');
  await form.getByLabel('Stack level').fill('0');
  await form.getByLabel('Limit').fill('10');
  await form.getByLabel('Unit').selectOption('A');
  await form.getByLabel('Kind').selectOption('Absolute');
  await form.getByRole('button', { name: 'Set profile' }).click();
  await form.getByText('The charger accepted the profile: 10 A on connector 1').waitFor();

  // Listed, with its limit, purpose and source.
  const row = section().locator('tr[data-profile="1"]');
  await row.waitFor();
  assert.equal((await row.locator('td').first().textContent()).trim(), '1');
  assert.equal((await row.locator('[data-testid="limit"]').textContent()).trim(), '10 A');
  assert.match(await row.textContent(), /TxDefaultProfile/);
  assert.match(await row.textContent(), /Operator/);

  // The composite schedule, as the charger works it out, is 10 A.
  await schedule(1).getByText(/^Now 10 A for the next 24 hours/).waitFor();
  const chart = schedule(1).locator('figure.chart');
  assert.equal((await chart.locator('.legend-value').textContent()).trim(), '10.0 A');
  assert.ok(Number(await chart.locator('svg').getAttribute('data-points')) >= 2, 'the chart has no points');
  // Connector 2 is not limited by it.
  await schedule(2).getByText(/^Now \d+/).waitFor();
  assert.doesNotMatch(await schedule(2).locator('p').textContent(), /^Now 10 A/);
  await shot(page, 'profiles-02-set');
});

test('a session profile without a session is explained', async () => {
  const form = page.getByRole('form', { name: 'Set a charging profile' });
  await form.getByLabel('Purpose').selectOption('TxProfile');
  await form.getByLabel('Limit').fill('6');
  await form.getByRole('button', { name: 'Set profile' }).click();
  await form.getByText('Nothing is charging on connector 1 — a session profile (TxProfile) needs a running session.').waitFor();
  assert.equal(await section().locator('tbody tr').count(), 1);
});

test('clear the profile', async () => {
  const row = section().locator('tr[data-profile="1"]');
  await row.getByRole('button', { name: 'Clear profile 1' }).click();
  await row.waitFor({ state: 'detached' });
  await section().getByText('No charging profiles are set on this charger').waitFor();
  await schedule(1).getByText(/^Now \d+/).waitFor();
  await page.waitForFunction(() => !/^Now 10 A/.test(document.querySelector('[data-testid="schedule-1"] p')?.textContent || ''));
  await shot(page, 'profiles-03-cleared');
  // The API agrees.
  const res = await server.api('GET', `/chargers/${ID}/charging-profiles`);
  assert.deepEqual(await res.json(), { items: [] });
});

test('a charger that reports no periods means no limit', async () => {
  // Our charge point always reports its maximum; some chargers answer
  // with an empty schedule instead. This one answer is stood in.
  const pattern = '**/api/v1/chargers/*/connectors/2/composite-schedule*';
  await page.route(pattern, (route) => route.fulfill({
    status: 200, contentType: 'application/json',
    body: JSON.stringify({ status: 'Accepted', connectorId: 2, scheduleStart: new Date().toISOString(), chargingSchedule: { chargingRateUnit: 'A', chargingSchedulePeriod: [] } }),
  }));
  await section().getByRole('button', { name: 'Refresh' }).click();
  await schedule(2).getByText('No limit: no charging profile restricts connector 2 over the next 24 hours').waitFor();
  assert.equal((await schedule(2).locator('.chart-empty').textContent()).trim(), 'No limit');
  await shot(page, 'profiles-04-no-limit');
  await page.unroute(pattern);
});

test('no script errors or CSP violations', () => {
  assert.deepEqual(errors, []);
});
