// A run's artifacts (`#/runs/<id>/artifacts/<path>`): a lazily listed tree and a preview of the
// selected file: text, JSON, YAML, CSV as a table, images, and a Core ML model card.
import { useEffect, useState } from 'preact/hooks';
import { artifactUrl, artifactZipUrl, getRun, inspectModel, listArtifacts, readArtifactText, runName, type Artifact, type ModelCard, type Run } from '../api';
import { href, type Route } from '../route';
import { Empty, formatBytes, formatNumber, Loaded, useLoad } from '../ui';
import { RegisterModel } from './register';

const base = (p: string) => p.replace(/\/+$/, '').replace(/^.*\//, '');
const parentOf = (p: string) => (p.includes('/') ? p.slice(0, p.lastIndexOf('/')) : '');
const ext = (p: string) => (/\.([^./]+)$/.exec(p)?.[1] ?? '').toLowerCase();
const isModel = (p: string) => /\.(mlmodel|mlpackage)$/i.test(p);

type Kind = 'model' | 'image' | 'json' | 'yaml' | 'csv' | 'text';
function kindOf(path: string): Kind {
  const e = ext(path);
  const name = base(path);
  if (isModel(path)) return 'model';
  if (['png', 'jpg', 'jpeg', 'gif', 'webp', 'svg', 'bmp', 'avif'].includes(e)) return 'image';
  if (e === 'json' || e === 'jsonl') return e === 'json' ? 'json' : 'text';
  if (e === 'yaml' || e === 'yml' || name === 'MLmodel' || name === 'MLproject') return 'yaml';
  if (e === 'csv' || e === 'tsv') return 'csv';
  return 'text';
}

export function ArtifactsPage({ route, runId, path }: { route: Route; runId: string; path: string }) {
  const [load, reload] = useLoad((s) => getRun(runId, s), [runId]);
  // useLoad keeps the last run while the next one loads (back/forward, a pasted link): never
  // show that run under this URL, and give each run a browser of its own, so no listing of one
  // run's tree outlives the move to another.
  const current = load.state === 'ok' && load.data.info.run_id !== runId ? ({ state: 'loading' } as const) : load;
  return (
    <section class="page">
      <Loaded load={current} what="run" retry={reload}>
        {(run) => (
          <>
            <div class="page-head">
              <div>
                <div class="crumbs">
                  <a href={href(['experiments', run.info.experiment_id])}>Experiment {run.info.experiment_id}</a> /{' '}
                  <a href={href(['runs', runId])}>{runName(run)}</a> /
                </div>
                <h1>Artifacts</h1>
              </div>
              <a class="button" href={artifactZipUrl(run, '')} download data-testid="zip-all">
                Download all (.zip)
              </a>
            </div>
            <Browser key={run.info.run_id} run={run} selected={path} />
          </>
        )}
      </Loaded>
    </section>
  );
}

function Browser({ run, selected }: { run: Run; selected: string }) {
  // Directory listings by path ('' is the root), fetched when a directory is opened.
  const [dirs, setDirs] = useState<Map<string, Artifact[] | Error>>(new Map());
  const [open, setOpen] = useState<Set<string>>(() => {
    const s = new Set<string>(['']);
    for (let p = parentOf(selected); p; p = parentOf(p)) s.add(p);
    if (selected && !isModel(selected)) s.add(selected);
    return s;
  });
  useEffect(() => {
    // A deep link or a click elsewhere: open the way down to the selected artifact.
    const need = [parentOf(selected)];
    for (let p = need[0]; p; p = parentOf(p)) need.push(parentOf(p));
    if (need.some((d) => !open.has(d))) setOpen((s) => new Set([...s, ...need]));
  }, [selected]);
  useEffect(() => {
    for (const d of open) {
      if (dirs.has(d)) continue;
      listArtifacts(run, d).then(
        (files) => setDirs((m) => new Map(m).set(d, files)),
        (e) => setDirs((m) => new Map(m).set(d, e)),
      );
    }
  }, [open]);
  const entry = dirs.get(parentOf(selected));
  const info = Array.isArray(entry) ? entry.find((f) => base(f.path) === base(selected)) : undefined;
  const toggle = (p: string) =>
    setOpen((s) => {
      const n = new Set(s);
      if (n.has(p)) n.delete(p);
      else n.add(p);
      return n;
    });

  function dir(path: string, depth: number): any {
    const l = dirs.get(path);
    if (!l) return <li class="hint" style={{ paddingLeft: `${depth * 14}px` }}>Loading…</li>;
    if (l instanceof Error) return <li class="inline-error" style={{ paddingLeft: `${depth * 14}px` }}>{l.message}</li>;
    if (!l.length && depth === 0) return <li class="hint">No artifacts logged.</li>;
    return (
      <>
        {[...l]
          .sort((a, b) => Number(!!b.is_dir) - Number(!!a.is_dir) || a.path.localeCompare(b.path))
          .map((f) => {
            const p = path ? `${path}/${base(f.path)}` : base(f.path);
            const folder = f.is_dir && !isModel(p);
            return (
              <>
                <li class={p === selected ? 'on' : ''} style={{ paddingLeft: `${depth * 14}px` }}>
                  {folder ? (
                    <button type="button" class="twisty" onClick={() => toggle(p)} aria-label={open.has(p) ? 'Collapse' : 'Expand'}>
                      {open.has(p) ? '▾' : '▸'}
                    </button>
                  ) : (
                    <span class="twisty-space" />
                  )}
                  <a href={href(['runs', run.info.run_id, 'artifacts', ...p.split('/')])} onClick={() => folder && !open.has(p) && toggle(p)}>
                    <span class={`ico ${folder ? 'dir' : isModel(p) ? 'model' : 'file'}`} />
                    {base(f.path)}
                  </a>
                  {!f.is_dir && <span class="hint size">{formatBytes(f.file_size)}</span>}
                </li>
                {folder && open.has(p) && dir(p, depth + 1)}
              </>
            );
          })}
      </>
    );
  }

  return (
    <div class="artifacts">
      <ul class="tree" data-testid="artifact-tree">
        {dir('', 0)}
      </ul>
      <div class="preview" data-testid="artifact-preview">
        {!selected ? (
          <Empty title="Pick an artifact">Files preview here: text, JSON, YAML, CSV, images and Core ML models.</Empty>
        ) : info?.is_dir && !isModel(selected) ? (
          <>
            <div class="preview-head">
              <strong class="mono">{selected}/</strong>
              <a class="button" href={artifactZipUrl(run, selected)} download={`${base(selected)}.zip`}>
                Download .zip
              </a>
              <RegisterModel key={selected} run={run} path={selected} />
            </div>
            <Empty title={`${base(selected)}/ is a directory`}>Open it in the tree to see its files.</Empty>
          </>
        ) : (
          <Preview run={run} path={selected} size={info?.file_size} isDir={!!info?.is_dir} />
        )}
      </div>
    </div>
  );
}

const textLimit = 512 * 1024;

function Preview({ run, path, size, isDir }: { run: Run; path: string; size?: number; isDir: boolean }) {
  const kind = kindOf(path);
  return (
    <div>
      <div class="preview-head">
        <strong class="mono">{path}</strong>
        <span class="hint">{formatBytes(size)}</span>
        {isDir ? (
          <a class="button" href={artifactZipUrl(run, path)} download={`${base(path)}.zip`}>
            Download .zip
          </a>
        ) : (
          <a class="button" href={artifactUrl(run, path)} download={base(path)}>
            Download
          </a>
        )}
        {kind === 'model' && <RegisterModel key={path} run={run} path={path} />}
      </div>
      {kind === 'model' ? (
        <ModelCardView run={run} path={path} />
      ) : kind === 'image' ? (
        <img class="artifact-image" src={artifactUrl(run, path)} alt={path} />
      ) : (
        <TextPreview run={run} path={path} kind={kind} />
      )}
    </div>
  );
}

function TextPreview({ run, path, kind }: { run: Run; path: string; kind: Kind }) {
  const [load, reload] = useLoad((s) => readArtifactText(run, path, textLimit, s), [run.info.run_id, path]);
  return (
    <Loaded load={load} what={base(path)} retry={reload}>
      {({ text, truncated }) => {
        if (text.includes('\u0000')) return <Empty title="Binary file">No preview; download it instead.</Empty>;
        const cut = truncated && <p class="hint">Showing the first {formatBytes(textLimit)}; download for the rest.</p>;
        if (kind === 'json' && !truncated) {
          try {
            return <pre class="code json">{JSON.stringify(JSON.parse(text), null, 2)}</pre>;
          } catch {
            /* not valid JSON: shown as text below */
          }
        }
        if (kind === 'csv') return <CsvTable text={text} tab={ext(path) === 'tsv'} truncated={truncated} />;
        return (
          <>
            {cut}
            <pre class={`code ${kind}`}>{kind === 'yaml' ? <Yaml text={text} /> : text}</pre>
          </>
        );
      }}
    </Loaded>
  );
}

/** YAML with keys and comments picked out; the text itself is shown unchanged. */
function Yaml({ text }: { text: string }) {
  return (
    <>
      {text.split('\n').map((line) => {
        const c = /^(\s*)(#.*)$/.exec(line);
        if (c) return <>{c[1]}<span class="y-comment">{c[2]}</span>{'\n'}</>;
        const k = /^(\s*-?\s*)([^:#\s][^:#]*?):(\s|$)(.*)$/.exec(line);
        if (k) return <>{k[1]}<span class="y-key">{k[2]}</span>:{k[3]}{k[4]}{'\n'}</>;
        return <>{line}{'\n'}</>;
      })}
    </>
  );
}

/** RFC 4180 fields: quotes, doubled quotes, separators and newlines inside quotes. */
export function parseCsv(text: string, sep: string, maxRows: number): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length && rows.length < maxRows; i++) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else field += ch;
    } else if (ch === '"' && field === '') quoted = true;
    else if (ch === sep) {
      row.push(field);
      field = '';
    } else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && text[i + 1] === '\n') i++;
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
    } else field += ch;
  }
  if ((field || row.length) && rows.length < maxRows) rows.push([...row, field]);
  return rows;
}

function CsvTable({ text, tab, truncated }: { text: string; tab: boolean; truncated: boolean }) {
  const max = 1000;
  const rows = parseCsv(text, tab ? '\t' : ',', max + 1);
  if (!rows.length) return <Empty title="Empty file" />;
  const [head, ...body] = rows;
  return (
    <>
      {(truncated || body.length >= max) && <p class="hint">Showing the first {Math.min(body.length, max)} rows; download for the rest.</p>}
      <div class="scroll-x">
        <table class="grid csv" data-testid="csv-table">
          <thead>
            <tr>
              {head.map((h) => (
                <th>{h}</th>
              ))}
            </tr>
          </thead>
          <tbody>
            {body.slice(0, max).map((r) => (
              <tr>
                {r.map((c) => (
                  <td class={c !== '' && !isNaN(Number(c)) ? 'num' : ''}>{c}</td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </>
  );
}

export function Features({ title, features }: { title: string; features?: ModelCard['inputs'] }) {
  if (!features?.length) return null;
  return (
    <>
      <h3>{title}</h3>
      <table class="grid">
        <thead>
          <tr>
            <th>Name</th>
            <th>Type</th>
            <th>Shape / size</th>
            <th>Data type</th>
          </tr>
        </thead>
        <tbody>
          {features.map((f) => (
            <tr>
              <td class="mono">
                {f.name}
                {f.optional ? ' (optional)' : ''}
              </td>
              <td>{f.type}</td>
              <td class="mono">
                {f.shape?.length ? `[${f.shape.join(', ')}]` : f.width ? `${f.width}×${f.height}${f.color_space ? ' ' + f.color_space : ''}` : f.key_type ? `key: ${f.key_type}` : '—'}
              </td>
              <td>{f.data_type ?? '—'}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}

function ModelCardView({ run, path }: { run: Run; path: string }) {
  const [load, reload] = useLoad((s) => inspectModel(run.info.run_id, path, s), [run.info.run_id, path]);
  return (
    <Loaded load={load} what="model card" retry={reload}>
      {(m) => (
        <div class="model-card" data-testid="model-card">
          <dl class="facts">
            <dt>Model type</dt>
            <dd>{m.model_type ?? '—'}</dd>
            <dt>Spec version</dt>
            <dd>{m.specification_version ?? '—'}</dd>
            <dt>Minimum OS</dt>
            <dd>
              iOS {m.minimum_ios ?? '—'} · macOS {m.minimum_macos ?? '—'}
            </dd>
            <dt>Parameters</dt>
            <dd>{m.parameter_count !== undefined ? m.parameter_count.toLocaleString() : '—'}</dd>
            <dt>Weight precision</dt>
            <dd>{m.weight_precision ?? '—'}</dd>
            <dt>Size</dt>
            <dd>{formatBytes(m.file_size)}</dd>
            {m.valid !== undefined && (
              <>
                <dt>Validation</dt>
                <dd class={m.valid ? 'ok' : 'inline-error'}>{m.valid ? 'valid' : (m.problems ?? []).join('; ')}</dd>
              </>
            )}
          </dl>
          <Features title="Inputs" features={m.inputs} />
          <Features title="Outputs" features={m.outputs} />
          {!!m.class_labels?.length && (
            <>
              <h3>Class labels ({m.class_labels.length})</h3>
              <div class="chips">
                {m.class_labels.slice(0, 200).map((l) => (
                  <span class="chip">{String(l)}</span>
                ))}
              </div>
            </>
          )}
          {m.layer_counts && Object.keys(m.layer_counts).length > 0 && (
            <>
              <h3>Layers</h3>
              <table class="grid kv">
                <tbody>
                  {Object.entries(m.layer_counts)
                    .sort((a, b) => b[1] - a[1])
                    .map(([k, v]) => (
                      <tr>
                        <td class="mono">{k}</td>
                        <td class="num">{formatNumber(v)}</td>
                      </tr>
                    ))}
                </tbody>
              </table>
            </>
          )}
          {m.metadata && Object.keys(m.metadata).length > 0 && (
            <>
              <h3>Metadata</h3>
              <table class="grid kv">
                <tbody>
                  {Object.entries(m.metadata).map(([k, v]) => (
                    <tr>
                      <td>{k}</td>
                      <td class="mono">{typeof v === 'string' ? v : JSON.stringify(v)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </>
          )}
        </div>
      )}
    </Loaded>
  );
}
