// Browser tests of signing in as a user (MLflow's basic-auth users): the page asks for a name and
// password, the session acts with that user's permissions (experiments the user may not read do
// not show), and signing out ends the session on the server.
// Usage: RINGO_BIN=build/ringo node ui/tests/users.mjs
import { spawnSync } from 'node:child_process';
import { ringoBin } from './lib.mjs';
import { expect, suite } from './suite.mjs';

const t = await suite();
const base = t.ringo.url;
const adminAuth = 'Basic ' + Buffer.from('root:root-password-1').toString('base64');

// The first admin is made on the server's machine, against its store, as a team would.
const made = spawnSync(ringoBin(), ['users', 'create', 'root', '--admin', '--store', t.ringo.store, '--password-stdin'], {
  input: 'root-password-1\n',
});
expect(made.status === 0, 'ringo users create: ' + made.stderr);

async function call(method, path, body, auth = adminAuth) {
  const res = await fetch(`${base}/api/2.0/mlflow/${path}`, {
    method,
    headers: { Authorization: auth, ...(body ? { 'Content-Type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return JSON.parse(text);
}

// The server notices its first user within a few seconds; from then on it wants credentials.
for (let i = 0; ; i++) {
  const res = await fetch(`${base}/api/2.0/mlflow/experiments/search?max_results=1`);
  if (res.status === 401) break;
  expect(i < 100, 'the server never asked for credentials');
  await new Promise((r) => setTimeout(r, 100));
}

await call('POST', 'users/create', { username: 'alice', password: 'alice-password-1' });
const shared = (await call('POST', 'experiments/create', { name: 'team-shared' })).experiment_id;
const secret = (await call('POST', 'experiments/create', { name: 'team-secret' })).experiment_id;
await call('POST', 'runs/create', { experiment_id: shared, run_name: 'shared-run' });
await call('POST', 'runs/create', { experiment_id: secret, run_name: 'secret-run' });
await call('POST', 'experiments/permissions/create', { experiment_id: shared, username: 'alice', permission: 'READ' });
await call('POST', 'experiments/permissions/create', { experiment_id: secret, username: 'alice', permission: 'NO_PERMISSIONS' });

const sessions = async () => {
  const res = await fetch(`${base}/api/ringo/v1/tokens`, { headers: { Authorization: adminAuth } });
  expect(res.ok, 'tokens listed: ' + res.status);
  return (await res.json()).tokens.filter((x) => x.name === 'session' && x.owner === 'alice');
};

const signIn = async (page, username, password) => {
  await t.go(page, '/experiments');
  await page.getByRole('button', { name: 'Sign in' }).waitFor();
  await page.getByLabel('User name').fill(username);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
};

await t.check('a wrong password is refused on the page', async (page) => {
  await signIn(page, 'alice', 'not-her-password');
  await page.getByText('wrong username or password').waitFor();
});

await t.check("a user signs in with name and password and sees only what she may read", async (page) => {
  await signIn(page, 'alice', 'alice-password-1');
  await page.getByText('team-shared').waitFor();
  expect(!(await page.content()).includes('team-secret'), 'the experiment she may not read is hidden');
  const cookie = (await page.context().cookies()).find((c) => c.name === 'ringo_token');
  expect(cookie && cookie.httpOnly, 'the session cookie is HttpOnly');
  const mine = await sessions();
  expect(mine.length === 1 && mine[0].scope === 'write' && !mine[0].revoked, 'one session token of hers: ' + JSON.stringify(mine));
  await t.go(page, `/experiments/${shared}`);
  await page.getByText('shared-run').waitFor();
  await t.go(page, `/experiments/${secret}`);
  await page.getByText('Permission denied').first().waitFor();
  expect(!(await page.content()).includes('secret-run'), 'no run of the secret experiment shows');
});

await t.check('signing out revokes the session on the server', async (page) => {
  await signIn(page, 'alice', 'alice-password-1');
  await page.getByText('team-shared').waitFor();
  const status = await page.evaluate(async () => {
    const res = await fetch('/api/ringo/v1/session', { method: 'DELETE', headers: { 'Content-Type': 'application/json' } });
    return res.status;
  });
  expect(status === 200, 'signed out: ' + status);
  const open = (await sessions()).filter((x) => !x.revoked);
  expect(open.length === 1, 'only the other check\'s session is still open: ' + open.length);
  await page.reload();
  await page.getByRole('button', { name: 'Sign in' }).waitFor();
});

await t.finish();
