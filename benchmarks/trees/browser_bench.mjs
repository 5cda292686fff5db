// Tree scoring in the browser: tessera-web against onnxruntime-web's TreeEnsembleClassifier on
// the same page setup (headless Debian chromium, cross-origin isolated), 1 and 2 threads.
//   /usr/bin/python3 benchmarks/trees/make_bench_model.py --out-dir DATA   (python3-xgboost, python3-onnx)
//   bash scripts/install-bench-peers.sh                                     (onnxruntime-web)
//   node benchmarks/trees/browser_bench.mjs --data-dir DATA [--package build/wasm/js/package] [--reps 5]
//                                     [--ort-dist DIR: onnxruntime-web's dist/]
// Prints harness records (bench, case, threads, target, unit, tessera, peer, peer_value, ratio).
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { launchChromium, option as optionOf, root, startServer } from '../js/browser.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const option = (name, fallback) => optionOf(args, name, fallback);
const dataDir = path.resolve(option('--data-dir', path.join(root, 'build', 'native', 'bench_trees_data')));
const packageDir = path.resolve(option('--package', path.join(root, 'build', 'wasm', 'js', 'package')));
const reps = Number(option('--reps', 5));
const ortDist = path.resolve(option('--ort-dist', path.join(root, 'benchmarks', 'js', 'node_modules', 'onnxruntime-web', 'dist')));

const server = await startServer(packageDir, { '/bench-data': dataDir, '/ort': ortDist, '/bench': path.join(here, 'web') });
const chromium = await launchChromium();
const browser = chromium.context;
const results = {};
try {
  for (const threads of [1, 2]) {
    for (const engine of ['tessera', 'ort']) {
      const page = await browser.newPage();
      await page.goto(`${server.url}bench/?engine=${engine}&threads=${threads}&reps=${reps}`);
      const r = await page.evaluate(() => window.benchResult);
      await page.close();
      if (r.error) throw new Error(`${engine}, ${threads} thread(s): ${r.error}`);
      results[`${engine}/${threads}`] = r;
      console.error(JSON.stringify(r));
    }
  }
} finally {
  await chromium.close();
  server.stop();
}
for (const threads of [1, 2]) {
  const t = results[`tessera/${threads}`];
  const o = results[`ort/${threads}`];
  const target = 'chromium-wasm';
  const note = `${t.version} vs ${o.version}, ${t.rows} rows`;
  const record = (kase, unit, tv, ov, higherIsBetter) => console.log(JSON.stringify({
    bench: 'trees_browser', case: kase, threads, target, unit, tessera: tv, peer: 'onnxruntime-web', peer_value: ov,
    ratio: higherIsBetter ? tv / ov : ov / tv, note }));
  record('batch', 'rows/s', t.batchRowsPerSec, o.batchRowsPerSec, true);
  record('single_row', 'us', t.singleRowUs, o.singleRowUs, false);
  record('page_load_to_first_prediction', 'ms', t.firstPredictionMs, o.firstPredictionMs, false);
}
