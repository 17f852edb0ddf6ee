// Measures the dashboard's Chargers page with 1,000 chargers connected and
// a load generator streaming events: time to the first full list, then
// frame times and long tasks over 10 s while events arrive, and how long a
// search takes to apply. `npm run perf --prefix web/e2e`; the figures are
// in docs/performance.md ("Dashboard with 1,000 chargers").
//
// CHARGERS and RATE (messages per second over all chargers) may be set in
// the environment.

import { startServer, startSim, stop, launch, signIn, shot, sleep } from './lib/harness.mjs';

const CHARGERS = Number(process.env.CHARGERS || 1000);
const RATE = Number(process.env.RATE || 200);
const WATCH_MS = 10000;

const server = await startServer({ args: ['-unknown-chargers', 'accept', '-log-level', 'warn'] });
const sim = startSim(server, ['--load', '--chargers', String(CHARGERS), '--connectors', '2', '--rate', String(RATE), '--ramp', '500', '--prefix', 'LOAD']);
let browser;
try {
  // Wait until every charger is connected.
  for (let i = 0; ; i++) {
    const res = await server.api('GET', '/overview');
    const o = res.ok ? await res.json() : null;
    if (o && o.chargers.online >= CHARGERS) break;
    if (i > 600) throw new Error(`only ${o?.chargers.online} chargers online\n${sim.output}`);
    await sleep(100);
  }
  await sleep(2000); // the load phase is running

  browser = await launch();
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await ctx.newPage();
  await signIn(page, server.base);

  // Counters installed before any app code runs: frames, long tasks and
  // events received over the stream.
  await page.addInitScript(() => {
    const m = (window.__perf = { frames: [], longTasks: [], events: 0 });
    new PerformanceObserver((list) => { for (const e of list.getEntries()) m.longTasks.push(e.duration); }).observe({ type: 'longtask', buffered: true });
    let last = 0;
    const tick = (t) => { if (last) m.frames.push(t - last); last = t; requestAnimationFrame(tick); };
    requestAnimationFrame(tick);
    const ES = window.EventSource;
    window.EventSource = class extends ES {
      addEventListener(type, fn, opts) {
        super.addEventListener(type, type === 'open' || type === 'error' ? fn : (e) => { m.events++; fn(e); }, opts);
      }
    };
  });
  await page.goto(`${server.base}/chargers`);
  await page.waitForFunction((n) => Number(document.querySelector('.page')?.dataset.rendered) >= n, CHARGERS, { timeout: 60000, polling: 'raf' });
  const firstRender = await page.evaluate(() => performance.now());
  const loadedEvents = await page.evaluate(() => window.__perf.events);
  await page.evaluate(() => { window.__perf.frames = []; window.__perf.longTasks = []; window.__perf.events = 0; });
  await sleep(WATCH_MS);
  const m = await page.evaluate(() => window.__perf);

  // Responsiveness while events stream: type a search, wait for it to apply.
  const t0 = await page.evaluate(() => performance.now());
  await page.getByLabel('Search').fill('LOAD0999');
  await page.locator('p.muted', { hasText: 'Showing 1 of' }).waitFor();
  const search = (await page.evaluate(() => performance.now())) - t0;
  await page.getByLabel('Search').fill('');
  await shot(page, 'perf-1000-chargers');

  const f = m.frames.sort((a, b) => a - b);
  const pct = (p) => f[Math.min(f.length - 1, Math.floor(p * f.length))];
  const result = {
    chargers: CHARGERS, rate: RATE,
    firstFullRenderMs: Math.round(firstRender),
    eventsPerSecond: Math.round(m.events / (WATCH_MS / 1000)),
    frames: f.length, fps: Math.round(f.length / (WATCH_MS / 1000)),
    frameP50Ms: +pct(0.5).toFixed(1), frameP95Ms: +pct(0.95).toFixed(1), frameP99Ms: +pct(0.99).toFixed(1), frameMaxMs: +f[f.length - 1].toFixed(1),
    longTasks: m.longTasks.length, longTaskTotalMs: Math.round(m.longTasks.reduce((a, b) => a + b, 0)),
    longTaskMaxMs: Math.round(Math.max(0, ...m.longTasks)),
    searchApplyMs: Math.round(search),
    eventsBeforeFirstRender: loadedEvents,
  };
  console.log(JSON.stringify(result, null, 2));
} finally {
  await browser?.close();
  await stop(sim);
  await stop(server.proc);
}
