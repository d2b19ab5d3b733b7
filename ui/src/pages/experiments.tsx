// The experiments list: search by name, create, rename, delete.
import { useState } from 'preact/hooks';
import { createExperiment, deleteExperiment, renameExperiment, searchExperiments, type Experiment } from '../api';
import { href, setQuery, type Route } from '../route';
import { Empty, formatTime, Loaded, useLoad } from '../ui';

/** MLflow's filter for a name search; quotes in the text are escaped by doubling. */
const nameFilter = (q: string) => (q ? `name ILIKE '%${q.replace(/'/g, "''")}%'` : '');

export function ExperimentsPage({ route }: { route: Route }) {
  const q = route.query.get('q') ?? '';
  const [load, reload] = useLoad((s) => searchExperiments(nameFilter(q), s), [q]);
  const [name, setName] = useState('');
  const [problem, setProblem] = useState('');

  async function create(e: Event) {
    e.preventDefault();
    if (!name.trim()) return;
    try {
      const { experiment_id } = await createExperiment(name.trim());
      setName('');
      setProblem('');
      location.hash = href(['experiments', experiment_id]);
    } catch (err) {
      setProblem((err as Error).message);
    }
  }

  return (
    <section class="page">
      <div class="page-head">
        <h1>Experiments</h1>
        <input
          type="search"
          class="search"
          placeholder="Search by name"
          aria-label="Search experiments by name"
          value={q}
          onInput={(e) => setQuery(route, { q: (e.target as HTMLInputElement).value }, false)}
        />
        <form class="inline" onSubmit={create}>
          <input
            placeholder="New experiment name"
            aria-label="New experiment name"
            value={name}
            onInput={(e) => setName((e.target as HTMLInputElement).value)}
          />
          <button type="submit" disabled={!name.trim()}>
            Create
          </button>
        </form>
      </div>
      {problem && <p class="inline-error">{problem}</p>}
      <Loaded load={load} what="experiments" retry={reload}>
        {(r) =>
          !r.experiments?.length ? (
            <Empty title={q ? `No experiment matches “${q}”` : 'No experiments yet'}>
              {q ? 'Try another name.' : 'Create one above, or log a run with any MLflow client.'}
            </Empty>
          ) : (
            <table class="grid experiments">
              <thead>
                <tr>
                  <th>Name</th>
                  <th>ID</th>
                  <th>Created</th>
                  <th>Last update</th>
                  <th />
                </tr>
              </thead>
              <tbody>
                {r.experiments.map((x) => (
                  <Row key={x.experiment_id} experiment={x} onChange={reload} />
                ))}
              </tbody>
            </table>
          )
        }
      </Loaded>
    </section>
  );
}

function Row({ experiment: x, onChange }: { experiment: Experiment; onChange: () => void }) {
  const [editing, setEditing] = useState(false);
  const [name, setName] = useState(x.name);
  const [problem, setProblem] = useState('');

  async function rename(e: Event) {
    e.preventDefault();
    try {
      await renameExperiment(x.experiment_id, name.trim());
      setEditing(false);
      setProblem('');
      onChange();
    } catch (err) {
      setProblem((err as Error).message);
    }
  }
  async function remove() {
    if (!confirm(`Delete experiment “${x.name}” and hide its runs?`)) return;
    try {
      await deleteExperiment(x.experiment_id);
      onChange();
    } catch (err) {
      setProblem((err as Error).message);
    }
  }

  return (
    <tr data-experiment={x.experiment_id}>
      <td>
        {editing ? (
          <form class="inline" onSubmit={rename}>
            <input
              aria-label="Experiment name"
              value={name}
              onInput={(e) => setName((e.target as HTMLInputElement).value)}
              autoFocus
            />
            <button type="submit">Save</button>
            <button type="button" class="quiet" onClick={() => setEditing(false)}>
              Cancel
            </button>
          </form>
        ) : (
          <a href={href(['experiments', x.experiment_id])}>{x.name}</a>
        )}
        {problem && <div class="inline-error">{problem}</div>}
      </td>
      <td class="mono">{x.experiment_id}</td>
      <td>{formatTime(x.creation_time)}</td>
      <td>{formatTime(x.last_update_time)}</td>
      <td class="actions">
        {!editing && (
          <button type="button" class="quiet" onClick={() => setEditing(true)}>
            Rename
          </button>
        )}
        <button type="button" class="quiet danger" onClick={remove}>
          Delete
        </button>
      </td>
    </tr>
  );
}
