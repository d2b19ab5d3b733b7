// The data the browser tests and screenshots look at: an experiment with a parent run and two
// children, a baseline run with artifacts (text, JSON, YAML, CSV, PNG, logs, a Core ML model),
// and an empty experiment.
import { artifactPath, client, png, relModel } from './lib.mjs';

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
