// Shared pieces: data loading with its three states, formatting, and the state panels.
import type { ComponentChildren } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { ApiError, signIn } from './api';

export type Load<T> = { state: 'loading' } | { state: 'error'; error: Error } | { state: 'ok'; data: T };

/** Runs `fn` whenever `deps` change, aborting the previous call; `reload` runs it again. */
export function useLoad<T>(fn: (signal: AbortSignal) => Promise<T>, deps: unknown[]): [Load<T>, () => void] {
  const [load, setLoad] = useState<Load<T>>({ state: 'loading' });
  const [tick, setTick] = useState(0);
  useEffect(() => {
    const ctl = new AbortController();
    setLoad((l) => (l.state === 'ok' ? l : { state: 'loading' }));
    fn(ctl.signal).then(
      (data) => !ctl.signal.aborted && setLoad({ state: 'ok', data }),
      (error) => !ctl.signal.aborted && setLoad({ state: 'error', error }),
    );
    return () => ctl.abort();
  }, [...deps, tick]);
  return [load, () => setTick((t) => t + 1)];
}

export function Loading({ what }: { what: string }) {
  return (
    <div class="state loading" role="status">
      <span class="spinner" aria-hidden="true" /> Loading {what}…
    </div>
  );
}

export function Empty({ title, children }: { title: string; children?: ComponentChildren }) {
  return (
    <div class="state empty">
      <strong>{title}</strong>
      {children && <div class="hint">{children}</div>}
    </div>
  );
}

/** Asks for a user's name and password, or an API token, when the server needs credentials. The
 * server keeps the session in an HttpOnly same-site cookie (sent for images and downloads too), so
 * no script on the page can read it back. */
function SignInForm() {
  const [failure, setFailure] = useState('');
  const submit = async (e: Event) => {
    e.preventDefault();
    const form = e.currentTarget as HTMLFormElement;
    const value = (name: string) => (form.elements.namedItem(name) as HTMLInputElement).value;
    const token = value('token').trim();
    try {
      await signIn(token ? { token } : { username: value('username').trim(), password: value('password') });
      location.reload();
    } catch (err) {
      setFailure((err as Error).message);
    }
  };
  return (
    <div class="state error" role="alert">
      <strong>Sign in</strong>
      <div class="hint">
        With your user name and password, or paste a token from <code>ringo tokens create --scope read</code>.
      </div>
      <form onSubmit={submit} class="sign-in">
        <input name="username" autocomplete="username" placeholder="user name" aria-label="User name" />{' '}
        <input name="password" type="password" autocomplete="current-password" placeholder="password" aria-label="Password" />{' '}
        <span class="hint">or</span>{' '}
        <input name="token" type="password" placeholder="rg_…" aria-label="API token" />{' '}
        <button type="submit">Sign in</button>
      </form>
      {failure && <div class="hint">{failure}</div>}
    </div>
  );
}

export function ErrorBox({ error, retry }: { error: Error; retry?: () => void }) {
  const code = error instanceof ApiError ? error.code : 'ERROR';
  if (error instanceof ApiError && error.status === 401) return <SignInForm />;
  return (
    <div class="state error" role="alert">
      <strong>{code === 'RESOURCE_DOES_NOT_EXIST' ? 'Not found' : 'Something went wrong'}</strong>
      <div class="hint">
        {error.message} <code>{code}</code>
      </div>
      {retry && (
        <button type="button" onClick={retry}>
          Retry
        </button>
      )}
    </div>
  );
}

/** Renders a Load: spinner, error panel, or `children(data)`. */
export function Loaded<T>(props: { load: Load<T>; what: string; retry?: () => void; children: (data: T) => any }) {
  const l = props.load;
  if (l.state === 'loading') return <Loading what={props.what} />;
  if (l.state === 'error') return <ErrorBox error={l.error} retry={props.retry} />;
  return props.children(l.data);
}

export function formatTime(ms?: number): string {
  if (!ms) return '—';
  const d = new Date(ms);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

export function formatDuration(start?: number, end?: number): string {
  if (!start || !end) return '—';
  let s = Math.round((end - start) / 1000);
  if (s < 60) return `${s}s`;
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  s %= 60;
  return h ? `${h}h ${m}m` : `${m}m ${s}s`;
}

export function formatNumber(v: number | string | null | undefined): string {
  if (v === undefined || v === null) return '';
  if (typeof v === 'string') return v;
  if (Number.isInteger(v)) return String(v);
  const a = Math.abs(v);
  return a !== 0 && (a < 1e-4 || a >= 1e6) ? v.toExponential(4) : String(Number(v.toPrecision(6)));
}

export function formatBytes(n?: number): string {
  if (n === undefined) return '';
  if (n < 1024) return `${n} B`;
  const u = ['KiB', 'MiB', 'GiB', 'TiB'];
  let i = -1;
  do {
    n /= 1024;
    i++;
  } while (n >= 1024 && i < u.length - 1);
  return `${n.toFixed(1)} ${u[i]}`;
}

export function Status({ status }: { status: string }) {
  return <span class={`status status-${status.toLowerCase()}`}>{status.toLowerCase()}</span>;
}

/** Runs a change the user asked for, then `onChange` (a reload); a failure is shown in an alert. */
export async function act(change: () => Promise<unknown>, onChange: () => void) {
  try {
    await change();
    onChange();
  } catch (err) {
    alert((err as Error).message);
  }
}
