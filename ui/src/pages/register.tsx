// "Register model" for a run's artifact: a new version of an existing registered model, or of a
// new one named here, with the artifact as its `runs:/` source.
import { useState } from 'preact/hooks';
import { ApiError, createModel, createVersionFromRun, searchModels, type ModelVersion, type Run } from '../api';
import { href } from '../route';

export function RegisterModel({ run, path }: { run: Run; path: string }) {
  const [open, setOpen] = useState(false);
  const [names, setNames] = useState<string[]>([]);
  const [name, setName] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  const [done, setDone] = useState<ModelVersion | null>(null);

  const start = () => {
    setOpen(true);
    setDone(null);
    searchModels('').then(
      (r) => setNames((r.registered_models ?? []).map((m) => m.name)),
      () => setNames([]),
    );
  };
  const submit = async (e: Event) => {
    e.preventDefault();
    const model = name.trim();
    if (!model) return setError('Pick a registered model or type a new name.');
    setBusy(true);
    setError('');
    try {
      if (!names.includes(model)) {
        // Another tab may have created it meanwhile: then this version joins it.
        await createModel(model).catch((err) => {
          if (!(err instanceof ApiError && err.code === 'RESOURCE_ALREADY_EXISTS')) throw err;
        });
      }
      setDone(await createVersionFromRun(model, run.info.run_id, path));
      setOpen(false);
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setBusy(false);
    }
  };

  if (done)
    return (
      <span class="registered" data-testid="registered" role="status">
        Registered{' '}
        <a href={href(['models', done.name], { version: done.version })}>
          {done.name} v{done.version}
        </a>
      </span>
    );
  if (!open)
    return (
      <button type="button" onClick={start}>
        Register model
      </button>
    );
  const isNew = name.trim() !== '' && !names.includes(name.trim());
  return (
    <form class="register-form" onSubmit={submit} data-testid="register-form">
      <input
        list="registered-model-names"
        value={name}
        onInput={(e) => setName((e.currentTarget as HTMLInputElement).value)}
        placeholder="Registered model"
        aria-label="Registered model name"
        autoFocus
      />
      <datalist id="registered-model-names">
        {names.map((n) => (
          <option value={n} />
        ))}
      </datalist>
      <button type="submit" disabled={busy}>
        {isNew ? 'Create and register' : 'Register'}
      </button>
      <button type="button" onClick={() => setOpen(false)}>
        Cancel
      </button>
      {isNew && <span class="hint">new model</span>}
      {error && (
        <span class="inline-error" role="alert">
          {error}
        </span>
      )}
    </form>
  );
}
