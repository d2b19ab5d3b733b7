// The runs of an experiment: a virtualized table fed page by page from runs/search, with the
// filter language, server-side sort, picked columns, parent/child grouping and selection.
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { ApiError, getExperiment, restoreExperiment, runName, searchRuns, tagValue, type Run } from '../api';
import { href, setQuery, type Route } from '../route';
import { act, Empty, ErrorBox, formatDuration, formatNumber, formatTime, Loading, Status, useLoad } from '../ui';

const rowHeight = 30;
const overscan = 12;
const firstPage = 300; // small, so the first rows arrive fast
const nextPage = 2000;
const parentTag = 'mlflow.parentRunId';

/** A picked column: `metrics.<key>`, `params.<key>` or `tags.<key>`. */
interface Column {
  entity: 'metrics' | 'params' | 'tags';
  key: string;
}
const columnId = (c: Column) => `${c.entity}.${c.key}`;
function parseColumn(id: string): Column | undefined {
  const i = id.indexOf('.');
  const entity = id.slice(0, i);
  if (entity !== 'metrics' && entity !== 'params' && entity !== 'tags') return undefined;
  return { entity, key: id.slice(i + 1) };
}
/** The order_by identifier of a column, with the key quoted as the filter language wants. */
const orderId = (c: Column) => `${c.entity}.\`${c.key}\``;

function cell(run: Run, c: Column): string {
  if (c.entity === 'metrics') return formatNumber(run.data.metrics?.find((m) => m.key === c.key)?.value);
  if (c.entity === 'params') return run.data.params?.find((p) => p.key === c.key)?.value ?? '';
  return tagValue(run, c.key) ?? '';
}

interface Row {
  run: Run;
  depth: number;
  children: number;
}

export function RunsPage({ route, experimentId }: { route: Route; experimentId: string }) {
  const filter = route.query.get('filter') ?? '';
  const order = route.query.get('order') ?? '';
  const group = route.query.get('group') !== '0';
  const picked = route.query.get('cols');
  const [experiment, reloadExperiment] = useLoad((s) => getExperiment(experimentId, s), [experimentId]);

  // Runs arrive a page at a time; `token` is the next page's token, '' when all are loaded.
  const [runs, setRuns] = useState<Run[]>([]);
  const [token, setToken] = useState<string | undefined>(undefined);
  const [fetching, setFetching] = useState(false);
  const [error, setError] = useState<Error | null>(null);
  const generation = useRef(0);

  function fetchPage(pageToken: string | undefined, size: number) {
    const gen = generation.current;
    setFetching(true);
    searchRuns({
      experiment_ids: [experimentId],
      filter: filter || undefined,
      order_by: order ? [order] : undefined,
      max_results: size,
      page_token: pageToken,
    }).then(
      (r) => {
        if (gen !== generation.current) return;
        setRuns((old) => (pageToken ? old.concat(r.runs ?? []) : r.runs ?? []));
        setToken(r.next_page_token ?? '');
        setFetching(false);
      },
      (e) => {
        if (gen !== generation.current) return;
        setError(e);
        setFetching(false);
      },
    );
  }
  useEffect(() => {
    generation.current++;
    setRuns([]);
    setToken(undefined);
    setError(null);
    fetchPage(undefined, firstPage);
  }, [experimentId, filter, order]);

  // Columns: the ones in the URL, else a few metrics and params of the first runs.
  const keys = useMemo(() => {
    const sets = { metrics: new Set<string>(), params: new Set<string>(), tags: new Set<string>() };
    for (const r of runs.slice(0, 1000)) {
      r.data.metrics?.forEach((m) => sets.metrics.add(m.key));
      r.data.params?.forEach((p) => sets.params.add(p.key));
      r.data.tags?.forEach((t) => sets.tags.add(t.key));
    }
    return sets;
  }, [runs.length > 0 ? runs[0] : null, Math.min(runs.length, 1000)]);
  const columns: Column[] = useMemo(() => {
    if (picked !== null) return picked.split(',').filter(Boolean).map(parseColumn).filter((c): c is Column => !!c);
    return [
      ...[...keys.metrics].sort().slice(0, 4).map((key) => ({ entity: 'metrics' as const, key })),
      ...[...keys.params].sort().slice(0, 4).map((key) => ({ entity: 'params' as const, key })),
    ];
  }, [picked, keys]);

  // Grouping puts loaded children right under their loaded parent.
  const [collapsed, setCollapsed] = useState<Set<string>>(new Set());
  const rows: Row[] = useMemo(() => {
    if (!group) return runs.map((run) => ({ run, depth: 0, children: 0 }));
    const byId = new Set(runs.map((r) => r.info.run_id));
    const kids = new Map<string, Run[]>();
    for (const r of runs) {
      const p = tagValue(r, parentTag);
      if (p && byId.has(p) && p !== r.info.run_id) {
        const list = kids.get(p);
        if (list) list.push(r);
        else kids.set(p, [r]);
      }
    }
    const out: Row[] = [];
    const seen = new Set<string>();
    const visit = (run: Run, depth: number) => {
      if (seen.has(run.info.run_id)) return; // a cycle of parent tags
      seen.add(run.info.run_id);
      const children = kids.get(run.info.run_id) ?? [];
      out.push({ run, depth, children: children.length });
      if (!collapsed.has(run.info.run_id)) for (const c of children) visit(c, depth + 1);
    };
    for (const r of runs) {
      const p = tagValue(r, parentTag);
      if (!p || !byId.has(p)) visit(r, 0);
    }
    return out;
  }, [runs, group, collapsed]);

  const [selected, setSelected] = useState<Set<string>>(new Set());
  const toggle = (id: string) =>
    setSelected((s) => {
      const n = new Set(s);
      if (n.has(id)) n.delete(id);
      else n.add(id);
      return n;
    });

  // Virtualization: only the rows in view (plus overscan) exist in the DOM. The scroller is held
  // in state through a callback ref: the table is a new element after every reload (a sort, a
  // filter), and a listener left on the old, detached one would measure it as 0 px high and
  // never hear the new one scroll, leaving an empty or a 12-row table.
  const [body, setBody] = useState<HTMLDivElement | null>(null);
  const [view, setView] = useState({ top: 0, height: 800 });
  useEffect(() => {
    const el = body;
    if (!el) return;
    let frame = 0;
    const measure = () => setView({ top: el.scrollTop, height: el.clientHeight });
    const on = () => {
      cancelAnimationFrame(frame);
      frame = requestAnimationFrame(measure);
    };
    measure();
    el.addEventListener('scroll', on, { passive: true });
    const ro = new ResizeObserver(on);
    ro.observe(el);
    return () => {
      el.removeEventListener('scroll', on);
      ro.disconnect();
      cancelAnimationFrame(frame);
    };
  }, [body]);
  const from = Math.max(0, Math.floor(view.top / rowHeight) - overscan);
  const to = Math.min(rows.length, Math.ceil((view.top + view.height) / rowHeight) + overscan);
  useEffect(() => {
    if (token && !fetching && !error && to > rows.length - 500) fetchPage(token, nextPage);
  }, [to, rows.length, token, fetching]);
  useEffect(() => {
    if (runs.length && !performance.getEntriesByName('ringo:rows').length) performance.mark('ringo:rows');
  }, [runs.length > 0]);

  const template = `36px minmax(220px, 2fr) 170px 80px 90px ${columns.map(() => '130px').join(' ')}`;
  const sortBy = (id: string) => {
    const [cur, dir] = order.split(/ (?=ASC$|DESC$)/);
    setQuery(route, { order: cur === id && dir === 'DESC' ? `${id} ASC` : `${id} DESC` });
  };
  const arrow = (id: string) => {
    const [cur, dir] = order.split(/ (?=ASC$|DESC$)/);
    return cur === id ? (dir === 'ASC' ? ' ▲' : ' ▼') : '';
  };
  const selectedIds = [...selected];
  const filterError = error instanceof ApiError && error.status === 400 ? error : null;

  return (
    <section class="page runs-page">
      <div class="page-head">
        <div>
          <div class="crumbs">
            <a href={href(['experiments'])}>Experiments</a> /
          </div>
          <h1>{experiment.state === 'ok' ? experiment.data.name : `Experiment ${experimentId}`}</h1>
          {experiment.state === 'ok' && experiment.data.lifecycle_stage === 'deleted' && (
            <div class="state error" role="alert" data-testid="deleted-experiment">
              <strong>This experiment is deleted</strong>{' '}
              <button type="button" onClick={() => act(() => restoreExperiment(experimentId), reloadExperiment)}>
                Restore
              </button>
            </div>
          )}
        </div>
        <div class="toolbar">
          <span class="count" data-testid="run-count">
            {runs.length}
            {token ? '+' : ''} runs
          </span>
          <label class="check">
            <input
              type="checkbox"
              checked={group}
              onChange={(e) => setQuery(route, { group: (e.target as HTMLInputElement).checked ? undefined : '0' })}
            />
            Group by parent
          </label>
          <ColumnPicker
            keys={keys}
            columns={columns}
            onChange={(cs) => setQuery(route, { cols: cs.map(columnId).join(',') || ',' })}
          />
          <a
            class={`button${selectedIds.length < 2 ? ' disabled' : ''}`}
            aria-disabled={selectedIds.length < 2}
            href={selectedIds.length >= 2 ? href(['compare'], { runs: selectedIds.join(',') }) : undefined}
          >
            Compare {selectedIds.length || ''}
          </a>
          <a
            class={`button${selectedIds.length < 1 ? ' disabled' : ''}`}
            href={selectedIds.length ? href(['charts'], { runs: selectedIds.join(',') }) : undefined}
          >
            Chart
          </a>
        </div>
      </div>
      {experiment.state === 'error' && <ErrorBox error={experiment.error} />}
      <FilterBox route={route} filter={filter} error={filterError} />
      {error && !filterError && <ErrorBox error={error} retry={() => setQuery(route, {}, false)} />}
      {!error && token === undefined && <Loading what="runs" />}
      {!error && token !== undefined && runs.length === 0 && experiment.state !== 'error' && (
        <Empty title={filter ? 'No run matches this filter' : 'No runs in this experiment yet'}>
          {filter ? 'Loosen the filter, or clear it.' : 'Runs logged with any MLflow client appear here.'}
        </Empty>
      )}
      {runs.length > 0 && (
        <div class="vtable" ref={setBody} data-testid="runs-table">
          <div class="vrow vhead" style={{ gridTemplateColumns: template }}>
            <span />
            <button type="button" onClick={() => sortBy('attributes.run_name')}>
              Run{arrow('attributes.run_name')}
            </button>
            <button type="button" onClick={() => sortBy('attributes.start_time')}>
              Created{arrow('attributes.start_time')}
            </button>
            <span>Duration</span>
            <button type="button" onClick={() => sortBy('attributes.status')}>
              Status{arrow('attributes.status')}
            </button>
            {columns.map((c) => (
              <button type="button" class={`col-${c.entity}`} title={columnId(c)} onClick={() => sortBy(orderId(c))}>
                {c.key}
                {arrow(orderId(c))}
              </button>
            ))}
          </div>
          <div style={{ height: `${rows.length * rowHeight}px`, position: 'relative' }}>
            {rows.slice(from, to).map((row, i) => {
              const r = row.run;
              const id = r.info.run_id;
              return (
                <div
                  key={id}
                  class={`vrow${selected.has(id) ? ' selected' : ''}`}
                  data-run={id}
                  style={{ gridTemplateColumns: template, top: `${(from + i) * rowHeight}px` }}
                >
                  <span>
                    <input type="checkbox" aria-label={`Select ${runName(r)}`} checked={selected.has(id)} onChange={() => toggle(id)} />
                  </span>
                  <span class="name" style={{ paddingLeft: `${row.depth * 18}px` }}>
                    {row.children > 0 ? (
                      <button
                        type="button"
                        class="twisty"
                        aria-label={collapsed.has(id) ? 'Expand' : 'Collapse'}
                        onClick={() =>
                          setCollapsed((s) => {
                            const n = new Set(s);
                            if (n.has(id)) n.delete(id);
                            else n.add(id);
                            return n;
                          })
                        }
                      >
                        {collapsed.has(id) ? '▸' : '▾'}
                      </button>
                    ) : (
                      <span class="twisty-space">{row.depth ? '↳' : ''}</span>
                    )}
                    <a href={href(['runs', id])}>{runName(r)}</a>
                    {row.children > 0 && <span class="badge">{row.children}</span>}
                  </span>
                  <span>{formatTime(r.info.start_time)}</span>
                  <span>{formatDuration(r.info.start_time, r.info.end_time)}</span>
                  <span>
                    <Status status={r.info.status} />
                  </span>
                  {columns.map((c) => (
                    <span class={c.entity === 'metrics' ? 'num' : ''}>{cell(r, c)}</span>
                  ))}
                </div>
              );
            })}
          </div>
          {fetching && runs.length > 0 && <div class="more">Loading more runs…</div>}
        </div>
      )}
    </section>
  );
}

/** The filter input; a 400 from the server is shown under it with the offending token marked. */
function FilterBox({ route, filter, error }: { route: Route; filter: string; error: ApiError | null }) {
  const [text, setText] = useState(filter);
  useEffect(() => setText(filter), [filter]);
  const token = error ? badToken(error.message, filter) : undefined;
  return (
    <form
      class="filter"
      onSubmit={(e) => {
        e.preventDefault();
        setQuery(route, { filter: text.trim() });
      }}
    >
      <input
        class="mono"
        aria-label="Filter runs"
        aria-invalid={!!error}
        placeholder="metrics.loss < 0.5 and params.model = 'cnn' and tags.`mlflow.runName` LIKE 'ft-%'"
        value={text}
        onInput={(e) => setText((e.target as HTMLInputElement).value)}
      />
      <button type="submit">Search</button>
      {filter && (
        <button type="button" class="quiet" onClick={() => setQuery(route, { filter: undefined })}>
          Clear
        </button>
      )}
      {error && (
        <div class="filter-error" role="alert" data-testid="filter-error">
          {token !== undefined && (
            <div class="mono marked">
              {filter.slice(0, token.at)}
              <mark>{filter.slice(token.at, token.at + token.length)}</mark>
              {filter.slice(token.at + token.length)}
            </div>
          )}
          {error.message}
        </div>
      )}
    </form>
  );
}

/** The last quoted token of the message that occurs in the filter (but is not all of it). */
function badToken(message: string, filter: string): { at: number; length: number } | undefined {
  const quoted = [...message.matchAll(/'([^']+)'/g)].map((m) => m[1]).filter((t) => t !== filter);
  for (let i = quoted.length - 1; i >= 0; i--) {
    const at = filter.lastIndexOf(quoted[i]);
    if (at >= 0) return { at, length: quoted[i].length };
  }
  return undefined;
}

function ColumnPicker(props: {
  keys: { metrics: Set<string>; params: Set<string>; tags: Set<string> };
  columns: Column[];
  onChange: (c: Column[]) => void;
}) {
  const [open, setOpen] = useState(false);
  const [q, setQ] = useState('');
  // Escape closes the menu, as does leaving the page; picking columns only changes the query.
  useEffect(() => {
    if (!open) return;
    const page = location.hash.split('?')[0];
    const close = () => setOpen(false);
    const onKey = (e: KeyboardEvent) => e.key === 'Escape' && close();
    const onHash = () => location.hash.split('?')[0] !== page && close();
    addEventListener('keydown', onKey);
    addEventListener('hashchange', onHash);
    return () => {
      removeEventListener('keydown', onKey);
      removeEventListener('hashchange', onHash);
    };
  }, [open]);
  const on = new Set(props.columns.map(columnId));
  const flip = (c: Column) =>
    props.onChange(on.has(columnId(c)) ? props.columns.filter((x) => columnId(x) !== columnId(c)) : [...props.columns, c]);
  const groups = (['metrics', 'params', 'tags'] as const).map((entity) => ({
    entity,
    keys: [...props.keys[entity]].filter((k) => k.toLowerCase().includes(q.toLowerCase())).sort(),
  }));
  return (
    <div class="picker">
      <button type="button" onClick={() => setOpen(!open)} aria-expanded={open}>
        Columns ({props.columns.length})
      </button>
      {open && (
        <div class="picker-menu" role="dialog" aria-label="Columns">
          <input placeholder="Find a key" value={q} onInput={(e) => setQ((e.target as HTMLInputElement).value)} autoFocus />
          {groups.map((g) => (
            <fieldset>
              <legend>{g.entity}</legend>
              {g.keys.length === 0 && <div class="hint">none</div>}
              {g.keys.map((key) => (
                <label class="check">
                  <input type="checkbox" checked={on.has(`${g.entity}.${key}`)} onChange={() => flip({ entity: g.entity, key })} />
                  {key}
                </label>
              ))}
            </fieldset>
          ))}
          <button type="button" class="quiet" onClick={() => setOpen(false)}>
            Done
          </button>
        </div>
      )}
    </div>
  );
}
