#!/usr/bin/env node
// A small static server for the tessera-web demo, with the headers a page needs for the
// pthreads build: Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy:
// require-corp make the page cross-origin isolated (SharedArrayBuffer, WebAssembly threads).
//
//   node examples/web/serve.mjs [--port 8080] [--package build/wasm/js/package] [--no-isolation]
//                               [--mount /prefix=DIR ...] [--no-shared-models] [--no-compression]
//
//   /               examples/web (the demo page)
//   /tessera-web/   the staged npm package (cmake --build build/wasm --target tessera_js)
//   /example-module/  the modules built beside it with a model compiled in (js/CMakeLists.txt:
//                   the digits CNN's digits_cnn.mjs/.wasm), the package dir's sibling example-module/
//   /models/        examples/models
//   /shared-models/face-detector/   ../shared/models/face-detector beside the checkout, when it
//                   exists: the third-party face detector and its photos (never committed here);
//                   --no-shared-models leaves it out, as a checkout without ../shared is served
// --no-isolation leaves COOP/COEP out: the page then runs the single-threaded build and says why.
// Serves 127.0.0.1 only, and only reads: GET and HEAD.
// Caching: every file has a validator (ETag from its size and mtime, Last-Modified) and
// Cache-Control: no-cache, so a reload revalidates each file (304, no body) and never runs a
// stale build. Compression: text and .wasm files are compressed (brotli, else gzip, as the
// request accepts) once per version of the file, one file at a time in the background from its
// first request, and kept in memory; until then, and for the models (binary weights, large),
// the file is streamed from disk as it is (--no-compression: always). Nothing is read
// synchronously.
import { createReadStream, existsSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { createServer } from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import zlib from 'node:zlib';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..', '..');
const args = process.argv.slice(2);
const option = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : fallback;
};
const port = Number(option('--port', 8080));
const isolation = !args.includes('--no-isolation');
const compress = !args.includes('--no-compression');
const packageDir = path.resolve(option('--package', path.join(root, 'build', 'wasm', 'js', 'package')));
const mounts = [
  ['/tessera-web/', packageDir],
  ['/example-module/', path.join(packageDir, '..', 'example-module')],
  ['/models/', path.join(root, 'examples', 'models')],
];
const faceDetectorDir = path.resolve(root, '..', 'shared', 'models', 'face-detector');
if (existsSync(faceDetectorDir) && !args.includes('--no-shared-models')) mounts.push(['/shared-models/face-detector/', faceDetectorDir]);
args.forEach((a, i) => {
  if (a === '--mount') {
    const [prefix, dir] = args[i + 1].split('=');
    mounts.push([prefix.endsWith('/') ? prefix : `${prefix}/`, path.resolve(dir)]);
  }
});
mounts.push(['/', here]);

const TYPES = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.mjs': 'text/javascript', '.css': 'text/css',
  '.json': 'application/json', '.wasm': 'application/wasm', '.csv': 'text/csv', '.txt': 'text/plain',
  '.jpg': 'image/jpeg', '.jpeg': 'image/jpeg', '.png': 'image/png', '.md': 'text/plain; charset=utf-8', '.npy': 'application/octet-stream',
  '.onnx': 'application/octet-stream', '.gguf': 'application/octet-stream', '.f32': 'application/octet-stream', '.ubj': 'application/octet-stream',
};

function resolve(urlPath) {
  for (const [prefix, dir] of mounts) {
    if (!urlPath.startsWith(prefix)) continue;
    const file = path.resolve(dir, `.${urlPath.slice(prefix.length - 1)}`);
    if (file !== dir && !file.startsWith(dir + path.sep)) return null;  // no way out of the mount
    return file;
  }
  return null;
}

// Compressible files of up to 32 MB: text and .wasm (which compresses to about a third).
const COMPRESSIBLE = new Set(['.html', '.js', '.mjs', '.css', '.json', '.wasm', '.csv', '.txt', '.md']);
const COMPRESS_MAX_BYTES = 32 << 20;
const brotli = promisify(zlib.brotliCompress);
const gzip = promisify(zlib.gzip);
const ENCODERS = {
  br: (body) => brotli(body, { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 5, [zlib.constants.BROTLI_PARAM_SIZE_HINT]: body.byteLength } }),
  gzip: (body) => gzip(body, { level: 6 }),
};
const compressed = new Map();  // `${file}\0${etag}` -> {br, gzip} (Buffers; null while compressing)
// One file compressed at a time, in zlib's thread pool: a page's first load asks for many files
// at once, and compressing them all together would take the cores the browser needs.
let compressing = Promise.resolve();

// The file's compressed bodies, or null until they exist (queued on the first request).
function compressedOf(file, stats, etag) {
  if (!compress || !COMPRESSIBLE.has(path.extname(file)) || stats.size > COMPRESS_MAX_BYTES || stats.size < 512) return null;
  const key = `${file}\0${etag}`;
  if (compressed.has(key)) return compressed.get(key);
  compressed.set(key, null);
  for (const k of compressed.keys()) if (k.startsWith(`${file}\0`) && k !== key) compressed.delete(k);  // older versions
  compressing = compressing.then(async () => {
    const body = await readFile(file);
    const entries = [];
    for (const [name, encode] of Object.entries(ENCODERS)) entries.push([name, await encode(body)]);
    if (compressed.has(key)) compressed.set(key, Object.fromEntries(entries));
  }).catch(() => compressed.delete(key));
  return null;
}

// The encoding to send from those accepted (Accept-Encoding; q=0 refuses one).
function acceptedEncoding(header, available) {
  const accepted = new Map(String(header ?? '').split(',').map((part) => {
    const [name, ...params] = part.trim().split(';');
    const q = params.map((p) => /^\s*q=([\d.]+)/.exec(p)?.[1]).find(Boolean);
    return [name.trim().toLowerCase(), q === undefined ? 1 : Number(q)];
  }));
  return ['br', 'gzip'].find((name) => available[name] && (accepted.get(name) ?? accepted.get('*') ?? 0) > 0) ?? null;
}

const server = createServer(async (req, res) => {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { 'Content-Type': 'text/plain', Allow: 'GET, HEAD' });
    return res.end('read-only\n');
  }
  let file = resolve(decodeURIComponent(new URL(req.url, 'http://localhost').pathname));
  let stats;
  try {
    stats = file && await stat(file);
    if (stats?.isDirectory()) {
      file = path.join(file, 'index.html');
      stats = await stat(file);
    }
    if (!stats?.isFile()) throw new Error('not found');
  } catch {
    res.writeHead(404, { 'Content-Type': 'text/plain' });
    return res.end('not found\n');
  }
  const etag = `W/"${stats.size.toString(16)}-${Math.floor(stats.mtimeMs).toString(16)}"`;
  const headers = {
    'Content-Type': TYPES[path.extname(file)] ?? 'application/octet-stream',
    'Cache-Control': 'no-cache',
    ETag: etag,
    'Last-Modified': stats.mtime.toUTCString(),
  };
  if (isolation) {
    headers['Cross-Origin-Opener-Policy'] = 'same-origin';
    headers['Cross-Origin-Embedder-Policy'] = 'require-corp';
    headers['Cross-Origin-Resource-Policy'] = 'same-origin';
  }
  const bodies = compressedOf(file, stats, etag);
  if (COMPRESSIBLE.has(path.extname(file))) headers.Vary = 'Accept-Encoding';
  const notModified = req.headers['if-none-match'] !== undefined
    ? req.headers['if-none-match'].split(',').some((t) => t.trim() === etag || t.trim() === '*')
    : req.headers['if-modified-since'] !== undefined && Date.parse(req.headers['if-modified-since']) >= Math.floor(stats.mtimeMs / 1000) * 1000;
  if (notModified) {
    res.writeHead(304, headers);
    return res.end();
  }
  const encoding = bodies && acceptedEncoding(req.headers['accept-encoding'], bodies);
  if (encoding) {
    res.writeHead(200, { ...headers, 'Content-Encoding': encoding, 'Content-Length': bodies[encoding].byteLength });
    return res.end(req.method === 'HEAD' ? undefined : bodies[encoding]);
  }
  res.writeHead(200, { ...headers, 'Content-Length': stats.size });
  if (req.method === 'HEAD') return res.end();
  const stream = createReadStream(file);
  stream.on('error', () => res.destroy());
  stream.pipe(res);
});
server.listen(port, '127.0.0.1', () => {
  const { port: bound } = server.address();
  console.log(`tessera-web demo: http://127.0.0.1:${bound}/ (${isolation ? 'cross-origin isolated' : 'not isolated'})`);
});
