// Node tests of tessera-web/trees against the staged package (ctest wasm/js_api):
//   node --test js/test/     (TESSERA_WEB_PACKAGE=<build>/js/package, default build/wasm)
// Oracles: the fixtures' XGBoost and LightGBM predictions, and tessera-gbt's own JSON answers
// (its WASM build, when this build has it).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, openAsBlob, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, it } from 'node:test';

import { buildDir, f32, fixture, importPackage, readCases, recordsOf } from './helpers.js';

const { loadTrees, loadCompiledTrees, TesseraError } = await importPackage('trees');
const cancer = readCases('breast_cancer');

function assertF32Equal(got, want, what) {
  assert.equal(got.length, want.length, `${what}: length`);
  for (let i = 0; i < want.length; ++i) assert.equal(f32(got[i]), f32(want[i]), `${what}: value ${i}`);
}

// Every way a model can be handed over, each in a worker and on this thread.
const sources = {
  path: () => fixture('breast_cancer.json'),
  'file: URL': () => pathToFileURL(fixture('breast_cancer.json')),
  ArrayBuffer: () => {
    const b = readFileSync(fixture('breast_cancer.json'));
    return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength);
  },
  Uint8Array: () => new Uint8Array(readFileSync(fixture('breast_cancer.ubj'))),
  Blob: async () => openAsBlob(fixture('breast_cancer.ubj')),
  Response: () => new Response(readFileSync(fixture('breast_cancer.json')), { headers: { 'content-length': '0' } }),
};

describe('loading', () => {
  for (const [kind, make] of Object.entries(sources)) {
    for (const worker of [true, false]) {
      it(`from ${kind} (${worker ? 'worker' : 'main thread'}), progress up to the total`, async () => {
        const events = [];
        const model = await loadTrees(await make(), { worker, threads: 1, onProgress: (p) => events.push(p) });
        try {
          assert.equal(model.runtime.worker, worker);
          assert.equal(model.runtime.flavour, 'st');
          assert.equal(model.info.numFeatures, 30);
          assert.deepEqual(model.info.outputKeys, ['0', '1']);
          const bytes = events.filter((e) => e.phase === 'download');
          assert.ok(bytes.length >= 2, 'a first and a last model progress event');
          for (let i = 1; i < bytes.length; ++i) assert.ok(bytes[i].loaded >= bytes[i - 1].loaded);
          const last = bytes[bytes.length - 1];
          if (last.total !== undefined) assert.equal(last.loaded, last.total);
          assert.equal(last.loaded, model.timings.bytes);
          assert.ok(events.some((e) => e.phase === 'wasm'));
          const out = await model.predict(new Float32Array(cancer.x));
          assertF32Equal(out, cancer.pred.map((p) => p[0]), kind);
        } finally {
          await model.dispose();
        }
      });
    }
  }
});

describe('predictions', () => {
  it('typed rows (f32, f64), rows as arrays and margins match XGBoost', async () => {
    const model = await loadTrees(fixture('breast_cancer.json'), { threads: 1 });
    try {
      const want = cancer.pred.map((p) => p[0]);
      assertF32Equal(await model.predict(new Float32Array(cancer.x)), want, 'f32 rows');
      assertF32Equal(await model.predict(cancer.x), want, 'f64 rows');
      const nested = [];
      for (let r = 0; r < cancer.rows; ++r) nested.push(Array.from(cancer.x.subarray(r * 30, r * 30 + 30)));
      assertF32Equal(await model.predict(nested), want, 'arrays');
      assertF32Equal(await model.predict(cancer.x, { margin: true }), cancer.margin.map((m) => m[0]), 'margins');
      // Many rows: cut into chunks, and the answer is the same as row by row.
      const reps = 300;
      const big = new Float32Array(cancer.x.length * reps);
      for (let i = 0; i < reps; ++i) big.set(cancer.x, i * cancer.x.length);
      const out = await model.predict(big);
      for (let r = 0; r < out.length; ++r) assert.equal(f32(out[r]), f32(want[r % cancer.rows]));
      assert.ok(model.stats.calls >= 5 && model.stats.firstCallMs !== null && model.stats.steadyCallMs !== null);
      assert.ok(model.timings.warmup.firstCallMs >= 0 && model.timings.warmup.steadyCallMs >= 0);
    } finally {
      await model.dispose();
    }
  });

  it('records answer like tessera-gbt: {"0": 1 - p, "1": p}', async () => {
    const model = await loadTrees(fixture('breast_cancer.json'));
    try {
      const records = recordsOf(cancer, model.info.featureNames);
      const answers = await model.predict(records);
      assert.equal(answers.length, cancer.rows);
      answers.forEach((a, r) => {
        assert.deepEqual(Object.keys(a), ['0', '1']);
        assert.equal(f32(a['1']), f32(cancer.pred[r][0]));
        assert.equal(f32(a['0']), f32(1 - f32(cancer.pred[r][0])));
      });
      const one = await model.predict(records[0]);
      assert.deepEqual(one, answers[0]);
      const cli = path.join(buildDir, 'examples', 'tessera-gbt', 'tessera-gbt.js');
      if (existsSync(cli)) {
        const dir = mkdtempSync(path.join(tmpdir(), 'tessera-web-'));
        writeFileSync(path.join(dir, 'records.json'), JSON.stringify(records));
        const text = execFileSync(process.execPath, [cli, 'predict', '--model', fixture('breast_cancer.json'), '--input',
          path.join(dir, 'records.json')], { encoding: 'utf8', env: { ...process.env, NODE_PATH: '/usr/share/nodejs' } });
        const lines = text.trim().split('\n').map((l) => JSON.parse(l));
        assert.equal(lines.length, answers.length);
        lines.forEach((want, r) => {
          assert.deepEqual(Object.keys(answers[r]), Object.keys(want));
          for (const k of Object.keys(want)) assert.equal(f32(answers[r][k]), f32(want[k]), `record ${r} key ${k}`);
        });
      }
    } finally {
      await model.dispose();
    }
  });

  it('categories as strings (LightGBM pandas_categorical), and a caller map replacing them', async () => {
    const model = await loadTrees(fixture('lgb_regression.txt'));
    try {
      const cases = readCases('lgb_regression');
      const cats = model.info.categories;
      assert.equal(Object.keys(cats).length, 2);
      let strings = 0;
      const records = recordsOf(cases, model.info.featureNames, (key, v) => {
        const names = cats[key];
        if (!names || v < 0 || v >= names.length || v !== Math.floor(v)) return undefined;
        ++strings;
        return names[v];
      });
      assert.ok(strings >= 10);
      const answers = await model.predict(records);
      answers.forEach((a, r) => {
        assert.deepEqual(Object.keys(a), ['prediction']);
        assert.ok(Math.abs(a.prediction - cases.pred[r][0]) <= 1e-12 * Math.abs(cases.pred[r][0]) + 1e-12, `record ${r}`);
      });
      const feature = Object.keys(cats)[0];
      await model.setCategories({ [feature]: ['zero', 'one'] });
      assert.deepEqual(model.info.categories[feature], ['zero', 'one']);
      await assert.rejects(model.predict({ [feature]: 'a' }).then((a) => {
        // 'a' is no longer a category of this feature: missing, like an unseen pandas category.
        assert.equal(typeof a.prediction, 'number');
        throw new Error('ok');
      }), /ok/);
    } finally {
      await model.dispose();
    }
  });

  it('the pthreads flavour in a worker gives the same bits as the single-threaded one', async () => {
    const mt = await loadTrees(fixture('xgb_multi_softprob.json'), { threads: 2 });
    const st = await loadTrees(fixture('xgb_multi_softprob.json'), { threads: 1 });
    try {
      assert.equal(mt.runtime.flavour, 'mt');
      assert.equal(mt.runtime.threads, 2);
      assert.equal(mt.runtime.fallbackReason, null);
      const cases = readCases('xgb_multi_softprob');
      const reps = 200;
      const rows = new Float32Array(cases.x.length * reps);
      for (let i = 0; i < reps; ++i) rows.set(cases.x, i * cases.x.length);
      const a = await mt.predict(rows);
      const b = await st.predict(rows);
      assert.deepEqual(a, b);
      const k = mt.info.numTransformedOutputs;
      for (let r = 0; r < cases.rows; ++r) for (let c = 0; c < k; ++c) assert.equal(f32(a[r * k + c]), f32(cases.pred[r][c]));
    } finally {
      await mt.dispose();
      await st.dispose();
    }
  });

  it('main-thread mode falls back to the single-threaded build and says why', async () => {
    const warn = console.warn;
    const said = [];
    console.warn = (m) => said.push(m);
    try {
      const model = await loadTrees(fixture('breast_cancer.json'), { worker: false, threads: 2 });
      assert.equal(model.runtime.flavour, 'st');
      assert.match(model.runtime.fallbackReason, /main-thread/);
      assert.ok(said.some((m) => m.includes('single-threaded') && m.includes('main-thread')));
      await model.dispose();
    } finally {
      console.warn = warn;
    }
  });
});

describe('errors are TesseraErrors carrying tessera\'s message', () => {
  for (const worker of [true, false]) {
    it(`bad models, rows, records and sources (${worker ? 'worker' : 'main thread'})`, async () => {
      await assert.rejects(loadTrees(new TextEncoder().encode('<!DOCTYPE html><p>not found</p>'), { worker }),
        (e) => e instanceof TesseraError && e.code === 'unsupported' && /unrecognised model format/.test(e.message));
      await assert.rejects(loadTrees('/no/such/model.json', { worker }), (e) => e instanceof TesseraError && e.code === 'io_error');
      const huge = new Response(new ReadableStream({ start(c) { c.enqueue(new Uint8Array(8)); c.close(); } }),
        { headers: { 'content-length': String(3.9e9) } });
      await assert.rejects(loadTrees(huge, { worker }), (e) => e instanceof TesseraError && e.code === 'out_of_memory');
      const model = await loadTrees(fixture('breast_cancer.json'), { worker, threads: 1 });
      try {
        await assert.rejects(model.predict(new Float32Array(29)),
          (e) => e instanceof TesseraError && e.code === 'shape_mismatch');
        await assert.rejects(model.predict([{ mean_radius: 1, nope: 2 }]),
          (e) => e instanceof TesseraError && e.message === "parse error: record 1: unknown feature 'nope'");
        await assert.rejects(model.predict({ mean_radius: 'big' }), /no category list maps 'big'/);
        await assert.rejects(model.setCategories({ mean_radius: 3 }), /must be a list or an object/);
        // Still usable after every error.
        const out = await model.predict(new Float32Array(cancer.x.subarray(0, 30)));
        assert.equal(f32(out[0]), f32(cancer.pred[0][0]));
        const controller = new AbortController();
        controller.abort();
        await assert.rejects(model.predict(cancer.x, { signal: controller.signal }), (e) => e.code === 'cancelled');
      } finally {
        await model.dispose();
      }
      await assert.rejects(model.predict(cancer.x), /disposed/);
    });
  }
});

describe('a forest compiled into a module of your own (cmake tessera_add_wasm_module)', () => {
  const glue = path.join(buildDir, 'js', 'example-module', 'breast_cancer_model.mjs');
  it('answers like the loaded model', { skip: !existsSync(glue) && 'the example module was not built' }, async () => {
    const model = await loadCompiledTrees({ module: { st: pathToFileURL(glue) } });
    try {
      assert.equal(model.info.format, 'compiled');
      assert.equal(model.info.objective, 'binary:logistic');
      assertF32Equal(await model.predict(cancer.x), cancer.pred.map((p) => p[0]), 'compiled');
      const answer = await model.predict(recordsOf(cancer, model.info.featureNames)[0]);
      assert.equal(f32(answer['1']), f32(cancer.pred[0][0]));
    } finally {
      await model.dispose();
    }
  });
  it('a module without a forest says so', async () => {
    await assert.rejects(loadCompiledTrees({ module: { st: pathToFileURL(path.join(buildDir, 'js', 'package', 'dist', 'trees-simd.mjs')) } }),
      /embeds no forest/);
  });
});

describe('the load path', () => {
  it('readAhead: reads up to its limit before the consumer, keeps the order, passes a failure on', async () => {
    const { readAhead } = await importPackage('core/loader');
    let pulled = 0;
    async function* chunks(n, failAt = -1) {
      for (let i = 0; i < n; ++i) {
        if (i === failAt) throw new Error('the download broke');
        pulled += 1;
        yield new Uint8Array(10).fill(i);
      }
    }
    const ahead = readAhead({ total: 80, chunks: chunks(8) }, 30);
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(pulled, 3, 'three 10-byte chunks reach the 30-byte limit');
    const got = [];
    for await (const c of ahead.chunks) got.push(c[0]);
    assert.deepEqual(got, [0, 1, 2, 3, 4, 5, 6, 7]);

    const broken = readAhead({ chunks: chunks(5, 2) }, 1000);
    const seen = [];
    await assert.rejects((async () => { for await (const c of broken.chunks) seen.push(c[0]); })(), /the download broke/);
    assert.deepEqual(seen, [0, 1]);

    pulled = 0;
    const cancelled = readAhead({ chunks: chunks(100) }, 20);
    await new Promise((r) => setTimeout(r, 20));
    cancelled.cancel();
    let consumed = 0;
    for await (const c of cancelled.chunks) consumed += c.byteLength > 0 ? 1 : 0;
    assert.equal(consumed, 2, 'the chunks read before cancel(), then the end');
    assert.equal(pulled, 2, 'nothing read after cancel()');
  });

  it('a second load of the family reuses the compiled module', async () => {
    const first = await loadTrees(fixture('breast_cancer.json'), { threads: 1 });
    const second = await loadTrees(fixture('breast_cancer.json'), { threads: 1 });
    try {
      assert.equal(second.timings.compiledBefore, true);
      assert.ok(second.timings.modelMs >= 0 && second.timings.instantiateMs >= 0);
    } finally {
      await first.dispose();
      await second.dispose();
    }
  });
});
