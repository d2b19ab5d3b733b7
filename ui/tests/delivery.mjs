// Browser tests of the delivery pages: a channel's rules, contracts and history (deployments by
// model and version, what a forced change overrode), and telemetry over a time range with its
// breakdowns and the version it replaced. Each compares what the page shows with the server.
// Usage: RINGO_BIN=build/ringo node ui/tests/delivery.mjs
import { client } from './lib.mjs';
import { expect, ringoApi, suite } from './suite.mjs';

const t = await suite();
if (!t.delivery) {
  console.log('skipped: this build cannot convert the test model');
  await t.finish();
}
const base = t.ringo.url;
const api = client(base);
const { dep1, dep2 } = t.delivery;

async function admin(path, body) {
  const res = await fetch(`${base}/api/ringo/v1/${path}`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : {} };
}

// Rules on release: iPads on app 2.x get v2 whatever the rollout.
let r = await admin('channels/rules', {
  collection: 'app', channel: 'release',
  rules: [{ name: 'ipad-beta', device_class: ['iPad13,4'], app_version: '>=2.0,<3.0', deployment_id: dep2 }],
});
expect(r.status === 200, 'rules set: ' + JSON.stringify(r.json));
// A contract whose input name the models do not have, so promoting them is breaking...
const card = (await ringoApi(base, 'model-versions/coreml?name=digits&version=1')).coreml;
const iface = { ...card, inputs: card.inputs.map((f, i) => (i ? f : { ...f, name: 'image' })) };
r = await admin('apps/contracts', { collection: 'app', app_versions: '>=1.0,<2.0', models: { digits: iface } });
expect(r.status === 200, 'contract set: ' + JSON.stringify(r.json));
// ... and a promotion that had to be forced past it.
r = await admin('channels/promote', { collection: 'app', channel: 'beta', deployment_id: dep1, reason: 'try' });
expect(r.status === 400, 'the contract gate refuses the promotion: ' + JSON.stringify(r.json));
r = await admin('channels/promote', { collection: 'app', channel: 'beta', deployment_id: dep1, force: true, reason: 'beta testers know' });
expect(r.status === 200, 'forced promotion: ' + JSON.stringify(r.json));

// Telemetry of v2 three days ago, and recent events with OS and app versions.
const now = Date.now();
const events = [];
for (let i = 0; i < 40; i++) events.push({ event: 'prediction', model: 'digits', version: '2', device_class: 'iPhone15,2', os_version: '16.7', app_version: '1.9.0', latency_ms: 4, time: now - 3 * 86400_000 + i * 1000 });
for (let i = 0; i < 25; i++) events.push({ event: 'prediction', model: 'digits', version: '2', device_class: 'iPhone15,2', os_version: '17.4', app_version: '2.0.1', latency_ms: 3, time: now - 600_000 + i * 1000, ...(i < 5 ? { error: 'bad input' } : {}) });
const posted = await fetch(`${base}/api/deploy/v1/telemetry`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(events) });
expect(posted.ok, 'telemetry posted');

await t.check('channel page: targeting rules and app contracts as the server has them', async (page) => {
  await t.go(page, '/deployments/app/release');
  const rules = page.getByTestId('channel-rules');
  await rules.locator('tr[data-rule=ipad-beta]').waitFor();
  const row = await rules.locator('tr[data-rule=ipad-beta]').innerText();
  expect(row.includes('iPad13,4') && row.includes('>=2.0,<3.0') && row.includes('digits v2'), 'rule row: ' + row);
  const contracts = await page.getByTestId('app-contracts').innerText();
  expect(contracts.includes('>=1.0,<2.0') && contracts.includes('digits') && contracts.includes('image'), 'contract: ' + contracts);
});

await t.check('channel history names deployments by model and version; the id stays in the tooltip', async (page) => {
  await t.go(page, '/deployments/app/release');
  const history = page.getByTestId('channel-history');
  await history.waitFor();
  const text = await history.innerText();
  expect(text.includes('digits v1') && text.includes('digits v2'), 'labels in history: ' + text);
  const title = await history.locator(`[data-deployment="${dep2}"]`).first().getAttribute('title');
  expect(title === dep2, 'the id is the tooltip: ' + title);
  const current = await page.getByTestId('deployment-current').locator('h2').innerText();
  expect(current.includes('digits v2'), 'the current deployment panel: ' + current);
  const offered = await page.locator('#known-deployments option').evaluateAll((os) => os.map((o) => `${o.value}=${o.textContent}`));
  expect(offered.includes(`${dep1}=digits v1`) && offered.includes(`${dep2}=digits v2`), 'promote offers: ' + offered.join(', '));
});

await t.check('a forced change says what it overrode', async (page) => {
  const { history } = await ringoApi(base, 'channels/history?collection=app&channel=beta');
  const forced = history.find((h) => h.forced);
  expect(forced?.overridden?.length, 'the server recorded what was overridden: ' + JSON.stringify(history));
  await t.go(page, '/deployments/app/beta');
  const shown = await page.getByTestId('overridden').innerText();
  expect(shown.includes(forced.overridden[0]), `shown: ${shown}; recorded: ${forced.overridden[0]}`);
});

const summary = (q) => ringoApi(base, 'telemetry/summary?' + new URLSearchParams({ model: 'digits', version: '2', ...q }));
const shownTotal = async (page) => Number((await page.getByTestId('telemetry-total').innerText()).replace(/\D/g, ''));

await t.check('telemetry time range changes the counts shown to the server\'s', async (page) => {
  const all = await summary({});
  await t.go(page, '/telemetry?model=digits&version=2');
  await page.getByTestId('telemetry-total').waitFor();
  expect((await shownTotal(page)) === all.total, `all: ${await shownTotal(page)} vs ${all.total}`);
  await page.getByRole('button', { name: 'last 24h' }).click();
  await page.waitForFunction(() => location.hash.includes('range=24h'));
  await page.waitForFunction((n) => Number(document.querySelector('[data-testid=telemetry-total]')?.textContent?.replace(/\D/g, '')) !== n, all.total);
  const day = await summary({ from_ms: String(Date.now() - 86400_000) });
  expect((await shownTotal(page)) === day.total && day.total === all.total - 40, `24h: ${await shownTotal(page)} vs ${day.total}`);
  await page.getByRole('button', { name: 'last 7d' }).click();
  await page.waitForFunction((n) => Number(document.querySelector('[data-testid=telemetry-total]')?.textContent?.replace(/\D/g, '')) === n, all.total);
});

await t.check('telemetry breaks down by OS and app version with failure rates', async (page) => {
  const all = await summary({});
  await t.go(page, '/telemetry?model=digits&version=2');
  const os = page.getByTestId('by-os-version');
  await os.locator('tr[data-value="17.4"]').waitFor();
  const server174 = all.os_versions.find((r) => r.os_version === '17.4');
  const row = await os.locator('tr[data-value="17.4"]').innerText();
  expect(row.includes(String(server174.counts.prediction)) && row.includes('20%'), `17.4 row: ${row}`);
  expect((await page.getByTestId('by-app-version').innerText()).includes('1.9.0'), 'app version 1.9.0 listed');
  const rate = await page.getByTestId('failure-rate').innerText();
  expect(rate === `${Number((all.failure_rate * 100).toFixed(2))}%`, `failure rate ${rate} vs ${all.failure_rate}`);
});

await t.check('telemetry compares the version with the one it replaced on its channel', async (page) => {
  const v1 = await ringoApi(base, 'telemetry/summary?model=digits&version=1');
  await t.go(page, '/telemetry?model=digits&version=2');
  const panel = page.getByTestId('versus-previous');
  await panel.waitFor();
  const head = await panel.locator('h2').innerText();
  expect(head.includes('v2 against v1') && head.includes('app/release'), 'heading: ' + head);
  const allRow = await panel.locator('tr[data-value=all]').innerText();
  expect(allRow.split('\t').map((s) => s.trim()).includes(String(v1.total)), `v1 total ${v1.total} in: ${allRow}`);
});

await t.finish();
