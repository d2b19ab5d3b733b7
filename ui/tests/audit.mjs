// Browser tests of the audit log page: it lists what the server recorded, newest first, and its
// filters ask the server for the same entries the API gives. Each compares the page with the API.
// Usage: RINGO_BIN=build/ringo node ui/tests/audit.mjs
import { expect, ringoApi, suite } from './suite.mjs';

const t = await suite();
const base = t.ringo.url;

// A change made just now, to find at the top.
const name = `audited-${Date.now()}`;
const res = await fetch(`${base}/api/2.0/mlflow/experiments/create`, {
  method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ name }),
});
expect(res.ok, 'experiment created');

await t.check('the audit log shows the server\'s entries, newest first', async (page) => {
  const api = (await ringoApi(base, 'audit?limit=1000&since=' + (Date.now() - 24 * 3600 * 1000))).entries;
  expect(api.length > 0, 'the seeding left entries');
  await t.go(page, '/audit');
  await page.waitForSelector('table.audit-log tbody tr');
  const rows = await page.locator('table.audit-log tbody tr').count();
  expect(rows === api.length, `rows ${rows} vs entries ${api.length}`);
  const first = await page.locator('table.audit-log tbody tr').first().innerText();
  expect(first.includes('experiments/create') && first.includes(`name=${name}`), 'newest first: ' + first);
  expect(await page.title() === 'Audit log · ringo', 'title: ' + (await page.title()));
});

await t.check('filtering by route asks the server for those entries', async (page) => {
  const api = (await ringoApi(base, 'audit?limit=1000&route=runs/create&since=' + (Date.now() - 24 * 3600 * 1000))).entries;
  await t.go(page, '/audit');
  await page.waitForSelector('table.audit-log tbody tr');
  await page.getByLabel('Route').fill('runs/create');
  await page.getByLabel('Route').press('Enter');
  await page.waitForFunction(() => [...document.querySelectorAll('table.audit-log tbody tr')]
    .every((r) => r.dataset.route.includes('runs/create')));
  const rows = await page.locator('table.audit-log tbody tr').count();
  expect(rows === api.length && rows > 0, `rows ${rows} vs entries ${api.length}`);
  // An actor nobody is leaves nothing.
  await page.getByLabel('Actor').fill('token:nobody');
  await page.getByLabel('Actor').press('Enter');
  await page.getByText('No change in this range').waitFor();
});

await t.check('the time range is part of the link', async (page) => {
  await t.go(page, '/audit?hours=1');
  await page.waitForSelector('table.audit-log tbody tr');
  const pressed = await page.locator('[aria-label="Time range"] button[aria-pressed="true"]').innerText();
  expect(pressed === '1h', 'pressed: ' + pressed);
  await page.getByRole('button', { name: '7d' }).click();
  await page.waitForFunction(() => location.hash.includes('hours=168'));
});

await t.finish();
