// The smart charging page in a real browser against a real server and two
// simulated chargers: creating a group, adding connectors to it, a mode
// that is saved at once and survives a reload, the group's live chart,
// the price schedule with a Low-cost connector's planned hours, the error
// of deleting a group that has a group below it, a viewer's read-only
// page and the phone layout. Screenshots go to web/e2e/artifacts/.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, startCharger, stop, launch, shot, signIn, build, run } from '../lib/harness.mjs';

let server, browser, context, page;
const chargers = [];
const errors = [];
const A = 'SCA0001', B = 'SCB0001';
const VIEWER = 'e2e-viewer', VIEWER_PASSWORD = 'viewer password for the e2e test';

const card = (id) => page.locator(`article.sc-group[data-group="${id}"]`);
const member = (k) => page.locator(`article.sc-member[data-connector="${k}"]`);

function watch(p) {
  // Any script error or CSP violation fails the run.
  p.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  p.on('console', (m) => { if (m.type() === 'error' && !/status of 40[1-9]|status of 50\d/.test(m.text())) errors.push(`console: ${m.text()}`); });
}

before(async () => {
  server = await startServer({ args: ['-unknown-chargers', 'accept'] });
  chargers.push(startCharger(server, 'SCA'), startCharger(server, 'SCB'));
  const viewer = run(build().wattson, ['user', 'add', '-db', server.db, '-name', VIEWER, '-role', 'viewer'], { input: `${VIEWER_PASSWORD}\n` });
  const code = await viewer.done;
  if (code !== 0) throw new Error(`wattson user add (viewer) failed (${code}):\n${viewer.output}`);
  browser = await launch();
  context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  page = await context.newPage();
  page.setDefaultTimeout(20000);
  watch(page);
});

after(async () => {
  for (const c of chargers) await stop(c);
  await browser?.close();
  await stop(server?.proc);
});

test('sign in and open smart charging', async () => {
  await signIn(page, server.base);
  await page.getByRole('link', { name: 'Smart charging' }).click();
  await page.getByRole('heading', { name: 'Smart charging', level: 1 }).waitFor();
  assert.equal(await page.getByRole('link', { name: 'Smart charging' }).getAttribute('aria-current'), 'page');
  await page.getByText('No groups yet.').waitFor();
  await page.locator('#live[data-state="on"]').waitFor();
  await shot(page, 'sc-01-empty');
});

test('create the group "garage", 3 × 32 A', async () => {
  await page.getByRole('button', { name: 'New group' }).click();
  const form = page.getByRole('form', { name: 'New group' });
  await form.getByLabel('Name').fill('garage');
  assert.equal(await form.getByLabel('Id', { exact: true }).inputValue(), 'garage', 'the id follows the name');
  await form.getByLabel('Limit L1 (A)').fill('32');
  await form.getByLabel('Limit L2 (A)').fill('32');
  await form.getByLabel('Limit L3 (A)').fill('32');
  await form.getByRole('button', { name: 'Create' }).click();
  const garage = card('garage');
  await garage.waitFor();
  await page.getByRole('form', { name: 'New group' }).waitFor({ state: 'detached' });
  const limits = await garage.locator('table.sc-phases tbody tr').first().locator('td').allTextContents();
  assert.deepEqual(limits, ['32', '32', '32']);
  const groups = await (await server.api('GET', '/smart-charging/groups')).json();
  const g = (groups.items ?? groups.groups).find((x) => x.id === 'garage');
  assert.deepEqual(g.limitA, [32, 32, 32]);
});

test('add connector 1 of two chargers to the group', async () => {
  const garage = card('garage');
  for (const id of [A, B]) {
    const select = garage.getByLabel('Charger to add to garage');
    // The charger list is live: wait until the charger has connected.
    await select.locator(`option[value="${id}"]`).waitFor({ state: 'attached' });
    await select.selectOption(id);
    await garage.getByLabel('Connector', { exact: true }).selectOption('1');
    await garage.getByRole('button', { name: 'Add', exact: true }).click();
    await member(`${id}/1`).waitFor();
  }
  // Live state: the EV plugged into connector 1 is reported.
  await member(`${A}/1`).locator('[data-testid="sc-status"]', { hasText: /Preparing|Charging|SuspendedEV|SuspendedEVSE/ }).waitFor();
  await shot(page, 'sc-02-members');
});

test('a mode is saved at once and survives a reload', async () => {
  const m = member(`${A}/1`);
  await m.getByRole('radio', { name: 'Off' }).check();
  await m.locator('[data-testid="sc-mode"][data-saved="off"]').waitFor();
  await m.getByText('Saved: Off').waitFor();
  await page.reload();
  await member(`${A}/1`).waitFor();
  assert.equal(await member(`${A}/1`).getByRole('radio', { name: 'Off' }).isChecked(), true);
  assert.equal(await member(`${B}/1`).getByRole('radio', { name: 'On' }).isChecked(), true);
  const list = await (await server.api('GET', '/smart-charging/connectors')).json();
  assert.equal((list.items ?? list.connectors).find((s) => s.chargerId === A).mode, 'off');
});

test('the group chart shows the limit line', async () => {
  const chart = card('garage').locator('figure.sc-chart');
  await chart.locator('svg[data-points]').waitFor();
  // Points come from history and every allocation round (at least every 10 s).
  await page.waitForFunction((el) => (el.getAttribute('points') || '').trim().split(/\s+/).filter(Boolean).length >= 2,
    await chart.locator('polyline.series-2').elementHandle(), { timeout: 40000 });
  assert.match(await chart.locator('.legend li.series-2').textContent(), /^Limit 32(\.0)? A$/);
  // Another phase can be shown.
  await card('garage').getByRole('radio', { name: 'L2' }).check();
  await chart.getByText('Current on L2 (A)').waitFor();
  await shot(page, 'sc-03-chart');
});

test('prices as bars with the planned hours of a Low-cost connector', async () => {
  // 48 hourly prices from today 00:00 (local, as the browser shows them):
  // 0.30, and 0.10 from 02:00 to 06:00 today, so the day's four cheapest
  // hours are 02:00–06:00.
  const day = new Date();
  day.setHours(0, 0, 0, 0);
  const slots = Array.from({ length: 48 }, (_, i) => ({
    start: new Date(+day + i * 3600000).toISOString(),
    end: new Date(+day + (i + 1) * 3600000).toISOString(),
    price: i >= 2 && i < 6 ? 0.1 : 0.3,
  }));
  const res = await server.api('PUT', '/prices', { items: slots });
  assert.equal(res.status, 200, await res.text());

  const m = member(`${B}/1`);
  await m.getByRole('radio', { name: 'Low-cost' }).check();
  await m.locator('[data-testid="sc-mode"][data-saved="low-cost"]').waitFor();
  // The Low-cost options appear with the mode.
  await m.getByRole('group', { name: 'Low-cost: charge' }).waitFor();

  const svg = page.locator('[data-testid="price-chart"]');
  await page.locator('[data-testid="price-chart"][data-bars="48"]').waitFor({ timeout: 30000 });
  await page.locator('[data-testid="price-chart"][data-planned="4"]').waitFor({ timeout: 30000 });
  const planned = await svg.locator('rect.bar.planned').evaluateAll((els) => els.map((e) => new Date(e.dataset.start).getHours()));
  const cheap = slots.filter((x) => x.price < 0.2).map((x) => new Date(x.start).getHours()); // 2 … 5, or so on a DST day
  assert.deepEqual(planned, cheap);
  assert.equal(await svg.locator('rect.bar.now').count(), 1, 'the current hour is marked');
  await svg.locator('line.now-line').waitFor({ state: 'attached' });
  await page.locator('.sc-plans li', { hasText: B }).getByText('cheapest hours').waitFor();
  await m.getByText(/cheapest hours/).first().waitFor();
  await page.getByRole('heading', { name: 'Prices today and tomorrow' }).scrollIntoViewIfNeeded();
  await shot(page, 'sc-04-prices');
});

test('set the site meter surplus by hand', async () => {
  await page.getByLabel('Surplus (W)').fill('2500');
  await page.getByRole('button', { name: 'Set', exact: true }).click();
  await page.locator('[data-testid="site-reading"]', { hasText: 'Surplus 2.5 kW' }).waitFor();
});

test('deleting a group with a group below it shows why not', async () => {
  await card('garage').getByRole('button', { name: 'New group below' }).click();
  const form = page.getByRole('form', { name: 'New group' });
  await form.getByLabel('Name').fill('carport');
  assert.equal(await form.getByLabel('Part of').inputValue(), 'garage');
  await form.getByLabel('Limit L1 (A)').fill('16');
  assert.equal(await form.getByLabel('Limit L3 (A)').inputValue(), '16', 'the other phases follow L1');
  await form.getByRole('button', { name: 'Create' }).click();
  // The child is drawn inside its parent's branch of the tree.
  await page.locator('li.sc-node:has(> article[data-group="garage"]) > ul.sc-tree article[data-group="carport"]').waitFor();
  await shot(page, 'sc-05-tree');

  page.once('dialog', (d) => d.accept());
  await card('garage').getByRole('button', { name: 'Delete' }).click();
  const alert = card('garage').getByRole('alert');
  await alert.filter({ hasText: 'has child groups' }).waitFor();
  assert.match(await alert.textContent(), /^Can't delete “garage”: /);
  await shot(page, 'sc-06-delete-refused');
  assert.equal(await card('garage').count(), 1);

  // The child itself can go.
  page.once('dialog', (d) => d.accept());
  await card('carport').getByRole('button', { name: 'Delete' }).click();
  await card('carport').waitFor({ state: 'detached' });
});

test('a viewer sees everything read-only', async () => {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const p = await ctx.newPage();
  p.setDefaultTimeout(20000);
  watch(p);
  await p.goto(`${server.base}/smart-charging`);
  await p.getByLabel('User name').fill(VIEWER);
  await p.getByLabel('Password').fill(VIEWER_PASSWORD);
  await p.getByRole('button', { name: 'Sign in' }).click();
  await p.getByRole('heading', { name: 'Smart charging', level: 1 }).waitFor();
  const m = p.locator(`article.sc-member[data-connector="${A}/1"]`);
  await m.waitFor();
  assert.equal(await m.getByRole('radio', { name: 'Off' }).isChecked(), true);
  assert.equal(await m.getByRole('radio', { name: 'On' }).isDisabled(), true);
  assert.equal(await p.getByRole('button', { name: 'New group' }).count(), 0);
  assert.equal(await p.getByRole('button', { name: 'Delete' }).count(), 0);
  assert.equal(await p.getByRole('button', { name: 'Remove' }).count(), 0);
  assert.equal(await p.getByRole('button', { name: 'Add', exact: true }).count(), 0);
  assert.equal(await p.getByLabel('Surplus (W)').count(), 0);
  await shot(p, 'sc-07-viewer');
  await ctx.close();
});

test('remove a connector from its group', async () => {
  page.once('dialog', (d) => d.accept());
  await member(`${B}/1`).getByRole('button', { name: 'Remove' }).click();
  await member(`${B}/1`).waitFor({ state: 'detached' });
  const list = await (await server.api('GET', '/smart-charging/connectors')).json();
  assert.deepEqual((list.items ?? list.connectors).map((s) => s.chargerId), [A]);
});

test('phone layout', async () => {
  const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, storageState: await context.storageState() });
  const p = await phone.newPage();
  watch(p);
  await p.goto(`${server.base}/smart-charging`);
  await p.locator(`article.sc-member[data-connector="${A}/1"]`).waitFor();
  await p.locator('[data-testid="price-chart"][data-bars="48"]').waitFor();
  await shot(p, 'sc-08-phone');
  const overflow = await p.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 1, `the page is ${overflow}px wider than the phone`);
  await phone.close();
});

test('no script errors or CSP violations', () => {
  assert.deepEqual(errors, []);
});
