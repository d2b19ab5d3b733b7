// Browser tests of the web UI against a real, freshly seeded ringo server.
// Usage: RINGO_BIN=build/ringo node ui/tests/run.mjs   (RINGO_UI_URL: the UI is served there)
// Exit status 0 when every check passes.
import { createServer } from 'node:http';
import { artifactPath, client, launch, startRingo, startUi } from './lib.mjs';
import { seed, seedDelivery, seedSweeps } from './seed.mjs';

const ringo = await startRingo();
const ui = await startUi(ringo.url);
const browser = await launch();
const data = await seed(ringo.url);
const exp = data.experiment_id;
const delivery = await seedDelivery(ringo.url, data);
const sweeps = await seedSweeps(ringo.url);
const go = async (page, hash) => {
  await page.goto(`${ui.url}/#${hash}`);
};

let failed = 0;
async function check(name, fn) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.setDefaultTimeout(8000);
  const t = Date.now();
  try {
    await fn(page);
    if (errors.length) throw new Error('page error: ' + errors.join('; '));
    console.log(`ok   ${name} (${Date.now() - t} ms)`);
  } catch (e) {
    failed++;
    console.log(`FAIL ${name}: ${e.message.split('\n').slice(0, 6).join('\n     ')}`);
  } finally {
    await context.close();
  }
}
function expect(cond, what) {
  if (!cond) throw new Error(what);
}
const text = (page, sel) => page.locator(sel).first().innerText();

await check('at 390 px (a phone) no page scrolls sideways; wide tables scroll inside their box', async (page) => {
  await page.setViewportSize({ width: 390, height: 844 });
  const pages = ['/', `/experiments/${exp}`, `/runs/${data.baseline.info.run_id}`, '/models', '/deployments',
                 '/deployments/app', '/automation', '/deployments/app/release', '/telemetry?model=digits&version=2',
                 `/compare?runs=${data.child1.info.run_id},${data.baseline.info.run_id}`,
                 `/runs/${data.baseline.info.run_id}/artifacts/model`];
  const wide = [];
  for (const hash of pages) {
    await go(page, hash);
    await page.locator('main').first().waitFor();
    await page.waitForTimeout(300);
    const over = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    if (over > 1) wide.push(`${hash}: ${over}px`);
  }
  expect(wide.length === 0, 'pages wider than the phone: ' + wide.join(', '));
});

await check('experiments page lists and searches experiments', async (page) => {
  await go(page, '/');
  await page.getByRole('link', { name: 'digits-classifier' }).waitFor();
  await page.getByRole('link', { name: 'empty-experiment' }).waitFor();
  await page.getByLabel('Search experiments by name').fill('digits');
  await page.waitForFunction(() => !document.body.innerText.includes('empty-experiment'));
  expect(page.url().includes('q=digits'), 'search is in the URL: ' + page.url());
});

await check('experiments can be created, renamed and deleted', async (page) => {
  page.on('dialog', (d) => d.accept());
  await go(page, '/experiments');
  await page.getByLabel('New experiment name').fill('scratch');
  await page.getByRole('button', { name: 'Create' }).click();
  await page.getByText('No runs in this experiment yet').waitFor();
  expect(/#\/experiments\/\d+/.test(page.url()), 'navigated to the new experiment: ' + page.url());
  await go(page, '/experiments');
  const id = await page.locator('tr', { has: page.getByRole('link', { name: 'scratch' }) }).getAttribute('data-experiment');
  const row = page.locator(`tr[data-experiment="${id}"]`);
  await row.getByRole('button', { name: 'Rename' }).click();
  await row.getByLabel('Experiment name').fill('scratch-renamed');
  await row.getByRole('button', { name: 'Save' }).click();
  await page.getByRole('link', { name: 'scratch-renamed' }).waitFor();
  await page.locator('tr', { has: page.getByRole('link', { name: 'scratch-renamed' }) }).getByRole('button', { name: 'Delete' }).click();
  await page.waitForFunction(() => !document.body.innerText.includes('scratch-renamed'));
});

await check('runs table shows runs, picked columns and children under their parent', async (page) => {
  await go(page, `/experiments/${exp}`);
  await page.locator('[data-testid=runs-table] .vrow[data-run]').first().waitFor();
  const names = await page.locator('.vrow[data-run] .name a').allInnerTexts();
  expect(names.length === 4, `4 runs, got ${names.join(', ')}`);
  const sweep = names.indexOf('sweep');
  expect(sweep >= 0 && names.slice(sweep + 1, sweep + 3).sort().join() === 'lr-0.01,lr-0.1', 'children follow their parent: ' + names.join(', '));
  const head = await text(page, '.vhead');
  expect(head.includes('loss') && head.includes('lr'), 'default columns include metrics and params: ' + head);
  // pick a tag column through the picker
  await page.getByRole('button', { name: /Columns/ }).click();
  await page.getByRole('dialog').getByLabel('team').check();
  await page.waitForFunction(() => document.querySelector('.vhead')?.textContent?.includes('team'));
  expect(page.url().includes('tags.team'), 'columns are in the URL');
});

await check('sorting asks the server (order_by) and reorders rows', async (page) => {
  await go(page, `/experiments/${exp}?group=0&cols=params.lr,metrics.loss`);
  await page.locator('.vrow[data-run]').first().waitFor();
  await page.locator('.vhead button', { hasText: 'lr' }).click();
  await page.waitForFunction(() => location.hash.includes('order='));
  await page.waitForFunction(() => document.querySelector('.vrow[data-run] .name a')?.textContent === 'baseline');
  await page.locator('.vhead button', { hasText: 'lr' }).click();
  await page.waitForFunction(() => document.querySelector('.vrow[data-run] .name a')?.textContent === 'lr-0.01');
});

/** The rows the table shows, as [top in px, run name], in DOM order. */
const shownRows = (page) =>
  page.evaluate(() =>
    [...document.querySelectorAll('[data-testid=runs-table] .vrow[data-run]')].map((r) => [parseFloat(r.style.top), r.querySelector('.name a').textContent]),
  );

await check('grouped runs table: sort, then wheel-scroll, keeps the rows in view rendered and in order', async (page) => {
  // What the table must show: runs by score, best first; children right under their parent.
  const byScore = [...sweeps.runs].sort((a, b) => b.score - a.score);
  const expected = [];
  for (const r of byScore.filter((r) => !r.parent)) {
    expected.push(r.name);
    for (const c of byScore.filter((c) => c.parent === r.name)) expected.push(c.name);
  }
  await go(page, `/experiments/${sweeps.experiment_id}?cols=metrics.score`);
  const table = page.getByTestId('runs-table');
  await table.locator('.vrow[data-run]').first().waitFor();
  await page.waitForFunction(() => document.querySelector('[data-testid=run-count]')?.textContent?.trim() === '221 runs');
  await page.locator('.vhead button', { hasText: 'score' }).click();
  await page.waitForFunction(() => location.hash.includes('order='));
  await page.waitForFunction((first) => document.querySelector('.vrow[data-run] .name a')?.textContent === first, expected[0]);
  const box = await table.boundingBox();
  await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
  for (const [dy, what] of [[500, 'one wheel scroll'], [1500, 'further down'], [20000, 'to the end'], [-900, 'back up']]) {
    await page.mouse.wheel(0, dy);
    await page.waitForFunction(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(() => r(true)))));
    await page.waitForTimeout(100);
    const { top, height } = await table.evaluate((el) => ({ top: el.scrollTop, height: el.clientHeight }));
    expect(dy < 0 || top > 0, `${what}: the table scrolled`);
    const rows = await shownRows(page);
    // Every row slot in the viewport (the sticky header covers the first 30 px) is rendered,
    // and holds the run the order says.
    const first = Math.floor(top / 30);
    const last = Math.min(expected.length - 1, Math.floor((top + height - 31) / 30));
    for (let i = first; i <= last; i++) {
      const row = rows.find(([t]) => t === i * 30);
      expect(row, `${what}: row ${i} (of ${expected.length}) is rendered at scrollTop ${top}; rendered: ${rows.length}`);
      expect(row[1] === expected[i], `${what}: row ${i} is ${expected[i]}, not ${row[1]}`);
    }
    expect(last - first >= 10, `${what}: a screenful of rows (${first}..${last})`);
  }
  expect((await shownRows(page)).length < 120, 'rows outside the view are not rendered');
});

await check('a bad filter shows the server error inline, a good one filters', async (page) => {
  await go(page, `/experiments/${exp}`);
  await page.locator('.vrow[data-run]').first().waitFor();
  await page.getByLabel('Filter runs').fill('metrics.loss >> 3');
  await page.getByRole('button', { name: 'Search' }).click();
  const err = page.getByTestId('filter-error');
  await err.waitFor();
  const msg = await err.innerText();
  expect(/metrics\.loss/.test(msg) && /invalid filter/i.test(msg), 'error names the filter: ' + msg);
  expect((await page.locator('.filter-error mark').count()) === 1, 'the bad token is marked');
  await page.getByLabel('Filter runs').fill("params.lr = '0.1'");
  await page.getByRole('button', { name: 'Search' }).click();
  await page.waitForFunction(() => document.querySelectorAll('.vrow[data-run]').length === 1);
  expect((await text(page, '.vrow[data-run] .name a')) === 'lr-0.1', 'filter kept lr-0.1');
});

await check('two selected runs compare side by side', async (page) => {
  await go(page, `/experiments/${exp}`);
  await page.locator('.vrow[data-run]').first().waitFor();
  await page.getByLabel('Select lr-0.01').check();
  await page.getByLabel('Select lr-0.1').check();
  await page.getByRole('link', { name: /Compare 2/ }).click();
  const table = page.getByTestId('compare-table');
  await table.waitFor();
  const t = await table.innerText();
  expect(t.includes('lr-0.01') && t.includes('lr-0.1'), 'both runs are columns');
  expect((await table.locator('tr.differs[data-key=lr]').count()) === 1, 'lr is marked as differing');
  expect((await table.locator('tr.differs[data-key=batch_size]').count()) === 0, 'batch_size is the same');
  await page.locator('.chart canvas').first().waitFor();
});

await check('run page deep link: params, metrics, tags, description, parent, datasets, logs, artifacts', async (page) => {
  await go(page, `/runs/${data.baseline.info.run_id}`);
  await page.getByRole('heading', { name: /baseline/ }).waitFor();
  expect((await text(page, '[data-testid=params]')).includes('logreg'), 'params');
  expect((await text(page, '[data-testid=metrics]')).includes('accuracy'), 'metrics');
  expect((await text(page, '[data-testid=tags]')).includes('vision'), 'tags');
  await page.getByText('Logistic regression baseline').waitFor();
  expect((await text(page, '[data-testid=datasets]')).includes('digits-train'), 'datasets');
  await page.getByTestId('log-stdout.txt').waitFor();
  expect((await text(page, '[data-testid="log-stdout.txt"]')).includes('epoch 2'), 'stdout log');
  expect((await text(page, '[data-testid="log-stderr.txt"]')).includes('skipped'), 'stderr log');
  await page.getByRole('link', { name: /config\.json/ }).waitFor();
  await go(page, `/runs/${data.child1.info.run_id}`);
  await page.getByTestId('parent-link').waitFor();
  await go(page, `/runs/${data.parent.info.run_id}`);
  const kids = await page.getByTestId('children').innerText();
  expect(kids.includes('lr-0.01') && kids.includes('lr-0.1'), 'children listed: ' + kids);
});

/** Counts painted pixels of the first chart canvas (uPlot draws series on one canvas). */
// A chart re-renders when its data arrives (a slow server, e.g. under sanitizers, makes that
// late), so wait for a canvas with paint instead of reading whichever one is there first.
const painted = async (page, sel = '.chart canvas', min = 500) => {
  const count = (sel) => {
    const c = document.querySelector(sel);
    if (!c) return 0;
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let n = 0;
    for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++;
    return n;
  };
  // The count comes from the same evaluation that saw enough pixels: a chart replaced between
  // the wait and a second look (a new canvas not yet painted) cannot turn a pass into a failure.
  const seen = await page
    .waitForFunction(([sel, min]) => {
      const c = document.querySelector(sel);
      if (!c) return false;
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      let n = 0;
      for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++;
      return n > min ? n : false;
    }, [sel, min], { timeout: 8000 })
    .catch(() => null);
  return seen ? seen.jsonValue() : page.evaluate(count, sel);
};

await check('a chart draws, with x modes, log scale and smoothing', async (page) => {
  await go(page, `/charts?runs=${data.child1.info.run_id},${data.child2.info.run_id}&keys=loss`);
  await page.locator('.chart canvas').waitFor();
  expect((await painted(page)) > 500, 'the canvas has drawn pixels');
  expect((await text(page, '.chart figcaption')).includes('600 points'), 'both series counted: ' + (await text(page, '.chart figcaption')));
  for (const x of ['time', 'relative']) {
    await page.getByLabel('X axis').selectOption(x);
    await page.waitForFunction((x) => location.hash.includes('x=' + x), x);
    await page.locator('.chart canvas').waitFor();
    expect((await painted(page)) > 500, `draws with x=${x}`);
  }
  await page.getByLabel('Log scale').check();
  await page.waitForFunction(() => location.hash.includes('log=1'));
  await page.locator('.chart canvas').waitFor();
  expect((await painted(page)) > 500, 'draws on a log scale');
  await go(page, `/charts?runs=${data.child1.info.run_id}&keys=loss&smooth=0.9`);
  await page.locator('.chart canvas').waitFor();
  expect((await painted(page)) > 500, 'draws smoothed');
});

await check('artifacts preview: JSON, YAML, CSV table, text, PNG', async (page) => {
  const base = `/runs/${data.baseline.info.run_id}/artifacts`;
  await go(page, `${base}/config.json`);
  await page.locator('pre.json').waitFor();
  expect((await text(page, 'pre.json')).includes('"model": "logreg"'), 'JSON pretty-printed');
  await go(page, `${base}/params.yaml`);
  await page.locator('pre.yaml .y-key').first().waitFor();
  await go(page, `${base}/predictions.csv`);
  await page.getByTestId('csv-table').waitFor();
  // The table renders as soon as the preview starts; wait for this file's rows, not a stale render.
  await page.waitForFunction(() => (document.querySelector('[data-testid=csv-table]')?.innerText ?? '').includes('1, maybe'),
                             null, { timeout: 8000 }).catch(() => {});
  expect((await page.locator('[data-testid=csv-table] tbody tr').count()) === 4, 'CSV rows');
  expect((await text(page, '[data-testid=csv-table]')).includes('1, maybe'), 'quoted CSV field');
  await go(page, `${base}/notes.txt`);
  await page.getByText('No augmentation.').waitFor();
  await go(page, `${base}/plots/confusion.png`);
  const img = page.locator('img.artifact-image');
  await img.waitFor();
  await page.waitForFunction(() => document.querySelector('img.artifact-image')?.naturalWidth === 96);
  expect((await page.locator('[data-testid=artifact-tree] li.on').innerText()).includes('confusion.png'), 'tree opened to the file');
  const dl = await page.getByRole('link', { name: 'Download', exact: true }).getAttribute('href');
  const res = await fetch(ui.url + dl);
  expect(res.ok && (await res.arrayBuffer()).byteLength > 100, 'download link serves the file');
});

await check('a Core ML model artifact shows its model card', async (page) => {
  if (!data.model) throw new Error('this ringo binary could not convert the test model');
  await go(page, `/runs/${data.baseline.info.run_id}/artifacts/model/Relu.mlmodel`);
  const card = page.getByTestId('model-card');
  await card.waitFor();
  const t = await card.innerText();
  expect(t.includes('neuralNetwork') && t.includes('MultiArray') && t.includes('activation'), 'model card: ' + t.slice(0, 200));
});

await check('registry: models list searches and links to a model', async (page) => {
  if (!delivery) throw new Error('this ringo binary could not convert the test model');
  await go(page, '/models');
  const row = page.locator('[data-testid=models-table] tr[data-model=digits]');
  await row.waitFor();
  const t = await row.innerText();
  expect(t.includes('v2') && t.includes('@champion'), 'latest version and alias: ' + t);
  await page.getByLabel('Search models by name').fill('nomatch');
  await page.getByText('No model matches').waitFor();
  expect(page.url().includes('q=nomatch'), 'search is in the URL');
  await page.getByLabel('Search models by name').fill('dig');
  await page.getByRole('link', { name: 'digits' }).click();
  await page.getByTestId('versions-table').waitFor();
});

await check('model page deep link: versions, stage, aliases, Core ML summary, lineage to the run', async (page) => {
  if (!delivery) throw new Error('no registry data');
  await go(page, '/models/digits');
  const table = page.getByTestId('versions-table');
  await table.waitFor();
  expect((await table.locator('tbody tr').count()) === 2, 'two versions');
  const v2 = await table.locator('tr[data-version="2"]').innerText();
  expect(v2.includes('Staging') && v2.includes('ready'), 'v2 stage and status: ' + v2);
  expect((await table.locator('tr[data-version="1"]').innerText()).includes('@champion'), 'v1 alias');
  const summary = page.getByTestId('coreml-summary');
  await summary.waitFor();
  const s = await summary.innerText();
  expect(s.includes('neuralNetwork') && s.includes('MultiArray') && /sha256/.test(s), 'Core ML summary: ' + s.slice(0, 200));
  // One sha256 for a model file: the file's own, here as on the channel page and in manifests.
  expect(s.includes(`sha256\n${delivery.sha256}`) || s.includes(`sha256\t${delivery.sha256}`), 'the version shows the file\'s SHA-256: ' + s);
  await go(page, '/models/digits?version=1');
  const lineage = page.getByTestId('lineage-link');
  await lineage.waitFor();
  expect((await lineage.getAttribute('href')) === `#/runs/${data.baseline.info.run_id}`, 'v1 links to the baseline run');
  await lineage.click();
  await page.getByRole('heading', { name: /baseline/ }).waitFor();
  await go(page, '/models/no-such-model');
  await page.getByRole('alert').getByText('Not found', { exact: true }).waitFor();
});

await check('deployments: collections with each channel, its deployment and rollout', async (page) => {
  if (!delivery) throw new Error('no delivery data');
  await go(page, '/deployments');
  const release = page.locator('[data-collection=app] tr[data-channel=release]');
  await release.waitFor();
  const r = await release.innerText();
  expect(r.includes(delivery.dep2) && r.includes('50%') && r.includes(delivery.dep1), 'release: dep2 at 50%, others on dep1: ' + r);
  expect(/digits v2/.test(r) && /digits v1/.test(r), 'deployments named by what they hold: ' + r);
  const st = await page.locator('[data-collection=app] tr[data-channel=staging]').innerText();
  expect(st.includes(delivery.dep2) && st.includes('100%'), 'staging on dep2: ' + st);
  await release.getByRole('link', { name: 'release' }).click();
  await page.getByTestId('channel-history').waitFor();
});

await check('automation: schedules with their next slot and actions; a release policy per collection', async (page) => {
  if (!delivery) throw new Error('no delivery data');
  const put = (method, path, body) =>
    fetch(`${ringo.url}${path}`, { method, headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
  let r = await put('POST', '/api/ringo/v1/schedules', {
    name: 'nightly', project: '/srv/digits', trigger: { type: 'cron', cron: '0 3 * * *', time_zone: 'Europe/Paris' },
  });
  expect(r.ok, 'schedule created: ' + (await r.text()));
  r = await put('PUT', '/api/ringo/v1/release-policies/app', { model: 'digits', release: { steps: [5, 100] } });
  expect(r.ok, 'policy set: ' + (await r.text()));
  await go(page, '/automation');
  const row = page.locator('tr[data-schedule=nightly]');
  await row.waitFor();
  const t = await row.innerText();
  expect(t.includes('cron 0 3 * * * (Europe/Paris)') && t.includes('/srv/digits'), 'schedule row: ' + t);
  await row.getByRole('button', { name: 'Pause' }).click();
  await row.getByRole('button', { name: 'Resume' }).waitFor();
  expect((await row.innerText()).includes('paused'), 'paused: ' + (await row.innerText()));
  await row.getByRole('button', { name: /nightly/ }).click();
  await page.getByText('No firing yet.').waitFor();
  const panel = page.locator('[data-release=app]');
  await panel.waitFor();
  const p = await panel.innerText();
  expect(p.includes('steps 5% → 100%') && p.includes('No candidate yet'), 'policy panel: ' + p);
  await put('DELETE', '/api/ringo/v1/release-policies/app', {});
  await put('DELETE', '/api/ringo/v1/schedules/nightly', {});
});

await check('channel page: promote, set the rollout and roll back by hand, each with a reason', async (page) => {
  if (!delivery) throw new Error('no delivery data');
  const post = async (path, body) => {
    const r = await fetch(`${ringo.url}/api/ringo/v1/${path}`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
    if (!r.ok) throw new Error(`${path}: ${r.status} ${await r.text()}`);
    return r.json();
  };
  await post('collections', { name: 'handmade', models: ['digits'] });
  const d1 = (await post('deployments', { collection: 'handmade', models: { digits: '1' } })).deployment.id;
  const d2 = (await post('deployments', { collection: 'handmade', models: { digits: '2' } })).deployment.id;
  await post('channels/promote', { collection: 'handmade', channel: 'release', deployment_id: d1 });
  page.on('dialog', (d) => d.accept());
  await go(page, '/deployments/handmade/release');
  const actions = page.getByTestId('channel-actions');
  await actions.waitFor();
  await actions.getByLabel('Reason').fill('canary by hand');
  await actions.getByLabel('Deployment to promote').fill(d2);
  await actions.getByLabel('Rollout percent').fill('20');
  await actions.getByRole('button', { name: 'Promote' }).click();
  await page.getByTestId('channel-facts').getByText('20%').waitFor();
  await actions.getByLabel('Rollout percent').fill('60');
  await actions.getByRole('button', { name: 'Set rollout %' }).click();
  await page.getByTestId('channel-facts').getByText('60%').waitFor();
  await actions.getByRole('button', { name: 'Roll back' }).click();
  const hist = page.getByTestId('channel-history');
  await hist.locator('tbody tr', { hasText: 'rollback' }).waitFor();
  const rows = await hist.locator('tbody tr').allInnerTexts();
  expect(rows.length === 4 && rows[0].includes('rollback') && rows[2].includes('canary by hand'), 'history: ' + rows.join(' | '));
});

await check('channel page deep link: history (who, when, why, from → to) and the models', async (page) => {
  if (!delivery) throw new Error('no delivery data');
  await go(page, '/deployments/app/release');
  const hist = page.getByTestId('channel-history');
  await hist.waitFor();
  const rows = await hist.locator('tbody tr').allInnerTexts();
  expect(rows.length === 2, 'two changes: ' + rows.join(' | '));
  expect(rows[0].includes('canary for half the devices') && rows[0].includes(`digits v1 ${delivery.dep1} → digits v2 ${delivery.dep2}`) && rows[0].includes('50%') && rows[0].includes('cli'), 'latest first: ' + rows[0]);
  expect(rows[1].includes('first release'), 'first promote: ' + rows[1]);
  const cur = await page.getByTestId('deployment-current').innerText();
  expect(cur.includes('digits') && cur.includes('v2') && cur.includes('50%'), 'current deployment models: ' + cur);
  expect((await page.getByTestId('deployment-previous').innerText()).includes('v1'), 'previous deployment serves the rest');
  expect((await page.getByTestId('deployment-current').locator('td.mono').getAttribute('title')) === delivery.sha256, 'the deployment names the same sha256 as the registry');
  await go(page, '/deployments/app/nope');
  await page.getByRole('alert').waitFor();
});

await check('telemetry charts per version and device class', async (page) => {
  if (!delivery) throw new Error('no delivery data');
  await go(page, '/telemetry?model=digits&version=2');
  await page.locator('[data-testid=events-chart] canvas').waitFor();
  await page.locator('[data-testid=latency-chart] canvas').waitFor();
  expect((await painted(page, '[data-testid=events-chart] canvas', 300)) > 300, 'events chart draws');
  expect((await painted(page, '[data-testid=latency-chart] canvas', 300)) > 300, 'latency chart draws');
  const sum = page.getByTestId('telemetry-summary');
  expect((await sum.locator('tbody tr').count()) === 2, 'two device classes');
  const slow = await sum.locator('tr[data-device="iPhone12,1"]').innerText();
  expect(/\b180\b/.test(slow) && /\b1\b/.test(slow), 'predictions and the failure counted: ' + slow);
  await page.getByRole('button', { name: 'iPhone12,1' }).click();
  await page.waitForFunction(() => location.hash.includes('device=iPhone12'));
  await page.waitForFunction(() => document.querySelectorAll('[data-testid=telemetry-summary] tbody tr').length === 1);
  await page.locator('[data-testid=latency-chart] canvas').waitFor();
  await go(page, '/telemetry?model=digits&version=9');
  await page.getByText('No telemetry yet').waitFor();
});

await check('telemetry past 10,000 events: true totals, a late failure, failures by event time', async (page) => {
  // 15,478 events for one version: predictions from two device classes over four hours, then
  // three failures posted in an order unlike the order they happened in.
  const t0 = Date.now() - 4 * 3600_000;
  const post = async (events) => {
    const res = await fetch(`${ringo.url}/api/deploy/v1/telemetry`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(events) });
    expect(res.ok, `POST telemetry: ${res.status}`);
  };
  const devices = { 'iPhone15,2': 10_000, 'iPad13,4': 5_475 };
  for (const [device_class, n] of Object.entries(devices))
    for (let s = 0; s < n; s += 1000) {
      const batch = [];
      for (let i = s; i < Math.min(n, s + 1000); i++)
        batch.push({ event: 'prediction', model: 'busy', version: '4', device_class, latency_ms: 2 + (i % 7), time: t0 + i * 1000 });
      await post(batch);
    }
  const fail = (error, minutes) => ({ event: 'failed', model: 'busy', version: '4', device_class: 'iPhone15,2', error, time: t0 + minutes * 60_000 });
  await post([fail('middle: load failed', 100)]);
  await post([fail('newest: compile out of memory', 230)]);
  await post([fail('oldest, reported late: download cut', 10)]);
  await go(page, '/telemetry?model=busy&version=4');
  const total = page.locator('[data-testid=events-chart] figcaption');
  await total.waitFor();
  expect((await total.innerText()).includes('15478 events'), 'every event counted: ' + (await total.innerText()));
  const phone = await page.locator('[data-testid=telemetry-summary] tr[data-device="iPhone15,2"]').innerText();
  expect(/\b10000\b/.test(phone) && /\b3\b/.test(phone), 'iPhone15,2: 10000 predictions, 3 failures: ' + phone);
  const pad = await page.locator('[data-testid=telemetry-summary] tr[data-device="iPad13,4"]').innerText();
  expect(/\b5475\b/.test(pad), 'iPad13,4: 5475 predictions: ' + pad);
  const failures = await page.locator('[data-testid=latest-failures] tr').allInnerTexts();
  expect(failures.length === 3, 'three failures: ' + failures.join(' | '));
  expect(failures[0].includes('newest') && failures[1].includes('middle') && failures[2].includes('oldest'), 'newest event first: ' + failures.join(' | '));
  await page.getByRole('button', { name: 'iPad13,4' }).click();
  await page.waitForFunction(() => document.querySelector('[data-testid=events-chart] figcaption')?.textContent?.includes('5475 events'));
  expect((await page.locator('[data-testid=latest-failures]').count()) === 0, 'no failures on the iPad');
});

await check('a step run with an empty stderr.txt shows its stdout and an empty stderr', async (page) => {
  const api = client(ringo.url);
  const { run } = await api.post('runs/create', { experiment_id: exp, run_name: 'quiet-step', start_time: Date.now() });
  await api.put(artifactPath(run, 'logs/stdout.txt'), 'step wrote 3 files\n');
  await api.put(artifactPath(run, 'logs/stderr.txt'), '');
  await go(page, `/runs/${run.info.run_id}`);
  const out = page.getByTestId('log-stdout.txt');
  await out.waitFor();
  expect((await out.innerText()).includes('step wrote 3 files'), 'stdout shown');
  const err = page.getByTestId('log-stderr.txt');
  await err.waitFor();
  expect((await err.innerText()).trim() === '(empty)', 'stderr is shown as empty: ' + (await err.innerText()));
  expect((await page.getByText('Something went wrong').count()) === 0, 'no error panel');
  // The server side: a Range request on the empty file is answered with the (empty) file.
  const res = await fetch(ringo.url + '/api/2.0/mlflow-artifacts/artifacts/' + artifactPath(run, 'logs/stderr.txt'), { headers: { Range: 'bytes=0-1023' } });
  expect(res.status === 200 && (await res.text()) === '', `Range on an empty file: ${res.status}`);
});

await check('descriptions render as Markdown, and nothing in them runs or links to script', async (page) => {
  const api = client(ringo.url);
  const note = [
    '## Why this run',
    'Trained with **more augmentation** and `lr=0.01`; see [the paper](https://example.org/paper).',
    '',
    '- first point',
    '- second point',
    '',
    '<img src=x onerror="window.__pwned=1"> [click](javascript:window.__pwned=2) <script>window.__pwned=3</script>',
  ].join('\n');
  const { run } = await api.post('runs/create', {
    experiment_id: exp, run_name: 'described', start_time: Date.now(),
    tags: [{ key: 'mlflow.note.content', value: note }],
  });
  await go(page, `/runs/${run.info.run_id}`);
  const md = page.locator('.markdown').first();
  await md.locator('strong', { hasText: 'more augmentation' }).waitFor();
  expect((await md.locator('h4', { hasText: 'Why this run' }).count()) === 1, 'heading rendered');
  expect((await md.locator('li').count()) === 2, 'list of two items');
  expect((await md.locator('code', { hasText: 'lr=0.01' }).count()) === 1, 'inline code');
  expect((await md.locator('a[href="https://example.org/paper"]').count()) === 1, 'https link kept');
  expect((await md.locator('a[href^="javascript"]').count()) === 0, 'no javascript: link');
  expect((await md.locator('img, script').count()) === 0, 'no element from raw HTML');
  expect((await md.innerText()).includes('<script>'), 'raw HTML shown as text');
  expect((await page.evaluate(() => window.__pwned)) === undefined, 'nothing ran');
});

await check('artifact pages of two runs, through back and forward, each show their own tree', async (page) => {
  const api = client(ringo.url);
  await api.put(artifactPath(data.child1, 'only-in-lr-0.01.txt'), 'child artifact');
  const a = `/runs/${data.baseline.info.run_id}/artifacts`;
  const b = `/runs/${data.child1.info.run_id}/artifacts`;
  const tree = page.getByTestId('artifact-tree');
  const shows = async (name, has, hasNot) => {
    await page.locator('.crumbs', { hasText: name }).waitFor();
    await tree.getByText(has).waitFor();
    // Give any listing of the other run still in flight the time to land where it should not.
    await page.waitForTimeout(300);
    const t = await tree.innerText();
    expect(t.includes(has) && !t.includes(hasNot), `${name}'s tree: ${t.replace(/\s+/g, ' ')}`);
  };
  await go(page, `${a}/notes.txt`);
  await shows('baseline', 'config.json', 'only-in-lr-0.01.txt');
  await go(page, b);
  await shows('lr-0.01', 'only-in-lr-0.01.txt', 'config.json');
  await page.goBack();
  await shows('baseline', 'config.json', 'only-in-lr-0.01.txt');
  await page.goForward();
  await shows('lr-0.01', 'only-in-lr-0.01.txt', 'config.json');
  // A pasted link to the other run's file.
  await go(page, `${a}/params.yaml`);
  await shows('baseline', 'params.yaml', 'only-in-lr-0.01.txt');
});

await check('a deleted experiment opened by URL says so and can be restored', async (page) => {
  const api = client(ringo.url);
  const { experiment_id } = await api.post('experiments/create', { name: 'to-restore-' + Date.now() });
  await api.post('experiments/delete', { experiment_id });
  await go(page, '/experiments/' + experiment_id);
  const banner = page.getByTestId('deleted-experiment');
  await banner.waitFor();
  await banner.getByRole('button', { name: 'Restore' }).click();
  await banner.waitFor({ state: 'detached' });
  const e = (await api.get('experiments/get?experiment_id=' + experiment_id)).experiment;
  expect(e.lifecycle_stage === 'active', 'restored on the server');
});

await check('the column picker stays open while picking and closes on Escape and on leaving the page', async (page) => {
  await go(page, `/experiments/${exp}`);
  const menu = page.getByRole('dialog', { name: 'Columns' });
  await page.getByRole('button', { name: /^Columns/ }).click();
  await menu.waitFor();
  await menu.locator('input[type=checkbox]').first().click();
  await page.waitForTimeout(200);
  expect(await menu.isVisible(), 'still open after picking a column');
  await page.keyboard.press('Escape');
  await menu.waitFor({ state: 'detached' });
  await page.getByRole('button', { name: /^Columns/ }).click();
  await menu.waitFor();
  await page.evaluate(() => (location.hash = '#/models'));
  await menu.waitFor({ state: 'detached' });
});

await check('each page names itself in the tab; the favicon is served', async (page) => {
  await go(page, '/models');
  await page.waitForFunction(() => document.title === 'Models · ringo');
  await go(page, '/runs/' + data.baseline.info.run_id);
  await page.waitForFunction((id) => document.title === `Run ${id.slice(0, 8)} · ringo`, data.baseline.info.run_id);
  const icon = await fetch(ringo.url + '/favicon.svg');
  expect(icon.ok && (icon.headers.get('content-type') ?? '').includes('svg'), 'favicon: ' + icon.status);
  expect((await page.locator('link[rel=icon]').getAttribute('href')) === '/favicon.svg', 'the page links it');
});

await check('empty and missing states are designed, not blank', async (page) => {
  await go(page, '/experiments/999999');
  await page.getByText(/not found|does not exist/i).first().waitFor();
  await go(page, '/runs/0123456789abcdef0123456789abcdef');
  await page.getByRole('alert').waitFor();
  await go(page, '/nowhere');
  await page.getByText('No such page').waitFor();
});

await check('a run can be renamed, tagged, described, deleted and restored from its page', async (page) => {
  page.on('dialog', (d) => d.accept());
  const api = client(ringo.url);
  const run = (await api.post('runs/create', { experiment_id: exp, run_name: 'to-edit' })).run;
  const id = run.info.run_id;
  const server = async () => (await api.get('runs/get?run_id=' + id)).run;
  const tags = async () => Object.fromEntries(((await server()).data.tags ?? []).map((t) => [t.key, t.value]));
  await go(page, '/runs/' + id);
  await page.getByRole('button', { name: 'Rename' }).click();
  await page.getByLabel('Run name').fill('edited-name');
  await page.getByRole('button', { name: 'Save' }).click();
  await page.getByRole('heading', { name: /edited-name/ }).waitFor();
  expect((await server()).info.run_name === 'edited-name', 'renamed on the server');
  await page.getByLabel('New tag key').fill('team');
  await page.getByLabel('New tag value').fill('ios');
  await page.getByRole('button', { name: 'Add tag' }).click();
  await page.locator('tr[data-tag="team"]').waitFor();
  expect((await tags()).team === 'ios', 'tag set on the server');
  await page.getByRole('button', { name: 'Delete tag team' }).click();
  await page.locator('tr[data-tag="team"]').waitFor({ state: 'detached' });
  expect((await tags()).team === undefined, 'tag deleted on the server');
  await page.getByRole('button', { name: 'Edit' }).click();
  await page.getByLabel('Description').fill('Baseline with the new augmentation');
  await page.getByRole('button', { name: 'Save' }).click();
  await page.getByText('Baseline with the new augmentation').waitFor();
  expect((await tags())['mlflow.note.content'] === 'Baseline with the new augmentation', 'description on the server');
  await page.getByRole('button', { name: 'Delete', exact: true }).click();
  await page.getByRole('button', { name: 'Restore' }).waitFor();
  expect((await server()).info.lifecycle_stage === 'deleted', 'deleted on the server');
  await page.getByRole('button', { name: 'Restore' }).click();
  await page.getByRole('button', { name: 'Delete', exact: true }).waitFor();
  expect((await server()).info.lifecycle_stage === 'active', 'restored on the server');
});

await check('the stage, aliases and description of a version can be changed and a version deleted', async (page) => {
  page.on('dialog', (d) => d.accept());
  const api = client(ringo.url);
  const name = 'editable-' + Date.now();
  await api.post('registered-models/create', { name });
  for (let i = 0; i < 2; i++) await api.post('model-versions/create', { name, source: 's3://bucket/m' + i });
  const version = async (v) => (await api.get(`model-versions/get?name=${name}&version=${v}`)).model_version;
  await go(page, `/models/${name}?version=2`);
  const actions = page.getByTestId('version-actions');
  await actions.getByLabel('Stage').selectOption('Staging');
  await page.waitForFunction(() => document.querySelector('tr[data-version="2"]')?.textContent?.includes('Staging'));
  expect((await version(2)).current_stage === 'Staging', 'stage on the server');
  await actions.getByLabel('New alias').fill('champion');
  await actions.getByRole('button', { name: 'Set alias' }).click();
  await actions.getByRole('button', { name: 'Remove alias champion' }).waitFor();
  expect((await version(2)).aliases?.includes('champion'), 'alias on the server');
  await actions.getByRole('button', { name: 'Remove alias champion' }).click();
  await actions.getByRole('button', { name: 'Remove alias champion' }).waitFor({ state: 'detached' });
  expect(!(await version(2)).aliases?.includes('champion'), 'alias removed on the server');
  await actions.getByLabel('Version description').fill('first with augmentation');
  await actions.getByRole('button', { name: 'Save description' }).click();
  await page.getByTestId('version-panel').getByText('first with augmentation', { exact: true }).waitFor();
  expect((await version(2)).description === 'first with augmentation', 'description on the server');
  await go(page, `/models/${name}?version=1`);
  await page.getByTestId('version-actions').getByRole('button', { name: 'Delete version' }).click();
  await page.waitForFunction(() => !document.querySelector('tr[data-version="1"]'));
  const left = (await api.get(`model-versions/search?filter=name='${name}'`)).model_versions ?? [];
  expect(left.length === 1 && left[0].version === '2', 'v1 deleted on the server');
});

await check('a version whose source is a broken Core ML model says so instead of a summary', async (page) => {
  const api = client(ringo.url);
  const run = (await api.post('runs/create', { experiment_id: exp, run_name: 'broken-model' })).run;
  await api.put(artifactPath(run, 'model/Broken.mlmodel'), 'not a protobuf');
  const name = 'broken-' + Date.now();
  await api.post('registered-models/create', { name });
  await api.post('model-versions/create', { name, source: run.info.artifact_uri + '/model', run_id: run.info.run_id });
  await go(page, `/models/${name}?version=1`);
  await page.getByText('Not a readable Core ML model', { exact: true }).waitFor();
  expect((await page.content()).includes('cannot be inspected or deployed'), 'the problem is explained');
});

await check('a run lists its logged models; a logged model page shows facts, files and registry versions', async (page) => {
  const api = client(ringo.url);
  const run = (await api.post('runs/create', { experiment_id: exp, run_name: 'mlflow3-run' })).run;
  const model = (
    await api.post('logged-models', {
      experiment_id: exp,
      name: 'clf',
      model_type: 'sklearn',
      source_run_id: run.info.run_id,
      params: [{ key: 'C', value: '0.5' }],
    })
  ).model;
  const id = model.info.model_id;
  const rel = model.info.artifact_uri.replace(/^mlflow-artifacts:\/*/, '');
  await api.put(rel + '/MLmodel', 'flavors: {}\n');
  const patch = (path, body) =>
    fetch(`${ringo.url}/api/2.0/mlflow/${path}`, {
      method: 'PATCH',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
    });
  expect((await patch('logged-models/' + id, { status: 'LOGGED_MODEL_READY' })).ok, 'finalized');
  expect(
    (await patch(`logged-models/${id}/tags`, { tags: [{ key: 'mlflow.modelVersions', value: '[{"name": "digits", "version": "2"}]' }] })).ok,
    'tagged',
  );
  await api.post('runs/outputs', { run_id: run.info.run_id, models: [{ model_id: id, step: 0 }] });
  await go(page, '/runs/' + run.info.run_id);
  await page.getByTestId('logged-models').getByRole('link', { name: id }).click();
  await page.waitForFunction((m) => location.hash.includes('logged-models/' + m), id);
  const facts = await page.getByTestId('logged-model-facts').innerText();
  expect(facts.includes(id) && facts.includes('sklearn'), 'facts: ' + facts.slice(0, 200));
  await page.getByTestId('logged-model-files').getByText('MLmodel').waitFor();
  await page.getByTestId('logged-model-versions').getByRole('link', { name: 'digits v2' }).waitFor();
  expect((await page.content()).includes('0.5'), 'the param is shown');
});

// Artifacts anyone with a write token uploaded, which would act as the viewer if they ran on the
// UI's origin: each tries to create an experiment named after itself.
const api = client(ringo.url);
const xssRun = (await api.post('runs/create', { experiment_id: exp, run_name: 'xss' })).run;
const attack = (name) =>
  `fetch('/ajax-api/2.0/mlflow/experiments/create',{method:'POST',headers:{'Content-Type':'application/json'},body:JSON.stringify({name:'${name}'})})`;
await api.put(artifactPath(xssRun, 'page.html'), `<html><body><script>${attack('xss-html')}</script>hello</body></html>`);
await api.put(
  artifactPath(xssRun, 'image.svg'),
  `<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><script>${attack('xss-svg')}</script></svg>`,
);
const experimentExists = async (name, headers) => {
  const r = await fetch(`${ringo.url}/api/2.0/mlflow/experiments/get-by-name?experiment_name=${name}`, { headers });
  return r.status === 200;
};

// Last, because they turn tokens on for the whole server.
let admin = '';
await check('with tokens on, the UI asks for one and works with it', async (page) => {
  const make = async (scope, auth) => {
    const res = await fetch(ringo.url + '/api/ringo/v1/tokens', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', ...(auth ? { Authorization: 'Bearer ' + auth } : {}) },
      body: JSON.stringify({ scope, name: 'ui test ' + scope }),
    });
    expect(res.ok, scope + ' token created');
    return (await res.json()).token;
  };
  admin = await make('admin');
  const token = await make('read', admin);
  await go(page, '/experiments');
  await page.getByRole('button', { name: 'Sign in' }).waitFor();
  await page.getByLabel('API token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForFunction(() => document.body.innerText.includes('Default'));
  expect((await page.getByRole('button', { name: 'Sign in' }).count()) === 0, 'the sign-in form is gone');
  expect(!(await page.evaluate(() => document.cookie)).includes('ringo_token'), 'scripts cannot read the token cookie');
  const cookie = (await page.context().cookies()).find((c) => c.name === 'ringo_token');
  expect(cookie && cookie.httpOnly, 'the token cookie is HttpOnly');
});

const signedIn = async (page, token) => {
  await go(page, '/experiments');
  await page.getByRole('button', { name: 'Sign in' }).waitFor();
  await page.getByLabel('API token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForFunction(() => document.body.innerText.includes('Default'));
};

await check('uploaded HTML and SVG artifacts never run on the UI origin', async (page) => {
  const auth = { Authorization: 'Bearer ' + admin };
  await signedIn(page, admin);
  for (const [file, name] of [['page.html', 'xss-html'], ['image.svg', 'xss-svg']]) {
    const url = `${ui.url}/get-artifact?run_id=${xssRun.info.run_id}&path=${file}`;
    const res = await page.goto(url);
    expect(res.status() === 200, `${file} is served (${res.status()})`);
    expect((res.headers()['content-security-policy'] ?? '').includes('sandbox'), `${file} is sandboxed`);
    await page.waitForTimeout(500);
    expect(!(await experimentExists(name, auth)), `the script in ${file} did not run as the viewer`);
  }
  // The artifact page still previews the image.
  await go(page, `/runs/${xssRun.info.run_id}/artifacts/image.svg`);
  await page.locator('img.artifact-image').waitFor();
});

await check('a page of another origin cannot act with the UI cookie', async (page) => {
  await signedIn(page, admin);
  // Another port on the same host: same site for cookies, another origin for the browser.
  const target = ringo.url.replace(/\/$/, '');
  const evil = createServer((req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/html' });
    res.end(`<html><body><script>
      fetch('${target}/api/2.0/mlflow/experiments/create', {method: 'POST', mode: 'no-cors', credentials: 'include',
        headers: {'Content-Type': 'text/plain'}, body: JSON.stringify({name: 'csrf-made'})});
      fetch('${target}/api/ringo/v1/tokens', {method: 'POST', mode: 'no-cors', credentials: 'include',
        headers: {'Content-Type': 'text/plain'}, body: JSON.stringify({scope: 'admin', name: 'csrf'})});
    </script>sent</body></html>`);
  });
  await new Promise((r) => evil.listen(0, '127.0.0.1', r));
  try {
    await page.goto(`http://127.0.0.1:${evil.address().port}/`);
    await page.getByText('sent').waitFor();
    await page.waitForTimeout(500);
  } finally {
    await new Promise((r) => evil.close(r));
  }
  expect(!(await experimentExists('csrf-made', { Authorization: 'Bearer ' + admin })), 'the cross-origin POST was refused');
  // The UI itself still changes things with the same cookie.
  page.on('dialog', (d) => d.accept());
  await go(page, '/experiments');
  await page.getByLabel('New experiment name').fill('made-by-ui');
  await page.getByRole('button', { name: 'Create' }).click();
  await page.getByText('No runs in this experiment yet').waitFor();
  expect(await experimentExists('made-by-ui', { Authorization: 'Bearer ' + admin }), 'the UI created an experiment');
});

await browser.close();
await ui.stop();
await ringo.stop();
console.log(failed ? `${failed} check(s) failed` : 'all checks passed');
process.exit(failed ? 1 : 0);
