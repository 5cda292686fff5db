// Node tests of tessera-web/cnn against the staged package (ctest wasm/js_cnn):
//   node --test js/test/cnn.test.js     (TESSERA_WEB_PACKAGE=<build>/js/package, default build/wasm)
// Oracles: the digits CNN's PyTorch outputs (examples/models/digits_cnn_*.npy), and for
// detection tests/models/yolov8_tiny/synthetic_detections.json, the answer of tessera's native
// chain on the same synthetic photo (tests/wasm/cnn_abi_test.cpp checks it natively). The digits
// CNN compiled into its own module (js/CMakeLists.txt, tessera_add_wasm_module(... ONNX_HEADER
// ...)) against the generic module on the same inputs.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, it } from 'node:test';

import { buildDir, importPackage, packageDir, readNpyF32, sourceDir } from './helpers.js';

const { loadCnn, loadCompiledCnn, TesseraError } = await importPackage('cnn');
const digitsPath = path.join(sourceDir, 'examples', 'models', 'digits_cnn.onnx');
const digitsInputs = readNpyF32(path.join(sourceDir, 'examples', 'models', 'digits_cnn_inputs.npy'));
const digitsOutputs = readNpyF32(path.join(sourceDir, 'examples', 'models', 'digits_cnn_outputs.npy'));
const digitsModule = pathToFileURL(path.join(buildDir, 'js', 'example-module', 'digits_cnn.mjs'));
const tinyPath = path.join(sourceDir, 'tests', 'models', 'yolov8_tiny', 'model.onnx');
const tinyAnswer = JSON.parse(readFileSync(path.join(sourceDir, 'tests', 'models', 'yolov8_tiny', 'synthetic_detections.json'), 'utf8'));

// The photo tests/wasm/cnn_abi_test.cpp draws (synthetic_photo there), as ImageData would hold it.
function syntheticPhoto(width, height) {
  const data = new Uint8ClampedArray(width * height * 4);
  for (let y = 0; y < height; ++y) {
    for (let x = 0; x < width; ++x) {
      for (let c = 0; c < 4; ++c) data[(y * width + x) * 4 + c] = c === 3 ? 255 : ((x * 5 + y * 3 + c * 70) ^ (x * y)) & 255;
    }
  }
  return { data, width, height };
}

function assertClose(got, want, rel, what) {
  assert.equal(got.length, want.length, `${what}: length`);
  for (let i = 0; i < want.length; ++i) {
    assert.ok(Math.abs(got[i] - want[i]) <= rel * (1 + Math.abs(want[i])), `${what}: value ${i}: ${got[i]} vs ${want[i]}`);
  }
}

// Confidence printed with 4 decimals, boxes with 1: a last-digit difference is float rounding.
function assertSameDetections(got, want) {
  assert.equal(got.image, want.image);
  assert.equal(got.detections.length, want.detections.length, 'detection count');
  got.detections.forEach((d, i) => {
    const w = want.detections[i];
    assert.equal(d.class_id, w.class_id);
    assert.equal(d.class_name, w.class_name);
    assert.ok(Math.abs(d.confidence - w.confidence) <= 2e-4, `confidence ${d.confidence} vs ${w.confidence}`);
    d.bbox_xywh.forEach((v, k) => assert.ok(Math.abs(v - w.bbox_xywh[k]) <= 0.15, `bbox ${d.bbox_xywh} vs ${w.bbox_xywh}`));
  });
}

const flavours = [
  { name: 'worker, st', options: { threads: 1 }, flavour: 'st' },
  { name: 'main thread', options: { worker: false, threads: 1 }, flavour: 'st' },
  { name: 'worker, mt, 2 threads', options: { threads: 2 }, flavour: 'mt' },
];

describe('loading', () => {
  it('from a path in a worker: progress up to the file size, the model described', async () => {
    const events = [];
    const net = await loadCnn(digitsPath, { threads: 1, onProgress: (p) => events.push(p) });
    try {
      assert.equal(net.runtime.worker, true);
      const bytes = events.filter((e) => e.phase === 'download');
      assert.equal(bytes[bytes.length - 1].loaded, readFileSync(digitsPath).byteLength);
      assert.equal(net.timings.bytes, readFileSync(digitsPath).byteLength);
      assert.deepEqual(net.info.inputs, [{ name: 'input', type: 'float32', dims: ['batch', 1, 8, 8], required: true }]);
      assert.deepEqual(net.info.outputs, [{ name: 'logits', type: 'float32', dims: ['batch', 10] }]);
      assert.ok(net.info.operators.includes('Conv'));
      assert.ok(net.info.parameters > 1000);
      // The symbolic batch dim set to 1: two runs on a zero image.
      assert.equal(net.timings.warmup.rounds, 2, 'a symbolic batch dim: warmed up as 1');
      assert.equal(net.timings.warmup.rows, 1);
      assert.ok(net.timings.compileMs >= 0 && net.timings.instantiateMs >= 0 && net.timings.modelMs >= 0);
    } finally {
      await net.dispose();
    }
  });

  it('warmupShapes: the shapes of the warm-up run; shapes the graph refuses fail the load', async () => {
    const net = await loadCnn(digitsPath, { threads: 1, warmupShapes: { input: [4, 1, 8, 8] } });
    try {
      assert.equal(net.timings.warmup.rounds, 2);
      assert.equal(net.timings.compiledBefore, true, 'the module compiled by the previous load is reused');
    } finally {
      await net.dispose();
    }
    await assert.rejects(loadCnn(digitsPath, { threads: 1, warmupShapes: { input: [1, 1, 9, 9] } }), (e) => e.name === 'TesseraError');
    await assert.rejects(loadCnn(digitsPath, { threads: 1, warmupShapes: { input: [1, 'x'] } }), TypeError);
  });

  it('from an ArrayBuffer and a file: URL on the main thread; a static model warms up', async () => {
    const b = readFileSync(tinyPath);
    const net = await loadCnn(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength), { worker: false, threads: 1 });
    const again = await loadCnn(pathToFileURL(tinyPath), { worker: false, threads: 1, warmup: false });
    try {
      assert.equal(net.runtime.flavour, 'st');
      assert.deepEqual(net.info.classNames, ['class0', 'class1', 'class2']);
      assert.deepEqual(net.info.inputs[0].dims, [1, 3, 64, 64]);
      assert.equal(net.info.metadata.stride, '32');
      assert.equal(net.timings.warmup.rounds, 2);
      assert.deepEqual(again.info, net.info);
    } finally {
      await net.dispose();
      await again.dispose();
    }
  });
});

describe('run() and detect() equal the oracles', () => {
  for (const { name, options, flavour } of flavours) {
    it(`digits CNN logits equal PyTorch's; yolov8_tiny detections the native answer (${name})`, async () => {
      const digits = await loadCnn(digitsPath, options);
      const tiny = await loadCnn(tinyPath, options);
      try {
        assert.equal(digits.runtime.flavour, flavour);
        const out = await digits.run({ input: digitsInputs });
        assert.deepEqual(Object.keys(out), ['logits']);
        assert.deepEqual(out.logits.dims, digitsOutputs.dims);
        assertClose(out.logits.data, digitsOutputs.data, 1e-4, 'logits');
        // One image (a plain array works too): the first row.
        const one = await digits.run({ input: { data: Array.from(digitsInputs.data.subarray(0, 64)), dims: [1, 1, 8, 8] } });
        assertClose(one.logits.data, digitsOutputs.data.subarray(0, 10), 1e-4, 'one image');
        assert.equal(digits.stats.calls, 2);

        const found = await tiny.detect(syntheticPhoto(96, 72), { confidence: 0.45, name: 'synthetic' });
        assertSameDetections(found, tinyAnswer);
        const renamed = await tiny.detect(syntheticPhoto(96, 72), { confidence: 0.45, classNames: ['cat', 'dog', 'bird'] });
        assert.equal(renamed.image, '');
        assert.ok(renamed.detections.length > 0);
        for (const d of renamed.detections) assert.equal(d.class_name, ['cat', 'dog', 'bird'][d.class_id]);
        const strict = await tiny.detect(syntheticPhoto(96, 72), { confidence: 0.99 });
        assert.deepEqual(strict.detections, []);
      } finally {
        await digits.dispose();
        await tiny.dispose();
      }
    });
  }
});

// tests/onnx/fixtures/typed_io.onnx (scripts/make_onnx_fixtures.py): float32, int64 and uint8
// in; float32, int64, bool, float16 and float64 out. Expected values computed here.
const typedPath = path.join(sourceDir, 'tests', 'onnx', 'fixtures', 'typed_io.onnx');

describe('tensors of other element types', () => {
  for (const { name, options } of flavours) {
    it(`int64, uint8, bool, float16 and float64 cross as their typed arrays (${name})`, async () => {
      const net = await loadCnn(typedPath, options);
      try {
        assert.deepEqual(net.info.inputs.map((i) => i.type), ['float32', 'int64', 'uint8']);
        assert.deepEqual(net.info.outputs.map((o) => o.type), ['float32', 'int64', 'bool', 'float32', 'float16', 'float64']);
        const x = new Float32Array([0.5, -2, 7.25, 3, -0, -1, -3, -0.5, -4, 2]);
        const pixels = new Uint8Array([0, 1, 2, 3, 255, 10, 20, 30, 40, 50]);
        const out = await net.run({ x: { data: x, dims: [2, 5] }, idx: { data: new BigInt64Array([4n, 0n, 2n]), dims: [3] },
          pixels: { data: pixels, dims: [2, 5] } });
        assert.deepEqual(Object.fromEntries(Object.entries(out).map(([k, t]) => [k, [t.type, t.data.constructor.name, t.dims]])), {
          gathered: ['float32', 'Float32Array', [2, 3]], best: ['int64', 'BigInt64Array', [2]], positive: ['bool', 'Uint8Array', [2, 5]],
          shifted: ['float32', 'Float32Array', [2, 5]], halves: ['float16', 'Uint16Array', [2, 5]], wide: ['float64', 'Float64Array', [2, 5]],
        });
        assert.deepEqual(Array.from(out.gathered.data), [-0, 0.5, 7.25, 2, -1, -0.5]);
        assert.deepEqual(Array.from(out.best.data), [2n, 4n]);
        assert.deepEqual(Array.from(out.positive.data), Array.from(x, (v) => (v > 0 ? 1 : 0)));
        assert.deepEqual(Array.from(out.shifted.data), Array.from(x, (v, i) => v + pixels[i]));
        assert.deepEqual(Array.from(out.wide.data), Array.from(x));
        assert.deepEqual(Array.from(out.halves.data.subarray(0, 5)), [0x3800, 0xc000, 0x4740, 0x4200, 0x8000]);

        // Plain arrays take the model's types (numbers or bigints for int64); ImageData's
        // Uint8ClampedArray is uint8; the same answer.
        const plain = await net.run({ x: { data: Array.from(x), dims: [2, 5] }, idx: { data: [4, 0, 2], dims: [3] },
          pixels: { data: new Uint8ClampedArray(pixels), dims: [2, 5] } });
        assert.deepEqual(Array.from(plain.best.data), [2n, 4n]);
        assert.deepEqual(Array.from(plain.shifted.data), Array.from(out.shifted.data));
        const bigints = await net.run({ x: { data: x, dims: [2, 5] }, idx: { data: [4n, 0n, 2n], dims: [3] }, pixels: { data: pixels, dims: [2, 5] } });
        assert.deepEqual(Array.from(bigints.gathered.data), Array.from(out.gathered.data));

        // The wrong typed array, a type the model does not take, a fraction for int64.
        await assert.rejects(net.run({ x: { data: x, dims: [2, 5] }, idx: { data: new Int32Array([4, 0, 2]), dims: [3] },
          pixels: { data: pixels, dims: [2, 5] } }), (e) => e instanceof TesseraError && /input 'idx' is int32, the model expects int64/.test(e.message));
        await assert.rejects(net.run({ x: { data: x, dims: [2, 5] }, idx: { data: new Int32Array([4, 0, 2]), dims: [3], type: 'int64' },
          pixels: { data: pixels, dims: [2, 5] } }), (e) => e instanceof TypeError && /BigInt64Array/.test(e.message));
        await assert.rejects(net.run({ x: { data: x, dims: [2, 5] }, idx: { data: [4, 0, 2], dims: [3], type: 'complex64' },
          pixels: { data: pixels, dims: [2, 5] } }), (e) => e instanceof TypeError && /unknown type 'complex64'/.test(e.message));
        await assert.rejects(net.run({ x: { data: x, dims: [2, 5] }, idx: { data: [4, 0.5, 2], dims: [3] },
          pixels: { data: pixels, dims: [2, 5] } }), (e) => e instanceof TypeError && /int64/.test(e.message));
        const again = await net.run({ x: { data: x, dims: [2, 5] }, idx: { data: new BigInt64Array([1n, 1n, 1n]), dims: [3] },
          pixels: { data: pixels, dims: [2, 5] } });
        assert.deepEqual(Array.from(again.gathered.data), [-2, -2, -2, -3, -3, -3]);
      } finally {
        await net.dispose();
      }
    });
  }

  it('float16 and bfloat16 inputs: numbers become their bits, a Uint16Array is taken as bits', async () => {
    const net = await loadCnn(path.join(sourceDir, 'tests', 'onnx', 'fixtures', 'half_io.onnx'), { worker: false, threads: 1 });
    try {
      // Exact in both formats, then values that round: float16 to 0.0999755859375 and to its
      // largest finite 65504 or Inf, bfloat16 to 8 bits of mantissa.
      const values = [0.5, -2, 0, 1e-7, 0.1, 65519, 70000, -Infinity, 1 + 2 ** -8];
      const out = await net.run({ h: { data: values, dims: [values.length] }, b: { data: values, dims: [values.length] } });
      assert.deepEqual(Array.from(out.h_as_float.data), [0.5, -2, 0, 1.1920928955078125e-7, 0.0999755859375, 65504, Infinity, -Infinity, 1.00390625]);
      assert.deepEqual(Array.from(out.b_as_float.data), [0.5, -2, 0, 1.0011717677116394e-7, 0.10009765625, 65536, 70144, -Infinity, 1]);
      const bits = await net.run({ h: { data: new Uint16Array([0x3c00, 0x7e00]), dims: [2] }, b: { data: new Uint16Array([0x3f80, 0xc0a0]), dims: [2] } });
      assert.deepEqual(Array.from(bits.h_as_float.data), [1, NaN]);
      assert.deepEqual(Array.from(bits.b_as_float.data), [1, -5]);
    } finally {
      await net.dispose();
    }
  });
});

describe('browser image sources', () => {
  it('a canvas, ImageBitmap or image is drawn to an OffscreenCanvas when there is one', async () => {
    const photo = syntheticPhoto(96, 72);
    const drawn = [];
    globalThis.OffscreenCanvas = class {
      constructor(width, height) { this.size = [width, height]; }
      getContext(kind) {
        assert.equal(kind, '2d');
        return {
          drawImage: (image, x, y) => drawn.push({ image, x, y, size: this.size }),
          getImageData: (x, y, width, height) => ({ data: photo.data, width, height }),
        };
      }
    };
    const tiny = await loadCnn(tinyPath, { worker: false, threads: 1, warmup: false });
    try {
      const image = { naturalWidth: 96, naturalHeight: 72, width: 10, height: 10 };  // an <img> shown smaller
      assertSameDetections(await tiny.detect(image, { confidence: 0.45, name: 'synthetic' }), tinyAnswer);
      assert.deepEqual(drawn, [{ image, x: 0, y: 0, size: [96, 72] }]);
    } finally {
      delete globalThis.OffscreenCanvas;
      await tiny.dispose();
    }
  });
});

describe('errors are TesseraErrors carrying tessera\'s message', () => {
  for (const worker of [true, false]) {
    it(`bad models, inputs and options (${worker ? 'worker' : 'main thread'})`, async () => {
      await assert.rejects(loadCnn(new TextEncoder().encode('<!DOCTYPE html><p>not found</p>'), { worker, threads: 1 }),
        (e) => e instanceof TesseraError && e.message.length > 0);
      const cut = readFileSync(digitsPath).subarray(0, 300);
      await assert.rejects(loadCnn(new Uint8Array(cut), { worker, threads: 1 }), (e) => e instanceof TesseraError);
      await assert.rejects(loadCnn('/no/such/model.onnx', { worker, threads: 1 }), (e) => e instanceof TesseraError && e.code === 'io_error');
      const net = await loadCnn(digitsPath, { worker, threads: 1 });
      try {
        const zeros = { data: new Float32Array(64), dims: [1, 1, 8, 8] };
        await assert.rejects(net.run({ pixels: zeros }),
          (e) => e instanceof TesseraError && e.code === 'invalid_argument' && /no input named 'pixels'/.test(e.message));
        await assert.rejects(net.run({ input: { data: new Float32Array(49), dims: [1, 1, 7, 7] } }),
          (e) => e instanceof TesseraError && e.code === 'shape_mismatch' && /dim 2 must be 8/.test(e.message));
        await assert.rejects(net.run({ input: { data: new Float32Array(3), dims: [1, 1, 8, 8] } }),
          (e) => e instanceof TesseraError && e.code === 'shape_mismatch');
        await assert.rejects(net.run({}), (e) => e instanceof TesseraError && /missing/.test(e.message));
        await assert.rejects(net.run({ input: { data: new Float32Array(64) } }), TypeError);
        // A classifier's output is no detector's; bad options say which.
        await assert.rejects(net.detect(syntheticPhoto(8, 8)), (e) => e instanceof TesseraError);
        await assert.rejects(net.detect(syntheticPhoto(8, 8), { format: 'ssd' }), /format/);
        await assert.rejects(net.detect({ data: new Uint8Array(5), width: 2, height: 2 }), /RGBA/);
        await assert.rejects(net.detect('photo.jpg'), TypeError);
        // NaN in, NaN out: no error, and the model still answers.
        const nan = new Float32Array(64);
        nan[10] = NaN;
        const out = await net.run({ input: { data: nan, dims: [1, 1, 8, 8] } });
        assert.ok(out.logits.data.some(Number.isNaN));
        const first = await net.run({ input: { data: digitsInputs.data.subarray(0, 64), dims: [1, 1, 8, 8] } });
        assertClose(first.logits.data, digitsOutputs.data.subarray(0, 10), 1e-4, 'after the errors');
        const controller = new AbortController();
        controller.abort();
        await assert.rejects(net.run({ input: zeros }, { signal: controller.signal }), (e) => e.code === 'cancelled');
      } finally {
        await net.dispose();
      }
      await net.dispose();  // twice is fine
      await assert.rejects(net.run({ input: { data: new Float32Array(64), dims: [1, 1, 8, 8] } }), /disposed/);
      await assert.rejects(net.detect(syntheticPhoto(8, 8)), /disposed/);
    });
  }

  it('a tiny detector with a bad IoU threshold, then a good call', async () => {
    const tiny = await loadCnn(tinyPath, { worker: false, threads: 1, warmup: false });
    try {
      await assert.rejects(tiny.detect(syntheticPhoto(16, 16), { iou: 2 }), (e) => e instanceof TesseraError && e.code === 'invalid_argument');
      await assert.rejects(tiny.detect({ data: new Uint8Array(0), width: 0, height: 0 }), /empty/);
      assert.ok(Array.isArray((await tiny.detect(syntheticPhoto(16, 16))).detections));
    } finally {
      await tiny.dispose();
    }
  });
});

function softmax(logits) {
  const top = Math.max(...logits);
  const e = Array.from(logits, (v) => Math.exp(v - top));
  const sum = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / sum);
}

describe('a model compiled into its own module (loadCompiledCnn)', () => {
  for (const { name, options } of flavours.slice(0, 2)) {
    it(`the digits module answers as the generic module on the same inputs (${name})`, async () => {
      const compiled = await loadCompiledCnn({ ...options, module: { st: digitsModule } });
      const generic = await loadCnn(digitsPath, options);
      try {
        assert.equal(compiled.runtime.moduleUrl, digitsModule.href);
        assert.equal(compiled.timings.bytes, 0, 'no model file');
        // The header fixed the symbolic batch dim to 1 (tessera-onnx compile's default).
        assert.deepEqual(compiled.info.inputs, [{ name: 'input', type: 'float32', dims: [1, 1, 8, 8], required: true }]);
        assert.deepEqual(compiled.info.operators, ['Conv', 'Flatten', 'Gemm', 'MaxPool', 'Relu']);
        assert.equal(compiled.info.parameters, generic.info.parameters);
        assert.equal(compiled.timings.warmup.rounds, 2);
        const samples = digitsInputs.dims[0];
        for (let i = 0; i < samples; ++i) {
          const input = { data: digitsInputs.data.subarray(i * 64, (i + 1) * 64), dims: [1, 1, 8, 8] };
          const [got, want] = await Promise.all([compiled.run({ input }), generic.run({ input })]);
          assert.deepEqual(got.logits.dims, [1, 10]);
          assertClose(got.logits.data, want.logits.data, 1e-5, `sample ${i}: logits against the generic module`);
          assertClose(softmax(got.logits.data), softmax(want.logits.data), 1e-5, `sample ${i}: probabilities`);
          assertClose(got.logits.data, digitsOutputs.data.subarray(i * 10, (i + 1) * 10), 1e-4, `sample ${i}: PyTorch's logits`);
        }
      } finally {
        await compiled.dispose();
        await generic.dispose();
      }
    });
  }

  it('warmup: a number of runs (1 for a model computing in microseconds), or false for none', async () => {
    const once = await loadCompiledCnn({ worker: false, threads: 1, warmup: 1, module: { st: digitsModule } });
    try {
      assert.equal(once.timings.warmup.rounds, 1);
      assert.equal(once.timings.warmup.firstCallMs, once.timings.warmup.steadyCallMs);
    } finally {
      await once.dispose();
    }
    const none = await loadCompiledCnn({ worker: false, threads: 1, warmup: 0, module: { st: digitsModule } });
    try {
      assert.equal(none.timings.warmup, null);
    } finally {
      await none.dispose();
    }
    await assert.rejects(loadCompiledCnn({ worker: false, warmup: -1, module: { st: digitsModule } }), TypeError);
    await assert.rejects(loadCompiledCnn({ worker: false, warmup: 1.5, module: { st: digitsModule } }), TypeError);
  });

  it('no pthreads build named: threads > 1 runs the st module and says why', async () => {
    const compiled = await loadCompiledCnn({ threads: 2, warmup: false, module: { st: digitsModule } });
    try {
      assert.equal(compiled.runtime.flavour, 'st');
      assert.match(compiled.runtime.fallbackReason, /no pthreads/);
    } finally {
      await compiled.dispose();
    }
  });

  for (const worker of [true, false]) {
    it(`errors are TesseraErrors, and the model stays usable (${worker ? 'worker' : 'main thread'})`, async () => {
      await assert.rejects(loadCompiledCnn({ worker }), TypeError);
      // The generic module has no model in it.
      await assert.rejects(loadCompiledCnn({ worker, threads: 1, module: { st: pathToFileURL(path.join(packageDir, 'dist', 'cnn-simd.mjs')) } }),
        (e) => e instanceof TesseraError && e.code === 'unsupported' && /embeds no model/.test(e.message));
      const net = await loadCompiledCnn({ worker, threads: 1, module: { st: digitsModule } });
      try {
        await assert.rejects(net.run({ input: { data: new Float32Array(49), dims: [1, 1, 7, 7] } }),
          (e) => e instanceof TesseraError && e.code === 'shape_mismatch' && /dim 2 must be 8/.test(e.message));
        await assert.rejects(net.run({ input: { data: new Float32Array(3), dims: [1, 1, 8, 8] } }),
          (e) => e instanceof TesseraError && e.code === 'shape_mismatch');
        await assert.rejects(net.run({ pixels: { data: new Float32Array(64), dims: [1, 1, 8, 8] } }),
          (e) => e instanceof TesseraError && e.code === 'invalid_argument' && /no input named 'pixels'/.test(e.message));
        await assert.rejects(net.detect({ data: new Uint8Array(8 * 8 * 4), width: 8, height: 8 }), (e) => e instanceof TesseraError);
        const first = await net.run({ input: { data: digitsInputs.data.subarray(0, 64), dims: [1, 1, 8, 8] } });
        assertClose(first.logits.data, digitsOutputs.data.subarray(0, 10), 1e-4, 'after the errors');
      } finally {
        await net.dispose();
      }
    });
  }
});
