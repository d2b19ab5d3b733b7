// Device telemetry of one model version over a time range: counts of events by type over time
// and prediction latency per device class (uPlot), failure rates, breakdowns by device class, OS
// version and app version, and the version against the one it replaced on its channel. Filter
// by device class. The server aggregates every event (telemetry/summary), so counts are true
// totals however many events a version has.
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import { getDeployment, listCollections, telemetrySummary, type TelemetryRow, type TelemetrySummary } from '../api';
import { runColor } from '../chart';
import { href, setQuery, type Route } from '../route';
import { Empty, formatNumber, formatTime, Loaded, useLoad } from '../ui';

const kinds = ['downloaded', 'compiled', 'loaded', 'failed', 'prediction'];
const kindColor: Record<string, string> = { downloaded: '#3b82f6', compiled: '#8b5cf6', loaded: '#10b981', failed: '#ef4444', prediction: '#f59e0b' };
const ranges: [string, string, number | undefined][] = [
  ['1h', 'last hour', 3600_000],
  ['24h', 'last 24 hours', 86400_000],
  ['7d', 'last 7 days', 7 * 86400_000],
  ['all', 'all time', undefined],
];

/** The version this one replaced on a channel: the previous deployment's version of the model. */
async function previousOnChannel(model: string, version: string, s: AbortSignal) {
  for (const c of await listCollections(s)) {
    for (const ch of c.channels ?? []) {
      if (!ch.previous_deployment_id || !ch.deployment_id) continue;
      const [now, before] = await Promise.all([getDeployment(ch.deployment_id, s), getDeployment(ch.previous_deployment_id, s)]);
      if (!now.models?.some((m) => m.name === model && m.version === version)) continue;
      const prev = before.models?.find((m) => m.name === model && m.version !== version);
      if (prev) return { version: prev.version, channel: `${c.name}/${ch.name}` };
    }
  }
  return undefined;
}

export function TelemetryPage({ route }: { route: Route }) {
  const model = route.query.get('model') ?? '';
  const version = route.query.get('version') ?? '';
  const device = route.query.get('device') ?? '';
  const range = ranges.find((r) => r[0] === route.query.get('range')) ?? ranges[3];
  const [load, reload] = useLoad(async (s) => {
    if (!model || !version) return undefined;
    const from = range[2] === undefined ? undefined : Date.now() - range[2];
    const [sum, prev] = await Promise.all([
      telemetrySummary(model, version, device, from, s),
      previousOnChannel(model, version, s).catch(() => undefined),
    ]);
    const before = prev && (await telemetrySummary(model, prev.version, device, from, s));
    return { sum, prev: prev && before ? { ...prev, sum: before } : undefined };
  }, [model, version, device, range[0]]);
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
        {model && version && (
          <div class="chips" role="group" aria-label="Time range">
            {ranges.map(([key, label]) => (
              <button type="button" class={`chip${key === range[0] ? ' on' : ''}`} title={label}
                onClick={() => setQuery(route, { range: key === 'all' ? undefined : key })}>
                {key === 'all' ? 'all' : `last ${key}`}
              </button>
            ))}
          </div>
        )}
      </div>
      {!model || !version ? (
        <Empty title="Pick a model version">
          Open telemetry from a version on a <a href={href(['models'])}>model's page</a> or a channel's deployment.
        </Empty>
      ) : (
        <Loaded load={load} what="telemetry" retry={reload}>
          {(data) => {
            const sum = data?.sum;
            if (!sum || !sum.device_classes.length)
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
                  {sum.device_classes.map((d) => (
                    <button type="button" class={`chip${d === device ? ' on' : ''}`} onClick={() => setQuery(route, { device: d })}>
                      {d}
                    </button>
                  ))}
                </div>
                <dl class="facts" data-testid="telemetry-facts">
                  <dt>Events ({range[1]})</dt>
                  <dd data-testid="telemetry-total">{sum.total.toLocaleString()}</dd>
                  <dt>Failure rate</dt>
                  <dd data-testid="failure-rate">{rate(sum.failure_rate)}</dd>
                </dl>
                {!sum.total ? (
                  <Empty title={`No events in the ${range[1]}`}>Pick a longer time range.</Empty>
                ) : (
                  <>
                    <Breakdown title="Device class" testid="telemetry-summary" rows={sum.devices.map((d) => [d.device_class, d])} />
                    {data.prev && <Versus version={version} prev={data.prev} sum={sum} />}
                    <div class="chart-grid">
                      <figure class="chart" data-testid="events-chart">
                        <figcaption>
                          <strong>Events by type</strong>{' '}
                          <span class="hint" data-testid="events-total">
                            · {sum.total} events, {formatTime(sum.first_time)} to {formatTime(sum.last_time)}
                          </span>
                        </figcaption>
                        {sum.buckets && <EventsChart sum={sum} />}
                      </figure>
                      <figure class="chart" data-testid="latency-chart">
                        <figcaption>
                          <strong>Prediction latency (median, ms) by device class</strong>
                        </figcaption>
                        {sum.buckets && Object.keys(sum.buckets.latency_p50_ms).length ? (
                          <LatencyChart sum={sum} />
                        ) : (
                          <Empty title="No predictions with a latency" />
                        )}
                      </figure>
                    </div>
                    <h2>By OS version</h2>
                    <Breakdown title="OS version" testid="by-os-version" rows={(sum.os_versions ?? []).map((d) => [d.os_version, d])} />
                    <h2>By app version</h2>
                    <Breakdown title="App version" testid="by-app-version" rows={(sum.app_versions ?? []).map((d) => [d.app_version, d])} />
                    <Failures sum={sum} />
                  </>
                )}
              </>
            );
          }}
        </Loaded>
      )}
    </section>
  );
}

const rate = (r: number | null | undefined) => (r === null || r === undefined ? '—' : `${formatNumber(Number((r * 100).toFixed(2)))}%`);
const ms = (v: number | null) => (v === null ? '—' : `${formatNumber(Number(v.toPrecision(3)))} ms`);

/** Event counts, failure rate and latency for each value of one field. */
function Breakdown({ title, testid, rows }: { title: string; testid: string; rows: [string, TelemetryRow][] }) {
  return (
    <div class="scroll-x">
      <table class="grid" data-testid={testid}>
        <thead>
          <tr>
            <th>{title}</th>
            {kinds.map((k) => (
              <th class="num">{k}</th>
            ))}
            <th class="num">failure rate</th>
            <th class="num">p50 latency</th>
            <th class="num">p95 latency</th>
          </tr>
        </thead>
        <tbody>
          {rows.map(([name, d]) => (
            <tr data-device={testid === 'telemetry-summary' ? name : undefined} data-value={name}>
              <td class="mono">{name}</td>
              {kinds.map((k) => (
                <td class={`num${k === 'failed' && d.counts[k] ? ' inline-error' : ''}`}>{d.counts[k] ?? 0}</td>
              ))}
              <td class={`num${d.failure_rate ? ' inline-error' : ''}`}>{rate(d.failure_rate)}</td>
              <td class="num">{ms(d.p50_latency_ms)}</td>
              <td class="num">{ms(d.p95_latency_ms)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** This version against the one it replaced on its channel, over the same range and devices. */
function Versus({ version, prev, sum }: { version: string; prev: { version: string; channel: string; sum: TelemetrySummary }; sum: TelemetrySummary }) {
  const classes = [...new Set([...sum.devices, ...prev.sum.devices].map((d) => d.device_class))].sort();
  const row = (s: TelemetrySummary, d: string) => s.devices.find((x) => x.device_class === d);
  const delta = (a: number | null | undefined, b: number | null | undefined) =>
    a === null || a === undefined || b === null || b === undefined ? '' : a > b ? 'worse' : a < b ? 'better' : '';
  return (
    <div class="panel" data-testid="versus-previous">
      <h2>
        v{version} against v{prev.version} <span class="hint">· the version it replaced on {prev.channel}</span>
      </h2>
      <table class="grid">
        <thead>
          <tr>
            <th>Device class</th>
            <th class="num">events v{version}</th>
            <th class="num">events v{prev.version}</th>
            <th class="num">failure rate v{version}</th>
            <th class="num">failure rate v{prev.version}</th>
            <th class="num">p50 v{version}</th>
            <th class="num">p50 v{prev.version}</th>
          </tr>
        </thead>
        <tbody>
          <tr data-value="all">
            <td>all</td>
            <td class="num">{sum.total}</td>
            <td class="num">{prev.sum.total}</td>
            <td class={`num ${delta(sum.failure_rate, prev.sum.failure_rate)}`}>{rate(sum.failure_rate)}</td>
            <td class="num">{rate(prev.sum.failure_rate)}</td>
            <td />
            <td />
          </tr>
          {classes.map((d) => {
            const a = row(sum, d);
            const b = row(prev.sum, d);
            const total = (r?: TelemetryRow) => (r ? Object.values(r.counts).reduce((x, y) => x + y, 0) : 0);
            return (
              <tr data-value={d}>
                <td class="mono">{d}</td>
                <td class="num">{total(a)}</td>
                <td class="num">{total(b)}</td>
                <td class={`num ${delta(a?.failure_rate, b?.failure_rate)}`}>{rate(a?.failure_rate)}</td>
                <td class="num">{rate(b?.failure_rate)}</td>
                <td class={`num ${delta(a?.p50_latency_ms, b?.p50_latency_ms)}`}>{ms(a?.p50_latency_ms ?? null)}</td>
                <td class="num">{ms(b?.p50_latency_ms ?? null)}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

/** The newest failures by the time they happened on the device (the server orders them). */
function Failures({ sum }: { sum: TelemetrySummary }) {
  if (!sum.latest_failures.length) return null;
  return (
    <div class="panel">
      <h2>Latest failures</h2>
      <table class="grid" data-testid="latest-failures">
        <tbody>
          {sum.latest_failures.map((e) => (
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

function EventsChart({ sum }: { sum: TelemetrySummary }) {
  const b = sum.buckets!;
  const xs = b.start.map((t) => t / 1000);
  const series: [string, string, number[]][] = kinds.filter((k) => b.counts[k]).map((k) => [k, kindColor[k], b.counts[k]]);
  return <TimeChart xs={xs} series={series} stepped unit="" />;
}

function LatencyChart({ sum }: { sum: TelemetrySummary }) {
  const b = sum.buckets!;
  const xs = b.start.map((t) => t / 1000);
  const series: [string, string, (number | null)[]][] = Object.keys(b.latency_p50_ms)
    .sort()
    .map((d, i) => [d, runColor(i), b.latency_p50_ms[d]]);
  return <TimeChart xs={xs} series={series} unit=" ms" />;
}
