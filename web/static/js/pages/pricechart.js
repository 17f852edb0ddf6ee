// The price schedule as an SVG bar chart: one bar per price slot (an hour)
// over today and tomorrow, the slots a Low-cost connector plans to charge
// in highlighted, the current hour marked. Like chart.js it draws with
// classes only (the CSP forbids inline styles) and follows the element's
// real width, so labels keep their size on a phone.

const NS = 'http://www.w3.org/2000/svg';
const H = 200, PAD = { l: 48, r: 10, t: 18, b: 30 };

function s(tag, attrs = {}) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  return el;
}

/** niceTicks returns about n round values covering [lo, hi]. */
function niceTicks(lo, hi, n = 4) {
  if (!(hi > lo)) hi = lo + 1;
  const raw = (hi - lo) / n;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((x) => x >= raw);
  const out = [];
  for (let v = Math.floor(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(+v.toFixed(10));
  if (out[out.length - 1] < hi) out.push(+(out[out.length - 1] + step).toFixed(10));
  return out;
}

const fmtHour = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
const fmtAxis = new Intl.DateTimeFormat(undefined, { hour: 'numeric' });
const fmtDay = new Intl.DateTimeFormat(undefined, { weekday: 'short' });
/** price formats a price with as many decimals as it needs (at most 4). */
export const fmtPrice = (p) => String(+Number(p).toFixed(4));

export class PriceChart {
  constructor() {
    this.W = 640;
    this.slots = [];
    this.planned = [];
    this.from = 0;
    this.to = 0;
    this.frame = 0;

    this.el = document.createElement('figure');
    this.el.className = 'chart price-chart';
    const cap = document.createElement('figcaption');
    const title = document.createElement('span');
    title.className = 'chart-title';
    title.textContent = 'Price per kWh, by hour';
    const legend = document.createElement('ul');
    legend.className = 'legend';
    for (const [cls, text] of [['legend-price', 'price'], ['legend-planned', 'planned charging'], ['legend-now', 'now']]) {
      const li = document.createElement('li');
      li.className = cls;
      li.textContent = text;
      legend.append(li);
    }
    cap.append(title, legend);
    this.svg = s('svg', { viewBox: `0 0 ${this.W} ${H}`, role: 'img', 'aria-label': 'Prices by hour' });
    this.svg.dataset.testid = 'price-chart';
    new ResizeObserver(([e]) => {
      const w = Math.round(e.contentRect.width);
      if (w > 0 && w !== this.W) { this.W = w; this.svg.setAttribute('viewBox', `0 0 ${w} ${H}`); this.schedule(); }
    }).observe(this.svg);
    this.el.append(cap, this.svg);
    this.draw();
  }

  /**
   * set replaces what is shown: slots [{start, end, price}] (ISO times),
   * planned [{start, end}] to highlight, over [from, to) in ms.
   */
  set({ slots, planned, from, to }) {
    this.slots = slots.map((x) => ({ start: Date.parse(x.start), end: Date.parse(x.end), price: x.price }))
      .filter((x) => Number.isFinite(x.start) && Number.isFinite(x.end) && x.end > from && x.start < to)
      .sort((a, b) => a.start - b.start);
    this.planned = planned.map((x) => ({ start: Date.parse(x.start), end: Date.parse(x.end) }));
    this.from = from;
    this.to = to;
    this.schedule();
  }

  /** isPlanned says whether a slot overlaps a planned slot. */
  isPlanned(slot) {
    return this.planned.some((p) => p.start < slot.end && p.end > slot.start);
  }

  schedule() {
    if (!this.frame) this.frame = requestAnimationFrame(() => { this.frame = 0; this.draw(); });
  }

  /** redraw moves the "now" marker; called now and then by the page. */
  redraw() { this.schedule(); }

  draw() {
    const W = this.W;
    const svg = this.svg;
    svg.replaceChildren();
    const slots = this.slots;
    const now = Date.now();
    let planned = 0;
    svg.dataset.bars = String(slots.length);
    if (!slots.length) {
      const t = s('text', { x: W / 2, y: H / 2, 'text-anchor': 'middle', class: 'chart-empty' });
      t.textContent = 'No prices for today and tomorrow yet';
      svg.append(t);
      svg.dataset.planned = '0';
      svg.setAttribute('aria-label', 'No prices for today and tomorrow yet');
      return;
    }
    let lo = 0, hi = 0;
    for (const x of slots) { lo = Math.min(lo, x.price); hi = Math.max(hi, x.price); }
    const yt = niceTicks(lo, hi === lo ? lo + 1 : hi);
    const y0 = yt[0], y1 = yt[yt.length - 1];
    const { from, to } = this;
    const x = (t) => PAD.l + ((Math.min(Math.max(t, from), to) - from) / (to - from)) * (W - PAD.l - PAD.r);
    const y = (v) => H - PAD.b - ((v - y0) / (y1 - y0)) * (H - PAD.t - PAD.b);

    const grid = s('g', { class: 'grid' });
    const axes = s('g', { class: 'axes' });
    for (const v of yt) {
      grid.append(s('line', { x1: PAD.l, x2: W - PAD.r, y1: y(v), y2: y(v) }));
      const label = s('text', { x: PAD.l - 6, y: y(v) + 4, 'text-anchor': 'end' });
      label.textContent = fmtPrice(v);
      axes.append(label);
    }
    // Hour labels every 3, 6 or 12 h, as many as fit (a label is about
    // 40 px wide); a dashed line and the day's name at each midnight.
    const perHour = (W - PAD.l - PAD.r) / ((to - from) / 3600000);
    const every = [3, 6, 12].find((n) => n * perHour >= 56) || 24;
    for (let t = from; t <= to; t += 3600000) {
      const d = new Date(t);
      if (d.getMinutes() !== 0) continue;
      if (d.getHours() === 0 && t > from && t < to) {
        grid.append(s('line', { class: 'day-line', x1: x(t), x2: x(t), y1: PAD.t - 14, y2: H - PAD.b }));
        const day = s('text', { x: x(t) + 4, y: PAD.t - 6, class: 'day-label' });
        // The chart starts today: its first midnight is tomorrow's.
        day.textContent = t - from <= 25 * 3600000 ? 'Tomorrow' : fmtDay.format(d);
        axes.append(day);
      }
      if (d.getHours() % every !== 0 || t >= to) continue;
      const label = s('text', { x: x(t), y: H - 10, 'text-anchor': t === from ? 'start' : 'middle' });
      label.textContent = fmtAxis.format(d);
      axes.append(label);
    }
    axes.append(s('line', { x1: PAD.l, x2: W - PAD.r, y1: y(0), y2: y(0) }));

    const bars = s('g', { class: 'bars' });
    for (const slot of slots) {
      const isPlanned = this.isPlanned(slot);
      const isNow = slot.start <= now && now < slot.end;
      if (isPlanned) planned++;
      const x0 = x(slot.start), x1 = x(slot.end);
      const gap = x1 - x0 > 4 ? 1 : 0;
      const top = y(Math.max(slot.price, 0)), bottom = y(Math.min(slot.price, 0));
      const r = s('rect', {
        x: (x0 + gap).toFixed(1), width: Math.max(1, x1 - x0 - 2 * gap).toFixed(1),
        y: top.toFixed(1), height: Math.max(1, bottom - top).toFixed(1),
        class: `bar${isPlanned ? ' planned' : ''}${isNow ? ' now' : ''}`,
      });
      r.dataset.start = new Date(slot.start).toISOString();
      if (isPlanned) r.dataset.planned = 'true';
      if (isNow) r.dataset.now = 'true';
      const tip = s('title');
      tip.textContent = `${fmtDay.format(slot.start)} ${fmtHour.format(slot.start)}–${fmtHour.format(slot.end)}: ${fmtPrice(slot.price)} per kWh${isPlanned ? ', planned charging' : ''}${isNow ? ' (now)' : ''}`;
      r.append(tip);
      bars.append(r);
    }
    svg.append(grid, bars, axes);
    if (now >= from && now < to) {
      svg.append(s('line', { class: 'now-line', x1: x(now), x2: x(now), y1: PAD.t - 4, y2: H - PAD.b }));
      // Above the bars: the hour labels take the space below.
      const label = s('text', { x: x(now), y: PAD.t - 6, 'text-anchor': 'middle', class: 'now-label' });
      label.textContent = 'now';
      svg.append(label);
    }
    svg.dataset.planned = String(planned);
    svg.setAttribute('aria-label', `Prices by hour for today and tomorrow, ${slots.length} hours with a price; ${planned} planned for charging`);
  }
}
