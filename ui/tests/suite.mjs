// The frame of a browser test file: a freshly seeded server, the UI, Chromium, and `check`, which
// runs one named check in a new browser context and counts failures. `finish()` stops everything
// and exits 1 if any check failed.
import { launch, startRingo, startUi } from './lib.mjs';
import { seed, seedDelivery } from './seed.mjs';

export async function suite() {
  const ringo = await startRingo();
  const ui = await startUi(ringo.url);
  const browser = await launch();
  const data = await seed(ringo.url);
  const delivery = await seedDelivery(ringo.url, data);
  let failed = 0;
  return {
    ringo,
    data,
    delivery,
    go: (page, hash) => page.goto(`${ui.url}/#${hash}`),
    async check(name, fn) {
      const context = await browser.newContext({ viewport: { width: 1280, height: 860 }, acceptDownloads: true });
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
    },
    async finish() {
      await browser.close();
      await ui.stop();
      await ringo.stop();
      console.log(failed ? `${failed} check(s) failed` : 'all checks passed');
      process.exit(failed ? 1 : 0);
    },
  };
}

export function expect(cond, what) {
  if (!cond) throw new Error(what);
}

/** A REST call to ringo's own API (`/api/ringo/v1/...`), parsed. */
export async function ringoApi(base, path) {
  const res = await fetch(`${base}/api/ringo/v1/${path}`);
  const text = await res.text();
  if (!res.ok) throw new Error(`GET ${path}: ${res.status} ${text}`);
  return JSON.parse(text);
}
