// A small SVG line chart: a few series over time, axes with round ticks,
// a legend, and live appends redrawn at most once per animation frame.
// Colours come from the stylesheet (.series-0 …), so the chart follows
// the light/dark theme and needs no inline styles (the CSP forbids them).

const NS = 'http://www.w3.org/2000/svg';
const H = 220, PAD = { l: 52, r: 12, t: 12, b: 28 };

function s(tag, attrs = {}) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  return el;
}

/** niceTicks returns about n round values covering [lo, hi]. */
function niceTicks(lo, hi, n = 5) {
  if (!(hi > lo)) { hi = lo + 1; }
  const raw = (hi - lo) / n;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((x) => x >= raw);
  const out = [];
  for (let v = Math.floor(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(+v.toFixed(10));
  if (out[out.length - 1] < hi) out.push(out[out.length - 1] + step);
  return out;
}

const fmtTime = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' });

export class LineChart {
  /**
   * @param {{title: string, unit: string, series: string[], maxPoints?: number, digits?: number}} o
   */
  constructor({ title, unit, series, maxPoints = 2000, digits = 1 }) {
    this.unit = unit;
    this.names = series;
    this.maxPoints = maxPoints;
    this.digits = digits;
    this.data = series.map(() => []);
    this.frame = 0;
    this.W = 640;

    this.el = document.createElement('figure');
    this.el.className = 'chart';
    const cap = document.createElement('figcaption');
    const h = document.createElement('span');
    h.className = 'chart-title';
    h.textContent = `${title} (${unit})`;
    this.legend = document.createElement('ul');
    this.legend.className = 'legend';
    this.legendValues = series.map((name, i) => {
      const li = document.createElement('li');
      li.className = `series-${i}`;
      const v = document.createElement('span');
      v.className = 'legend-value';
      li.append(`${name} `, v);
      this.legend.append(li);
      return v;
    });
    cap.append(h, this.legend);

    this.svg = s('svg', { viewBox: `0 0 ${this.W} ${H}`, role: 'img', 'aria-label': `${title} per phase` });
    // The drawing follows the element's real width, so labels keep their
    // size on a phone and on a wide screen instead of being scaled.
    new ResizeObserver(([e]) => {
      const w = Math.round(e.contentRect.width);
      if (w > 0 && w !== this.W) { this.W = w; this.svg.setAttribute('viewBox', `0 0 ${w} ${H}`); this.empty.setAttribute('x', w / 2); this.schedule(); }
    }).observe(this.svg);
    this.grid = s('g', { class: 'grid' });
    this.axes = s('g', { class: 'axes' });
    this.lines = series.map((_, i) => s('polyline', { class: `line series-${i}`, fill: 'none' }));
    this.empty = s('text', { x: this.W / 2, y: H / 2, 'text-anchor': 'middle', class: 'chart-empty' });
    this.empty.textContent = 'No measurements yet';
    this.svg.append(this.grid, ...this.lines, this.axes, this.empty);
    this.el.append(cap, this.svg);
    this.draw();
  }

  /** set replaces the data: one array of {t (ms), v} per series. */
  set(data) {
    this.data = this.names.map((_, i) => (data[i] || []).slice(-this.maxPoints).sort((a, b) => a.t - b.t));
    this.schedule();
  }

  /** append adds a point to series i; redraws on the next frame. */
  append(i, t, v) {
    const d = this.data[i];
    if (!d || !Number.isFinite(v)) return;
    if (d.length && d[d.length - 1].t === t) d[d.length - 1].v = v;
    else d.push({ t, v });
    if (d.length > this.maxPoints) d.splice(0, d.length - this.maxPoints);
    this.schedule();
  }

  /** points is how many points the chart holds (the browser tests read it). */
  get points() { return this.data.reduce((n, d) => n + d.length, 0); }

  schedule() {
    if (!this.frame) this.frame = requestAnimationFrame(() => { this.frame = 0; this.draw(); });
  }

  draw() {
    const W = this.W;
    const all = this.data.flat();
    this.svg.dataset.points = String(all.length);
    this.empty.setAttribute('visibility', all.length ? 'hidden' : 'visible');
    this.grid.replaceChildren();
    this.axes.replaceChildren();
    this.data.forEach((d, i) => {
      const last = d[d.length - 1];
      this.legendValues[i].textContent = last ? `${last.v.toFixed(this.digits)} ${this.unit}` : '—';
    });
    if (!all.length) { this.lines.forEach((l) => l.setAttribute('points', '')); return; }

    let t0 = Infinity, t1 = -Infinity, lo = Infinity, hi = -Infinity;
    for (const p of all) {
      if (p.t < t0) t0 = p.t; if (p.t > t1) t1 = p.t;
      if (p.v < lo) lo = p.v; if (p.v > hi) hi = p.v;
    }
    if (t1 - t0 < 60000) t1 = t0 + 60000; // at least a minute wide
    lo = Math.min(0, lo); // amps and watts read best from zero
    const yt = niceTicks(lo, hi === lo ? lo + 1 : hi);
    const y0 = yt[0], y1 = yt[yt.length - 1];
    const x = (t) => PAD.l + ((t - t0) / (t1 - t0)) * (W - PAD.l - PAD.r);
    const y = (v) => H - PAD.b - ((v - y0) / (y1 - y0)) * (H - PAD.t - PAD.b);

    for (const v of yt) {
      this.grid.append(s('line', { x1: PAD.l, x2: W - PAD.r, y1: y(v), y2: y(v) }));
      const label = s('text', { x: PAD.l - 6, y: y(v) + 4, 'text-anchor': 'end' });
      label.textContent = Math.abs(y1) >= 10000 ? `${v / 1000}k` : String(v);
      this.axes.append(label);
    }
    // As many time labels as fit (a label is about 80 px wide).
    const n = Math.max(1, Math.min(4, Math.floor((W - PAD.l - PAD.r) / 110)));
    for (let k = 0; k <= n; k++) {
      const t = t0 + ((t1 - t0) * k) / n;
      const label = s('text', { x: x(t), y: H - 8, 'text-anchor': k === 0 ? 'start' : k === n ? 'end' : 'middle' });
      label.textContent = fmtTime.format(new Date(t));
      this.axes.append(label);
    }
    this.axes.append(s('line', { x1: PAD.l, x2: W - PAD.r, y1: H - PAD.b, y2: H - PAD.b }));
    this.data.forEach((d, i) => {
      this.lines[i].setAttribute('points', d.map((p) => `${x(p.t).toFixed(1)},${y(p.v).toFixed(1)}`).join(' '));
    });
  }
}

/**
 * phaseSeries turns meter samples into per-phase series of current (A),
 * voltage (V) and power (W). Power per phase is taken from per-phase
 * Power.Active.Import samples when the charger sends them, otherwise
 * computed as voltage × current of the same phase and time. total is the
 * charger's Power.Active.Import without phase (or the sum of the phases).
 */
export function phaseSeries(samples) {
  const cur = [[], [], []], volt = [[], [], []], pow = [[], [], []], total = [];
  const byTime = new Map();
  const phaseIndex = (p) => (p?.startsWith('L1') ? 0 : p?.startsWith('L2') ? 1 : p?.startsWith('L3') ? 2 : -1);
  for (const m of samples) {
    const t = Date.parse(m.timestamp);
    let v = parseFloat(m.value);
    if (!Number.isFinite(t) || !Number.isFinite(v)) continue;
    const i = phaseIndex(m.phase);
    const meas = m.measurand || 'Energy.Active.Import.Register';
    if (m.unit === 'kW' || m.unit === 'kVA') v *= 1000;
    let slot = byTime.get(t);
    if (!slot) byTime.set(t, (slot = { a: [], v: [], p: [], total: null }));
    if (meas === 'Current.Import' && i >= 0) slot.a[i] = v;
    else if (meas === 'Voltage' && i >= 0) slot.v[i] = v;
    else if (meas === 'Power.Active.Import') { if (i >= 0) slot.p[i] = v; else slot.total = v; }
  }
  for (const [t, sl] of [...byTime].sort((a, b) => a[0] - b[0])) {
    let sum = 0, any = false;
    for (let i = 0; i < 3; i++) {
      if (sl.a[i] != null) cur[i].push({ t, v: sl.a[i] });
      if (sl.v[i] != null) volt[i].push({ t, v: sl.v[i] });
      const p = sl.p[i] ?? (sl.a[i] != null && sl.v[i] != null ? sl.a[i] * sl.v[i] : null);
      if (p != null) { pow[i].push({ t, v: p / 1000 }); sum += p; any = true; }
    }
    const tot = sl.total ?? (any ? sum : null);
    if (tot != null) total.push({ t, v: tot / 1000 });
  }
  return { current: cur, voltage: volt, power: pow, total };
}

/** PhaseCharts is the three charts of a session: current, voltage and power per phase. */
export class PhaseCharts {
  constructor() {
    this.current = new LineChart({ title: 'Current', unit: 'A', series: ['L1', 'L2', 'L3'] });
    this.voltage = new LineChart({ title: 'Voltage', unit: 'V', series: ['L1', 'L2', 'L3'] });
    this.power = new LineChart({ title: 'Power', unit: 'kW', series: ['L1', 'L2', 'L3'], digits: 2 });
    this.el = document.createElement('div');
    this.el.className = 'charts';
    this.el.append(this.current.el, this.voltage.el, this.power.el);
  }
  set(samples) {
    const s = phaseSeries(samples);
    this.current.set(s.current); this.voltage.set(s.voltage); this.power.set(s.power);
  }
  add(samples) {
    const s = phaseSeries(samples);
    for (let i = 0; i < 3; i++) {
      for (const p of s.current[i]) this.current.append(i, p.t, p.v);
      for (const p of s.voltage[i]) this.voltage.append(i, p.t, p.v);
      for (const p of s.power[i]) this.power.append(i, p.t, p.v);
    }
  }
}
