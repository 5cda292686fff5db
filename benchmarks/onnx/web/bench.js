// One contender and one model per page load (onnxruntime-web fixes its thread count at its first
// session, and a model's first inference should pay the module's compile as a page would):
// browser_bench.mjs calls window.runBench({engine, threads, reps, minMs, model, input, reference}).
//   engine: 'tessera' (in its worker, as the package runs by default), 'tessera-page'
//           (worker: false, on the page's thread) or 'ort' (onnxruntime-web's WASM backend)
//   input: a .npy URL, else bench_onnx's input pattern in the model's input shape
//   reference: {outputName: {dims, data}} to check the outputs against before timing; the name
//              '' stands for a model's one output (a .npy reference does not name it)
// Resolves to the steady-state median ms of run() (each of `reps` repetitions calls it until
// minMs passed), the first inference (import of the library, model download and load, first
// run) and the outputs.
import { parseNpyFloat32 } from '/bench-js/npy.mjs';

const log = (s) => { document.getElementById('log').textContent += `\n${s}`; };

async function bytes(url) {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`${url}: HTTP ${r.status}`);
  return new Uint8Array(await r.arrayBuffer());
}

// bench_onnx.cpp's fill_pattern: the same input for both contenders when there is no .npy.
function pattern(n) {
  const x = new Float32Array(n);
  for (let i = 0; i < n; ++i) x[i] = ((Math.imul(i, 2654435761) >>> 0) % 1024) / 1024 - 0.5;
  return x;
}

async function medianMs(fn, reps, minMs) {
  await fn();
  const times = [];
  for (let r = 0; r < reps; ++r) {
    const t0 = performance.now();
    let calls = 0;
    let t1 = t0;
    do {
      await fn();
      ++calls;
      t1 = performance.now();
    } while (t1 - t0 < minMs);
    times.push((t1 - t0) / calls);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

// Symbolic or unknown dims (a batch) are 1.
const concrete = (dims) => dims.map((d) => (Number.isInteger(d) && d >= 0 ? d : 1));

// Worst |difference| over the largest |reference| value, per output.
function check(outputs, reference) {
  const worst = {};
  const names = Object.keys(outputs);
  for (const [given, want] of Object.entries(reference)) {
    if (given === '' && names.length !== 1) throw new Error(`a one-output reference for ${names.length} outputs`);
    const name = given === '' ? names[0] : given;
    const got = outputs[name];
    if (!got) throw new Error(`no output '${name}' (have ${Object.keys(outputs)})`);
    if (got.data.length !== want.data.length) throw new Error(`output '${name}': ${got.data.length} values, the reference has ${want.data.length}`);
    let diff = 0;
    let scale = 0;
    for (let i = 0; i < want.data.length; ++i) {
      diff = Math.max(diff, Math.abs(got.data[i] - want.data[i]));
      scale = Math.max(scale, Math.abs(want.data[i]));
    }
    worst[name] = diff / (scale || 1);
    if (!(worst[name] <= 1e-3)) throw new Error(`output '${name}' disagrees with the reference: max |diff| ${diff} over max |ref| ${scale}`);
  }
  return worst;
}

async function runBench({ engine, threads, reps, minMs, model, input, reference }) {
  const given = input ? parseNpyFloat32(await bytes(input)) : null;
  const feedsFor = (inputs) => Object.fromEntries(inputs.map(({ name, dims }, i) => {
    if (given && i > 0) throw new Error('a .npy input feeds a model with one input only');
    const shape = given ? given.dims : concrete(dims);
    return [name, { dims: shape, data: given ? given.data : pattern(shape.reduce((a, b) => a * b, 1)) }];
  }));
  let runOnce;
  let version;
  let details = {};
  const t0 = performance.now();
  if (engine === 'tessera' || engine === 'tessera-page') {
    const { loadCnn } = await import('/tessera-web/src/cnn.js');
    const net = await loadCnn(model, { threads, flavour: threads > 1 ? 'mt' : 'st', worker: engine === 'tessera', cache: false });
    const feeds = feedsFor(net.info.inputs.filter((i) => i.required));
    runOnce = () => net.run(feeds);
    version = `tessera-web ${net.runtime.build.version} (${net.runtime.flavour}, ${net.runtime.threads} thread(s), ${net.runtime.worker ? 'worker' : 'page thread'})`;
    details = { timings: net.timings };
  } else {
    const ort = await import('/ort/ort.wasm.min.mjs');
    ort.env.wasm.wasmPaths = '/ort/';
    ort.env.wasm.numThreads = threads;
    ort.env.wasm.simd = true;
    ort.env.wasm.proxy = false;
    const session = await ort.InferenceSession.create(model, { executionProviders: ['wasm'], graphOptimizationLevel: 'all' });
    const feeds = Object.fromEntries(Object.entries(feedsFor(session.inputMetadata.map((m) => ({ name: m.name, dims: m.shape ?? [] }))))
      .map(([name, f]) => [name, new ort.Tensor('float32', f.data, f.dims)]));
    runOnce = async () => Object.fromEntries(Object.entries(await session.run(feeds)).map(([name, t]) => [name, { dims: t.dims, data: t.data }]));
    version = `onnxruntime-web ${ort.env.versions?.web ?? '?'} (wasm EP, SIMD, numThreads ${threads}, page thread)`;
  }
  const outputs = await runOnce();
  const firstMs = performance.now() - t0;
  const worst = reference ? check(outputs, reference) : null;
  const steadyMs = await medianMs(runOnce, reps, minMs);
  return {
    engine, threads, version, steadyMs, firstMs, worstRelativeDiff: worst, crossOriginIsolated: globalThis.crossOriginIsolated, ...details,
    outputs: Object.fromEntries(Object.entries(outputs).map(([name, t]) => [name, { dims: Array.from(t.dims, Number), data: Array.from(t.data) }])),
  };
}

window.runBench = (config) => runBench(config).then((r) => {
  log(`${config.engine} ${config.threads}: steady ${r.steadyMs.toFixed(2)} ms, first ${r.firstMs.toFixed(0)} ms`);
  return r;
}, (e) => {
  log(`error: ${e.message}`);
  return { error: e.message };
});
