// One contender per page load (onnxruntime-web fixes its thread count at its first session):
//   ?engine=tessera|ort&threads=N&reps=R
// Scores the benchmark forest (benchmarks/trees/make_bench_model.py: XGBoost JSON and the same
// forest as an ONNX TreeEnsembleClassifier) on the same rows, checks the answers against
// XGBoost's own, and publishes window.benchResult: batch rows/s (median of R), one-row latency,
// page load to first prediction. Served by examples/web/serve.mjs (COOP/COEP).
const params = new URLSearchParams(location.search);
const engine = params.get('engine');
const threads = Number(params.get('threads') ?? 1);
const reps = Number(params.get('reps') ?? 5);
const log = (s) => { document.getElementById('log').textContent += `\n${s}`; };

async function bytes(url) {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`${url}: HTTP ${r.status}`);
  return new Uint8Array(await r.arrayBuffer());
}

async function median(fn, minMs) {
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

async function run() {
  const meta = JSON.parse(new TextDecoder().decode(await bytes('/bench-data/meta.json')));
  const raw = await bytes('/bench-data/rows.f32');
  const rows = new Float32Array(raw.buffer, 0, meta.rows * meta.features);
  const want = new Float32Array((await bytes('/bench-data/xgb_prob.f32')).buffer);
  let predictBatch;
  let predictOne;
  let firstPredictionMs;
  let probability;
  let version;
  if (engine === 'tessera') {
    const { loadTrees } = await import('/tessera-web/src/trees.js');
    const model = await loadTrees('/bench-data/model.json', { threads, flavour: threads > 1 ? 'mt' : 'st', cache: false });
    await model.predict(rows.subarray(0, meta.features));
    firstPredictionMs = performance.now();
    predictBatch = () => model.predict(rows);
    predictOne = () => model.predict(rows.subarray(0, meta.features));
    probability = async () => model.predict(rows);
    version = `tessera-web ${model.runtime.build.version} (${model.runtime.flavour}, ${model.runtime.threads} thread(s), worker)`;
  } else {
    const ort = await import('/ort/ort.wasm.min.mjs');
    ort.env.wasm.wasmPaths = '/ort/';
    ort.env.wasm.numThreads = threads;
    ort.env.wasm.proxy = false;
    const session = await ort.InferenceSession.create('/bench-data/model.onnx', { executionProviders: ['wasm'] });
    const batch = new ort.Tensor('float32', rows, [meta.rows, meta.features]);
    const one = new ort.Tensor('float32', rows.slice(0, meta.features), [1, meta.features]);
    await session.run({ X: one });
    firstPredictionMs = performance.now();
    predictBatch = () => session.run({ X: batch });
    predictOne = () => session.run({ X: one });
    probability = async () => {
      const p = (await session.run({ X: batch })).probabilities.data;
      return Float64Array.from({ length: meta.rows }, (_, i) => p[2 * i + 1]);
    };
    version = `onnxruntime-web ${ort.env.versions?.web ?? '?'} (wasm EP, numThreads ${threads}, page thread)`;
  }
  const p = await probability();
  let worst = 0;
  for (let i = 0; i < meta.rows; ++i) worst = Math.max(worst, Math.abs(p[i] - want[i]));
  if (!(worst < 1e-4)) throw new Error(`${engine} disagrees with XGBoost (max |diff| ${worst})`);
  const batchMs = await median(predictBatch, 0);
  const oneMs = await median(predictOne, 200);
  return { engine, threads, version, rows: meta.rows, worstDiff: worst, batchRowsPerSec: meta.rows / (batchMs / 1000),
    batchMs, singleRowUs: oneMs * 1000, firstPredictionMs, crossOriginIsolated: globalThis.crossOriginIsolated };
}

window.benchResult = run().then((r) => { log(JSON.stringify(r)); return r; }, (e) => { log(`error: ${e.message}`); return { error: e.message }; });
