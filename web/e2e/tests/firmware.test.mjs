// Firmware and diagnostics in a real browser against a real server and
// four simulated chargers (`wattson sim`, one of which fails to install):
// upload an image, roll it out two at a time, watch it complete with one
// failure, see the new version on a charger's page, then ask that charger
// for its diagnostics and download the file it uploaded. Screenshots go
// to web/e2e/artifacts/.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { startServer, startSim, stop, launch, shot, signIn, sleep } from '../lib/harness.mjs';

let server, browser, page, fleet;
const errors = [];
const IDS = ['FW0001', 'FW0002', 'FW0003', 'FW0004'];

async function waitApi(fn, what, ms = 30000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await fn()) return;
    await sleep(200);
  }
  throw new Error(`timed out waiting for ${what}`);
}

before(async () => {
  server = await startServer({ args: ['-unknown-chargers', 'accept'] });
  fleet = startSim(server, ['--chargers', '4', '--connectors', '1', '--scenario', 'idle', '--prefix', 'FW', '--faults-per-day', '0',
    '--firmware-fail', 'FW0003', '--summary-interval', '1h']);
  await waitApi(async () => {
    const r = await server.api('GET', '/chargers?limit=10');
    const p = await r.json();
    return p.items.filter((c) => c.connected && c.registration === 'Accepted').length === 4;
  }, `the four chargers to connect\n${fleet.output}`);
  browser = await launch();
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
  page = await context.newPage();
  page.setDefaultTimeout(30000);
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error' && !/status of 40[1-9]|status of 50\d/.test(m.text())) errors.push(`console: ${m.text()}`); });
});

after(async () => {
  await stop(fleet);
  await browser?.close();
  await stop(server?.proc);
});

test('upload a firmware image', async () => {
  await signIn(page, server.base);
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Firmware' }).click();
  await page.getByRole('heading', { name: 'Firmware', exact: true }).waitFor();
  await page.getByText('No firmware files yet.').waitFor();
  const form = page.getByRole('form', { name: 'Upload firmware' });
  const image = Buffer.from(`WATTSON-SIM-FIRMWARE 9.9\n${'x'.repeat(100000)}`);
  await form.getByLabel('File').setInputFiles({ name: 'wattson-9.9.bin', mimeType: 'application/octet-stream', buffer: image });
  await form.getByLabel('Version').fill('9.9');
  await form.getByRole('button', { name: 'Upload' }).click();
  await form.getByText(/Stored wattson-9\.9\.bin \(97\.7 KiB/).waitFor();
  const row = page.locator('table.firmware-files tbody tr').first();
  assert.match(await row.textContent(), /wattson-9\.9\.bin.*9\.9.*97\.7 KiB/);
  await shot(page, 'firmware-01-uploaded');
});

test('roll it out two at a time; one charger fails', async () => {
  await page.getByRole('button', { name: 'Roll out…' }).click();
  const form = page.getByRole('form', { name: 'New roll-out' });
  await form.getByLabel('Filter').fill('FW');
  await form.getByRole('button', { name: 'Select all shown' }).click();
  await form.getByText('4 selected').waitFor();
  await form.getByLabel('At once').fill('2');
  await form.getByLabel('Halt above (% failed)').fill('50');
  await form.getByLabel('Judge after').fill('2');
  await form.getByLabel('Retries').fill('1');
  await form.getByLabel('Retry interval (s)').fill('1');
  await form.getByRole('button', { name: 'Start roll-out' }).click();
  await page.waitForURL(/\/firmware\/rollouts\/\d+$/);
  await page.getByRole('heading', { name: /Roll-out #\d+/ }).waitFor();
  // It follows the chargers live until it is done.
  await page.locator('.badge', { hasText: 'Completed' }).waitFor({ timeout: 60000 });
  await page.getByTestId('rollout-summary').getByText('3 installed · 1 failed · 0 updating · 0 queued of 4').waitFor();
  assert.match(await page.getByTestId('rollout-detail').textContent(), /3 installed, 1 failed/);
  const failed = page.locator('table.targets tr[data-charger="FW0003"]');
  assert.equal(await failed.getAttribute('data-status'), 'Failed');
  assert.match(await failed.textContent(), /could not install/);
  for (const id of ['FW0001', 'FW0002', 'FW0004']) {
    assert.equal(await page.locator(`table.targets tr[data-charger="${id}"]`).getAttribute('data-status'), 'Installed', id);
  }
  // The roll-out shows in the list with its progress.
  await shot(page, 'firmware-02-rollout');
  await page.getByRole('link', { name: '← Firmware' }).click();
  const ro = page.locator('table.rollouts tbody tr').first();
  await ro.getByText('Completed').waitFor();
  assert.match(await ro.textContent(), /3 installed · 1 failed/);
});

test('the charger page shows the new firmware', async () => {
  await page.goto(`${server.base}/chargers/FW0001`);
  await page.getByTestId('fw-version').getByText('9.9').waitFor();
  assert.match(await page.getByTestId('fw-status').textContent(), /^Installed/);
  await page.goto(`${server.base}/chargers/FW0003`);
  await page.getByTestId('fw-status').getByText(/^InstallationFailed/).waitFor();
  assert.equal((await page.getByTestId('fw-version').textContent()).trim(), 'sim-1');
  await shot(page, 'firmware-03-charger');
});

test('ask a charger for diagnostics and download the file', async () => {
  await page.goto(`${server.base}/chargers/FW0002`);
  await page.locator('[data-testid="connection"]', { hasText: 'online' }).waitFor();
  const form = page.getByRole('form', { name: 'Request diagnostics' });
  await form.getByLabel('Retries').fill('2');
  await form.getByRole('button', { name: 'Request diagnostics' }).click();
  await form.getByText('The charger will upload FW0002-diagnostics.txt').waitFor();
  // The upload arrives and the row says so, live.
  const row = page.locator('table.diagnostics tbody tr[data-status="Received"]').first();
  await row.waitFor();
  const [download] = await Promise.all([page.waitForEvent('download'), row.getByRole('link', { name: 'FW0002-diagnostics.txt' }).click()]);
  assert.equal(download.suggestedFilename(), 'FW0002-diagnostics.txt');
  const content = await readFile(await download.path(), 'utf8');
  assert.equal(content, 'simulated charger FW0002, 1 connectors\n');
  await shot(page, 'firmware-04-diagnostics');

  // The fleet-wide list has it too.
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Diagnostics' }).click();
  await page.getByRole('heading', { name: 'Diagnostics', exact: true }).waitFor();
  const listed = page.locator('table.diagnostics tbody tr').first();
  await listed.getByRole('link', { name: 'FW0002', exact: true }).waitFor();
  assert.equal(await listed.getAttribute('data-status'), 'Received');
});

test('no errors in the page', () => {
  assert.deepEqual(errors, []);
});
