// Charts of one or many runs (`#/charts?runs=a,b&keys=loss`), and the chart panel other pages embed.
import { getRun, runName, type Run } from '../api';
import { Chart, ChartControls, chartOptions, chartQuery, swatchStyle } from '../chart';
import { href, setQuery, type Route } from '../route';
import { Empty, Loaded, useLoad } from '../ui';

/** Every metric key of the runs, with a chart per picked key (URL `keys`, default the first 12). */
export function MetricCharts({ route, runs, limit = 12 }: { route: Route; runs: Run[]; limit?: number }) {
  const all = [...new Set(runs.flatMap((r) => (r.data.metrics ?? []).map((m) => m.key)))].sort();
  const options = chartOptions(route.query);
  const picked = route.query.get('keys');
  const keys = picked !== null ? picked.split(',').filter((k) => all.includes(k)) : all.slice(0, limit);
  if (all.length === 0) return <Empty title="No metrics logged">Metrics logged to these runs are charted here.</Empty>;
  const flip = (k: string) =>
    setQuery(route, { keys: (keys.includes(k) ? keys.filter((x) => x !== k) : [...keys, k]).join(',') || ',' }, false);
  return (
    <div class="charts">
      <ChartControls options={options} onChange={(o) => setQuery(route, chartQuery(o), false)} />
      <div class="chips" aria-label="Metrics">
        {all.map((k) => (
          <button type="button" class={`chip${keys.includes(k) ? ' on' : ''}`} aria-pressed={keys.includes(k)} onClick={() => flip(k)}>
            {k}
          </button>
        ))}
      </div>
      {runs.length > 1 && (
        <div class="legend">
          {runs.map((r, i) => (
            <a href={href(['runs', r.info.run_id])}>
              <span class="swatch" style={swatchStyle(i)} />
              {runName(r)}
            </a>
          ))}
        </div>
      )}
      <div class="chart-grid">
        {keys.map((k) => (
          <Chart key={k} runs={runs} metric={k} options={options} />
        ))}
      </div>
    </div>
  );
}

export const runIds = (route: Route) => (route.query.get('runs') ?? '').split(',').filter(Boolean);

export function ChartsPage({ route }: { route: Route }) {
  const ids = runIds(route);
  const [load, reload] = useLoad((s) => Promise.all(ids.map((id) => getRun(id, s))), [ids.join()]);
  if (!ids.length) return <Empty title="No runs picked">Select runs in an experiment's table, then press Chart.</Empty>;
  return (
    <section class="page">
      <div class="page-head">
        <h1>Charts</h1>
      </div>
      <Loaded load={load} what="runs" retry={reload}>
        {(runs) => (
          <>
            <div class="crumbs">
              <a href={href(['experiments', runs[0].info.experiment_id])}>Back to the runs</a>
            </div>
            <MetricCharts route={route} runs={runs} />
          </>
        )}
      </Loaded>
    </section>
  );
}
