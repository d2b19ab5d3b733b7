// A metric chart of one or many runs on uPlot. Series come downsampled from the server (min/max
// per bucket, so spikes survive); zooming fetches the visible range again at full detail.
import { useEffect, useRef, useState } from 'preact/hooks';
import uPlot from 'uplot';
import { ApiError, downsampleMetric, getMetricHistory, runName, toNumber, type Bucket, type Run } from './api';
import { formatNumber } from './ui';

export type XAxis = 'step' | 'time' | 'relative';
export interface ChartOptions {
  x: XAxis;
  log: boolean;
  smoothing: number; // 0..0.99, exponential moving average weight
}

// Twelve hues that stay apart on light and dark backgrounds, then the same hues dashed, then
// dotted: 36 runs before a line repeats.
const palette = ['#3b82f6', '#ef4444', '#10b981', '#f59e0b', '#8b5cf6', '#ec4899', '#14b8a6', '#64748b',
  '#a16207', '#0ea5e9', '#84cc16', '#be123c'];
const dashes: (number[] | undefined)[] = [undefined, [8, 4], [2, 3]];
export const runColor = (i: number) => palette[i % palette.length];
/** The dash of run i's line (undefined: solid), paired with runColor(i). */
export const runDash = (i: number) => dashes[Math.floor(i / palette.length) % dashes.length];
/** A legend swatch's CSS for run i: its colour, striped when its line is dashed or dotted. */
export function swatchStyle(i: number) {
  const c = runColor(i);
  const d = runDash(i);
  if (!d) return { background: c };
  return { background: `repeating-linear-gradient(90deg, ${c} 0 ${d[0] / 2}px, transparent ${d[0] / 2}px ${(d[0] + d[1]) / 2}px)` };
}

// Tick spacings of an elapsed-time axis, in seconds: round durations, never "1m 40s" apart.
const durationSteps = [0.001, 0.01, 0.1, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600,
  7200, 10800, 21600, 43200, 86400, 172800, 604800, 2592000];

/** Seconds as people read a duration: "45s", "1m 30s", "2h 5m", "3d 4h". */
export function formatSeconds(t: number): string {
  const sign = t < 0 ? '-' : '';
  let s = Math.abs(t);
  if (s < 60) return sign + `${formatNumber(Number(s.toFixed(s < 10 ? 2 : 1)))}s`;
  s = Math.round(s);
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  if (d) return sign + (h ? `${d}d ${h}h` : `${d}d`);
  if (h) return sign + (m ? `${h}h ${m}m` : `${h}h`);
  return sign + (sec ? `${m}m ${sec}s` : `${m}m`);
}

/** The downsampled series of one run, in the chart's x unit. */
interface Series {
  run: Run;
  buckets: Bucket[];
  total: number;
}

let noDownsample = false; // set once the server says it has no downsample endpoint

/** Buckets for [start, end] in server units (step, or ms for time); falls back to get-history. */
async function fetchSeries(run: Run, key: string, x: XAxis, buckets: number, range?: [number, number], signal?: AbortSignal) {
  const byTime = x !== 'step';
  if (!noDownsample) {
    try {
      return await downsampleMetric(
        { run_id: run.info.run_id, key, buckets, x: byTime ? 'time' : 'step', start: range?.[0], end: range?.[1] },
        signal,
      );
    } catch (e) {
      if (!(e instanceof ApiError && e.status === 404 && e.code !== 'RESOURCE_DOES_NOT_EXIST')) throw e;
      noDownsample = true;
    }
  }
  // An older server: the whole history, bucketed here the same way.
  const h = await getMetricHistory(run.info.run_id, key, signal);
  const pts = (h.metrics ?? [])
    .map((m) => ({ x: byTime ? m.timestamp : m.step, v: toNumber(m.value) }))
    .filter((p) => !range || (p.x >= range[0] && p.x <= range[1]))
    .sort((a, b) => a.x - b.x);
  const out: Bucket[] = [];
  if (pts.length) {
    const lo = pts[0].x;
    const width = (pts[pts.length - 1].x - lo) / buckets;
    let cur: Bucket | undefined;
    let b = -1;
    for (const p of pts) {
      const pb = width > 0 ? Math.min(buckets - 1, Math.floor((p.x - lo) / width)) : 0;
      if (pb !== b || !cur) {
        cur = { x: p.x, min: p.v, max: p.v, first: p.v, last: p.v, count: 0 };
        out.push(cur);
        b = pb;
      }
      cur.min = Math.min(cur.min, p.v);
      cur.max = Math.max(cur.max, p.v);
      cur.last = p.v;
      cur.count++;
    }
  }
  return { points: out, total: pts.length };
}

/** Chart x of a server x: steps as is, wall time in seconds, relative time in seconds from start. */
function toChartX(x: XAxis, run: Run, v: number) {
  if (x === 'step') return v;
  if (x === 'time') return v / 1000;
  return (v - (run.info.start_time ?? 0)) / 1000;
}
function toServerX(x: XAxis, run: Run, v: number) {
  if (x === 'step') return v;
  if (x === 'time') return v * 1000;
  return v * 1000 + (run.info.start_time ?? 0);
}

function smooth(values: (number | null)[], weight: number): (number | null)[] {
  if (weight <= 0) return values;
  // TensorBoard's debiased exponential moving average.
  let last = 0;
  let n = 0;
  return values.map((v) => {
    if (v === null || !Number.isFinite(v)) return v;
    last = last * weight + (1 - weight) * v;
    n++;
    return last / (1 - Math.pow(weight, n));
  });
}

const num = (v: number | string) => toNumber(v);

/** uPlot data: one shared x, per run a line plus min and max (the band). */
function build(series: Series[], opt: ChartOptions): uPlot.AlignedData {
  const xs = new Set<number>();
  const perRun = series.map((s) => {
    const m = new Map<number, Bucket>();
    for (const b of s.buckets) {
      const cx = toChartX(opt.x, s.run, b.x);
      m.set(cx, b);
      xs.add(cx);
    }
    return m;
  });
  const x = Float64Array.from(xs).sort();
  const ok = (v: number) => (Number.isFinite(v) && (!opt.log || v > 0) ? v : null);
  const data: (number | null)[][] = [Array.from(x)];
  perRun.forEach((m) => {
    const line: (number | null)[] = new Array(x.length);
    const lo: (number | null)[] = new Array(x.length);
    const hi: (number | null)[] = new Array(x.length);
    for (let i = 0; i < x.length; i++) {
      const b = m.get(x[i]);
      line[i] = b ? ok(num(b.last)) : null;
      lo[i] = b ? ok(num(b.min)) : null;
      hi[i] = b ? ok(num(b.max)) : null;
    }
    data.push(smooth(line, opt.smoothing), lo, hi);
  });
  return data as uPlot.AlignedData;
}

export function Chart({ runs, metric, options, height = 280 }: { runs: Run[]; metric: string; options: ChartOptions; height?: number }) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const [state, setState] = useState<'loading' | 'ok' | 'empty' | Error>('loading');
  const [total, setTotal] = useState(0);
  const [bars, setBars] = useState<Bar[] | null>(null);
  const zoom = useRef<AbortController | null>(null);

  useEffect(() => {
    const el = box.current!;
    const ctl = new AbortController();
    const buckets = Math.max(200, Math.min(4000, Math.round(el.clientWidth || 800)));
    const started = performance.now();
    setState('loading');
    Promise.all(runs.map((run) => fetchSeries(run, metric, options.x, buckets, undefined, ctl.signal))).then(
      (rs) => {
        if (ctl.signal.aborted) return;
        const series: Series[] = rs.map((r, i) => ({ run: runs[i], buckets: r.points, total: r.total }));
        setTotal(rs.reduce((a, r) => a + r.total, 0));
        if (series.every((s) => s.buckets.length === 0)) {
          setState('empty');
          return;
        }
        // One value per run (a test accuracy, a model size): a lone dot says little; bars compare.
        if (series.every((s) => s.total <= 1)) {
          plot.current?.destroy();
          plot.current = null;
          setBars(series.map((s, i) => ({ run: s.run, index: i, value: s.buckets.length ? num(s.buckets[0].last) : null })));
          setState('ok');
          return;
        }
        setBars(null);
        setState('ok');
        plot.current?.destroy();
        plot.current = draw(el, series, metric, options, height, (range) => refine(series, range, buckets));
        performance.mark('ringo:chart', { detail: { metric, ms: performance.now() - started } });
      },
      (e) => !ctl.signal.aborted && setState(e),
    );
    return () => {
      ctl.abort();
      zoom.current?.abort();
      plot.current?.destroy();
      plot.current = null;
    };
  }, [runs.map((r) => r.info.run_id).join(), metric, options.x, options.log, options.smoothing]);

  // After a zoom, fetch the visible range again so detail appears as the range narrows.
  function refine(full: Series[], range: [number, number] | null, buckets: number) {
    zoom.current?.abort();
    const ctl = new AbortController();
    zoom.current = ctl;
    const fetches = full.map((s) =>
      range
        ? fetchSeries(s.run, metric, options.x, buckets, [toServerX(options.x, s.run, range[0]), toServerX(options.x, s.run, range[1])], ctl.signal).then(
            (r) => ({ ...s, buckets: r.points, total: r.total }),
          )
        : Promise.resolve(s),
    );
    Promise.all(fetches).then(
      (series) => {
        if (ctl.signal.aborted || !plot.current) return;
        plot.current.setData(build(series, options), false);
      },
      () => {},
    );
  }

  return (
    <figure class="chart" data-metric={metric}>
      <figcaption>
        <strong>{metric}</strong>
        {state === 'ok' && !bars && <span class="hint"> {total.toLocaleString()} points · drag to zoom, double-click to reset</span>}
        {state === 'ok' && bars && <span class="hint"> one value per run</span>}
      </figcaption>
      {state === 'ok' && bars && <Bars bars={bars} log={options.log} />}
      <div ref={box} class="chart-box" style={{ minHeight: bars && state === 'ok' ? 0 : `${height}px` }}>
        {state === 'loading' && <div class="state loading overlay">Loading {metric}…</div>}
        {state === 'empty' && <div class="state empty overlay">No values logged for {metric}</div>}
        {state instanceof Error && <div class="state error overlay">{state.message}</div>}
      </div>
    </figure>
  );
}

interface Bar {
  run: Run;
  index: number; // the run's place, for its colour
  value: number | null;
}

/** Horizontal bars, one per run, from zero (or from the smallest value on a log scale). */
function Bars({ bars, log }: { bars: Bar[]; log: boolean }) {
  const vals = bars.map((b) => b.value).filter((v): v is number => v !== null && Number.isFinite(v));
  const lo = Math.min(0, ...vals);
  const hi = Math.max(0, ...vals);
  const span = hi - lo || 1;
  const minPos = Math.min(...vals.filter((v) => v > 0));
  const logSpan = Math.log10(Math.max(...vals) / minPos) || 1;
  const at = (v: number) => (log && v > 0 ? 5 + (95 * Math.log10(v / minPos)) / logSpan : (100 * (v - lo)) / span);
  return (
    <div class="bars" data-testid="bar-chart">
      {bars.map((b) => {
        const v = b.value;
        const ok = v !== null && Number.isFinite(v) && (!log || v > 0);
        const left = !ok || log ? 0 : at(Math.min(0, v));
        const right = ok ? at(log ? v : Math.max(0, v)) : 0;
        return (
          <div class="bar-row" data-run={b.run.info.run_id}>
            <span class="bar-label" title={runName(b.run)}>
              {runName(b.run)}
            </span>
            <span class="bar-track">
              {ok && <span class="bar" style={{ left: `${left}%`, width: `${Math.max(0.5, right - left)}%`, background: runColor(b.index) }} />}
            </span>
            <span class="bar-value mono">{v !== null ? formatNumber(v) : '—'}</span>
          </div>
        );
      })}
    </div>
  );
}

function cssVar(name: string) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || '#888';
}

function draw(el: HTMLElement, series: Series[], metric: string, opt: ChartOptions, height: number, onZoom: (r: [number, number] | null) => void) {
  const data = build(series, opt);
  const fg = cssVar('--muted');
  const grid = cssVar('--grid');
  const axis = { stroke: fg, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 } };
  const relative = opt.x === 'relative';
  const s: uPlot.Series[] = [
    { label: opt.x === 'step' ? 'step' : opt.x === 'time' ? 'time' : 'elapsed', ...(relative ? { value: (_u: uPlot, v: number | null) => (v == null ? '—' : formatSeconds(v)) } : {}) },
  ];
  const bands: uPlot.Band[] = [];
  series.forEach((sr, i) => {
    const color = runColor(i);
    const base = 1 + i * 3;
    s.push(
      { label: runName(sr.run), stroke: color, dash: runDash(i), width: 1.5, spanGaps: true, value: (_u, v) => formatNumber(v ?? undefined) },
      { label: 'min', stroke: 'transparent', spanGaps: true, points: { show: false } },
      { label: 'max', stroke: 'transparent', spanGaps: true, points: { show: false } },
    );
    bands.push({ series: [base + 2, base + 1], fill: color + '33' });
  });
  let fullRange: [number, number] | null = null;
  let zoomTimer = 0;
  const plot = new uPlot(
    {
      width: el.clientWidth || 800,
      height,
      series: s,
      bands,
      scales: { x: { time: opt.x === 'time' }, y: opt.log ? { distr: 3 } : {} },
      axes: [
        relative ? { ...axis, incrs: durationSteps, values: (_u, ts) => ts.map((t) => (t == null ? '' : formatSeconds(t))) } : axis,
        { ...axis, size: 60, values: (_u, ts) => ts.map((t) => (t == null ? '' : formatNumber(t))) },
      ],
      legend: { live: true },
      cursor: { drag: { x: true, y: false } },
      hooks: {
        ready: [
          (u) => {
            fullRange = [u.scales.x.min!, u.scales.x.max!];
          },
        ],
        setScale: [
          (u, key) => {
            if (key !== 'x' || !fullRange) return;
            const r: [number, number] = [u.scales.x.min!, u.scales.x.max!];
            const reset = r[0] <= fullRange[0] && r[1] >= fullRange[1];
            clearTimeout(zoomTimer);
            zoomTimer = window.setTimeout(() => onZoom(reset ? null : r), 120);
          },
        ],
      },
    },
    data,
    el,
  );
  el.setAttribute('aria-label', `Chart of ${metric}`);
  // The band edges are series too; only the run lines belong in the legend.
  plot.root.querySelectorAll<HTMLElement>('.u-legend .u-series').forEach((row, i) => {
    if (i > 0 && (i - 1) % 3 !== 0) row.style.display = 'none';
  });
  const ro = new ResizeObserver(() => plot.setSize({ width: el.clientWidth, height }));
  ro.observe(el);
  const destroy = plot.destroy.bind(plot);
  plot.destroy = () => {
    ro.disconnect();
    destroy();
  };
  return plot;
}

/** The controls shared by every chart on a page: x axis, log scale, smoothing. */
export function ChartControls({ options, onChange }: { options: ChartOptions; onChange: (o: Partial<ChartOptions>) => void }) {
  return (
    <div class="chart-controls">
      <label>
        X axis{' '}
        <select value={options.x} onChange={(e) => onChange({ x: (e.target as HTMLSelectElement).value as XAxis })}>
          <option value="step">Step</option>
          <option value="time">Wall time</option>
          <option value="relative">Relative time</option>
        </select>
      </label>
      <label class="check">
        <input type="checkbox" checked={options.log} onChange={(e) => onChange({ log: (e.target as HTMLInputElement).checked })} />
        Log scale
      </label>
      <label>
        Smoothing{' '}
        <input
          type="range"
          min="0"
          max="0.99"
          step="0.01"
          value={options.smoothing}
          onChange={(e) => onChange({ smoothing: Number((e.target as HTMLInputElement).value) })}
        />{' '}
        <span class="mono">{options.smoothing.toFixed(2)}</span>
      </label>
    </div>
  );
}

/** Chart options as URL query values, and back. */
export function chartOptions(q: URLSearchParams): ChartOptions {
  const x = q.get('x');
  return {
    x: x === 'time' || x === 'relative' ? x : 'step',
    log: q.get('log') === '1',
    smoothing: Math.min(0.99, Math.max(0, Number(q.get('smooth') ?? 0) || 0)),
  };
}
export function chartQuery(o: Partial<ChartOptions>): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  if (o.x !== undefined) out.x = o.x === 'step' ? undefined : o.x;
  if (o.log !== undefined) out.log = o.log ? '1' : undefined;
  if (o.smoothing !== undefined) out.smooth = o.smoothing ? String(o.smoothing) : undefined;
  return out;
}
