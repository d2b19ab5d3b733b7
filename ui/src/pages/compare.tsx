// Runs side by side (`#/compare?runs=a,b`): params, latest metrics and tags, differences marked,
// then their metrics charted together.
import { getRun, runName, tagValue, type Run } from '../api';
import { swatchStyle } from '../chart';
import { href, type Route } from '../route';
import { Empty, formatDuration, formatNumber, formatTime, Loaded, Status, useLoad } from '../ui';
import { MetricCharts, runIds } from './charts';

type Getter = (r: Run, key: string) => string | undefined;
const param: Getter = (r, k) => r.data.params?.find((p) => p.key === k)?.value;
const metric: Getter = (r, k) => {
  const m = r.data.metrics?.find((x) => x.key === k);
  return m ? formatNumber(m.value) : undefined;
};
const tag: Getter = (r, k) => tagValue(r, k);

function Section({ title, runs, keys, value }: { title: string; runs: Run[]; keys: string[]; value: Getter }) {
  if (!keys.length) return null;
  return (
    <>
      <tr class="section">
        <th colSpan={runs.length + 1}>{title}</th>
      </tr>
      {keys.map((k) => {
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
          return (
            <>
              <div class="crumbs">
                <a href={href(['experiments', runs[0].info.experiment_id])}>Back to the runs</a>
              </div>
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
                    <Section title="Params" runs={runs} keys={keys((r) => r.data.params)} value={param} />
                    <Section title="Metrics" runs={runs} keys={keys((r) => r.data.metrics)} value={metric} />
                    <Section title="Tags" runs={runs} keys={keys((r) => r.data.tags, (k) => k.startsWith('mlflow.'))} value={tag} />
                  </tbody>
                </table>
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
