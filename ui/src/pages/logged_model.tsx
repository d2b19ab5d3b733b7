// One MLflow 3 logged model: its facts, params, tags, files (with the Core ML model card when it
// is one), the run that produced it and the registry versions made from it.
import { getLoggedModel, listLoggedModelArtifacts, type LoggedModel } from '../api';
import { href, type Route } from '../route';
import { Empty, ErrorBox, formatBytes, formatTime, Loading, useLoad } from '../ui';

export function LoggedModelPage({ modelId }: { route: Route; modelId: string }) {
  const [load, reload] = useLoad((s) => getLoggedModel(modelId, s), [modelId]);
  if (load.state === 'loading') return <Loading what="logged model" />;
  if (load.state === 'error') return <ErrorBox error={load.error} retry={reload} />;
  if (load.data.info.model_id !== modelId) return <Loading what="logged model" />;
  return <LoggedModelView model={load.data} />;
}

/** The registry versions MLflow's client recorded on the model (tag mlflow.modelVersions). */
function registered(model: LoggedModel): { name: string; version: string }[] {
  const tag = model.info.tags?.find((t) => t.key === 'mlflow.modelVersions')?.value;
  if (!tag) return [];
  try {
    const list = JSON.parse(tag);
    return Array.isArray(list) ? list.map((v) => ({ name: String(v.name), version: String(v.version) })) : [];
  } catch {
    return [];
  }
}

function LoggedModelView({ model }: { model: LoggedModel }) {
  const i = model.info;
  const versions = registered(model);
  const tags = (i.tags ?? []).filter((t) => t.key !== 'mlflow.modelVersions');
  return (
    <>
      <div class="page-head">
        <div>
          <div class="crumbs">
            <a href={href(['experiments'])}>Experiments</a> / <a href={href(['experiments', i.experiment_id])}>Experiment {i.experiment_id}</a> /
          </div>
          <h1>
            {i.name} <span class="chip">{i.status.replace('LOGGED_MODEL_', '').toLowerCase()}</span>
          </h1>
        </div>
      </div>
      <dl class="facts" data-testid="logged-model-facts">
        <dt>Model ID</dt>
        <dd class="mono">{i.model_id}</dd>
        <dt>Type</dt>
        <dd>{i.model_type || '—'}</dd>
        <dt>Created</dt>
        <dd>{formatTime(i.creation_timestamp_ms)}</dd>
        <dt>Source run</dt>
        <dd>{i.source_run_id ? <a href={href(['runs', i.source_run_id])}>{i.source_run_id.slice(0, 8)}</a> : '—'}</dd>
        <dt>Location</dt>
        <dd class="mono">{i.artifact_uri}</dd>
        <dt>Registered</dt>
        <dd data-testid="logged-model-versions">
          {versions.length
            ? versions.map((v) => (
                <a class="chip" href={href(['models', v.name], { version: v.version })}>
                  {v.name} v{v.version}
                </a>
              ))
            : '—'}
        </dd>
      </dl>
      <div class="columns">
        <KeyValues title="Params" items={model.data.params ?? []} />
        <KeyValues title="Tags" items={tags} />
      </div>
      <Files modelId={i.model_id} />
    </>
  );
}

function KeyValues({ title, items }: { title: string; items: { key: string; value: string }[] }) {
  return (
    <div class="panel">
      <h2>{title}</h2>
      {items.length ? (
        <table class="grid">
          <tbody>
            {items.map((p) => (
              <tr>
                <td>{p.key}</td>
                <td class="mono">{p.value}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : (
        <div class="hint">None</div>
      )}
    </div>
  );
}

function Files({ modelId }: { modelId: string }) {
  const [load, reload] = useLoad((s) => listLoggedModelArtifacts(modelId, s), [modelId]);
  if (load.state === 'loading') return <Loading what="files" />;
  if (load.state === 'error') return <ErrorBox error={load.error} retry={reload} />;
  if (!load.data.length) return <Empty title="No files">Nothing has been uploaded for this model.</Empty>;
  return (
    <div class="panel">
      <h2>Files</h2>
      <table class="grid" data-testid="logged-model-files">
        <tbody>
          {load.data.map((f) => (
            <tr>
              <td class="mono">{f.path}</td>
              <td>{f.is_dir ? 'folder' : formatBytes(f.file_size ?? 0)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
