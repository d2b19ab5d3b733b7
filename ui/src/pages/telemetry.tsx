// Device telemetry of one model version: counts of events by type over time and prediction
// latency per device class (uPlot), with a per-device-class summary. Filter by device class.
// The server aggregates every event (telemetry/summary), so counts are true totals however
// many events a version has.
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import { telemetrySummary, type TelemetrySummary } from '../api';
import { runColor } from '../chart';
import { href, setQuery, type Route } from '../route';
import { Empty, formatNumber, formatTime, Loaded, useLoad } from '../ui';

const kinds = ['downloaded', 'compiled', 'loaded', 'failed', 'prediction'];
const kindColor: Record<string, string> = { downloaded: '#3b82f6', compiled: '#8b5cf6', loaded: '#10b981', failed: '#ef4444', prediction: '#f59e0b' };

export function TelemetryPage({ route }: { route: Route }) {
  const model = route.query.get('model') ?? '';
  const version = route.query.get('version') ?? '';
  const device = route.query.get('device') ?? '';
  const [load, reload] = useLoad(
    (s) => (model && version ? telemetrySummary(model, version, device, s) : Promise.resolve(undefined)),
    [model, version, device],
  );
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
          {(sum) => {
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
                <Summary sum={sum} />
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
                <Failures sum={sum} />
              </>
            );
          }}
        </Loaded>
      )}
    </section>
  );
}

function Summary({ sum }: { sum: TelemetrySummary }) {
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
        {sum.devices.map((d) => (
          <tr data-device={d.device_class}>
            <td class="mono">{d.device_class}</td>
            {kinds.map((k) => (
              <td class={`num${k === 'failed' && d.counts[k] ? ' inline-error' : ''}`}>{d.counts[k] ?? 0}</td>
            ))}
            <td class="num">{d.p50_latency_ms === null ? '—' : `${formatNumber(d.p50_latency_ms)} ms`}</td>
            <td class="num">{d.p95_latency_ms === null ? '—' : `${formatNumber(d.p95_latency_ms)} ms`}</td>
          </tr>
        ))}
      </tbody>
    </table>
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
