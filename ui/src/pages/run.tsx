// One run: its info, description, params, latest metrics, tags, parent and children, datasets,
// logs, artifacts and charts; rename, delete/restore, description and tag editing.
import { useState } from 'preact/hooks';
import {
  ApiError,
  deleteRun,
  deleteRunTag,
  getRun,
  listArtifacts,
  readArtifactText,
  renameRun,
  restoreRun,
  runName,
  searchRuns,
  setRunTag,
  tagValue,
  type Run,
} from '../api';
import { href, type Route } from '../route';
import { act, Empty, formatBytes, formatDuration, formatNumber, formatTime, Loaded, Status, useLoad } from '../ui';
import { MetricCharts } from './charts';
import { Markdown } from '../markdown';

const parentTag = 'mlflow.parentRunId';
const noteTag = 'mlflow.note.content';

export function RunPage({ route, runId }: { route: Route; runId: string }) {
  const [load, reload] = useLoad((s) => getRun(runId, s), [runId]);
  // The previous run stays in `load` while this one loads; it must not be shown under this URL.
  const current = load.state === 'ok' && load.data.info.run_id !== runId ? ({ state: 'loading' } as const) : load;
  return (
    <section class="page">
      <Loaded load={current} what="run" retry={reload}>
        {(run) => <RunView key={run.info.run_id} route={route} run={run} onChange={reload} />}
      </Loaded>
    </section>
  );
}

function RunView({ route, run, onChange }: { route: Route; run: Run; onChange: () => void }) {
  const i = run.info;
  const parent = tagValue(run, parentTag);
  const note = tagValue(run, noteTag);
  const [showSystem, setShowSystem] = useState(false);
  const tags = (run.data.tags ?? []).filter((t) => t.key !== noteTag && (showSystem || !t.key.startsWith('mlflow.')));
  const hidden = (run.data.tags ?? []).filter((t) => t.key.startsWith('mlflow.') && t.key !== noteTag).length;
  return (
    <>
      <div class="page-head">
        <div>
          <div class="crumbs">
            <a href={href(['experiments'])}>Experiments</a> / <a href={href(['experiments', i.experiment_id])}>Experiment {i.experiment_id}</a> /
          </div>
          <RunTitle run={run} onChange={onChange} />
        </div>
        <div class="toolbar">
          <LifecycleButton run={run} onChange={onChange} />
          <a class="button" href={href(['runs', i.run_id, 'artifacts'])}>
            Artifacts
          </a>
          <a class="button" href={href(['charts'], { runs: i.run_id })}>
            Charts
          </a>
        </div>
      </div>
      <dl class="facts">
        <dt>Run ID</dt>
        <dd class="mono">{i.run_id}</dd>
        <dt>Started</dt>
        <dd>{formatTime(i.start_time)}</dd>
        <dt>Duration</dt>
        <dd>{formatDuration(i.start_time, i.end_time)}</dd>
        <dt>User</dt>
        <dd>{i.user_id || tagValue(run, 'mlflow.user') || '—'}</dd>
        <dt>Source</dt>
        <dd class="mono">{tagValue(run, 'mlflow.source.name') || '—'}</dd>
        {parent && (
          <>
            <dt>Parent run</dt>
            <dd>
              <a class="mono" href={href(['runs', parent])} data-testid="parent-link">
                {parent}
              </a>
            </dd>
          </>
        )}
      </dl>
      <Description run={run} note={note} onChange={onChange} />
      <div class="columns">
        <div class="panel">
          <h2>Metrics</h2>
          {run.data.metrics?.length ? (
            <table class="grid kv" data-testid="metrics">
              <thead>
                <tr>
                  <th>Key</th>
                  <th>Latest</th>
                  <th>Step</th>
                </tr>
              </thead>
              <tbody>
                {[...run.data.metrics].sort((a, b) => a.key.localeCompare(b.key)).map((m) => (
                  <tr>
                    <td>
                      <a href={href(['charts'], { runs: i.run_id, keys: m.key })}>{m.key}</a>
                    </td>
                    <td class="num">{formatNumber(m.value)}</td>
                    <td class="num">{m.step}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          ) : (
            <p class="hint">No metrics logged.</p>
          )}
        </div>
        <div class="panel">
          <h2>Params</h2>
          {run.data.params?.length ? (
            <table class="grid kv" data-testid="params">
              <tbody>
                {[...run.data.params].sort((a, b) => a.key.localeCompare(b.key)).map((p) => (
                  <tr>
                    <td>{p.key}</td>
                    <td class="mono">{p.value}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          ) : (
            <p class="hint">No params logged.</p>
          )}
        </div>
      </div>
      <div class="panel">
        <h2>
          Tags{' '}
          {hidden > 0 && (
            <button type="button" class="quiet" onClick={() => setShowSystem(!showSystem)}>
              {showSystem ? 'Hide' : 'Show'} {hidden} mlflow.* tags
            </button>
          )}
        </h2>
        {tags.length ? (
          <table class="grid kv" data-testid="tags">
            <tbody>
              {tags.map((t) => (
                <tr data-tag={t.key}>
                  <td>{t.key}</td>
                  <td class="mono">{t.value}</td>
                  <td class="actions">
                    <button type="button" class="quiet danger" aria-label={`Delete tag ${t.key}`} onClick={() => act(() => deleteRunTag(i.run_id, t.key), onChange)}>
                      Delete
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        ) : (
          <p class="hint">No tags.</p>
        )}
        <TagForm run={run} onChange={onChange} />
      </div>
      <Children run={run} />
      <Datasets run={run} />
      <LoggedModels run={run} />
      <Logs run={run} />
      <div class="panel">
        <h2>
          Artifacts <a href={href(['runs', i.run_id, 'artifacts'])}>browse</a>
        </h2>
        <TopArtifacts run={run} />
      </div>
      {(run.data.metrics?.length ?? 0) > 0 && (
        <div class="panel">
          <h2>Charts</h2>
          <MetricCharts route={route} runs={[run]} limit={6} />
        </div>
      )}
    </>
  );
}

function Children({ run }: { run: Run }) {
  const [load] = useLoad(
    (s) =>
      searchRuns(
        { experiment_ids: [run.info.experiment_id], filter: `tags.\`${parentTag}\` = '${run.info.run_id}'`, max_results: 200 },
        s,
      ),
    [run.info.run_id],
  );
  if (load.state === 'ok' && !load.data.runs?.length) return null;
  return (
    <div class="panel">
      <h2>Child runs</h2>
      <Loaded load={load} what="child runs">
        {(r) => (
          <ul class="links" data-testid="children">
            {r.runs!.map((c) => (
              <li>
                <a href={href(['runs', c.info.run_id])}>{runName(c)}</a> <Status status={c.info.status} />
              </li>
            ))}
          </ul>
        )}
      </Loaded>
    </div>
  );
}

function Datasets({ run }: { run: Run }) {
  const inputs = run.inputs?.dataset_inputs ?? [];
  if (!inputs.length) return null;
  return (
    <div class="panel">
      <h2>Datasets</h2>
      <table class="grid" data-testid="datasets">
        <thead>
          <tr>
            <th>Name</th>
            <th>Digest</th>
            <th>Context</th>
            <th>Source</th>
          </tr>
        </thead>
        <tbody>
          {inputs.map((d) => (
            <tr>
              <td>{d.dataset.name}</td>
              <td class="mono">{d.dataset.digest}</td>
              <td>{d.tags?.find((t) => t.key === 'mlflow.data.context')?.value ?? '—'}</td>
              <td class="mono">
                {d.dataset.source_type ? `${d.dataset.source_type}: ` : ''}
                {d.dataset.source}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function RunTitle({ run, onChange }: { run: Run; onChange: () => void }) {
  const [editing, setEditing] = useState(false);
  const [name, setName] = useState(runName(run));
  if (!editing) {
    return (
      <h1>
        {runName(run)} <Status status={run.info.status} />
        {run.info.lifecycle_stage === 'deleted' && <span class="chip danger">deleted</span>}{' '}
        <button type="button" class="quiet" onClick={() => setEditing(true)}>
          Rename
        </button>
      </h1>
    );
  }
  return (
    <form
      class="inline"
      onSubmit={(e) => {
        e.preventDefault();
        act(() => renameRun(run.info.run_id, name.trim()), () => {
          setEditing(false);
          onChange();
        });
      }}
    >
      <input aria-label="Run name" value={name} onInput={(e) => setName((e.target as HTMLInputElement).value)} autoFocus />
      <button type="submit">Save</button>
      <button type="button" class="quiet" onClick={() => setEditing(false)}>
        Cancel
      </button>
    </form>
  );
}

function LifecycleButton({ run, onChange }: { run: Run; onChange: () => void }) {
  const id = run.info.run_id;
  if (run.info.lifecycle_stage === 'deleted') {
    return (
      <button type="button" onClick={() => act(() => restoreRun(id), onChange)}>
        Restore
      </button>
    );
  }
  return (
    <button
      type="button"
      class="danger"
      onClick={() => confirm(`Delete run “${runName(run)}”? It can be restored.`) && act(() => deleteRun(id), onChange)}
    >
      Delete
    </button>
  );
}

function Description({ run, note, onChange }: { run: Run; note?: string; onChange: () => void }) {
  const [editing, setEditing] = useState(false);
  const [text, setText] = useState(note ?? '');
  return (
    <div class="panel">
      <h2>
        Description{' '}
        {!editing && (
          <button type="button" class="quiet" onClick={() => setEditing(true)}>
            Edit
          </button>
        )}
      </h2>
      {editing ? (
        <form
          onSubmit={(e) => {
            e.preventDefault();
            act(() => setRunTag(run.info.run_id, noteTag, text), () => {
              setEditing(false);
              onChange();
            });
          }}
        >
          <textarea aria-label="Description" rows={5} value={text} onInput={(e) => setText((e.target as HTMLTextAreaElement).value)} />
          <div>
            <button type="submit">Save</button>{' '}
            <button type="button" class="quiet" onClick={() => setEditing(false)}>
              Cancel
            </button>
          </div>
        </form>
      ) : note ? (
        <Markdown class="note" source={note} />
      ) : (
        <p class="hint">No description.</p>
      )}
    </div>
  );
}

function TagForm({ run, onChange }: { run: Run; onChange: () => void }) {
  const [key, setKey] = useState('');
  const [value, setValue] = useState('');
  return (
    <form
      class="inline"
      onSubmit={(e) => {
        e.preventDefault();
        if (!key.trim()) return;
        act(() => setRunTag(run.info.run_id, key.trim(), value), () => {
          setKey('');
          setValue('');
          onChange();
        });
      }}
    >
      <input aria-label="New tag key" placeholder="key" value={key} onInput={(e) => setKey((e.target as HTMLInputElement).value)} />
      <input aria-label="New tag value" placeholder="value" value={value} onInput={(e) => setValue((e.target as HTMLInputElement).value)} />
      <button type="submit">Add tag</button>
    </form>
  );
}

/** MLflow 3: the logged models this run produced. */
function LoggedModels({ run }: { run: Run }) {
  const outputs = run.outputs?.model_outputs ?? [];
  if (!outputs.length) return null;
  return (
    <div class="panel">
      <h2>Logged models</h2>
      <table class="grid" data-testid="logged-models">
        <tbody>
          {outputs.map((o) => (
            <tr>
              <td>
                <a class="mono" href={href(['logged-models', o.model_id])}>
                  {o.model_id}
                </a>
              </td>
              <td>step {o.step ?? 0}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

const logLimit = 256 * 1024;

/** logs/stdout.txt and logs/stderr.txt, when the run has them; each loads (or fails) alone. */
function Logs({ run }: { run: Run }) {
  const [load] = useLoad(
    async (s) => {
      let files;
      try {
        files = await listArtifacts(run, 'logs', s);
      } catch (e) {
        if (e instanceof ApiError && e.status === 404) return [];
        throw e;
      }
      return ['stdout.txt', 'stderr.txt'].filter((n) => files.some((f) => f.path.replace(/^.*\//, '') === n));
    },
    [run.info.run_id],
  );
  if (load.state === 'ok' && load.data.length === 0) return null;
  return (
    <div class="panel">
      <h2>Logs</h2>
      <Loaded load={load} what="logs">
        {(names) => names.map((n) => <LogFile key={`${run.info.run_id}/${n}`} run={run} name={n} />)}
      </Loaded>
    </div>
  );
}

function LogFile({ run, name }: { run: Run; name: string }) {
  const [load, reload] = useLoad((s) => readArtifactText(run, `logs/${name}`, logLimit, s), [run.info.run_id, name]);
  return (
    <details open>
      <summary class="mono">logs/{name}</summary>
      <Loaded load={load} what={name} retry={reload}>
        {(l) => (
          <pre class="log" data-testid={`log-${name}`}>
            {l.text || '(empty)'}
            {l.truncated && `\n… cut at ${formatBytes(logLimit)}; download the whole file from the artifacts.`}
          </pre>
        )}
      </Loaded>
    </details>
  );
}

function TopArtifacts({ run }: { run: Run }) {
  const [load, reload] = useLoad((s) => listArtifacts(run, '', s), [run.info.run_id]);
  return (
    <Loaded load={load} what="artifacts" retry={reload}>
      {(files) =>
        files.length === 0 ? (
          <p class="hint">No artifacts logged.</p>
        ) : (
          <ul class="links">
            {files.map((f) => {
              const name = f.path.replace(/^.*\//, '');
              return (
                <li>
                  <a href={href(['runs', run.info.run_id, 'artifacts', ...name.split('/')])}>
                    <span class={`ico ${f.is_dir ? 'dir' : 'file'}`} />
                    {name}
                  </a>{' '}
                  <span class="hint">{f.is_dir ? '' : formatBytes(f.file_size)}</span>
                </li>
              );
            })}
          </ul>
        )
      }
    </Loaded>
  );
}
