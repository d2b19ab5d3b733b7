// Builds ui/dist: index.html plus hashed assets under /assets, which the ringo binary embeds.
import { defineConfig } from 'vite';

export default defineConfig({
  base: '/',
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: { outDir: 'dist', assetsDir: 'assets', emptyOutDir: true, target: 'es2022' },
  server: {
    // `npm run dev` against a running server: RINGO_URL=http://127.0.0.1:5000 npm run dev
    proxy: Object.fromEntries(
      ['/api', '/ajax-api'].map((p) => [p, process.env.RINGO_URL ?? 'http://127.0.0.1:5000']),
    ),
  },
});
