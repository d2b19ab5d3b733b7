// Writes docs/screenshots/*.png: the main pages of the UI over the test data.
// Usage: RINGO_BIN=build/ringo node ui/tests/screenshots.mjs
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { launch, repoDir, startRingo, startUi } from './lib.mjs';
import { seed, seedDelivery } from './seed.mjs';

const out = join(repoDir, 'docs/screenshots');
mkdirSync(out, { recursive: true });
const ringo = await startRingo();
const ui = await startUi(ringo.url);
const browser = await launch();
const d = await seed(ringo.url);
const delivery = await seedDelivery(ringo.url, d);
const runs = `${d.child1.info.run_id},${d.child2.info.run_id},${d.baseline.info.run_id}`;
if (delivery) await extras(ringo.url, delivery);

/** What the delivery pages show beyond the tests' seed: rules, a contract, OS and app versions. */
async function extras(base, { dep1, dep2 }) {
  const post = (path, body) =>
    fetch(`${base}/api/ringo/v1/${path}`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
  await post('channels/rules', { collection: 'app', channel: 'release',
    rules: [{ name: 'ipad-beta', device_class: ['iPad13,4'], app_version: '>=2.0,<3.0', deployment_id: dep2 }] });
  const card = await (await fetch(`${base}/api/ringo/v1/model-versions/coreml?name=digits&version=1`)).json();
  await post('apps/contracts', { collection: 'app', app_versions: '>=1.0,<2.0', models: { digits: card.coreml } });
  const now = Date.now();
  const events = [];
  for (const [os_version, app_version, n, bad] of [['17.4', '2.0.1', 40, 2], ['18.1', '2.1.0', 60, 9], ['16.7', '1.9.0', 20, 0]])
    for (let i = 0; i < n; i++)
      events.push({ event: 'prediction', model: 'digits', version: '2', device_class: 'iPhone15,2', os_version, app_version,
        latency_ms: 3 + (i % 5) * 0.3, time: now - 900_000 + i * 5000, ...(i < bad ? { error: 'bad input' } : {}) });
  await fetch(`${base}/api/deploy/v1/telemetry`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(events) });
}
const openRegister = (page) => page.getByRole('button', { name: 'Register model' }).click();

const shots = [
  ['experiments', '/experiments', 'table.experiments', 'light'],
  ['runs', `/experiments/${d.experiment_id}?cols=metrics.accuracy,metrics.loss,params.lr,params.batch_size,tags.team`, '.vrow[data-run]', 'light'],
  ['runs-dark', `/experiments/${d.experiment_id}?cols=metrics.accuracy,metrics.loss,params.lr,params.batch_size,tags.team`, '.vrow[data-run]', 'dark'],
  ['run', `/runs/${d.baseline.info.run_id}`, '.chart canvas', 'light'],
  ['charts', `/charts?runs=${runs}&keys=loss,accuracy`, '.chart canvas', 'light'],
  ['compare', `/compare?runs=${runs}&diff=1`, '.chart canvas', 'light'],
  ['artifact-csv', `/runs/${d.baseline.info.run_id}/artifacts/predictions.csv`, '[data-testid=csv-table]', 'light'],
  ['artifact-model', `/runs/${d.baseline.info.run_id}/artifacts/model/Relu.mlmodel`, '[data-testid=model-card]', 'light', 1280, openRegister],
  ...(delivery
    ? [
        ['models', '/models', '[data-testid=models-table]', 'light'],
        ['model', '/models/digits?version=2', '[data-testid=coreml-summary]', 'light'],
        ['deployments', '/deployments', 'tr[data-channel]', 'light'],
        ['channel', '/deployments/app/release', '[data-testid=channel-history]', 'light'],
        ['telemetry', '/telemetry?model=digits&version=2', '[data-testid=latency-chart] canvas', 'light'],
        ['channel-phone', '/deployments/app/release', '[data-testid=channel-history]', 'light', 390],
        // Dark, and the phone's width, for the delivery pages too.
        ['model-dark', '/models/digits?version=2', '[data-testid=coreml-summary]', 'dark'],
        ['channel-dark', '/deployments/app/release', '[data-testid=channel-history]', 'dark'],
        ['telemetry-dark', '/telemetry?model=digits&version=2', '[data-testid=latency-chart] canvas', 'dark'],
        ['model-phone', '/models/digits?version=2', '[data-testid=coreml-summary]', 'light', 390],
        ['telemetry-phone', '/telemetry?model=digits&version=2', '[data-testid=latency-chart] canvas', 'dark', 390],
      ]
    : []),
  // A phone's width (390 px): the same pages, narrow.
  ['experiments-phone', '/experiments', 'table.experiments', 'light', 390],
  ['run-phone', `/runs/${d.baseline.info.run_id}`, '.chart canvas', 'dark', 390],
  ['runs-phone', `/experiments/${d.experiment_id}`, '.vrow[data-run]', 'light', 390],
  ['experiments-dark', '/experiments', 'table.experiments', 'dark'],
  ['run-dark', `/runs/${d.baseline.info.run_id}`, '.chart canvas', 'dark'],
  ['audit', '/audit', 'table.audit-log', 'light'],
  ['audit-dark-phone', '/audit', 'table.audit-log', 'dark', 390],
];
for (const [name, hash, ready, colorScheme, width = 1280, before] of shots) {
  const height = width < 600 ? 844 : 800;
  const context = await browser.newContext({ viewport: { width, height }, colorScheme });
  const page = await context.newPage();
  await page.goto(`${ui.url}/#${hash}`);
  await page.locator(ready).first().waitFor({ timeout: 10000 });
  if (before) await before(page);
  await page.waitForTimeout(300);
  const full = ['run', 'model', 'channel', 'compare', 'telemetry'].includes(name.replace(/-(dark|phone)$/, ''));
  await page.screenshot({ path: join(out, `${name}.png`), fullPage: full });
  await context.close();
  console.log(`docs/screenshots/${name}.png`);
}
await browser.close();
await ui.stop();
await ringo.stop();
