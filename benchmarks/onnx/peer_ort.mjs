// Times onnxruntime on the models bench_onnx times, with the same input pattern.
//   node peer_ort.mjs --backend node|web --cases cases.json [--reps N] [--threads 1,2] [--batch B]
// cases.json: [{"name": "digits_cnn", "path": "/abs/model.onnx", "shapes": {"input": [-1, 1, 8, 8]}}, ...]
// (run.py writes it; -1: a symbolic dim, given --batch).
// backend node: onnxruntime-node (CPU EP, intraOpNumThreads = threads).
// backend web:  onnxruntime-web's WASM backend (SIMD, numThreads = 1) run by this node; run it
//               with the node flags of tessera's WASM build (--no-liftoff).
// Prints one JSON object per line per case: the steady-state median ms of one inference
// ("case": name) and the first inference after load ("case": name + "_first"). With --memory
// (one case per process) instead: the peak resident memory that loading and running the model
// took over the process's resident size before the load ("case": name + "_peak_mb", MB), as
// bench_onnx --memory measures tessera's.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { medianSeconds } from '../js/median.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const args = {};
for (let i = 2; i < process.argv.length; ++i) {
  const a = process.argv[i];
  if (a.startsWith('--')) args[a.slice(2)] = process.argv[i + 1] && !process.argv[i + 1].startsWith('--') ? process.argv[++i] : 'true';
}
const backend = args.backend || 'node';
const reps = Number(args.reps || 7);
const minSeconds = Number(args['min-seconds'] || 0.2);
const batch = Number(args.batch || 1);
const threadList = (args.threads || '1').split(',').map(Number);
const cases = JSON.parse(readFileSync(args.cases, 'utf8'));
const memory = args.memory === 'true';
if (memory && cases.length !== 1) throw new Error('peer_ort: --memory measures one case per process');
const require = createRequire(path.join(here, '..', 'js', 'package.json'));
const peer = backend === 'node' ? 'onnxruntime-node' : 'onnxruntime-web';
const ort = require(peer);
if (backend === 'web') {
  ort.env.wasm.numThreads = 1;
  ort.env.wasm.simd = true;
  ort.env.wasm.proxy = false;
}
const version = JSON.parse(readFileSync(path.join(here, '..', 'js', 'node_modules', peer, 'package.json'), 'utf8')).version;
const flags = process.execArgv.join(' ');
const note = `${peer} ${version}${flags ? ' node ' + flags : ''}`;

// VmHWM, the high-water mark of this address space (bench harness.hpp's peak_resident_bytes):
// resourceUsage().maxRSS would also count the parent's resident size at the fork before exec.
function peakResidentBytes() {
  const line = readFileSync('/proc/self/status', 'utf8').split('\n').find((l) => l.startsWith('VmHWM:'));
  if (!line) throw new Error('peer_ort: --memory needs /proc/self/status (Linux)');
  return Number(line.split(/\s+/)[1]) * 1024;
}

// bench_onnx.cpp's fill_pattern.
function pattern(n) {
  const x = new Float32Array(n);
  for (let i = 0; i < n; ++i) x[i] = ((Math.imul(i, 2654435761) >>> 0) % 1024) / 1024 - 0.5;
  return x;
}

const suffix = batch > 1 ? `_b${batch}` : '';
for (const threads of threadList) {
  for (const c of cases) {
    const opts = backend === 'node'
      ? { executionProviders: ['cpu'], intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: 'all' }
      : { executionProviders: ['wasm'], graphOptimizationLevel: 'all' };
    const residentAtStart = process.memoryUsage.rss();
    const t0 = process.hrtime.bigint();
    const session = await ort.InferenceSession.create(new Uint8Array(readFileSync(c.path)), opts);
    const feeds = {};
    for (const name of session.inputNames) {
      const dims = c.shapes?.[name];
      if (!dims) throw new Error(`peer_ort: no shape for input ${name} of ${c.path}`);
      const shape = dims.map((d) => (typeof d === 'number' && d >= 0 ? d : batch));
      feeds[name] = new ort.Tensor('float32', pattern(shape.reduce((a, b) => a * b, 1)), shape);
    }
    await session.run(feeds);
    const firstMs = Number(process.hrtime.bigint() - t0) / 1e6;
    if (memory) {
      for (let rep = 0; rep < 3; ++rep) await session.run(feeds);
      const peak = peakResidentBytes();
      const value = Math.max(0, peak - residentAtStart) / 1e6;
      console.log(JSON.stringify({ peer, case: c.name + suffix + '_peak_mb', threads, unit: 'MB', value, note }));
      continue;
    }
    const ms = 1e3 * await medianSeconds(() => session.run(feeds), reps, minSeconds);
    console.log(JSON.stringify({ peer, case: c.name + suffix, threads, unit: 'ms', value: ms, note }));
    console.log(JSON.stringify({ peer, case: c.name + suffix + '_first', threads, unit: 'ms', value: firstMs, note }));
    await session.release?.();
  }
}
