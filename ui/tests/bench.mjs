// Benchmark of the web UI at scale, measured in the browser with performance.now():
//  - runs page with 100k runs in one experiment: first rows rendered, and a scroll far down
//    handled (rows drawn at the new position), from navigation start;
//  - a chart of a 1M-point metric: from navigation start until uPlot has drawn.
// Prints the median of 3 fresh page loads for each. Targets: <= 1 s and <= 1 s.
// Usage: RINGO_BIN=build/ringo node ui/tests/bench.mjs [store-dir]
//   A store dir from an earlier run is reused (seeding 100k runs takes a while); RUNS and POINTS
//   override the sizes.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { client, launch, median, startRingo, startUi } from './lib.mjs';

const RUNS = Number(process.env.RUNS ?? 100_000);
const POINTS = Number(process.env.POINTS ?? 1_000_000);
const store = process.argv[2];
const ringo = await startRingo(store);
const api = client(ringo.url);
const name = `bench-${RUNS}`;

/** Runs `n` jobs with at most `width` in flight. */
async function pool(n, width, job) {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < n) await job(next++);
    }),
  );
}

let experimentId;
let bigRun;
try {
  const { experiment } = await api.get(`experiments/get-by-name?experiment_name=${name}`);
  experimentId = experiment.experiment_id;
  const r = await api.post('runs/search', { experiment_ids: [experimentId], filter: "tags.bench = 'big'", max_results: 1 });
  bigRun = r.runs[0].info.run_id;
  console.log(`reusing ${name} (experiment ${experimentId}) in ${store}`);
} catch {
  const t = Date.now();
  ({ experiment_id: experimentId } = await api.post('experiments/create', { name }));
  const start = Date.now() - RUNS * 1000;
  await pool(RUNS, 32, async (i) => {
    const { run } = await api.post('runs/create', { experiment_id: experimentId, run_name: `run-${i}`, start_time: start + i * 1000 });
    const id = run.info.run_id;
    await api.post('runs/log-batch', {
      run_id: id,
      params: [
        { key: 'lr', value: String(10 ** -(1 + (i % 4))) },
        { key: 'batch_size', value: String(32 << i % 3) },
      ],
      metrics: [
        { key: 'loss', value: 1 / (1 + (i % 977)), timestamp: start + i * 1000, step: 0 },
        { key: 'accuracy', value: (i % 1000) / 1000, timestamp: start + i * 1000, step: 0 },
      ],
    });
    if (i % 10000 === 0) process.stdout.write(`  ${i} runs\r`);
  });
  const { run } = await api.post('runs/create', { experiment_id: experimentId, run_name: 'big-metric', tags: [{ key: 'bench', value: 'big' }] });
  bigRun = run.info.run_id;
  const t0 = Date.now() - POINTS;
  await pool(POINTS / 1000, 8, async (b) => {
    const metrics = [];
    for (let i = b * 1000; i < (b + 1) * 1000; i++) metrics.push({ key: 'big', value: Math.sin(i / 5000) + (i % 7919 === 0 ? 5 : 0) + Math.random() * 0.1, timestamp: t0 + i, step: i });
    await api.post('runs/log-batch', { run_id: bigRun, metrics });
  });
  console.log(`seeded ${RUNS} runs and a ${POINTS}-point metric in ${((Date.now() - t) / 1000).toFixed(1)} s`);
}

const ui = await startUi(ringo.url);
const browser = await launch();

async function fresh(fn) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
  const page = await context.newPage();
  try {
    return await fn(page);
  } finally {
    await context.close();
  }
}

const runsPage = [];
const firstRows = [];
const chart = [];
for (let i = 0; i < 3; i++) {
  const r = await fresh(async (page) => {
    await page.goto(`${ui.url}/#/experiments/${experimentId}`);
    return page.evaluate(async () => {
      const frame = () => new Promise((r) => requestAnimationFrame(r));
      while (!performance.getEntriesByName('ringo:rows').length) await frame();
      const first = performance.getEntriesByName('ringo:rows')[0].startTime;
      const table = document.querySelector('[data-testid=runs-table]');
      table.scrollTop = 150 * 30; // 150 rows down: needs new rows rendered
      // Handled once a row exists whose top is at or past the new scroll position.
      while (![...table.querySelectorAll('.vrow[data-run]')].some((r) => parseFloat(r.style.top) >= 150 * 30)) await frame();
      return { first, interactive: performance.now() };
    });
  });
  firstRows.push(r.first);
  runsPage.push(r.interactive);
  const c = await fresh(async (page) => {
    await page.goto(`${ui.url}/#/charts?runs=${bigRun}&keys=big`);
    await page.waitForFunction(() => performance.getEntriesByName('ringo:chart').length > 0, null, { timeout: 60000 });
    const total = await page.locator('.chart figcaption').innerText();
    if (!total.includes(POINTS.toLocaleString('en-US'))) throw new Error('chart does not cover every point: ' + total);
    return page.evaluate(() => performance.getEntriesByName('ringo:chart')[0].startTime);
  });
  chart.push(c);
}
const f = (xs) => xs.map((x) => x.toFixed(0)).join(', ');
console.log(`runs page, ${RUNS} runs: first rows ${median(firstRows).toFixed(0)} ms, interactive (scroll handled) ${median(runsPage).toFixed(0)} ms  [${f(runsPage)}]  target <= 1000 ms`);
console.log(`chart, ${POINTS} points: drawn ${median(chart).toFixed(0)} ms  [${f(chart)}]  target <= 1000 ms`);
await browser.close();
await ui.stop();
await ringo.stop();
const ok = median(runsPage) <= 1000 && median(chart) <= 1000;
process.exit(ok ? 0 : 1);
