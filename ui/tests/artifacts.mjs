// Browser tests of the artifact browser's actions: register a model from an artifact, download a
// folder or package as a zip. Each checks what the server holds afterwards.
// Usage: RINGO_BIN=build/ringo node ui/tests/artifacts.mjs
import { execFileSync } from 'node:child_process';
import { artifactPath, client } from './lib.mjs';
import { expect, suite } from './suite.mjs';

const t = await suite();
const api = client(t.ringo.url);
const run = t.data.baseline;
const rid = run.info.run_id;
const pkg = {
  'Digits.mlpackage/Manifest.json': '{"fileFormatVersion": "1.0.0", "itemInfoEntries": {}}',
  'Digits.mlpackage/Data/com.apple.CoreML/model.mlmodel': 'not really a model',
  'Digits.mlpackage/Data/com.apple.CoreML/weights/weight.bin': 'w'.repeat(70_000),
};
for (const [rel, body] of Object.entries(pkg)) await api.put(artifactPath(run, rel), body);

/** Names and contents of a zip file, read back by Python's zipfile, which checks every CRC. */
function unzip(file) {
  const py = `import json, sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
bad = z.testzip()
print(json.dumps({"bad": bad, "files": {n: z.read(n).decode("latin-1") for n in z.namelist() if not n.endswith("/")}}))`;
  return JSON.parse(execFileSync('python3', ['-c', py, file], { encoding: 'utf8' }));
}

await t.check('a .mlpackage downloads as a zip holding its files', async (page) => {
  await t.go(page, `/runs/${rid}/artifacts/Digits.mlpackage`);
  const link = page.getByRole('link', { name: 'Download .zip' });
  await link.waitFor();
  const [download] = await Promise.all([page.waitForEvent('download'), link.click()]);
  expect(download.suggestedFilename() === 'Digits.mlpackage.zip', 'file name: ' + download.suggestedFilename());
  const zip = unzip(await download.path());
  expect(zip.bad === null, 'a CRC does not match: ' + zip.bad);
  expect(JSON.stringify(zip.files) === JSON.stringify(Object.fromEntries(Object.entries(pkg).sort())),
    'the zip holds the package: ' + Object.keys(zip.files).join(', '));
});

await t.check('a folder downloads as a zip; the whole run too', async (page) => {
  await t.go(page, `/runs/${rid}/artifacts/logs`);
  const link = page.getByRole('link', { name: 'Download .zip' });
  await link.waitFor();
  const [download] = await Promise.all([page.waitForEvent('download'), link.click()]);
  const zip = unzip(await download.path());
  expect(Object.keys(zip.files).sort().join() === 'logs/stderr.txt,logs/stdout.txt', 'logs: ' + Object.keys(zip.files));
  expect(zip.files['logs/stdout.txt'].includes('epoch 2'), 'stdout.txt content');
  const [all] = await Promise.all([page.waitForEvent('download'), page.getByTestId('zip-all').click()]);
  const whole = unzip(await all.path());
  expect('artifacts/notes.txt' in whole.files && 'artifacts/Digits.mlpackage/Manifest.json' in whole.files,
    'every artifact: ' + Object.keys(whole.files).join(', '));
});

await t.check('a zip of a missing folder is refused with a clear error', async () => {
  const res = await fetch(`${t.ringo.url}/api/ringo/v1/artifacts/zip?run_id=${rid}&path=nowhere`);
  const body = await res.json();
  expect(res.status === 404 && body.error_code === 'RESOURCE_DOES_NOT_EXIST' && body.message.includes('nowhere'),
    `404 naming the path: ${res.status} ${JSON.stringify(body)}`);
});

const version = (name, v) => api.get(`model-versions/get?name=${encodeURIComponent(name)}&version=${v}`).then((r) => r.model_version);

await t.check('a package registers as a new model; the version has the runs:/ source and the run', async (page) => {
  await t.go(page, `/runs/${rid}/artifacts/Digits.mlpackage`);
  await page.getByRole('button', { name: 'Register model' }).click();
  await page.getByLabel('Registered model name').fill('from-artifacts');
  await page.getByRole('button', { name: 'Create and register' }).click();
  const done = page.getByTestId('registered');
  await done.waitFor();
  expect((await done.innerText()).includes('from-artifacts v1'), 'shows the new version: ' + (await done.innerText()));
  const v = await version('from-artifacts', 1);
  expect(v.source === `runs:/${rid}/Digits.mlpackage`, 'source: ' + v.source);
  expect(v.run_id === rid, 'run id: ' + v.run_id);
  await done.getByRole('link').click();
  await page.waitForFunction(() => location.hash.startsWith('#/models/from-artifacts'));
});

await t.check('a model file registers as the next version of an existing model', async (page) => {
  if (!t.data.model) return; // this build cannot convert the test model
  await t.go(page, `/runs/${rid}/artifacts/model/Relu.mlmodel`);
  await page.getByRole('button', { name: 'Register model' }).click();
  const input = page.getByLabel('Registered model name');
  await input.fill('from-artifacts');
  await page.getByRole('button', { name: 'Register', exact: true }).click();
  await page.getByTestId('registered').getByText('from-artifacts v2').waitFor();
  const v = await version('from-artifacts', 2);
  expect(v.source === `runs:/${rid}/model/Relu.mlmodel` && v.run_id === rid, 'version 2: ' + JSON.stringify(v));
});

await t.check('registering without a name says what is missing and creates nothing', async (page) => {
  await t.go(page, `/runs/${rid}/artifacts/Digits.mlpackage`);
  await page.getByRole('button', { name: 'Register model' }).click();
  await page.getByLabel('Registered model name').fill('   ');
  await page.getByRole('button', { name: 'Register', exact: true }).click();
  const alert = page.getByTestId('register-form').getByRole('alert');
  await alert.waitFor();
  expect((await alert.innerText()).includes('type a new name'), 'says what is missing: ' + (await alert.innerText()));
  const models = await api.get('registered-models/search?max_results=1000');
  expect((models.registered_models ?? []).every((m) => m.name.trim() !== ''), 'no model without a name');
});

await t.finish();
