// The model registry: registered models (search by name) and a model's versions, each with its
// stage, aliases, status, Core ML summary and the run it came from; a version's stage, aliases,
// description can be changed and a version deleted.
import {
  coremlVersion,
  deleteAlias,
  deleteVersion,
  getModel,
  searchModels,
  searchVersions,
  setAlias,
  transitionStage,
  updateVersionDescription,
  type ModelVersion,
  type RegisteredModel,
} from '../api';
import { useState } from 'preact/hooks';
import { href, setQuery, type Route } from '../route';
import { act, Empty, ErrorBox, formatBytes, formatTime, Loaded, Loading, Status, useLoad } from '../ui';
import { Features } from './artifacts';
import { ApiError } from '../api';
import { Markdown } from '../markdown';

const nameFilter = (q: string) => (q ? `name ILIKE '%${q.replace(/'/g, "''")}%'` : '');

/** Aliases of a version: the version's own list, else the model's alias → version map. */
function aliasesOf(model: RegisteredModel | undefined, v: ModelVersion): string[] {
  if (v.aliases?.length) return v.aliases;
  const latest = model?.latest_versions?.find((x) => x.version === v.version);
  if (latest?.aliases?.length) return latest.aliases;
  return (model?.aliases ?? []).filter((a) => a.version === v.version).map((a) => a.alias);
}

export function ModelsPage({ route }: { route: Route }) {
  const q = route.query.get('q') ?? '';
  const [load, reload] = useLoad((s) => searchModels(nameFilter(q), s), [q]);
  return (
    <section class="page">
      <div class="page-head">
        <h1>Models</h1>
        <input
          type="search"
          class="search"
          placeholder="Search by name"
          aria-label="Search models by name"
          value={q}
          onInput={(e) => setQuery(route, { q: (e.target as HTMLInputElement).value }, false)}
        />
      </div>
      <Loaded load={load} what="registered models" retry={reload}>
        {(r) =>
          !r.registered_models?.length ? (
            <Empty title={q ? `No model matches “${q}”` : 'No registered models yet'}>
              {q ? 'Try another name.' : (
                <>
                  Register one with <code>ringo models register Model.mlpackage --name NAME</code> or any MLflow client.
                </>
              )}
            </Empty>
          ) : (
            <table class="grid models" data-testid="models-table">
              <thead>
                <tr>
                  <th>Name</th>
                  <th>Latest version</th>
                  <th>Aliases</th>
                  <th>Description</th>
                  <th>Last update</th>
                </tr>
              </thead>
              <tbody>
                {r.registered_models.map((m) => {
                  const latest = [...(m.latest_versions ?? [])].sort((a, b) => Number(b.version) - Number(a.version))[0];
                  return (
                    <tr data-model={m.name}>
                      <td>
                        <a href={href(['models', m.name])}>{m.name}</a>
                      </td>
                      <td>{latest ? <a href={href(['models', m.name], { version: latest.version })}>v{latest.version}</a> : '—'}</td>
                      <td>
                        {(m.aliases ?? []).map((a) => (
                          <span class="chip alias">
                            @{a.alias} → v{a.version}
                          </span>
                        ))}
                      </td>
                      <td>{m.description || <span class="hint">—</span>}</td>
                      <td>{formatTime(m.last_updated_timestamp)}</td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          )
        }
      </Loaded>
    </section>
  );
}

export function ModelPage({ route, name }: { route: Route; name: string }) {
  const [load, reload] = useLoad(async (s) => {
    const [model, versions] = await Promise.all([getModel(name, s), searchVersions(name, s)]);
    versions.sort((a, b) => Number(b.version) - Number(a.version));
    return { model, versions };
  }, [name]);
  const selected = route.query.get('version');
  return (
    <section class="page">
      <div class="page-head">
        <div>
          <div class="crumbs">
            <a href={href(['models'])}>Models</a> /
          </div>
          <h1>{name}</h1>
        </div>
      </div>
      <Loaded load={load} what="model versions" retry={reload}>
        {({ model, versions }) => {
          const current = versions.find((v) => v.version === selected) ?? versions[0];
          return (
            <>
              {model.description && <Markdown class="note" source={model.description} />}
              {!!model.tags?.length && (
                <div class="chips">
                  {model.tags.map((t) => (
                    <span class="chip">
                      {t.key}: {t.value}
                    </span>
                  ))}
                </div>
              )}
              {!versions.length ? (
                <Empty title="No versions yet">
                  Add one with <code>ringo models register FILE --name {name}</code>.
                </Empty>
              ) : (
                <>
                  <div class="panel">
                    <h2>Versions ({versions.length})</h2>
                    <table class="grid versions" data-testid="versions-table">
                      <thead>
                        <tr>
                          <th>Version</th>
                          <th>Stage</th>
                          <th>Aliases</th>
                          <th>Status</th>
                          <th>Run</th>
                          <th>Created</th>
                          <th>Telemetry</th>
                        </tr>
                      </thead>
                      <tbody>
                        {versions.map((v) => (
                          <tr data-version={v.version} class={v === current ? 'on' : ''}>
                            <td>
                              <a href={href(['models', name], { version: v.version })}>v{v.version}</a>
                            </td>
                            <td>{v.current_stage && v.current_stage !== 'None' ? <span class="chip">{v.current_stage}</span> : <span class="hint">—</span>}</td>
                            <td>
                              {aliasesOf(model, v).map((a) => (
                                <span class="chip alias">@{a}</span>
                              ))}
                            </td>
                            <td>{v.status ? <Status status={v.status} /> : '—'}</td>
                            <td class="mono">{v.run_id ? <a href={href(['runs', v.run_id])}>{v.run_id.slice(0, 12)}</a> : '—'}</td>
                            <td>{formatTime(v.creation_timestamp)}</td>
                            <td>
                              <a href={href(['telemetry'], { model: name, version: v.version })}>charts</a>
                            </td>
                          </tr>
                        ))}
                      </tbody>
                    </table>
                  </div>
                  {current && <VersionPanel model={model} version={current} onChange={reload} />}
                </>
              )}
            </>
          );
        }}
      </Loaded>
    </section>
  );
}

function VersionActions({ model, version: v, onChange }: { model: RegisteredModel; version: ModelVersion; onChange: () => void }) {
  const [alias, setAliasText] = useState('');
  const [description, setDescription] = useState(v.description ?? '');
  return (
    <div class="version-actions" data-testid="version-actions">
      <label>
        Stage{' '}
        <select
          aria-label="Stage"
          value={v.current_stage || 'None'}
          onChange={(e) => act(() => transitionStage(model.name, v.version, (e.target as HTMLSelectElement).value), onChange)}
        >
          {['None', 'Staging', 'Production', 'Archived'].map((s) => (
            <option value={s}>{s}</option>
          ))}
        </select>
      </label>
      <form
        class="inline"
        onSubmit={(e) => {
          e.preventDefault();
          if (alias.trim()) act(() => setAlias(model.name, alias.trim(), v.version), () => (setAliasText(''), onChange()));
        }}
      >
        <input aria-label="New alias" placeholder="alias" value={alias} onInput={(e) => setAliasText((e.target as HTMLInputElement).value)} />
        <button type="submit">Set alias</button>
      </form>
      {aliasesOf(model, v).map((a) => (
        <button type="button" class="quiet" aria-label={`Remove alias ${a}`} onClick={() => act(() => deleteAlias(model.name, a), onChange)}>
          @{a} ×
        </button>
      ))}
      <form
        class="inline"
        onSubmit={(e) => {
          e.preventDefault();
          act(() => updateVersionDescription(model.name, v.version, description), onChange);
        }}
      >
        <input aria-label="Version description" placeholder="description" value={description} onInput={(e) => setDescription((e.target as HTMLInputElement).value)} />
        <button type="submit">Save description</button>
      </form>
      <button
        type="button"
        class="quiet danger"
        onClick={() => confirm(`Delete ${model.name} v${v.version}? This cannot be undone.`) && act(() => deleteVersion(model.name, v.version), onChange)}
      >
        Delete version
      </button>
    </div>
  );
}

function VersionPanel({ model, version: v, onChange }: { model: RegisteredModel; version: ModelVersion; onChange: () => void }) {
  return (
    <div class="panel" data-testid="version-panel">
      <h2>
        {model.name} v{v.version}
      </h2>
      <VersionActions key={v.version} model={model} version={v} onChange={onChange} />
      <dl class="facts">
        <dt>Source</dt>
        <dd class="mono">{v.source || '—'}</dd>
        <dt>Lineage</dt>
        <dd>
          {v.run_id ? (
            <a href={href(['runs', v.run_id])} data-testid="lineage-link">
              run {v.run_id}
            </a>
          ) : (
            <span class="hint">not logged from a run</span>
          )}
        </dd>
        {v.description && (
          <>
            <dt>Description</dt>
            <dd>
              <Markdown source={v.description} />
            </dd>
          </>
        )}
        {!!v.tags?.length && (
          <>
            <dt>Tags</dt>
            <dd>
              {v.tags.map((t) => (
                <span class="chip">
                  {t.key}: {t.value}
                </span>
              ))}
            </dd>
          </>
        )}
      </dl>
      <CoreMLSummary name={model.name} version={v.version} />
    </div>
  );
}

function CoreMLSummary({ name, version }: { name: string; version: string }) {
  const [load, reload] = useLoad((s) => coremlVersion(name, version, s), [name, version]);
  if (load.state === 'loading') return <Loading what="Core ML summary" />;
  if (load.state === 'error') {
    if (load.error instanceof ApiError && load.error.status === 404)
      return <Empty title="Not a Core ML model">This version's source is not a .mlmodel or .mlpackage, so there is no Core ML summary.</Empty>;
    return <ErrorBox error={load.error} retry={reload} />;
  }
  if (load.data.problem)
    return <Empty title="Not a readable Core ML model">This version is registered, but it cannot be inspected or deployed: {load.data.problem}</Empty>;
  const { coreml: m, sha256, tree_sha256, size } = load.data;
  return (
    <div data-testid="coreml-summary">
      <h3>Core ML</h3>
      <dl class="facts">
        <dt>Model type</dt>
        <dd>{m.model_type ?? '—'}</dd>
        <dt>Spec version</dt>
        <dd>{m.specification_version ?? '—'}</dd>
        <dt>Minimum OS</dt>
        <dd>
          iOS {m.minimum_ios ?? '—'}
          {m.minimum_macos ? ` · macOS ${m.minimum_macos}` : ''}
        </dd>
        <dt>Parameters</dt>
        <dd>{m.parameter_count !== undefined ? m.parameter_count.toLocaleString() : '—'}</dd>
        <dt>Weight precision</dt>
        <dd>{m.weight_precision ?? '—'}</dd>
        <dt>Size</dt>
        <dd>{formatBytes(size)}</dd>
        {sha256 && (
          <>
            <dt title="The file's SHA-256, as shasum -a 256 prints it">sha256</dt>
            <dd class="mono" data-testid="version-sha256">{sha256}</dd>
          </>
        )}
        {tree_sha256 && (
          <>
            <dt title="A hash of the package's file names and contents (a directory has no sha256 of its own)">tree_sha256</dt>
            <dd class="mono" data-testid="version-tree-sha256">{tree_sha256}</dd>
          </>
        )}
        {!!m.class_labels?.length && (
          <>
            <dt>Class labels</dt>
            <dd>
              {m.class_labels.length}: {m.class_labels.slice(0, 12).map(String).join(', ')}
              {m.class_labels.length > 12 ? ', …' : ''}
            </dd>
          </>
        )}
      </dl>
      <div class="columns">
        <div>
          <Features title="Inputs" features={m.inputs} />
        </div>
        <div>
          <Features title="Outputs" features={m.outputs} />
        </div>
      </div>
    </div>
  );
}
