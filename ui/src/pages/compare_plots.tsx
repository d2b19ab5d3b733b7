// The compare page's plots, drawn as SVG: parallel coordinates of params to a chosen metric, and
// a scatter of any two params or metrics. Each run keeps its colour from the compare table.
import { useState } from 'preact/hooks';
import { runName, toNumber, type Run } from '../api';
import { runColor, runDash } from '../chart';
import { formatNumber } from '../ui';

/** A column of values, one per run: "params.lr", "metrics.loss". */
export type Field = string;
export function fieldValue(r: Run, f: Field): string | number | undefined {
  const [kind, ...rest] = f.split('.');
  const key = rest.join('.');
  if (kind === 'metrics') {
    const m = r.data.metrics?.find((x) => x.key === key);
    return m ? toNumber(m.value) : undefined;
  }
  return r.data.params?.find((p) => p.key === key)?.value;
}

/** An axis over the runs' values of a field: numeric when every value is a number, else ordinal. */
interface Axis {
  field: Field;
  numeric: boolean;
  ticks: { label: string; at: number }[];
  at: (v: string | number | undefined) => number | null; // 0 (bottom) .. 1 (top)
}
function axisOf(runs: Run[], field: Field): Axis {
  const vals = runs.map((r) => fieldValue(r, field)).filter((v): v is string | number => v !== undefined);
  const nums = vals.map(Number);
  if (vals.length && nums.every(Number.isFinite)) {
    const lo = Math.min(...nums);
    const hi = Math.max(...nums);
    const at = (v: string | number | undefined) => (v === undefined || !Number.isFinite(Number(v)) ? null : hi === lo ? 0.5 : (Number(v) - lo) / (hi - lo));
    const ticks = hi === lo ? [{ label: formatNumber(lo), at: 0.5 }] : [{ label: formatNumber(lo), at: 0 }, { label: formatNumber(hi), at: 1 }];
    return { field, numeric: true, ticks, at };
  }
  const cats = [...new Set(vals.map(String))].sort();
  const at = (v: string | number | undefined) => (v === undefined ? null : cats.length < 2 ? 0.5 : cats.indexOf(String(v)) / (cats.length - 1));
  return { field, numeric: false, ticks: cats.map((c) => ({ label: c, at: at(c)! })), at };
}
const short = (f: Field) => f.replace(/^(params|metrics)\./, '');

function Picker({ label, value, fields, onChange }: { label: string; value: Field; fields: Field[]; onChange: (f: Field) => void }) {
  return (
    <label>
      {label}{' '}
      <select aria-label={label} value={value} onChange={(e) => onChange((e.target as HTMLSelectElement).value)}>
        {fields.map((f) => (
          <option value={f}>{f}</option>
        ))}
      </select>
    </label>
  );
}

const W = 640;
const H = 260;
const PAD = { l: 48, r: 48, t: 24, b: 36 };

/** Parallel coordinates: one axis per param, the chosen metric last; a line per run. */
export function ParallelPlot({ runs, params, metrics }: { runs: Run[]; params: string[]; metrics: string[] }) {
  const [metric, setMetric] = useState(metrics[0] ?? '');
  if (!params.length || !metrics.length) return null;
  // Past a dozen axes the lines are unreadable at this width; the table has the rest.
  const shown = params.slice(0, 12);
  const axes = [...shown.map((p) => axisOf(runs, 'params.' + p)), axisOf(runs, 'metrics.' + (metrics.includes(metric) ? metric : metrics[0]))];
  const x = (i: number) => PAD.l + (axes.length < 2 ? 0 : (i * (W - PAD.l - PAD.r)) / (axes.length - 1));
  const y = (t: number) => PAD.t + (1 - t) * (H - PAD.t - PAD.b);
  return (
    <figure class="chart plot" data-testid="parallel-plot">
      <figcaption>
        <strong>Params → metric</strong>{' '}
        <Picker label="Metric" value={metric} fields={metrics} onChange={setMetric} />
        {shown.length < params.length && <span class="hint"> · the first {shown.length} of {params.length} differing params</span>}
      </figcaption>
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-label={`Parallel coordinates of ${shown.join(', ')} to ${metric}`}>
        {axes.map((a, i) => (
          <g class="axis" data-field={a.field}>
            <line x1={x(i)} x2={x(i)} y1={y(0)} y2={y(1)} />
            <text x={x(i)} y={H - 14} text-anchor="middle" class="axis-name">
              {short(a.field)}
            </text>
            {a.ticks.map((t) => (
              <text x={x(i) + 4} y={y(t.at) + 4} class="tick">
                {t.label}
              </text>
            ))}
          </g>
        ))}
        {runs.map((r, k) => {
          const pts = axes.map((a, i) => [x(i), a.at(fieldValue(r, a.field))] as const);
          const d = pts
            .filter(([, t]) => t !== null)
            .map(([px, t], i) => `${i ? 'L' : 'M'}${px.toFixed(1)},${y(t!).toFixed(1)}`)
            .join('');
          return (
            <path d={d} class="run-line" data-run={r.info.run_id} stroke={runColor(k)} stroke-dasharray={runDash(k)?.join(' ')}>
              <title>{runName(r)}</title>
            </path>
          );
        })}
      </svg>
    </figure>
  );
}

/** Two chosen params or metrics against each other, a point per run. */
export function ScatterPlot({ runs, fields }: { runs: Run[]; fields: Field[] }) {
  const numeric = fields.filter((f) => axisOf(runs, f).numeric);
  // By default the first numeric param against the first metric: what a sweep is read for.
  const [fx, setX] = useState(numeric.find((f) => f.startsWith('params.')) ?? numeric[0] ?? '');
  const [fy, setY] = useState(numeric.find((f) => f.startsWith('metrics.')) ?? numeric[1] ?? numeric[0] ?? '');
  if (numeric.length < 1) return null;
  const ax = axisOf(runs, numeric.includes(fx) ? fx : numeric[0]);
  const ay = axisOf(runs, numeric.includes(fy) ? fy : numeric[0]);
  const x = (t: number) => PAD.l + t * (W - PAD.l - PAD.r);
  const y = (t: number) => PAD.t + (1 - t) * (H - PAD.t - PAD.b);
  return (
    <figure class="chart plot" data-testid="scatter-plot">
      <figcaption>
        <strong>Scatter</strong> <Picker label="X" value={ax.field} fields={numeric} onChange={setX} />{' '}
        <Picker label="Y" value={ay.field} fields={numeric} onChange={setY} />
      </figcaption>
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-label={`${ay.field} against ${ax.field}`}>
        <line class="frame" x1={x(0)} x2={x(1)} y1={y(0)} y2={y(0)} />
        <line class="frame" x1={x(0)} x2={x(0)} y1={y(0)} y2={y(1)} />
        <text x={(x(0) + x(1)) / 2} y={H - 6} text-anchor="middle" class="axis-name">
          {short(ax.field)}
        </text>
        <text x={12} y={(y(0) + y(1)) / 2} text-anchor="middle" class="axis-name" transform={`rotate(-90 12 ${(y(0) + y(1)) / 2})`}>
          {short(ay.field)}
        </text>
        {ax.ticks.map((t) => (
          <text x={x(t.at)} y={y(0) + 14} text-anchor="middle" class="tick">
            {t.label}
          </text>
        ))}
        {ay.ticks.map((t) => (
          <text x={x(0) - 4} y={y(t.at) + 4} text-anchor="end" class="tick">
            {t.label}
          </text>
        ))}
        {runs.map((r, k) => {
          const vx = fieldValue(r, ax.field);
          const vy = fieldValue(r, ay.field);
          const tx = ax.at(vx);
          const ty = ay.at(vy);
          if (tx === null || ty === null) return null;
          return (
            <circle cx={x(tx)} cy={y(ty)} r={5} fill={runColor(k)} data-run={r.info.run_id} data-x={String(vx)} data-y={String(vy)}>
              <title>{`${runName(r)}: ${short(ax.field)} ${formatNumber(Number(vx))}, ${short(ay.field)} ${formatNumber(Number(vy))}`}</title>
            </circle>
          );
        })}
      </svg>
    </figure>
  );
}
