// The data the browser tests and screenshots look at: an experiment with a parent run and two
// children, a baseline run with artifacts (text, JSON, YAML, CSV, PNG, logs, a Core ML model),
// and an empty experiment.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { artifactPath, client, png, relModel, ringoBin } from './lib.mjs';

export async function seed(base) {
  const api = client(base);
  const t0 = Date.now() - 3600_000;
  const { experiment_id } = await api.post('experiments/create', { name: 'digits-classifier' });
  await api.post('experiments/create', { name: 'empty-experiment' });

  async function run(name, tags, params, curves, start) {
    const { run } = await api.post('runs/create', {
      experiment_id,
      run_name: name,
      start_time: start,
      tags: [{ key: 'mlflow.user', value: 'ada' }, ...tags],
    });
    const id = run.info.run_id;
    await api.post('runs/log-batch', { run_id: id, params: Object.entries(params).map(([key, value]) => ({ key, value: String(value) })) });
    for (const [key, f, n] of curves) {
      for (let s = 0; s < n; s += 1000) {
        const metrics = [];
        for (let i = s; i < Math.min(n, s + 1000); i++) metrics.push({ key, value: f(i), timestamp: start + i * 500, step: i });
        await api.post('runs/log-batch', { run_id: id, metrics });
      }
    }
    await api.post('runs/update', { run_id: id, status: 'FINISHED', end_time: start + 20 * 60_000 });
    return run;
  }
  const loss = (lr) => (i) => 2.3 * Math.exp(-i * lr * 0.05) + 0.05 + 0.03 * Math.sin(i / 3);
  const acc = (lr) => (i) => 0.98 - 0.88 * Math.exp(-i * lr * 0.06);

  const parent = await run('sweep', [{ key: 'mlflow.note.content', value: 'Learning-rate sweep over the digits CNN.' }], { model: 'cnn' }, [], t0);
  const pid = parent.info.run_id;
  const child1 = await run('lr-0.01', [{ key: 'mlflow.parentRunId', value: pid }, { key: 'team', value: 'vision' }], { lr: 0.01, batch_size: 64, model: 'cnn' }, [['loss', loss(1), 300], ['accuracy', acc(1), 300]], t0 + 60_000);
  const child2 = await run('lr-0.1', [{ key: 'mlflow.parentRunId', value: pid }, { key: 'team', value: 'vision' }], { lr: 0.1, batch_size: 64, model: 'cnn' }, [['loss', loss(3), 300], ['accuracy', acc(3), 300]], t0 + 120_000);
  const baseline = await run(
    'baseline',
    [
      { key: 'mlflow.note.content', value: 'Logistic regression baseline, for comparison.' },
      { key: 'team', value: 'vision' },
    ],
    { lr: 0.5, batch_size: 256, model: 'logreg' },
    [['loss', loss(0.5), 200], ['accuracy', acc(0.5), 200]],
    t0 + 180_000,
  );
  await api.post('runs/log-inputs', {
    run_id: baseline.info.run_id,
    datasets: [{ dataset: { name: 'digits-train', digest: 'a1b2c3d4', source_type: 'local', source: 'data/train.csv' }, tags: [{ key: 'mlflow.data.context', value: 'training' }] }],
  });
  const put = (rel, data) => api.put(artifactPath(baseline, rel), data);
  await put('notes.txt', 'Baseline trained on 1,797 digits.\nNo augmentation.\n');
  await put('config.json', JSON.stringify({ model: 'logreg', lr: 0.5, classes: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9] }));
  await put('params.yaml', '# training parameters\nmodel: logreg\nlr: 0.5\nlayers:\n  - dense: 64\n');
  await put('predictions.csv', 'image,label,predicted,confidence\n0,3,3,0.97\n1,8,8,0.91\n2,5,6,0.55\n3,"1, maybe",1,0.88\n');
  await put('plots/confusion.png', png(96, 64));
  await put('logs/stdout.txt', 'epoch 1 loss=0.91\nepoch 2 loss=0.42\ndone\n');
  await put('logs/stderr.txt', 'warning: 3 images skipped\n');
  const model = relModel();
  if (model) await put('model/Relu.mlmodel', model);
  return { experiment_id, parent, child1, child2, baseline, model: !!model };
}

/**
 * The registry and delivery data, made by the real CLI: model `digits` v1 (the baseline run's
 * Core ML artifact) and v2 (a new file attached to lr-0.1), alias `champion` -> v1, v2 in Staging;
 * collection `app` whose `release` channel went v1 (100%) -> v2 (50%, a canary), `staging` on v2;
 * device telemetry for both versions on two device classes. Undefined when the binary cannot
 * convert the test model.
 */
export async function seedDelivery(base, d) {
  const model = relModel();
  if (!model) return undefined;
  const dir = mkdtempSync(join(tmpdir(), 'ringo-ui-reg-'));
  const file = join(dir, 'Relu.mlmodel');
  writeFileSync(file, model);
  let dep1, dep2;
  const ringo = (...args) => execFileSync(ringoBin(), [...args, '--tracking-uri', base], { encoding: 'utf8' }).trim();
  try {
    ringo('models', 'register', `runs:/${d.baseline.info.run_id}/model/Relu.mlmodel`, '--name', 'digits');
    ringo('models', 'register', file, '--name', 'digits', '--run-id', d.child2.info.run_id);
    const api = client(base);
    await api.post('registered-models/alias', { name: 'digits', alias: 'champion', version: '1' });
    await api.post('model-versions/transition-stage', { name: 'digits', version: '2', stage: 'Staging' });
    ringo('collections', 'create', 'app', '--model', 'digits');
    dep1 = ringo('deployments', 'create', 'app', '--model', 'digits=1').split(/\s+/).pop();
    dep2 = ringo('deployments', 'create', 'app', '--model', 'digits=2').split(/\s+/).pop();
    ringo('channels', 'promote', 'app', 'release', dep1, '--reason', 'first release');
    ringo('channels', 'promote', 'app', 'staging', dep2, '--reason', 'testers first');
    ringo('channels', 'promote', 'app', 'release', dep2, '--rollout', '50', '--reason', 'canary for half the devices');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  // An hour of device events for both versions: downloads, compiles, loads, predictions, a failure.
  const t0 = Date.now() - 3600_000;
  const events = [];
  for (const [version, devices] of [['1', ['iPhone15,2', 'iPad13,4']], ['2', ['iPhone15,2', 'iPhone12,1']]]) {
    devices.forEach((device_class, k) => {
      const slow = device_class === 'iPhone12,1' ? 3 : 1;
      for (let i = 0; i < 60; i++) {
        const time = t0 + i * 60_000 + k * 7_000;
        if (i % 10 === 0) events.push({ event: 'downloaded', model: 'digits', version, device_class, time }, { event: 'compiled', model: 'digits', version, device_class, time: time + 500 });
        if (i % 5 === 0) events.push({ event: 'loaded', model: 'digits', version, device_class, compute_unit: 'cpuAndNeuralEngine', time: time + 1000 });
        for (let j = 0; j < 3; j++)
          events.push({ event: 'prediction', model: 'digits', version, device_class, compute_unit: 'cpuAndNeuralEngine', latency_ms: slow * (2 + Math.sin(i / 6) + j * 0.4), time: time + 2000 + j * 1000 });
      }
      events.push({ event: 'failed', model: 'digits', version, device_class, error: 'compile: out of memory', time: t0 + 1800_000 + k });
    });
  }
  const res = await fetch(`${base}/api/deploy/v1/telemetry`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(events) });
  if (!res.ok) throw new Error(`POST telemetry: ${res.status} ${await res.text()}`);
  return { dep1, dep2, events: events.length, sha256: createHash('sha256').update(model).digest('hex') };
}

/**
 * An experiment shaped like a hyper-parameter search: 20 sweeps of 9 nested trials each plus
 * 21 runs of their own, 221 runs in all (more than the table shows at once, fewer than a page).
 * Every run has a distinct `score`. Returns the experiment id and each run's name, score and
 * parent name.
 */
export async function seedSweeps(base) {
  const api = client(base);
  const { experiment_id } = await api.post('experiments/create', { name: 'sweeps' });
  const t0 = Date.now() - 7200_000;
  const runs = [];
  let n = 0;
  async function make(name, parentId, parentName) {
    const tags = parentId ? [{ key: 'mlflow.parentRunId', value: parentId }] : [];
    const { run } = await api.post('runs/create', { experiment_id, run_name: name, start_time: t0 + n * 1000, tags });
    const score = ((n * 37) % 221) / 221; // distinct, and not in creation order
    n++;
    await api.post('runs/log-batch', { run_id: run.info.run_id, metrics: [{ key: 'score', value: score, timestamp: t0, step: 0 }] });
    await api.post('runs/update', { run_id: run.info.run_id, status: 'FINISHED', end_time: t0 + n * 1000 + 60_000 });
    runs.push({ id: run.info.run_id, name, score, parent: parentName });
    return run.info.run_id;
  }
  for (let s = 0; s < 20; s++) {
    const name = `sweep-${String(s).padStart(2, '0')}`;
    const id = await make(name);
    for (let t = 0; t < 9; t++) await make(`${name}-trial-${t}`, id, name);
  }
  for (let i = 0; i < 21; i++) await make(`single-${String(i).padStart(2, '0')}`);
  return { experiment_id, runs };
}
