// Charger configuration in a real browser against a real server and
// simulated chargers (our own charge point): the charger page's stored
// snapshot with its time, edits with each of the four answers, a change
// pending until a Reset reboots the charger, TriggerMessage from the
// Commands section, and the Configuration page applying one key to many
// chargers with one offline. Screenshots go to web/e2e/artifacts/.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { startServer, startCharger, stop, launch, shot, signIn, artifacts } from '../lib/harness.mjs';

let server, browser, page;
const chargers = [];
const errors = [];
const ONLINE = ['CFA0001', 'CFB0001', 'CFC0001'];
const OFF = 'CFOFF1';
const ID = ONLINE[0];

before(async () => {
  server = await startServer({ args: ['-unknown-chargers', 'accept'] });
  // No EVs, and real time: the chargers' own heartbeats (every 300 s)
  // stay out of the way of the triggered ones.
  for (const id of ONLINE) chargers.push(startCharger(server, id.slice(0, 3), ['-plug', '0', '-time-factor', '1']));
  const r = await server.api('PUT', `/chargers/${OFF}`, { registration: 'Accepted' });
  assert.ok(r.ok, `registering ${OFF}: ${r.status}`);
  browser = await launch();
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  page = await context.newPage();
  page.setDefaultTimeout(20000);
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error' && !/status of 40[1-9]|status of 50\d/.test(m.text())) errors.push(`console: ${m.text()}`); });
});

after(async () => {
  for (const c of chargers) await stop(c);
  await browser?.close();
  await stop(server?.proc);
});

const section = () => page.locator('section.config-section');
// The charger page is long (the message log): its configuration section
// gets a picture of its own.
const sectionShot = (name) => section().screenshot({ path: path.join(artifacts, `${name}.png`) });
const keyRow = (k) => section().locator(`tr[data-key="${k}"]`);
const rowResult = (k) => keyRow(k).locator('[data-testid="result"]');
const lastChange = (k) => keyRow(k).locator('[data-testid="last-change"]');

async function saveKey(key, value) {
  const row = keyRow(key);
  await row.getByRole('textbox').fill(value);
  await row.getByRole('button', { name: 'Save' }).click();
}

test('the charger page keeps the configuration as a snapshot with its time', async () => {
  await signIn(page, server.base);
  await page.goto(`${server.base}/chargers/${ID}`);
  await page.locator('[data-testid="connection"]', { hasText: 'online' }).waitFor();
  await section().getByText('No snapshot yet').waitFor();
  await section().getByRole('button', { name: 'Refresh from charger' }).click();
  await section().getByText(/^Read \d+ keys from the charger\.$/).waitFor();
  const taken = section().locator('[data-testid="config-taken"]');
  await taken.getByText(/^Snapshot taken at .+ \(just now\) · \d+ keys$/).waitFor();
  assert.equal(await keyRow('HeartbeatInterval').getByRole('textbox').inputValue(), '300');
  // A read-only key has no Save button.
  await keyRow('NumberOfConnectors').getByText('read-only').waitFor();
  assert.equal(await keyRow('NumberOfConnectors').getByRole('button').count(), 0);
  await sectionShot('config-01-snapshot');

  // The snapshot is stored: a reload shows it, with the same time, without
  // asking the charger.
  const takenAt = await taken.getAttribute('data-taken-at');
  await page.reload();
  await keyRow('HeartbeatInterval').waitFor();
  assert.equal(await section().locator('[data-testid="config-taken"]').getAttribute('data-taken-at'), takenAt);
});

test('editing a key shows the charger\'s answer and updates the snapshot', async () => {
  await saveKey('HeartbeatInterval', '123');
  await rowResult('HeartbeatInterval').getByText('Accepted').waitFor();
  await lastChange('HeartbeatInterval').getByText('Accepted').waitFor();
  assert.match(await lastChange('HeartbeatInterval').textContent(), /“123”/);

  // A value the charger refuses: Rejected, and the snapshot keeps 123.
  await saveKey('HeartbeatInterval', 'soon');
  await rowResult('HeartbeatInterval').getByText('Rejected').waitFor();
  await page.getByRole('alert').filter({ hasText: 'HeartbeatInterval: The charger refused: Rejected' }).first().waitFor();
  await lastChange('HeartbeatInterval').getByText('Rejected').waitFor();
  await page.reload();
  await keyRow('HeartbeatInterval').waitFor();
  assert.equal(await keyRow('HeartbeatInterval').getByRole('textbox').inputValue(), '123');

  // A key the charger does not know: NotSupported, listed apart.
  await section().getByText('Change a key that is not listed').click();
  const other = section().getByRole('form', { name: 'Change a key by name' });
  await other.getByLabel('Key').fill('AcmeBeeper');
  await other.getByLabel('Value').fill('on');
  await other.getByRole('button', { name: 'Change' }).click();
  await section().locator('.config-others li[data-key="AcmeBeeper"]').getByText('NotSupported').waitFor();
  await sectionShot('config-02-answers');
});

test('a change that needs a reboot is pending until the charger reboots', async () => {
  await saveKey('WebSocketPingInterval', '12');
  await rowResult('WebSocketPingInterval').getByText('RebootRequired').waitFor();
  await lastChange('WebSocketPingInterval').getByText('RebootRequired · pending reboot').waitFor();
  const pending = section().locator('[data-testid="config-pending"]');
  await pending.getByText(/^Waiting for a reboot: WebSocketPingInterval = 12\./).waitFor();
  await sectionShot('config-03-pending-reboot');

  // Reset from the Commands section: the charger reboots, boots again, and
  // the page sees the boot.
  const reset = page.getByRole('form', { name: 'Reset' });
  await reset.getByRole('button', { name: 'Reset' }).click();
  await reset.getByText('The charger answered: Accepted').waitFor();
  await lastChange('WebSocketPingInterval').getByText('RebootRequired · rebooted since').waitFor({ timeout: 30000 });
  assert.ok(await pending.isHidden(), 'the pending notice is still shown');
  assert.equal(await keyRow('WebSocketPingInterval').getByRole('textbox').inputValue(), '12');
  await page.locator('[data-testid="connection"]', { hasText: 'online' }).waitFor();
});

// trigger asks for a message and waits for it to arrive in the message log
// after the TriggerMessage that asked for it.
async function trigger(message, connector) {
  const form = page.getByRole('form', { name: 'Trigger message' });
  await form.getByLabel('Message').selectOption(message);
  await form.getByLabel('Connector').selectOption(connector);
  await form.getByRole('button', { name: 'Trigger message' }).click();
  await form.getByText('The charger answered: Accepted').waitFor();
  const log = page.locator('section', { has: page.getByRole('heading', { name: 'OCPP messages' }) });
  const deadline = Date.now() + 15000;
  for (;;) {
    await log.getByRole('button', { name: 'Newest' }).click();
    const heads = await log.locator('.frame-head').allTextContents();
    const asked = heads.findIndex((t) => /→ to charger CALL TriggerMessage/.test(t));
    const came = heads.findIndex((t) => new RegExp(`← from charger CALL ${message}\\b`).test(t));
    // Newest first: the triggered message is above the TriggerMessage.
    if (asked >= 0 && came >= 0 && came < asked) {
      return log.locator('.frame').nth(came).locator('pre').textContent();
    }
    if (Date.now() > deadline) assert.fail(`no ${message} after the TriggerMessage in the log:\n${heads.slice(0, 8).join('\n')}`);
    await page.waitForTimeout(200);
  }
}

test('TriggerMessage from the dashboard: Heartbeat and StatusNotification arrive', async () => {
  await page.locator('[data-testid="connection"]', { hasText: 'online' }).waitFor();
  await trigger('Heartbeat', '');
  const frame = await trigger('StatusNotification', '1');
  assert.match(frame, /"connectorId": 1/);
  await page.locator('section', { has: page.getByRole('heading', { name: 'Commands' }) }).screenshot({ path: path.join(artifacts, 'config-04-trigger.png') });
});

const picker = () => page.getByRole('table', { name: 'Chargers' });
const pickerRow = (id) => picker().locator(`tr[data-id="${id}"]`);
const results = () => page.getByRole('table', { name: 'Results' });
const resultOf = (id) => results().locator(`tr[data-id="${id}"] [data-testid="result"]`);

test('the Configuration page shows a key across the chargers', async () => {
  await page.getByRole('link', { name: 'Configuration', exact: true }).click();
  await page.getByRole('heading', { name: 'Configuration', level: 1 }).waitFor();
  await page.locator(`.page[data-rendered="4"]`).waitFor();
  await page.getByLabel('Key', { exact: true }).fill('HeartbeatInterval');
  await page.getByText('OCPP 1.6 Core key · integer · in seconds').waitFor();
  // Only the charger whose snapshot was taken on its page has a value.
  const summary = page.locator('[data-testid="values-summary"]');
  await summary.getByText('HeartbeatInterval in the snapshots: “123” on 1 · no snapshot on 3').waitFor();
  await pickerRow(ID).locator('[data-testid="value"]').getByText('123').waitFor();
  await pickerRow(ONLINE[1]).locator('[data-testid="value"]').getByText('no snapshot').waitFor();
  assert.equal(new URL(page.url()).searchParams.get('key'), 'HeartbeatInterval');
  // A read-only key says so.
  await page.getByLabel('Key', { exact: true }).fill('NumberOfConnectors');
  await page.getByText(/read-only: chargers reject changes/).waitFor();
  await page.getByLabel('Key', { exact: true }).fill('HeartbeatInterval');
  await summary.getByText(/“123” on 1/).waitFor();
});

test('refresh the snapshots of many chargers, one of them offline', async () => {
  // Online ones with select all, then the offline one by hand.
  await page.getByLabel('Connection').selectOption('online');
  await page.locator('[data-testid="picker-count"]').getByText('3 of 4 chargers match · 0 selected').waitFor();
  assert.equal(await pickerRow(OFF).count(), 0);
  await page.getByLabel('Select all chargers shown').check();
  await page.getByLabel('Connection').selectOption('');
  await pickerRow(OFF).getByRole('checkbox').check();
  await page.locator('[data-testid="picker-count"]').getByText('4 of 4 chargers match · 4 selected').waitFor();
  await page.getByRole('button', { name: 'Refresh snapshots of 4' }).click();
  await page.locator('[data-testid="results-summary"]').getByText('3 snapshot taken · 1 offline').waitFor();
  for (const id of ONLINE) await resultOf(id).getByText('Snapshot taken').waitFor();
  await resultOf(OFF).getByText('offline').waitFor();
  // 300 on all three, also on the one set to 123 before its Reset: a
  // charger takes the interval of the BootNotification answer at every
  // boot (-heartbeat-interval, 5 minutes).
  await page.locator('[data-testid="values-summary"]').getByText('HeartbeatInterval in the snapshots: “300” on 3 · no snapshot on 1').waitFor();
});

test('apply a key to many chargers: a result per charger and the snapshots updated', async () => {
  await page.getByLabel('New value').fill('77');
  await page.getByRole('button', { name: 'Apply to 4 chargers' }).click();
  await page.locator('[data-testid="results-summary"]').getByText('3 Accepted · 1 offline').waitFor();
  for (const id of ONLINE) await resultOf(id).getByText('Accepted').waitFor();
  await resultOf(OFF).getByText('offline').waitFor();
  assert.match(await results().locator(`tr[data-id="${OFF}"]`).textContent(), /offline/);
  await page.locator('[data-testid="values-summary"]').getByText('HeartbeatInterval in the snapshots: “77” on 3 · no snapshot on 1').waitFor();
  await pickerRow(ONLINE[2]).locator('[data-testid="last-change"]').getByText('Accepted').waitFor();
  // Which chargers still differ: only the offline one, without a snapshot.
  await page.getByLabel('Value', { exact: true }).selectOption('differs');
  await page.locator('[data-testid="picker-count"]').getByText(/^1 of 4 chargers match/).waitFor();
  await pickerRow(OFF).waitFor();
  await page.getByLabel('Value', { exact: true }).selectOption('');
  await shot(page, 'config-05-applied');
});

test('a reboot-only key applied to many chargers shows pending reboots', async () => {
  await pickerRow(OFF).getByRole('checkbox').uncheck();
  await page.getByLabel('Key', { exact: true }).fill('WebSocketPingInterval');
  await page.locator('[data-testid="values-summary"]').getByText(/^WebSocketPingInterval in the snapshots: “30” on 2 · “12” on 1/).waitFor();
  await page.getByLabel('New value').fill('25');
  await page.getByRole('button', { name: 'Apply to 3 chargers' }).click();
  await page.locator('[data-testid="results-summary"]').getByText('3 RebootRequired').waitFor();
  for (const id of ONLINE) {
    await pickerRow(id).locator('[data-testid="last-change"]').getByText('RebootRequired · pending reboot').waitFor();
  }
  await page.locator('[data-testid="values-summary"]').getByText(/“25” on 3/).waitFor();
  await shot(page, 'config-06-reboot-required');

  // The charger page shows the change made from the fleet page.
  await pickerRow(ONLINE[1]).getByRole('link', { name: ONLINE[1] }).click();
  await lastChange('WebSocketPingInterval').getByText('RebootRequired · pending reboot').waitFor();
  assert.equal(await keyRow('HeartbeatInterval').getByRole('textbox').inputValue(), '77');
  await lastChange('HeartbeatInterval').getByText('Accepted').waitFor();
});

test('no script errors', () => {
  assert.deepEqual(errors, []);
});
