// CNNs in the browser: tessera-web against onnxruntime-web's WASM backend (its SIMD build) on
// the same page setup (headless Debian chromium, a cross-origin isolated page), 1 and 2 threads.
//   bash scripts/install-bench-peers.sh          (onnxruntime-web into benchmarks/js/node_modules)
//   node benchmarks/onnx/browser_bench.mjs [--models-dir DIR] [--package build/wasm/js/package]
//        [--reps 5] [--min-ms 200] [--models digits_cnn,mobilenet_v2,...] [--ort-dist DIR]
// Models: the repo's digits CNN; mobilenet_v2 and resnet18 from --models-dir (default
// build/native/bench_onnx_models: run.py writes them, with scripts/make_onnx_models.py --bench,
// beside their .input_0.npy and .output_0.npy); UltraFace (version-RFB-320) from
// ../shared/models/face-detector when present. One page load per model, contender and thread
// count: tessera in its worker (the package's default; 1 thread st, 2 threads mt), tessera on
// the page's thread (worker: false, 1 thread), onnxruntime-web (numThreads 1 and 2, on the
// page's thread). Outputs are checked before timing: against the .npy reference where there is
// one, else against the first contender's (1e-3 of the largest |value|); a mismatch fails the run.
// Times: the median ms of run() in the steady state, and the first inference (from the library's
// import through the model's download and load to the first answer; tessera's load includes the
// package's default warm-up, two runs on zeros).
// Prints harness records (bench, case, threads, target, unit, tessera, peer, peer_value, ratio:
// onnxruntime-web's time over tessera's, above 1 tessera is faster); progress on stderr.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { launchChromium, option as optionOf, root, startServer } from '../js/browser.mjs';
import { parseNpyFloat32 } from '../js/npy.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const option = (name, fallback) => optionOf(args, name, fallback);
const modelsDir = path.resolve(option('--models-dir', path.join(root, 'build', 'native', 'bench_onnx_models')));
const packageDir = path.resolve(option('--package', path.join(root, 'build', 'wasm', 'js', 'package')));
const reps = Number(option('--reps', 5));
const minMs = Number(option('--min-ms', 200));
const only = option('--models', null)?.split(',');
const ortDist = path.resolve(option('--ort-dist', path.join(root, 'benchmarks', 'js', 'node_modules', 'onnxruntime-web', 'dist')));
const faceDetectorDir = path.resolve(root, '..', 'shared', 'models', 'face-detector');
if (!existsSync(path.join(ortDist, 'ort.wasm.min.mjs'))) {
  throw new Error(`no onnxruntime-web in ${ortDist}: bash scripts/install-bench-peers.sh, or --ort-dist DIR`);
}

// url: as served; reference: the .npy output, when there is one.
const cases = [{ name: 'digits_cnn', url: '/models/digits_cnn.onnx' }];
for (const name of ['mobilenet_v2', 'resnet18']) {
  const file = path.join(modelsDir, `${name}.onnx`);
  if (!existsSync(file)) {
    console.error(`browser_bench: skipping ${name}: no ${file} (benchmarks/onnx/run.py writes it; or --models-dir)`);
    continue;
  }
  cases.push({ name, url: `/bench-models/${name}.onnx`, input: `/bench-models/${name}.input_0.npy`,
    reference: path.join(modelsDir, `${name}.output_0.npy`) });
}
if (existsSync(path.join(faceDetectorDir, 'version-RFB-320.onnx'))) {
  cases.push({ name: 'ultraface_rfb_320', url: '/shared-models/face-detector/version-RFB-320.onnx' });
} else {
  console.error(`browser_bench: skipping UltraFace: no ${faceDetectorDir}/version-RFB-320.onnx (third-party, never committed)`);
}
const selected = cases.filter((c) => !only || only.includes(c.name));

// The contenders in page-load order; the first one's outputs check the others' where no .npy does.
const contenders = [
  { engine: 'tessera', threads: 1 }, { engine: 'ort', threads: 1 }, { engine: 'tessera-page', threads: 1 },
  { engine: 'tessera', threads: 2 }, { engine: 'ort', threads: 2 },
];

const server = await startServer(packageDir, { '/bench-models': modelsDir, '/ort': ortDist, '/bench': path.join(here, 'web'),
  '/bench-js': path.join(root, 'benchmarks', 'js') });
const chromium = await launchChromium();
const results = {};
try {
  for (const c of selected) {
    // The .npy as the model's one output (make_onnx_models.py --bench's models have one), else
    // the first contender's outputs once it ran.
    let reference = c.reference ? { '': npyAsArrays(c.reference) } : null;
    for (const { engine, threads } of contenders) {
      const page = await chromium.context.newPage();
      await page.goto(`${server.url}bench/`);
      await page.waitForFunction(() => typeof window.runBench === 'function');
      const r = await page.evaluate((config) => window.runBench(config),
        { engine, threads, reps, minMs, model: c.url, input: c.input ?? null, reference });
      await page.close();
      if (r.error) throw new Error(`${c.name}, ${engine}, ${threads} thread(s): ${r.error}`);
      const { outputs, ...summary } = r;
      reference ??= outputs;
      console.error(JSON.stringify({ case: c.name, ...summary }));
      results[`${c.name}/${engine}/${threads}`] = summary;
    }
  }
} finally {
  await chromium.close();
  server.stop();
}

const record = (kase, threads, unit, t, o) => console.log(JSON.stringify({
  bench: 'onnx_browser', case: kase, threads, target: `chromium${chromium.version ? ` ${chromium.version}` : ''}-wasm`, unit,
  tessera: t.value, peer: 'onnxruntime-web', peer_value: o.value, ratio: o.value / t.value, note: `${t.version} vs ${o.version}` }));
for (const c of selected) {
  for (const threads of [1, 2]) {
    const t = results[`${c.name}/tessera/${threads}`];
    const o = results[`${c.name}/ort/${threads}`];
    record(c.name, threads, 'ms', { value: t.steadyMs, version: t.version }, { value: o.steadyMs, version: o.version });
    record(`${c.name}_first`, threads, 'ms', { value: t.firstMs, version: t.version }, { value: o.firstMs, version: o.version });
    if (threads === 1) {
      const p = results[`${c.name}/tessera-page/1`];
      record(`${c.name}_page_thread`, 1, 'ms', { value: p.steadyMs, version: p.version }, { value: o.steadyMs, version: o.version });
      record(`${c.name}_page_thread_first`, 1, 'ms', { value: p.firstMs, version: p.version }, { value: o.firstMs, version: o.version });
    }
  }
}

function npyAsArrays(file) {
  const { dims, data } = parseNpyFloat32(new Uint8Array(readFileSync(file)));
  return { dims, data: Array.from(data) };
}
