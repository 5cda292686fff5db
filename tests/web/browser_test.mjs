// The browser test of tessera-web: Debian's chromium, headless, driven by playwright-core,
// loads the demo page (examples/web) from its own server, once per flavour:
//   - trees: scores every sample of the feature form; the answers must equal tessera-gbt's own
//     JSON answers for the same records (the native CLI);
//   - LLM: generates from a prompt typed into the form, greedily and with a seed; the ids must
//     equal tessera-llm's greedy ids and llm_fixture's sampled ids for the same prompt ids (the
//     native tools), the page must show the text; then a long generation is stopped with the
//     Stop button. The model is llm_fixture's random-weight llama, written at test time. Then
//     the page's default model (examples/models/tiny_llm.gguf) is loaded through the form and
//     its greedy ids must equal tessera-llm's.
//   - digits: the page classifies the committed samples (examples/models/digits_cnn_inputs.npy)
//     with the CNN compiled into its own module (js/CMakeLists.txt, served as
//     /example-module/digits_cnn.mjs); logits and probabilities must equal tessera-onnx's run of
//     the .onnx file on the same inputs (1e-5: WASM and native SIMD sum in different orders),
//     the answers its answers and the labels where it gets them right; then a stroke drawn on the pad with the mouse must give 10 probabilities
//     summing to 1. "page load to first digits prediction" is printed (issue 12's target is
//     under 200 ms; reported, not asserted), from the navigation's start on the page's own
//     timeline (performance.timeOrigin), with its breakdown (the document, app.js's start,
//     module fetch and compile, instantiation, model, warm-up), the first and steady calls, and
//     the steady call once the page is quiet; the last lines give the medians over the page
//     loads. index.html must preload the digits module the package picked and nothing of the
//     other demos, and none of their code, modules or models may be fetched before the first
//     digits answer.
//   - face: only with ../shared/models/face-detector (else skipped with the reason): a photo
//     through the file input, detections compared with tessera-detect's (see checkFace); the
//     camera (chromium's fake one) started and stopped. The page that is not cross-origin
//     isolated is served as a checkout without ../shared: it must say so, and the detector is
//     given through its model file input.
// A screenshot of the page is saved.
//
//   node tests/web/browser_test.mjs --package build/wasm/js/package --cli build/native/examples/tessera-gbt/tessera-gbt
//        [--llm-cli build/native/examples/tessera-llm/tessera-llm] [--llm-fixture build/native/tests/web/llm_fixture]
//        [--onnx-cli build/native/examples/tessera-onnx/tessera-onnx] [--detect-cli build/native/examples/tessera-detect/tessera-detect]
//        [--screenshot build/web-demo.png] [--chromium /usr/bin/chromium]
// Exits 0 with a "skipped" line when chromium or playwright-core is missing; the LLM, digits
// and face parts are skipped (and say so) when their native tools are.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..', '..');
const args = process.argv.slice(2);
const option = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : fallback;
};
const chromiumPath = option('--chromium', '/usr/bin/chromium');
const packageDir = path.resolve(option('--package', path.join(root, 'build', 'wasm', 'js', 'package')));
const cli = option('--cli', path.join(root, 'build', 'native', 'examples', 'tessera-gbt', 'tessera-gbt'));
const screenshot = path.resolve(option('--screenshot', path.join(root, 'build', 'web-demo.png')));
const llmCli = option('--llm-cli', path.join(root, 'build', 'native', 'examples', 'tessera-llm', 'tessera-llm'));
const llmFixture = option('--llm-fixture', path.join(root, 'build', 'native', 'tests', 'web', 'llm_fixture'));
const onnxCli = option('--onnx-cli', path.join(root, 'build', 'native', 'examples', 'tessera-onnx', 'tessera-onnx'));
const detectCli = option('--detect-cli', path.join(root, 'build', 'native', 'examples', 'tessera-detect', 'tessera-detect'));
const faceDir = path.resolve(root, '..', 'shared', 'models', 'face-detector');

function skip(why) {
  console.log(`browser test: skipped: ${why}`);
  process.exit(0);
}
if (!existsSync(chromiumPath)) skip(`${chromiumPath} is missing (scripts/install-deps.sh installs Debian's chromium)`);
let chromium;
try {
  ({ chromium } = createRequire(path.join(here, 'package.json'))('playwright-core'));
} catch {
  skip('playwright-core is missing (scripts/install-deps.sh installs it into tests/web/node_modules)');
}
if (!existsSync(path.join(packageDir, 'dist', 'trees-simd.wasm'))) {
  console.error(`browser test: no staged package in ${packageDir} (cmake --build build/wasm --target tessera_js)`);
  process.exit(1);
}

// The oracle: tessera-gbt's JSON answers for the sample records.
function cliAnswers() {
  const [header, ...lines] = readFileSync(path.join(root, 'examples', 'models', 'breast_cancer_sample.csv'), 'utf8').trim().split('\n');
  const names = header.split(',').slice(0, -1);
  const records = lines.map((l) => Object.fromEntries(l.split(',').slice(0, -1).map((v, i) => [names[i], Number(v)])));
  const dir = mkdtempSync(path.join(tmpdir(), 'tessera-browser-'));
  writeFileSync(path.join(dir, 'records.json'), JSON.stringify(records));
  const command = cli.endsWith('.js') ? [process.execPath, cli] : [cli];
  const text = execFileSync(command[0], [...command.slice(1), 'predict', '--model',
    path.join(root, 'examples', 'models', 'breast_cancer.json'), '--input', path.join(dir, 'records.json')], { encoding: 'utf8' });
  rmSync(dir, { recursive: true });
  return text.trim().split('\n').map((l) => JSON.parse(l));
}

// The LLM part: a model written now (a little larger than the Node tests' one, so that a
// generation lasts long enough to be stopped by a click), and the native tools' ids.
const llmDir = mkdtempSync(path.join(tmpdir(), 'tessera-browser-llm-'));
const llm = existsSync(llmCli) && existsSync(llmFixture) ? {
  model: path.join(llmDir, 'model.gguf'),
  ids: (args) => execFileSync(args[0], args.slice(1), { encoding: 'utf8' }).trim().split(/\s+/).map(Number),
} : null;
if (llm) {
  execFileSync(llmFixture, ['model', '--out', llm.model, '--dim', '128', '--layers', '4', '--hidden', '384', '--context', '2048']);
} else {
  console.log(`browser test: the LLM demo is not tested: ${llmCli} or ${llmFixture} is missing (cmake --build build/native)`);
}
const LLM_PROMPT = 'Once upon a time, the licensor';
const LLM_TOKENS = 24;

async function checkLlm(page, expectedFlavour) {
  const state = await page.evaluateHandle(async () => {
    await window.tesseraDemo.llm.loaded;
    return window.tesseraDemo.llm;
  });
  const loaded = await state.evaluate((s) => ({ error: s.error ?? null, runtime: s.model?.runtime, info: s.model?.info,
    timings: s.model?.timings }));
  assert.equal(loaded.error, null, 'the LLM demo loaded its model');
  assert.equal(loaded.runtime.flavour, expectedFlavour);
  // Random weights pick end-of-text tokens now and then; the native tools go on past them.
  await page.check('#llm-ignore-eos');
  const generate = async ({ temperature, maxTokens, seed = 42 }) => {
    await page.fill('#llm-prompt', LLM_PROMPT);
    await page.fill('#llm-temperature', String(temperature));
    await page.fill('#llm-max-tokens', String(maxTokens));
    await page.fill('#llm-seed', String(seed));
    await state.evaluate((s) => { s.running = null; });
    await page.click('#llm-generate');
    await state.evaluate(async (s) => { while (!s.running) await new Promise((r) => setTimeout(r, 5)); await s.running; });
    return state.evaluate((s) => {
      const r = s.results[s.results.length - 1];
      return { tokens: Array.from(r.tokens), text: r.text, stopReason: r.stopReason, timings: r.timings,
        shown: document.querySelector('#llm-output b').textContent, error: s.error ?? null };
    });
  };
  const promptIds = await state.evaluate(async (s, text) => Array.from(await s.model.tokenize(text)), LLM_PROMPT);
  const idsArg = promptIds.join(' ');
  const greedy = await generate({ temperature: 0, maxTokens: LLM_TOKENS });
  assert.equal(greedy.error, null);
  assert.deepEqual(greedy.tokens, llm.ids([llmCli, 'generate', '--model', llm.model, '--prompt-ids', idsArg, '-n', String(LLM_TOKENS),
    '--temperature', '0', '--print-token-ids']), 'greedy ids');
  assert.equal(greedy.shown, greedy.text, 'the page shows the generated text');
  assert.ok(greedy.text.length > 0);
  const sampled = await generate({ temperature: 0.9, maxTokens: LLM_TOKENS, seed: 1234 });
  assert.deepEqual(sampled.tokens, llm.ids([llmFixture, 'sample', '--model', llm.model, '--prompt-ids', idsArg, '-n', String(LLM_TOKENS),
    '--seed', '1234', '--temperature', '0.9']), 'sampled ids');
  // The Stop button, a few tokens into a generation that would run to the end of the context.
  await page.fill('#llm-max-tokens', '100000');
  await page.fill('#llm-temperature', '0.8');
  await state.evaluate((s) => { s.running = null; });
  await page.click('#llm-generate');
  await page.waitForFunction(() => window.tesseraDemo.llm.tokensSoFar >= 8);
  await page.click('#llm-stop');
  const stopped = await state.evaluate(async (s) => {
    await s.running;
    const r = s.results[s.results.length - 1];
    return { stopReason: r.stopReason, tokens: r.tokens.length, text: r.text, shown: document.querySelector('#llm-output b').textContent,
      stopDisabled: document.querySelector('#llm-stop').disabled, generateDisabled: document.querySelector('#llm-generate').disabled,
      shownReason: document.querySelector('#llm-t-stop').textContent };
  });
  assert.equal(stopped.stopReason, 'cancelled');
  assert.ok(stopped.tokens >= 8 && stopped.tokens < 2048 - promptIds.length, `${stopped.tokens} tokens before the stop`);
  assert.equal(stopped.shown, stopped.text, 'the text so far stays on the page');
  assert.equal(stopped.shownReason, 'cancelled');
  assert.ok(stopped.stopDisabled && !stopped.generateDisabled);
  return { load: loaded.timings, greedy: greedy.timings, sampled: sampled.timings, stoppedAfter: stopped.tokens };
}

// A NumPy .npy file (little-endian float32 or int64, C order) -> {data, shape}.
function readNpy(file) {
  const bytes = readFileSync(file);
  assert.equal(bytes.subarray(0, 6).toString('latin1'), '\x93NUMPY', `${file}: not a .npy file`);
  const headerBytes = bytes[6] === 1 ? bytes.readUInt16LE(8) : bytes.readUInt32LE(8);
  const start = bytes[6] === 1 ? 10 : 12;
  const header = bytes.subarray(start, start + headerBytes).toString('latin1');
  const descr = /'descr':\s*'([^']+)'/.exec(header)[1];
  const shape = /'shape':\s*\(([^)]*)\)/.exec(header)[1].split(',').filter((d) => d.trim()).map(Number);
  const body = bytes.subarray(start + headerBytes);
  const count = shape.reduce((a, b) => a * b, 1);
  if (descr === '<f4') return { data: Array.from({ length: count }, (_, i) => body.readFloatLE(i * 4)), shape };
  if (descr === '<i8') return { data: Array.from({ length: count }, (_, i) => Number(body.readBigInt64LE(i * 8))), shape };
  throw new Error(`${file}: ${descr} is not read here`);
}
const argmax = (v) => v.indexOf(Math.max(...v));
function softmax(logits) {
  const top = Math.max(...logits);
  const e = logits.map((v) => Math.exp(v - top));
  const sum = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / sum);
}

// The digits oracle: tessera-onnx's logits for the committed sample inputs.
const digitsNative = (() => {
  if (!existsSync(onnxCli)) {
    console.log(`browser test: the digits demo is not compared: ${onnxCli} is missing (cmake --build build/native --target tessera-onnx)`);
    return null;
  }
  const models = path.join(root, 'examples', 'models');
  const dir = mkdtempSync(path.join(tmpdir(), 'tessera-browser-digits-'));
  execFileSync(onnxCli, ['run', '--model', path.join(models, 'digits_cnn.onnx'), '--input', `input=${path.join(models, 'digits_cnn_inputs.npy')}`,
    '--output-dir', dir, '--threads', '1'], { stdio: ['ignore', 'ignore', 'inherit'] });
  const { data, shape } = readNpy(path.join(dir, 'logits.npy'));
  rmSync(dir, { recursive: true });
  const logits = Array.from({ length: shape[0] }, (_, r) => data.slice(r * shape[1], (r + 1) * shape[1]));
  return { logits, labels: readNpy(path.join(models, 'digits_cnn_labels.npy')).data };
})();
const DIGITS_TOLERANCE = 1e-5;

async function checkDigits(page) {
  const got = await page.evaluate(async () => {
    const d = window.tesseraDemo.digits;
    if (d.error || !d.model) return { error: d.error ?? 'no model' };
    const answers = await d.classifySamples();
    // The page's own timeline (every time from the navigation's start, performance.timeOrigin):
    // what was fetched before the first answer, and whether the digits .wasm came whole or
    // revalidated from the HTTP cache (a page load after the first on this server).
    const first = d.firstPredictionFromNavigation;
    const navigation = performance.getEntriesByType('navigation')[0];
    const fetched = performance.getEntriesByType('resource').filter((e) => e.startTime < first);
    const wasm = fetched.find((e) => e.name.endsWith('/digits_cnn.wasm'));
    return { error: d.error, answers, firstPredictionAt: d.firstPredictionAt, firstPredictionFromNavigation: first,
      timeline: { documentMs: navigation.responseEnd, appStartMs: window.tesseraDemo.appStart,
        fetchedBefore: fetched.map((e) => e.name), requestsBefore: fetched.length, lastResponseMs: Math.max(...fetched.map((e) => e.responseEnd)),
        wasmCached: wasm ? wasm.transferSize < wasm.encodedBodySize : null },
      timings: d.model.timings, preloaded: Array.from(document.querySelectorAll('link[rel="preload"], link[rel="modulepreload"]'), (l) => l.href),
      runtime: d.model.runtime, stats: JSON.parse(JSON.stringify(d.model.stats)),
      shown: document.querySelector('#digits-answer').textContent,
      bars: Array.from(document.querySelectorAll('#digits-bars tr'), (tr) => tr.cells[2].textContent) };
  });
  assert.equal(got.error, null, 'the digits demo loaded its model');
  assert.match(got.runtime.moduleUrl, /\/example-module\/digits_cnn\.mjs$/, 'the digits CNN runs in its own module');
  assert.equal(got.timings.bytes, 0, 'no model file: the weights are in the module');
  assert.ok(got.preloaded.includes(got.runtime.moduleUrl.replace(/\.mjs$/, '.wasm')),
    `index.html preloads the module the package picked (${got.runtime.moduleUrl}; preloaded ${got.preloaded})`);
  // Nothing of the other demos is preloaded or fetched before the digits demo has answered.
  const otherDemos = /\/(trees|llm)[^/]*\.(js|mjs|wasm)$|\/cnn-simd|breast_cancer|\.gguf$|\.onnx$|\/face-detector\//;
  assert.deepEqual(got.preloaded.filter((url) => otherDemos.test(url)), [], 'index.html preloads the digits path only');
  assert.deepEqual(got.timeline.fetchedBefore.filter((url) => otherDemos.test(url)), [], 'the other demos load after the first digits answer');
  assert.equal(got.answers.length, digitsNative.logits.length, 'every sample classified');
  let maxDiff = 0;
  got.answers.forEach((answer, r) => {
    const want = digitsNative.logits[r];
    assert.equal(answer.logits.length, 10);
    const wantP = softmax(want);
    for (let k = 0; k < 10; ++k) {
      const d = Math.max(Math.abs(answer.logits[k] - want[k]), Math.abs(answer.probabilities[k] - wantP[k]));
      maxDiff = Math.max(maxDiff, d);
      assert.ok(d <= DIGITS_TOLERANCE, `sample ${r}, class ${k}: logit ${answer.logits[k]} vs ${want[k]}, p ${answer.probabilities[k]} vs ${wantP[k]}`);
    }
    assert.equal(answer.digit, argmax(want), `sample ${r}: the native answer`);
    if (argmax(want) === digitsNative.labels[r]) assert.equal(answer.digit, digitsNative.labels[r], `sample ${r}: its label`);
  });
  const last = got.answers[got.answers.length - 1];
  assert.equal(got.shown, String(last.digit), 'the page shows the last answer');
  assert.deepEqual(got.bars, last.probabilities.map((p) => p.toFixed(4)), 'the bars show the last probabilities');

  // A stroke on the pad, as a user draws: a 7 (a bar, then a diagonal down to the left).
  await page.click('#digits-clear');
  const box = await page.locator('#digits-pad').boundingBox();
  const at = (fx, fy) => [box.x + fx * box.width, box.y + fy * box.height];
  await page.mouse.move(...at(0.3, 0.2));
  await page.mouse.down();
  for (const [fx, fy] of [[0.5, 0.2], [0.7, 0.2], [0.6, 0.45], [0.5, 0.65], [0.45, 0.85]]) await page.mouse.move(...at(fx, fy), { steps: 6 });
  await page.mouse.up();
  const drawn = await page.evaluate(async () => {
    const d = window.tesseraDemo.digits;
    // The latest strokes' inference: a finished one may have started another.
    let pending;
    do { pending = d.drawn; await pending; } while (pending !== d.drawn);
    return { answer: d.answers[d.answers.length - 1], shown: document.querySelector('#digits-answer').textContent, error: d.error };
  });
  assert.equal(drawn.error, null);
  assert.equal(drawn.answer.probabilities.length, 10);
  assert.ok(Math.abs(drawn.answer.probabilities.reduce((a, b) => a + b, 0) - 1) < 1e-9, 'the probabilities sum to 1');
  assert.equal(drawn.shown, String(drawn.answer.digit));
  // The model saw the stroke: ink in 0..16 counts, on the 8x8 grid the dataset uses.
  assert.ok(drawn.answer.input.some((v) => v > 0) && drawn.answer.input.every((v) => v >= 0 && v <= 1 && Number.isInteger(v * 16)));
  return { samples: got.answers.length, maxDiff, firstPredictionMs: got.firstPredictionAt, firstPredictionFromNavigationMs: got.firstPredictionFromNavigation,
    documentMs: got.timeline.documentMs, appStartMs: got.timeline.appStartMs, requestsBefore: got.timeline.requestsBefore,
    lastResponseMs: got.timeline.lastResponseMs, wasmCached: got.timeline.wasmCached,
    startMs: got.timings.startMs, compileMs: got.timings.compileMs, instantiateMs: got.timings.instantiateMs, modelMs: got.timings.modelMs,
    warmupFirstMs: got.timings.warmup?.firstCallMs ?? null, warmupMs: got.timings.readyMs - got.timings.loadMs, readyMs: got.timings.readyMs,
    loadMs: got.timings.loadMs,
    runFirstMs: got.stats.firstCallMs, runSteadyMs: got.stats.steadyCallMs, computeMs: got.stats.last?.computeMs,
    drawnDigit: drawn.answer.digit, drawnP: Math.max(...drawn.answer.probabilities) };
}

// Digits' round trip once the page is quiet (the face detector and the LLM loaded, no camera):
// model.run() from the page and back, and its compute time in the module.
async function quietDigits(page) {
  return page.evaluate(async () => {
    const d = window.tesseraDemo.digits;
    await window.tesseraDemo.face?.loaded;
    await window.tesseraDemo.llm?.loaded;
    const input = { data: new Float32Array(64), dims: [1, 1, 8, 8] };
    const trips = [];
    const compute = [];
    for (let i = 0; i < 41; ++i) {
      const t0 = performance.now();
      await d.model.run({ input });
      trips.push(performance.now() - t0);
      compute.push(d.model.stats.last.computeMs);
    }
    const median = (v) => [...v].sort((a, b) => a - b)[v.length >> 1];
    return { tripMs: median(trips), computeMs: median(compute) };
  });
}

// The LLM demo's own model (examples/models/tiny_llm.gguf, the page's default): loaded through
// the form, and its greedy text the native tool's for the same prompt ids.
const TINY_LLM = path.join(root, 'examples', 'models', 'tiny_llm.gguf');
async function checkDefaultLlm(page) {
  const url = await page.evaluate(() => window.tesseraDemo.llm.defaultModel);
  await page.check('#llm-ignore-eos');  // as the native tool: on past end-of-text tokens
  assert.equal(path.basename(url), path.basename(TINY_LLM), 'the LLM demo\'s default model is the one the repository ships');
  await page.fill('#llm-url', url);
  await page.evaluate(() => { window.tesseraDemo.llm.loaded = null; });
  await page.click('#llm-load');
  const loaded = await page.evaluate(async () => {
    const s = window.tesseraDemo.llm;
    while (!s.loaded) await new Promise((r) => setTimeout(r, 5));
    await s.loaded;
    return { error: s.error ?? null, bytes: s.model?.info.fileBytes };
  });
  assert.equal(loaded.error, null, 'the default LLM model loads');
  assert.equal(loaded.bytes, readFileSync(TINY_LLM).byteLength);
  const prompt = 'The meaning of life is';
  await page.fill('#llm-prompt', prompt);
  await page.fill('#llm-temperature', '0');
  await page.fill('#llm-max-tokens', '16');
  await page.evaluate(() => { window.tesseraDemo.llm.running = null; });
  await page.click('#llm-generate');
  const got = await page.evaluate(async (text) => {
    const s = window.tesseraDemo.llm;
    while (!s.running) await new Promise((r) => setTimeout(r, 5));
    await s.running;
    const r = s.results[s.results.length - 1];
    return { error: s.error ?? null, tokens: Array.from(r.tokens), text: r.text, promptIds: Array.from(await s.model.tokenize(text)) };
  }, prompt);
  assert.equal(got.error, null);
  assert.deepEqual(got.tokens, llm.ids([llmCli, 'generate', '--model', TINY_LLM, '--prompt-ids', got.promptIds.join(' '), '-n', '16',
    '--temperature', '0', '--print-token-ids']), 'tiny_llm.gguf: greedy ids equal tessera-llm\'s');
  assert.ok(got.text.trim().length > 0);
  return got.text;
}

// The face part. The page gets its photos through the file input and its browser decodes
// them; tessera-detect decodes with stb_image. For a JPEG the two decoders differ (IDCT and
// chroma upsampling) by a few levels per pixel, and a face near the 0.7 threshold may come or
// go: no exact comparison holds there. So the exact check feeds both sides the same pixels:
// tessera-detect writes the photo as stb decoded it to a lossless PNG (--draw, with no
// detection to draw), the page reads that PNG, and its detections must equal tessera-detect's
// on it (the same count, boxes within 1 px, scores within 1e-4): that tests tessera's WASM
// build (resize, normalization, network, decoding, NMS) against native on equal input. The
// JPEG itself goes through the page too, as a user gives it, and is compared loosely (the
// browser's decoding): most faces match a native one, the counts are close (FACE_JPEG_*).
const FACE_MODEL = 'version-RFB-320.onnx';
const FACE_PHOTO = '1.jpg';
// The page's options as tessera-detect options (examples/web/app.js, FACE_DETECT_OPTIONS).
const FACE_CLI_OPTIONS = ['--format', 'boxes-scores', '--size', '320x240', '--fit', 'stretch', '--normalize', '127/128',
  '--background', '--conf', '0.7', '--iou', '0.3', '--max-det', String(1 << 20), '--threads', '1'];
const FACE_BOX_PX = 1;
const FACE_SCORE = 1e-4 + 1e-9;  // the JSON's scores keep 4 decimals: one step of the last one
const FACE_JPEG_MATCHED = 0.9;  // of the native faces, those with a page face whose box is within 2 px
const FACE_JPEG_COUNT = 0.1;    // the counts within 10 %
const faceNative = (() => {
  if (!existsSync(path.join(faceDir, FACE_MODEL))) {
    console.log(`browser test: the face demo is not tested: ${faceDir} is missing (the third-party detector lives beside the checkout)`);
    return null;
  }
  if (!existsSync(detectCli)) {
    console.log(`browser test: the face demo is not tested: ${detectCli} is missing (cmake --build build/native --target tessera-detect)`);
    return null;
  }
  const dir = mkdtempSync(path.join(tmpdir(), 'tessera-browser-face-'));
  const model = path.join(faceDir, FACE_MODEL);
  const jpeg = path.join(faceDir, FACE_PHOTO);
  const png = path.join(dir, FACE_PHOTO.replace(/\.jpg$/, '.png'));
  execFileSync(detectCli, ['--model', model, '--format', 'ultraface', '--conf', '2', '--draw', png, jpeg], { stdio: 'ignore' });
  const detect = (photo) => JSON.parse(execFileSync(detectCli, ['--model', model, ...FACE_CLI_OPTIONS, photo], { encoding: 'utf8' })).detections;
  return { dir, png, jpeg, onPng: detect(png), onJpeg: detect(jpeg) };
})();

const boxDistance = (a, b) => Math.max(...a.bbox_xywh.map((v, i) => Math.abs(v - b.bbox_xywh[i])));

// served: whether the server serves ../shared's detector; when not, the page must say so and
// take the user's own .onnx through its file input.
async function checkFace(page, { served }) {
  const status = await page.evaluate(async () => {
    const f = window.tesseraDemo.face;
    await f.loaded;
    return { error: f.error, available: f.available, text: document.querySelector('#face-runtime').textContent };
  });
  assert.equal(status.error, null);
  if (served) {
    assert.equal(status.available[0], FACE_MODEL);
  } else {
    assert.deepEqual(status.available, []);
    assert.match(status.text, /face detector is not here.*Pick/, 'the page says the detector is missing');
    await page.setInputFiles('#face-model-file', path.join(faceDir, FACE_MODEL));
  }
  await page.waitForFunction((name) => window.tesseraDemo.face.modelName === name || window.tesseraDemo.face.error, FACE_MODEL);
  const loaded = await page.evaluate(() => {
    const f = window.tesseraDemo.face;
    return { error: f.error, runtime: f.model?.runtime, timings: f.model?.timings };
  });
  assert.equal(loaded.error, null, 'the face demo loaded its model');

  // The camera (chromium's fake one: a test pattern): frame after frame detected, until Stop;
  // before the photos, so that the screenshot shows one.
  const before = await page.evaluate(() => window.tesseraDemo.face.results.length);
  await page.click('#face-camera');
  await page.waitForFunction((n) => window.tesseraDemo.face.results.length >= n + 3 || window.tesseraDemo.face.error, before);
  await page.click('#face-camera');
  const camera = await page.evaluate(async () => {
    const f = window.tesseraDemo.face;
    await f.running;
    return { error: f.error, stopped: f.camera === null, button: document.querySelector('#face-camera').textContent,
      frame: [f.image.width, f.image.height] };
  });
  assert.equal(camera.error, null);
  assert.ok(camera.stopped && camera.button === 'Use the camera', 'Stop stops the camera');
  assert.deepEqual(camera.frame, [640, 480], 'the camera frames were detected');

  const detectFile = async (file) => {
    const before = await page.evaluate(() => window.tesseraDemo.face.results.length);
    await page.setInputFiles('#face-photo', file);
    await page.waitForFunction((n) => window.tesseraDemo.face.results.length > n || window.tesseraDemo.face.error, before);
    return page.evaluate(() => {
      const f = window.tesseraDemo.face;
      return { error: f.error, detections: f.results[f.results.length - 1]?.detections, stats: JSON.parse(JSON.stringify(f.model.stats)),
        summary: document.querySelector('#face-summary').textContent };
    });
  };
  const onPng = await detectFile(faceNative.png);
  assert.equal(onPng.error, null);
  assert.equal(onPng.detections.length, faceNative.onPng.length, 'faces on the same pixels');
  assert.ok(onPng.detections.length > 0);
  onPng.detections.forEach((d, i) => {
    const want = faceNative.onPng[i];
    assert.equal(d.class_id, want.class_id, `face ${i}: class`);
    assert.equal(d.class_name, 'face');
    assert.ok(Math.abs(d.confidence - want.confidence) <= FACE_SCORE, `face ${i}: score ${d.confidence} vs ${want.confidence}`);
    assert.ok(boxDistance(d, want) <= FACE_BOX_PX, `face ${i}: box ${d.bbox_xywh} vs ${want.bbox_xywh}`);
  });
  assert.match(onPng.summary, new RegExp(`^${onPng.detections.length} faces on `));

  const onJpeg = await detectFile(faceNative.jpeg);
  assert.equal(onJpeg.error, null);
  const matched = faceNative.onJpeg.filter((want) => onJpeg.detections.some((d) => boxDistance(d, want) <= 2)).length;
  const jpeg = { page: onJpeg.detections.length, native: faceNative.onJpeg.length, matched };
  assert.ok(Math.abs(jpeg.page - jpeg.native) <= FACE_JPEG_COUNT * jpeg.native, `the JPEG as the browser decodes it: ${JSON.stringify(jpeg)}`);
  assert.ok(matched >= FACE_JPEG_MATCHED * jpeg.native, `the JPEG as the browser decodes it: ${JSON.stringify(jpeg)}`);

  return { faces: onPng.detections.length, jpeg, loadMs: loaded.timings.loadMs, readyMs: loaded.timings.readyMs,
    detectFirstMs: onJpeg.stats.firstCallMs, detectSteadyMs: onJpeg.stats.steadyCallMs, computeMs: onJpeg.stats.last?.computeMs };
}

function startServer(extra) {
  return new Promise((resolve, reject) => {
    const server = spawn(process.execPath, [path.join(root, 'examples', 'web', 'serve.mjs'), '--port', '0', '--package', packageDir,
      '--mount', `/llm-test=${llmDir}`, ...extra],
      { stdio: ['ignore', 'pipe', 'inherit'] });
    server.stdout.on('data', (d) => {
      const m = /(http:\/\/127\.0\.0\.1:\d+\/)/.exec(String(d));
      if (m) resolve({ url: m[1], stop: () => server.kill(), sharedModels: !extra.includes('--no-shared-models') });
    });
    server.on('exit', (code) => reject(new Error(`the demo server exited (${code})`)));
  });
}

const want = cliAnswers();
const f32 = Math.fround;
const userDataDir = mkdtempSync(path.join(tmpdir(), 'tessera-chromium-'));
const browser = await chromium.launchPersistentContext(userDataDir, {
  executablePath: chromiumPath,
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
    '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream'],
  viewport: { width: 1200, height: 900 },
});
const isolated = await startServer([]);
// The page not isolated is also the page of a checkout without ../shared.
const plain = await startServer(['--no-isolation', '--no-shared-models']);
let failures = 0;
const results = [];

async function run(server, query, check, expectedFlavour) {
  const page = await browser.newPage();
  const console_ = [];
  page.on('console', (m) => console_.push(m.text()));
  page.on('pageerror', (e) => console_.push(`pageerror: ${e.message}`));
  const started = Date.now();
  try {
    await page.goto(`${server.url}?${query}${llm ? '&llm-model=/llm-test/model.gguf' : ''}`);
    await page.evaluate(() => window.tesseraDemo.ready);
    const got = await page.evaluate(() => window.tesseraDemo.trees.runAll());
    const info = await page.evaluate(() => {
      const m = window.tesseraDemo.trees.model;
      return { runtime: m.runtime, stats: JSON.parse(JSON.stringify(m.stats)), timings: m.timings,
        firstPredictionAt: window.tesseraDemo.trees.firstPredictionAt };
    });
    assert.equal(got.length, want.length);
    got.forEach((answer, r) => {
      assert.deepEqual(Object.keys(answer), Object.keys(want[r]), `sample ${r}: keys`);
      for (const k of Object.keys(want[r])) assert.equal(f32(answer[k]), f32(want[r][k]), `sample ${r}, "${k}"`);
    });
    check(info, console_);
    const digits = digitsNative ? await checkDigits(page) : null;
    const face = faceNative ? await checkFace(page, { served: server.sharedModels }) : null;
    const llmResult = llm ? await checkLlm(page, expectedFlavour) : null;
    const quiet = digits ? await quietDigits(page) : null;
    const defaultLlmText = llm ? await checkDefaultLlm(page) : null;
    results.push({ query, flavour: info.runtime.flavour, threads: info.runtime.threads,
      firstPredictionMs: info.firstPredictionAt, loadMs: info.timings.loadMs, warmup: info.timings.warmup,
      predictFirstMs: info.stats.firstCallMs, predictSteadyMs: info.stats.steadyCallMs, digits: digits && { ...digits, quiet }, face,
      llm: llmResult && { ...llmResult, defaultModelText: defaultLlmText },
      wallMs: Date.now() - started });
    console.log(`ok: ${query}: ${want.length} samples equal tessera-gbt's answers (flavour ${info.runtime.flavour}, ` +
      `${info.runtime.threads} thread(s)${info.runtime.fallbackReason ? `, fallback: ${info.runtime.fallbackReason}` : ''})` +
      (digits ? `; digits: ${digits.samples} samples equal tessera-onnx's (max diff ${digits.maxDiff.toExponential(1)}), ` +
        `page load to first digits prediction ${digits.firstPredictionFromNavigationMs.toFixed(1)} ms from the navigation's start ` +
        `(${digits.wasmCached ? 'the .wasm revalidated from the HTTP cache' : 'the .wasm fetched whole'}; the document by ` +
        `${digits.documentMs.toFixed(0)} ms, app.js started at ${digits.appStartMs.toFixed(0)} ms, ${digits.requestsBefore} requests, the last ` +
        `response by ${digits.lastResponseMs.toFixed(0)} ms; ${digits.firstPredictionMs.toFixed(1)} ms from app.js's start: module fetch+compile ${digits.compileMs.toFixed(0)} ms, ` +
        `instantiate ${digits.instantiateMs.toFixed(0)} ms, module start ${digits.startMs.toFixed(0)} ms, model (rest of its fetch, load into WASM) ` +
        `${digits.modelMs.toFixed(0)} ms, warm-up ${digits.warmupMs.toFixed(0)} ms${digits.warmupFirstMs === null ? "" : ` (its first call ${digits.warmupFirstMs.toFixed(1)} ms)`}), ` +
        `inference first ${digits.runFirstMs.toFixed(2)} ms / steady ${digits.runSteadyMs.toFixed(2)} ms (while the face detector and the LLM load), ` +
        `quiet round trip ${quiet.tripMs.toFixed(2)} ms (compute ${quiet.computeMs.toFixed(2)} ms), a drawn 7 read as ${digits.drawnDigit} (p ${digits.drawnP.toFixed(3)})` : '') +
      (face ? `; face: ${face.faces} faces equal tessera-detect's on stb's pixels, the JPEG as decoded by the browser ` +
        `${face.jpeg.page} faces vs ${face.jpeg.native} (${face.jpeg.matched} matched), detect first ${face.detectFirstMs.toFixed(1)} ms / ` +
        `steady ${face.detectSteadyMs.toFixed(1)} ms` : '') +
      (llmResult ? `; LLM: greedy and sampled ids equal the native tools', stopped after ${llmResult.stoppedAfter} tokens, ` +
        `${llmResult.greedy.tokensPerSec?.toFixed(0)} tokens/s, first token ${llmResult.greedy.firstTokenMs?.toFixed(1)} ms; ` +
        `the default model tiny_llm.gguf greedy as tessera-llm: ${JSON.stringify(defaultLlmText)}` : ''));
    return page;
  } catch (e) {
    ++failures;
    console.error(`FAILED: ${query}: ${e.message}\n  page console: ${console_.join('\n  ')}`);
    await page.close();
    return null;
  }
}

try {
  await (await run(isolated, 'flavour=st', (info) => {
    assert.equal(info.runtime.flavour, 'st');
    assert.equal(info.runtime.crossOriginIsolated, true);
  }, 'st'))?.close();
  const mt = await run(isolated, 'flavour=mt&threads=2', (info) => {
    assert.equal(info.runtime.flavour, 'mt');
    assert.equal(info.runtime.threads, 2);
    assert.equal(info.runtime.fallbackReason, null);
  }, 'mt');
  if (mt) {
    await mt.screenshot({ path: screenshot, fullPage: true });
    console.log(`screenshot: ${screenshot}`);
    await mt.close();
  }
  await (await run(plain, 'threads=2', (info, messages) => {
    assert.equal(info.runtime.flavour, 'st');
    assert.equal(info.runtime.crossOriginIsolated, false);
    assert.match(info.runtime.fallbackReason, /cross-origin isolated/);
    assert.ok(messages.some((m) => m.includes('runs single-threaded') && m.includes('cross-origin isolated')),
      'the fallback is explained in the console');
  }, 'st'))?.close();
} finally {
  await browser.close();
  isolated.stop();
  plain.stop();
  rmSync(userDataDir, { recursive: true, force: true });
  rmSync(llmDir, { recursive: true, force: true });
  if (faceNative) rmSync(faceNative.dir, { recursive: true, force: true });
}
// Issue 12's figure (under 200 ms on this machine; reported, not asserted): the digits demo's
// first answer from the navigation's start (performance.timeOrigin: the browser's own timeline,
// not the browser's launch), the median over the page loads made above, and what came before it.
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const loads = results.map((r) => r.digits).filter(Boolean);
if (loads.length) {
  const row = (name, key) => `${name} ${median(loads.map((d) => d[key])).toFixed(0)} ms (${loads.map((d) => d[key].toFixed(0)).join(', ')})`;
  console.log(`page load to first digits prediction, from the navigation's start: median ${median(loads.map((d) => d.firstPredictionFromNavigationMs)).toFixed(0)} ms ` +
    `over ${loads.length} page loads (${loads.map((d) => `${d.firstPredictionFromNavigationMs.toFixed(0)}${d.wasmCached ? ' revalidated' : ' cold'}`).join(', ')} ms); ` +
    `medians: ${row('document', 'documentMs')}, ${row('app.js start', 'appStartMs')}, ${row('module fetch+compile', 'compileMs')}, ` +
    `${row('module start', 'startMs')}, ${row('model', 'modelMs')}, ${row('warm-up', 'warmupMs')}, ${row('first call', 'runFirstMs')}`);
}
console.log(JSON.stringify({ browser: 'chromium', results }));
console.log(`${results.length} passed, ${failures} failed`);
process.exit(failures ? 1 : 0);
