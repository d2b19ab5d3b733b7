// Runs side by side (`#/compare?runs=a,b`): params, latest metrics and tags, differences marked
// (or alone, `diff=1`), params against a metric in parallel coordinates, two fields in a scatter,
// then their metrics charted together.
import { getRun, runName, tagValue, type Run } from '../api';
import { swatchStyle } from '../chart';
import { href, setQuery, type Route } from '../route';
import { Empty, formatDuration, formatNumber, formatTime, Loaded, Status, useLoad } from '../ui';
import { MetricCharts, runIds } from './charts';
import { ParallelPlot, ScatterPlot } from './compare_plots';

type Getter = (r: Run, key: string) => string | undefined;
const param: Getter = (r, k) => r.data.params?.find((p) => p.key === k)?.value;
const metric: Getter = (r, k) => {
  const m = r.data.metrics?.find((x) => x.key === k);
  return m ? formatNumber(m.value) : undefined;
};
const tag: Getter = (r, k) => tagValue(r, k);

const differs = (runs: Run[], k: string, value: Getter) => new Set(runs.map((r) => value(r, k))).size > 1;

function Section({ title, runs, keys, value, onlyDiffs }: { title: string; runs: Run[]; keys: string[]; value: Getter; onlyDiffs: boolean }) {
  const shown = onlyDiffs ? keys.filter((k) => differs(runs, k, value)) : keys;
  if (!keys.length) return null;
  return (
    <>
      <tr class="section">
        <th colSpan={runs.length + 1}>
          {title}
          {onlyDiffs && shown.length < keys.length && <span class="hint"> · {keys.length - shown.length} equal hidden</span>}
        </th>
      </tr>
      {shown.map((k) => {
        const vals = runs.map((r) => value(r, k));
        const differs = new Set(vals).size > 1;
        return (
          <tr class={differs ? 'differs' : ''} data-key={k}>
            <th class="mono">{k}</th>
            {vals.map((v) => (
              <td class="mono">{v ?? <span class="hint">—</span>}</td>
            ))}
          </tr>
        );
      })}
    </>
  );
}

export function ComparePage({ route }: { route: Route }) {
  const ids = runIds(route);
  const onlyDiffs = route.query.get('diff') === '1';
  const [load, reload] = useLoad((s) => Promise.all(ids.map((id) => getRun(id, s))), [ids.join()]);
  if (ids.length < 2) return <Empty title="Pick at least two runs">Select runs in an experiment's table, then press Compare.</Empty>;
  return (
    <section class="page">
      <div class="page-head">
        <h1>Compare {ids.length} runs</h1>
      </div>
      <Loaded load={load} what="runs" retry={reload}>
        {(runs) => {
          const keys = (pick: (r: Run) => { key: string }[] | undefined, skip = (_: string) => false) =>
            [...new Set(runs.flatMap((r) => (pick(r) ?? []).map((x) => x.key)))].filter((k) => !skip(k)).sort();
          const params = keys((r) => r.data.params);
          const metrics = keys((r) => r.data.metrics);
          return (
            <>
              <div class="crumbs">
                <a href={href(['experiments', runs[0].info.experiment_id])}>Back to the runs</a>
              </div>
              <label class="check">
                <input type="checkbox" checked={onlyDiffs} onChange={(e) => setQuery(route, { diff: (e.target as HTMLInputElement).checked ? '1' : undefined }, false)} />
                Show differences only
              </label>
              <div class="scroll-x">
                <table class="grid compare" data-testid="compare-table">
                  <thead>
                    <tr>
                      <th />
                      {runs.map((r, i) => (
                        <th>
                          <span class="swatch" style={swatchStyle(i)} />
                          <a href={href(['runs', r.info.run_id])}>{runName(r)}</a>
                        </th>
                      ))}
                    </tr>
                  </thead>
                  <tbody>
                    <tr>
                      <th>Status</th>
                      {runs.map((r) => (
                        <td>
                          <Status status={r.info.status} />
                        </td>
                      ))}
                    </tr>
                    <tr>
                      <th>Started</th>
                      {runs.map((r) => (
                        <td>{formatTime(r.info.start_time)}</td>
                      ))}
                    </tr>
                    <tr>
                      <th>Duration</th>
                      {runs.map((r) => (
                        <td>{formatDuration(r.info.start_time, r.info.end_time)}</td>
                      ))}
                    </tr>
                    <Section title="Params" runs={runs} keys={params} value={param} onlyDiffs={onlyDiffs} />
                    <Section title="Metrics" runs={runs} keys={metrics} value={metric} onlyDiffs={onlyDiffs} />
                    <Section title="Tags" runs={runs} keys={keys((r) => r.data.tags, (k) => k.startsWith('mlflow.'))} value={tag} onlyDiffs={onlyDiffs} />
                  </tbody>
                </table>
              </div>
              <div class="chart-grid">
                <ParallelPlot runs={runs} params={params.filter((k) => differs(runs, k, param))} metrics={metrics} />
                <ScatterPlot runs={runs} fields={[...params.map((k) => 'params.' + k), ...metrics.map((k) => 'metrics.' + k)]} />
              </div>
              <h2>Metrics</h2>
              <MetricCharts route={route} runs={runs} />
            </>
          );
        }}
      </Loaded>
    </section>
  );
}
