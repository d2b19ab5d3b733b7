// Device telemetry of one model version: counts of events by type over time and prediction
// latency per device class (uPlot), with a per-device-class summary. Filter by device class.
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import { telemetry, type TelemetryEvent } from '../api';
import { runColor } from '../chart';
import { href, setQuery, type Route } from '../route';
import { Empty, formatNumber, formatTime, Loaded, useLoad } from '../ui';

const kinds = ['downloaded', 'compiled', 'loaded', 'failed', 'prediction'];
const kindColor: Record<string, string> = { downloaded: '#3b82f6', compiled: '#8b5cf6', loaded: '#10b981', failed: '#ef4444', prediction: '#f59e0b' };
const BUCKETS = 40;

function quantile(xs: number[], q: number) {
  if (!xs.length) return null;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
}

/** Buckets the events' times: the bucket start (seconds) of each and a bucketing function. */
function timeBuckets(events: TelemetryEvent[]) {
  const ts = events.map((e) => e.time);
  const lo = Math.min(...ts);
  const hi = Math.max(...ts);
  const width = Math.max(1000, (hi - lo) / BUCKETS);
  const n = Math.max(1, Math.min(BUCKETS, Math.floor((hi - lo) / width) + 1));
  const xs = Array.from({ length: n }, (_, i) => (lo + i * width) / 1000);
  const at = (t: number) => Math.min(n - 1, Math.floor((t - lo) / width));
  return { xs, at, n };
}

export function TelemetryPage({ route }: { route: Route }) {
  const model = route.query.get('model') ?? '';
  const version = route.query.get('version') ?? '';
  const device = route.query.get('device') ?? '';
  const [load, reload] = useLoad((s) => (model && version ? telemetry(model, version, s) : Promise.resolve([])), [model, version]);
  return (
    <section class="page">
      <div class="page-head">
        <div>
          <div class="crumbs">
            <a href={href(['models'])}>Models</a> / {model && <a href={href(['models', model], { version })}>{model}</a>} /
          </div>
          <h1>
            Telemetry{model && `: ${model} v${version}`}
          </h1>
        </div>
      </div>
      {!model || !version ? (
        <Empty title="Pick a model version">
          Open telemetry from a version on a <a href={href(['models'])}>model's page</a> or a channel's deployment.
        </Empty>
      ) : (
        <Loaded load={load} what="telemetry" retry={reload}>
          {(all) => {
            const devices = [...new Set(all.map((e) => e.device_class || 'unknown'))].sort();
            const events = device ? all.filter((e) => (e.device_class || 'unknown') === device) : all;
            if (!all.length)
              return (
                <Empty title="No telemetry yet">
                  Devices report to <code>POST /api/deploy/v1/telemetry</code> once this version ships on a channel.
                </Empty>
              );
            return (
              <>
                <div class="chips" role="group" aria-label="Device class">
                  <button type="button" class={`chip${device ? '' : ' on'}`} onClick={() => setQuery(route, { device: undefined })}>
                    all devices
                  </button>
                  {devices.map((d) => (
                    <button type="button" class={`chip${d === device ? ' on' : ''}`} onClick={() => setQuery(route, { device: d })}>
                      {d}
                    </button>
                  ))}
                </div>
                <Summary events={events} />
                <div class="chart-grid">
                  <figure class="chart" data-testid="events-chart">
                    <figcaption>
                      <strong>Events by type</strong> <span class="hint">· {events.length} events, {formatTime(Math.min(...events.map((e) => e.time)))} to {formatTime(Math.max(...events.map((e) => e.time)))}</span>
                    </figcaption>
                    <EventsChart events={events} />
                  </figure>
                  <figure class="chart" data-testid="latency-chart">
                    <figcaption>
                      <strong>Prediction latency (median, ms) by device class</strong>
                    </figcaption>
                    {events.some((e) => e.event === 'prediction' && e.latency_ms !== undefined) ? (
                      <LatencyChart events={events} />
                    ) : (
                      <Empty title="No predictions with a latency" />
                    )}
                  </figure>
                </div>
                <Failures events={events} />
              </>
            );
          }}
        </Loaded>
      )}
    </section>
  );
}

function Summary({ events }: { events: TelemetryEvent[] }) {
  const by = new Map<string, TelemetryEvent[]>();
  for (const e of events) {
    const k = e.device_class || 'unknown';
    by.set(k, [...(by.get(k) ?? []), e]);
  }
  return (
    <table class="grid" data-testid="telemetry-summary">
      <thead>
        <tr>
          <th>Device class</th>
          {kinds.map((k) => (
            <th class="num">{k}</th>
          ))}
          <th class="num">p50 latency</th>
          <th class="num">p95 latency</th>
        </tr>
      </thead>
      <tbody>
        {[...by.entries()]
          .sort((a, b) => a[0].localeCompare(b[0]))
          .map(([d, es]) => {
            const lat = es.filter((e) => e.event === 'prediction' && e.latency_ms !== undefined).map((e) => e.latency_ms!);
            const p50 = quantile(lat, 0.5);
            const p95 = quantile(lat, 0.95);
            return (
              <tr data-device={d}>
                <td class="mono">{d}</td>
                {kinds.map((k) => (
                  <td class={`num${k === 'failed' && es.some((e) => e.event === k) ? ' inline-error' : ''}`}>{es.filter((e) => e.event === k).length}</td>
                ))}
                <td class="num">{p50 === null ? '—' : `${formatNumber(p50)} ms`}</td>
                <td class="num">{p95 === null ? '—' : `${formatNumber(p95)} ms`}</td>
              </tr>
            );
          })}
      </tbody>
    </table>
  );
}

function Failures({ events }: { events: TelemetryEvent[] }) {
  const failed = events.filter((e) => e.event === 'failed').slice(-20).reverse();
  if (!failed.length) return null;
  return (
    <div class="panel">
      <h2>Latest failures</h2>
      <table class="grid">
        <tbody>
          {failed.map((e) => (
            <tr>
              <td>{formatTime(e.time)}</td>
              <td class="mono">{e.device_class ?? 'unknown'}</td>
              <td>{e.compute_unit ?? ''}</td>
              <td class="inline-error">{e.error ?? ''}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function cssVar(name: string) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || '#888';
}

/** A uPlot chart over time; `series` are (label, color, values aligned with xs). */
function TimeChart({ xs, series, stepped, unit }: { xs: number[]; series: [string, string, (number | null)[]][]; stepped?: boolean; unit: string }) {
  const el = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const box = el.current!;
    const fg = cssVar('--muted');
    const grid = cssVar('--grid');
    const axis = { stroke: fg, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 } };
    const path = stepped ? uPlot.paths.stepped!({ align: 1 }) : undefined;
    const plot = new uPlot(
      {
        width: box.clientWidth || 600,
        height: 240,
        scales: { x: { time: true } },
        series: [
          { label: 'time' },
          ...series.map(([label, color]) => ({ label, stroke: color, width: 1.5, spanGaps: !stepped, paths: path, points: { show: !stepped }, value: (_u: uPlot, v: number | null) => (v == null ? '—' : `${formatNumber(v)}${unit}`) })),
        ],
        axes: [axis, { ...axis, size: 50 }],
      },
      [xs, ...series.map((s) => s[2])] as uPlot.AlignedData,
      box,
    );
    const ro = new ResizeObserver(() => plot.setSize({ width: box.clientWidth, height: 240 }));
    ro.observe(box);
    return () => {
      ro.disconnect();
      plot.destroy();
    };
  }, [xs, series]);
  return <div class="chart-box" ref={el} />;
}

function EventsChart({ events }: { events: TelemetryEvent[] }) {
  const { xs, at, n } = timeBuckets(events);
  const series: [string, string, number[]][] = kinds
    .filter((k) => events.some((e) => e.event === k))
    .map((k) => {
      const v = new Array(n).fill(0);
      for (const e of events) if (e.event === k) v[at(e.time)]++;
      return [k, kindColor[k], v];
    });
  return <TimeChart xs={xs} series={series} stepped unit="" />;
}

function LatencyChart({ events }: { events: TelemetryEvent[] }) {
  const preds = events.filter((e) => e.event === 'prediction' && e.latency_ms !== undefined);
  const { xs, at, n } = timeBuckets(preds);
  const devices = [...new Set(preds.map((e) => e.device_class || 'unknown'))].sort();
  const series: [string, string, (number | null)[]][] = devices.map((d, i) => {
    const b: number[][] = Array.from({ length: n }, () => []);
    for (const e of preds) if ((e.device_class || 'unknown') === d) b[at(e.time)].push(e.latency_ms!);
    return [d, runColor(i), b.map((xs) => quantile(xs, 0.5))];
  });
  return <TimeChart xs={xs} series={series} unit=" ms" />;
}
