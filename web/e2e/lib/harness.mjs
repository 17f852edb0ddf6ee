// Test harness: builds wattson, runs the real server on a free port with a
// fresh SQLite database, simulated chargers, and headless Chromium from
// /usr/bin/chromium (never a downloaded browser).

import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
export const repo = path.resolve(here, '../../..');
export const artifacts = path.resolve(here, '../artifacts');
mkdirSync(artifacts, { recursive: true });

export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--disable-quic', '--no-first-run'];

export const USER = 'e2e-admin';
export const PASSWORD = 'correct horse battery staple';

let built = null;
/** build compiles wattson and the test charger once per run. */
export function build() {
  if (built) return built;
  const dir = mkdtempSync(path.join(tmpdir(), 'wattson-e2e-'));
  const env = { ...process.env, PATH: `/usr/local/go/bin:${process.env.PATH}` };
  execFileSync('go', ['build', '-o', path.join(dir, 'wattson'), './cmd/wattson'], { cwd: repo, env, stdio: 'inherit' });
  execFileSync('go', ['build', '-o', path.join(dir, 'charger'), './web/e2e/charger'], { cwd: repo, env, stdio: 'inherit' });
  built = { dir, wattson: path.join(dir, 'wattson'), charger: path.join(dir, 'charger') };
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  return built;
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}

/** run starts a process; its output is kept for failure messages. */
export function run(cmd, args, { input, env } = {}) {
  const p = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
  p.output = '';
  p.stdout.on('data', (d) => { p.output += d; });
  p.stderr.on('data', (d) => { p.output += d; });
  if (input != null) p.stdin.end(input); else p.stdin.end();
  p.done = new Promise((resolve) => p.on('exit', (code) => resolve(code)));
  return p;
}

export async function stop(p) {
  if (!p || p.exitCode != null) return;
  p.kill('SIGTERM');
  const t = setTimeout(() => p.kill('SIGKILL'), 10000);
  await p.done;
  clearTimeout(t);
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function waitFor(fn, what, ms = 15000) {
  const end = Date.now() + ms;
  let last;
  while (Date.now() < end) {
    try { if (await fn()) return; } catch (err) { last = err; }
    await sleep(100);
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${last.message}` : ''}`);
}

/**
 * startServer runs `wattson serve` on a fresh database with a dashboard
 * user made by `wattson user add` (password on stdin).
 */
export async function startServer({ args = [] } = {}) {
  const { wattson, dir } = build();
  const port = await freePort();
  const db = `sqlite:${mkdtempSync(path.join(dir, 'db-'))}/e2e.db`;
  const token = `e2e-admin-token-${Math.random().toString(36).slice(2)}`;
  const add = run(wattson, ['user', 'add', '-db', db, '-name', USER, '-role', 'admin'], { input: `${PASSWORD}\n` });
  const addCode = await add.done;
  if (addCode !== 0) throw new Error(`wattson user add failed (${addCode}):\n${add.output}`);
  const srv = run(wattson, ['serve', '-listen', `127.0.0.1:${port}`, '-db', db, '-admin-token', token, ...args]);
  const base = `http://127.0.0.1:${port}`;
  await waitFor(async () => (await fetch(`${base}/api/v1/health`)).ok, `the server on ${base}\n${srv.output}`);
  const api = (method, p, body) => fetch(`${base}/api/v1${p}`, {
    method, headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' }, body: body && JSON.stringify(body),
  });
  return { proc: srv, base, ocpp: `ws://127.0.0.1:${port}/ocpp/`, token, db, port, api };
}

/** startCharger runs the helper charger: PREFIX0001, an EV plugged into connector 1 once accepted. */
export function startCharger(server, prefix = 'E2E', extra = []) {
  return run(build().charger, ['-csms', server.ocpp, '-prefix', prefix, ...extra]);
}

/** startSim runs `wattson sim` against the server. */
export function startSim(server, args) {
  return run(build().wattson, ['sim', '--csms', server.ocpp, ...args]);
}

export async function launch() {
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
}

export async function shot(page, name) {
  await page.screenshot({ path: path.join(artifacts, `${name}.png`), fullPage: true });
}

export async function signIn(page, base) {
  await page.goto(`${base}/`);
  await page.getByLabel('User name').fill(USER);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Overview' }).waitFor();
}
