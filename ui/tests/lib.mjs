// Shared by the UI's browser tests, benchmark and screenshot script: the ringo server, the UI
// server (ringo itself via RINGO_UI_URL, else a static server over ui/dist that proxies the API),
// REST seeding helpers, and Debian's Chromium through playwright-core (never a downloaded browser).
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, existsSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join, dirname, extname, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { deflateSync } from 'node:zlib';
import { chromium } from 'playwright-core';

export const uiDir = join(dirname(fileURLToPath(import.meta.url)), '..');
export const repoDir = join(uiDir, '..');

/** The ringo binary: $RINGO_BIN, else the worktree's build, else the main checkout's. */
export function ringoBin() {
  for (const p of [process.env.RINGO_BIN, join(repoDir, 'build/ringo')]) if (p && existsSync(p)) return p;
  throw new Error('set RINGO_BIN to a built ringo binary');
}

/** Starts `ringo server` on an ephemeral port; resolves once it prints its address. */
export function startRingo(store) {
  const dir = store ?? mkdtempSync(join(tmpdir(), 'ringo-ui-'));
  const proc = spawn(ringoBin(), ['server', '--host', '127.0.0.1', '--port', '0', '--store', dir], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  proc.stderr.on('data', (d) => (err += d));
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error('ringo server did not start:\n' + out + err)), 15000);
    proc.stdout.on('data', (d) => {
      out += d;
      const m = /listening on (http:\/\/[^\s]+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({
          url: m[1].replace(/\/$/, ''),
          store: dir,
          stop: () =>
            new Promise((r) => {
              proc.once('exit', r);
              proc.kill('SIGTERM');
              if (!store) setTimeout(() => rmSync(dir, { recursive: true, force: true }), 0);
            }),
        });
      }
    });
    proc.once('exit', (code) => reject(new Error(`ringo server exited (${code}):\n${out}${err}`)));
  });
}

const types = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.css': 'text/css', '.svg': 'image/svg+xml', '.png': 'image/png', '.ico': 'image/x-icon', '.woff2': 'font/woff2' };

/**
 * The UI: ringo itself when RINGO_UI_EMBEDDED=1 (the binary serves its embedded UI at /), the UI at
 * $RINGO_UI_URL, or ui/dist served here with /api and /ajax-api proxied to ringo.
 */
export async function startUi(ringoUrl) {
  if (process.env.RINGO_UI_EMBEDDED === '1') return { url: ringoUrl.replace(/\/$/, ''), stop: async () => {} };
  if (process.env.RINGO_UI_URL) return { url: process.env.RINGO_UI_URL.replace(/\/$/, ''), stop: async () => {} };
  const dist = join(uiDir, 'dist');
  if (!existsSync(join(dist, 'index.html'))) execFileSync('npm', ['run', 'build'], { cwd: uiDir, stdio: 'inherit' });
  const target = new URL(ringoUrl);
  const server = createServer((req, res) => {
    if (req.url.startsWith('/api/') || req.url.startsWith('/ajax-api/')) {
      const up = httpRequest(
        { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers },
        (r) => {
          res.writeHead(r.statusCode, r.headers);
          r.pipe(res);
        },
      );
      up.on('error', (e) => {
        res.writeHead(502);
        res.end(String(e));
      });
      req.pipe(up);
      return;
    }
    const path = new URL(req.url, 'http://x').pathname;
    const file = path === '/' ? 'index.html' : normalize(path).replace(/^\/+/, '');
    if (file.includes('..') || !existsSync(join(dist, file)) || (file !== 'index.html' && !file.startsWith('assets/'))) {
      res.writeHead(404);
      res.end('not found');
      return;
    }
    res.writeHead(200, { 'Content-Type': types[extname(file)] ?? 'application/octet-stream' });
    res.end(readFileSync(join(dist, file)));
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${server.address().port}`, stop: () => new Promise((r) => server.close(r)) };
}

export async function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-quic', '--disable-sync'],
  });
}

/** A REST client of one server: `api.post('runs/create', {...})`. */
export function client(base) {
  async function call(method, path, body) {
    const res = await fetch(`${base}/api/2.0/mlflow/${path}`, {
      method,
      headers: body ? { 'Content-Type': 'application/json' } : undefined,
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
    return text ? JSON.parse(text) : {};
  }
  return {
    post: (p, b) => call('POST', p, b),
    get: (p) => call('GET', p),
    async put(artifactPath, data) {
      const res = await fetch(`${base}/api/2.0/mlflow-artifacts/artifacts/${artifactPath}`, { method: 'PUT', body: data });
      if (!res.ok) throw new Error(`PUT ${artifactPath}: ${res.status} ${await res.text()}`);
    },
  };
}

/** Where a run's artifact `rel` goes through the proxy. */
export const artifactPath = (run, rel) => run.info.artifact_uri.replace(/^mlflow-artifacts:\/*/, '') + '/' + rel;

/** A small RGB PNG: a colour gradient, `w` by `h`. */
export function png(w, h) {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (buf) => {
    let c = 0xffffffff;
    for (const b of buf) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type, data) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type), data]);
    const c = Buffer.alloc(4);
    c.writeUInt32BE(crc(td));
    return Buffer.concat([len, td, c]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // RGB
  const raw = Buffer.alloc((w * 3 + 1) * h);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const o = y * (w * 3 + 1) + 1 + x * 3;
      raw[o] = (x * 255) / w;
      raw[o + 1] = (y * 255) / h;
      raw[o + 2] = 160;
    }
  return Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
}

/** A one-layer ONNX model (y = relu(x), x: float[1,4]) encoded by hand, for `ringo convert`. */
export function onnxRelu() {
  const varint = (n) => {
    const out = [];
    while (n > 127) {
      out.push((n & 127) | 128);
      n >>>= 7;
    }
    out.push(n);
    return Buffer.from(out);
  };
  const field = (num, value) =>
    typeof value === 'number'
      ? Buffer.concat([varint(num << 3), varint(value)])
      : Buffer.concat([varint((num << 3) | 2), varint(Buffer.byteLength(value)), Buffer.from(value)]);
  const msg = (...parts) => Buffer.concat(parts);
  const dim = (n) => field(1, msg(field(1, n)));
  const tensorType = field(1, msg(field(1, 1), field(2, msg(dim(1), dim(4)))));
  const valueInfo = (name) => msg(field(1, name), field(2, tensorType));
  const node = msg(field(1, 'x'), field(2, 'y'), field(3, 'relu0'), field(4, 'Relu'));
  const graph = msg(field(1, node), field(2, 'g'), field(11, valueInfo('x')), field(12, valueInfo('y')));
  return msg(field(1, 7), field(8, msg(field(1, ''), field(2, 13))), field(7, graph));
}

/** `ringo convert` of the ONNX model above; undefined when this build cannot convert it. */
export function relModel() {
  const dir = mkdtempSync(join(tmpdir(), 'ringo-ui-model-'));
  try {
    writeFileSync(join(dir, 'relu.onnx'), onnxRelu());
    execFileSync(ringoBin(), ['convert', join(dir, 'relu.onnx'), '-o', join(dir, 'Relu.mlmodel')], { stdio: 'pipe' });
    return readFileSync(join(dir, 'Relu.mlmodel'));
  } catch {
    return undefined;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
