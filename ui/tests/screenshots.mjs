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

const shots = [
  ['experiments', '/experiments', 'table.experiments', 'light'],
  ['runs', `/experiments/${d.experiment_id}?cols=metrics.accuracy,metrics.loss,params.lr,params.batch_size,tags.team`, '.vrow[data-run]', 'light'],
  ['runs-dark', `/experiments/${d.experiment_id}?cols=metrics.accuracy,metrics.loss,params.lr,params.batch_size,tags.team`, '.vrow[data-run]', 'dark'],
  ['run', `/runs/${d.baseline.info.run_id}`, '.chart canvas', 'light'],
  ['charts', `/charts?runs=${runs}&keys=loss,accuracy`, '.chart canvas', 'light'],
  ['compare', `/compare?runs=${d.child1.info.run_id},${d.child2.info.run_id}`, '.chart canvas', 'light'],
  ['artifact-csv', `/runs/${d.baseline.info.run_id}/artifacts/predictions.csv`, '[data-testid=csv-table]', 'light'],
  ['artifact-model', `/runs/${d.baseline.info.run_id}/artifacts/model/Relu.mlmodel`, '[data-testid=model-card]', 'light'],
  ...(delivery
    ? [
        ['models', '/models', '[data-testid=models-table]', 'light'],
        ['model', '/models/digits?version=2', '[data-testid=coreml-summary]', 'light'],
        ['deployments', '/deployments', 'tr[data-channel]', 'light'],
        ['channel', '/deployments/app/release', '[data-testid=channel-history]', 'light'],
        ['telemetry', '/telemetry?model=digits&version=2', '[data-testid=latency-chart] canvas', 'light'],
        ['channel-phone', '/deployments/app/release', '[data-testid=channel-history]', 'light', 390],
      ]
    : []),
  // A phone's width (390 px): the same pages, narrow.
  ['experiments-phone', '/experiments', 'table.experiments', 'light', 390],
  ['run-phone', `/runs/${d.baseline.info.run_id}`, '.chart canvas', 'dark', 390],
];
for (const [name, hash, ready, colorScheme, width = 1280] of shots) {
  const height = width < 600 ? 844 : 800;
  const context = await browser.newContext({ viewport: { width, height }, colorScheme });
  const page = await context.newPage();
  await page.goto(`${ui.url}/#${hash}`);
  await page.locator(ready).first().waitFor({ timeout: 10000 });
  await page.waitForTimeout(300);
  await page.screenshot({ path: join(out, `${name}.png`), fullPage: name === 'run' || name === 'model' || name === 'channel' });
  await context.close();
  console.log(`docs/screenshots/${name}.png`);
}
await browser.close();
await ui.stop();
await ringo.stop();
