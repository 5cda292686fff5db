#!/usr/bin/env node
// A small static server for the tessera-web demo, with the headers a page needs for the
// pthreads build: Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy:
// require-corp make the page cross-origin isolated (SharedArrayBuffer, WebAssembly threads).
//
//   node examples/web/serve.mjs [--port 8080] [--package build/wasm/js/package] [--no-isolation]
//                               [--mount /prefix=DIR ...] [--no-shared-models]
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
import { createReadStream, existsSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..', '..');
const args = process.argv.slice(2);
const option = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : fallback;
};
const port = Number(option('--port', 8080));
const isolation = !args.includes('--no-isolation');
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

const server = createServer((req, res) => {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { 'Content-Type': 'text/plain', Allow: 'GET, HEAD' });
    return res.end('read-only\n');
  }
  let file = resolve(decodeURIComponent(new URL(req.url, 'http://localhost').pathname));
  try {
    if (file && statSync(file).isDirectory()) file = path.join(file, 'index.html');
    const stat = file && statSync(file);
    if (!stat || !stat.isFile()) throw new Error('not found');
    const headers = {
      'Content-Type': TYPES[path.extname(file)] ?? 'application/octet-stream',
      'Content-Length': stat.size,
      'Cache-Control': 'no-cache',
    };
    if (isolation) {
      headers['Cross-Origin-Opener-Policy'] = 'same-origin';
      headers['Cross-Origin-Embedder-Policy'] = 'require-corp';
      headers['Cross-Origin-Resource-Policy'] = 'same-origin';
    }
    res.writeHead(200, headers);
    if (req.method === 'HEAD') return res.end();
    createReadStream(file).pipe(res);
  } catch {
    res.writeHead(404, { 'Content-Type': 'text/plain' });
    res.end('not found\n');
  }
});
server.listen(port, '127.0.0.1', () => {
  const { port: bound } = server.address();
  console.log(`tessera-web demo: http://127.0.0.1:${bound}/ (${isolation ? 'cross-origin isolated' : 'not isolated'})`);
});
