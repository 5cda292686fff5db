// Times onnxruntime's TreeEnsembleClassifier on the benchmark forest (model.onnx).
//   node peer_ort.mjs --backend node|web --data-dir DIR [--reps N] [--threads 1,2]
// backend node: onnxruntime-node (native CPU EP, intraOpNumThreads = threads).
// backend web:  onnxruntime-web's WASM backend (SIMD, numThreads = 1) run by this node; run
//               it with the same node flags as tessera's WASM build (--no-liftoff).
// Prints one JSON object per line: {"peer":...,"case":"batch"|"single_row","threads":N,"unit":...,"value":...}
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { medianSeconds } from '../js/median.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const args = Object.fromEntries(process.argv.slice(2).reduce((acc, a, i, all) => {
  if (a.startsWith('--')) acc.push([a.slice(2), all[i + 1] && !all[i + 1].startsWith('--') ? all[i + 1] : 'true']);
  return acc;
}, []));
const backend = args.backend || 'node';
const dataDir = args['data-dir'];
const reps = Number(args.reps || 5);
const threadList = (args.threads || '1').split(',').map(Number);
const require = createRequire(path.join(here, '..', 'js', 'package.json'));

const meta = JSON.parse(readFileSync(path.join(dataDir, 'meta.json'), 'utf8'));
const raw = readFileSync(path.join(dataDir, 'rows.f32'));
const rows = new Float32Array(raw.buffer, raw.byteOffset, meta.rows * meta.features);
const modelBytes = new Uint8Array(readFileSync(path.join(dataDir, 'model.onnx')));

let ort;
if (backend === 'node') {
  ort = require('onnxruntime-node');
} else {
  ort = require('onnxruntime-web');
  ort.env.wasm.numThreads = 1;
  ort.env.wasm.simd = true;
  ort.env.wasm.proxy = false;
}
const pkgName = backend === 'node' ? 'onnxruntime-node' : 'onnxruntime-web';
const version = JSON.parse(readFileSync(path.join(here, '..', 'js', 'node_modules', pkgName, 'package.json'), 'utf8')).version;

const peer = backend === 'node' ? 'onnxruntime-node' : 'onnxruntime-web';
const flags = process.execArgv.join(' ');
for (const threads of threadList) {
  const opts = backend === 'node'
    ? { executionProviders: ['cpu'], intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: 'all' }
    : { executionProviders: ['wasm'], graphOptimizationLevel: 'all' };
  const session = await ort.InferenceSession.create(modelBytes, opts);
  const batch = new ort.Tensor('float32', rows, [meta.rows, meta.features]);
  // Correctness guard: the peer must compute the same forest (compare with XGBoost's output).
  const out = await session.run({ X: batch });
  const prob = out.probabilities.data;
  const ref = new Float32Array(readFileSync(path.join(dataDir, 'xgb_prob.f32')).buffer.slice(0));
  let worst = 0;
  for (let i = 0; i < meta.rows; ++i) worst = Math.max(worst, Math.abs(prob[2 * i + 1] - ref[i]));
  if (!(worst < 1e-4)) {
    console.error(`peer_ort: ${peer} disagrees with XGBoost (max |diff| ${worst}); not timed`);
    process.exit(1);
  }
  const sec = await medianSeconds(() => session.run({ X: batch }), reps, 0);
  console.log(JSON.stringify({ peer, case: 'batch', threads, unit: 'rows/s', value: meta.rows / sec,
    rows: meta.rows, note: `${peer} ${version} TreeEnsembleClassifier${flags ? ' node ' + flags : ''}` }));
  if (threads === 1) {
    const one = new ort.Tensor('float32', rows.slice(0, meta.features), [1, meta.features]);
    const s1 = await medianSeconds(() => session.run({ X: one }), reps, 0.2);
    console.log(JSON.stringify({ peer, case: 'single_row', threads, unit: 'ns', value: s1 * 1e9,
      note: `${peer} ${version}, 1 row${flags ? ', node ' + flags : ''}` }));
  }
  await session.release?.();
}
