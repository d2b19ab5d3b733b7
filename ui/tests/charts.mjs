// Browser tests of the charts and the compare page: a palette that does not repeat, one-value
// metrics as bars, elapsed time as durations; differences only, parallel coordinates, scatter.
// Usage: RINGO_BIN=build/ringo node ui/tests/charts.mjs
import { client } from './lib.mjs';
import { expect, suite } from './suite.mjs';

const t = await suite();
const api = client(t.ringo.url);
const { child1, child2, baseline } = t.data;

// Twenty runs of one experiment, each with a curve and a test accuracy logged once.
const { experiment_id } = await api.post('experiments/create', { name: 'many-runs' });
const many = [];
const t0 = Date.now() - 7200_000;
for (let i = 0; i < 20; i++) {
  const { run } = await api.post('runs/create', { experiment_id, run_name: `r${String(i).padStart(2, '0')}`, start_time: t0 });
  const metrics = [];
  for (let s = 0; s < 50; s++) metrics.push({ key: 'loss', value: 1 / (s + 1 + i), timestamp: t0 + s * 3000, step: s });
  metrics.push({ key: 'test_accuracy', value: 0.5 + i / 50, timestamp: t0, step: 0 });
  await api.post('runs/log-batch', { run_id: run.info.run_id, metrics });
  many.push(run);
}
const ids = many.map((r) => r.info.run_id).join(',');

await t.check('twenty runs get twenty different lines: colour, then dash', async (page) => {
  await t.go(page, `/charts?runs=${ids}&keys=loss`);
  await page.locator('.chart canvas').first().waitFor();
  const swatches = await page.locator('.legend .swatch').evaluateAll((els) => els.map((e) => e.getAttribute('style')));
  expect(swatches.length === 20, 'a swatch per run: ' + swatches.length);
  expect(new Set(swatches).size === 20, 'all distinct: ' + swatches.join(' | '));
  expect(swatches[8] !== swatches[0], 'the 9th run is not the 1st');
});

await t.check('a metric with one value per run is drawn as bars with the values', async (page) => {
  await t.go(page, `/charts?runs=${ids}&keys=test_accuracy`);
  const bars = page.getByTestId('bar-chart');
  await bars.waitFor();
  const rows = bars.locator('.bar-row');
  expect((await rows.count()) === 20, 'a bar per run');
  for (const k of [0, 19]) {
    const run = (await api.get(`runs/get?run_id=${many[k].info.run_id}`)).run;
    const want = run.data.metrics.find((m) => m.key === 'test_accuracy').value;
    const shown = await rows.nth(k).locator('.bar-value').innerText();
    expect(Number(shown) === want, `run ${k}: shows ${shown}, the server has ${want}`);
  }
  const w0 = await rows.nth(0).locator('.bar').evaluate((e) => e.getBoundingClientRect().width);
  const w19 = await rows.nth(19).locator('.bar').evaluate((e) => e.getBoundingClientRect().width);
  expect(w19 > w0, `longer bar for the larger value (${w0} vs ${w19})`);
  expect((await page.locator('[data-metric=test_accuracy] canvas').count()) === 0, 'no line chart of lone dots');
});

await t.check('relative time reads as a duration ("2m 30s"), not seconds', async (page) => {
  await t.go(page, `/charts?runs=${many[0].info.run_id}&keys=loss&x=relative`);
  const over = page.locator('.chart .u-over').first();
  await over.waitFor();
  const box = await over.boundingBox();
  await page.mouse.move(box.x + box.width * 0.6, box.y + box.height / 2);
  const x = await page.locator('.chart .u-legend .u-series').first().locator('.u-value').innerText();
  expect(/^(\d+(\.\d+)?s|\d+m( \d+s)?|\d+h( \d+m)?)$/.test(x), 'elapsed time as a duration: ' + x);
});

await t.check('compare: "show differences only" hides the params and metrics every run shares', async (page) => {
  const runs = [child1, child2].map((r) => r.info.run_id);
  const got = await Promise.all(runs.map((id) => api.get(`runs/get?run_id=${id}`).then((r) => r.run)));
  const value = (r, k) => r.data.params.find((p) => p.key === k)?.value;
  const keys = [...new Set(got.flatMap((r) => r.data.params.map((p) => p.key)))];
  const equal = keys.filter((k) => value(got[0], k) === value(got[1], k));
  const different = keys.filter((k) => !equal.includes(k));
  expect(equal.length && different.length, 'the seed has equal and different params');
  await t.go(page, `/compare?runs=${runs.join(',')}`);
  const table = page.getByTestId('compare-table');
  await table.waitFor();
  for (const k of equal) expect((await table.locator(`tr[data-key="${k}"]`).count()) === 1, `${k} shown at first`);
  await page.getByLabel('Show differences only').check();
  await page.waitForFunction(() => location.hash.includes('diff=1'));
  for (const k of equal) expect((await table.locator(`tr[data-key="${k}"]`).count()) === 0, `${k} (equal) hidden`);
  for (const k of different) expect((await table.locator(`tr[data-key="${k}"]`).count()) === 1, `${k} (differs) kept`);
  await page.getByLabel('Show differences only').uncheck();
  await table.locator(`tr[data-key="${equal[0]}"]`).waitFor();
});

await t.check('compare: parallel coordinates of the differing params to a chosen metric', async (page) => {
  const runs = [child1, child2, baseline].map((r) => r.info.run_id);
  await t.go(page, `/compare?runs=${runs.join(',')}`);
  const plot = page.getByTestId('parallel-plot');
  await plot.waitFor();
  expect((await plot.locator('path.run-line').count()) === 3, 'a line per run');
  const axes = await plot.locator('g.axis').evaluateAll((gs) => gs.map((g) => g.getAttribute('data-field')));
  expect(axes.join() === 'params.batch_size,params.lr,params.model,metrics.accuracy', 'axes: ' + axes.join());
  await plot.getByLabel('Metric', { exact: true }).selectOption('loss');
  await plot.locator('g.axis[data-field="metrics.loss"]').waitFor();
});

await t.check('compare: a scatter of two chosen fields puts each run at its values', async (page) => {
  const runs = [child1, child2, baseline];
  await t.go(page, `/compare?runs=${runs.map((r) => r.info.run_id).join(',')}`);
  const plot = page.getByTestId('scatter-plot');
  await plot.waitFor();
  await plot.getByLabel('X', { exact: true }).selectOption('params.lr');
  await plot.getByLabel('Y', { exact: true }).selectOption('metrics.loss');
  await plot.locator('circle[data-x="0.5"]').waitFor();
  for (const r of runs) {
    const run = (await api.get(`runs/get?run_id=${r.info.run_id}`)).run;
    const lr = run.data.params.find((p) => p.key === 'lr').value;
    const loss = run.data.metrics.find((m) => m.key === 'loss').value;
    const dot = plot.locator(`circle[data-run="${r.info.run_id}"]`);
    expect((await dot.getAttribute('data-x')) === String(lr), `x of ${lr}`);
    expect(Number(await dot.getAttribute('data-y')) === loss, `y of ${loss}`);
  }
  const ys = await plot.locator('circle').evaluateAll((cs) => cs.map((c) => Number(c.getAttribute('cy'))));
  expect(new Set(ys).size === 3, 'three runs, three heights');
});

await t.finish();
