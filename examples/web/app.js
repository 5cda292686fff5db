// The tessera-web demo page. Each family demo is one entry of DEMOS; the digits demo starts
// with the page and the others after its first answer (see the end). The trees demo scores
// the feature form with the breast-cancer model, the digits demo classifies what the user
// draws with the digits CNN, the face demo finds faces on a photo or the camera's frames, the
// LLM demo streams text from a GGUF model. Query parameters let tests drive it:
// ?flavour=st|mt&threads=N&llm-model=URL.
// Only the digits path is imported with the page (index.html preloads it); the trees and LLM
// entry points are imported when their demos start.
import { loadCnn, loadCompiledCnn } from '/tessera-web/src/cnn.js';

// The LLM demo's model unless ?llm-model= names another: the small model the repository ships
// for it (examples/models/tiny_llm.gguf, 7.9 MB, trained on fortunes: see tiny_llm_report.md),
// served under /models/.
const LLM_DEMO_MODEL = '/models/tiny_llm.gguf';
// The digits demo's module: the CNN compiled in (the staged package's sibling example-module/).
const DIGITS_MODULE = '/example-module/digits_cnn.mjs';
// The face detector is third-party and not in the repository: serve.mjs serves
// ../shared/models/face-detector here when it is beside the checkout.
const FACE_MODELS_URL = '/shared-models/face-detector/';
const FACE_MODELS = ['version-RFB-320.onnx', 'version-slim-320.onnx'];
// The detector's input and post-processing as its authors' demo does them (tessera-detect
// --format ultraface; include/tessera/vision/ultraface.hpp): the whole photo stretched to
// 320x240, (x - 127) / 128, class 0 is the background, NMS at IoU 0.3, every face NMS keeps.
// ultraface's cap of 200 candidates before NMS is not an option of detect(): with fewer faces
// over the threshold than that, it changes nothing.
const FACE_DETECT_OPTIONS = {
  format: 'boxes-scores', size: [320, 240], fit: 'stretch', normalize: { mean: 127, std: 128 },
  background: true, iou: 0.3, maxDetections: 1 << 20, classNames: ['background', 'face'],
};

// From the navigation's start (performance.timeOrigin), as every performance.now().
const pageStart = performance.now();
const params = new URLSearchParams(location.search);
const $ = (id) => document.getElementById(id);
const ms = (v) => (v === null || v === undefined ? '–' : `${v.toFixed(v < 1 ? 3 : 1)} ms`);

// What a test (or a curious reader) can inspect: window.tesseraDemo.trees, .digits, .face, .llm.
window.tesseraDemo = { appStart: pageStart };

const threadsParam = () => (params.has('threads') ? Number(params.get('threads')) : 'auto');
const runtimeText = (rt) => `flavour ${rt.flavour} (${rt.threads} thread${rt.threads > 1 ? 's' : ''}), ` +
  `${rt.worker ? 'in a worker' : 'on the page thread'}` + (rt.fallbackReason ? ` | single-threaded because ${rt.fallbackReason}` : '');
const progressText = ({ phase, loaded, total }) => `${phase}: ${loaded} of ${total ?? '?'} bytes`;

// A NumPy .npy file (version 1 or 2, little-endian float32 or int64, C order) -> {data, shape}.
function parseNpy(buffer) {
  const bytes = new Uint8Array(buffer);
  const magic = String.fromCharCode(...bytes.subarray(0, 6));
  if (magic !== '\x93NUMPY') throw new Error('not a .npy file');
  const view = new DataView(buffer);
  const headerBytes = bytes[6] === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const start = bytes[6] === 1 ? 10 : 12;
  const header = new TextDecoder().decode(bytes.subarray(start, start + headerBytes));
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const shape = (/'shape':\s*\(([^)]*)\)/.exec(header)?.[1] ?? '').split(',').filter((d) => d.trim()).map(Number);
  if (/'fortran_order':\s*True/.test(header)) throw new Error('.npy in Fortran order');
  const count = shape.reduce((a, b) => a * b, 1);
  const body = buffer.slice(start + headerBytes);
  if (descr === '<f4') return { data: new Float32Array(body, 0, count), shape };
  if (descr === '<i8') return { data: Array.from(new BigInt64Array(body, 0, count), Number), shape };
  throw new Error(`.npy of ${descr}: only <f4 and <i8 are read here`);
}

// Probabilities from logits, in float64.
function softmax(logits) {
  const top = Math.max(...logits);
  const e = Array.from(logits, (v) => Math.exp(v - top));
  const sum = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / sum);
}

// A drawing -> the 8x8 input of scikit-learn's digits: that dataset (UCI optdigits) comes from
// 32x32 black-and-white bitmaps of digits normalized in size, each pixel of it the count of
// "on" bits in a 4x4 block (0..16); the model (scripts/train_digits_cnn.py) takes count / 16.
// So the ink's bounding box is scaled to fit 32x32 (aspect kept, centred), thresholded to
// on/off at half coverage, and counted in blocks.
const BITMAP_SIDE = 32;
function digitsInputOf(pad) {
  const { width, height } = pad;
  const ink = pad.getContext('2d').getImageData(0, 0, width, height).data;
  let [x0, y0, x1, y1] = [width, height, -1, -1];
  for (let y = 0; y < height; ++y) {
    for (let x = 0; x < width; ++x) {
      if (ink[(y * width + x) * 4 + 3] === 0) continue;
      x0 = Math.min(x0, x); x1 = Math.max(x1, x);
      y0 = Math.min(y0, y); y1 = Math.max(y1, y);
    }
  }
  if (x1 < 0) return null;  // nothing drawn
  const [w, h] = [x1 - x0 + 1, y1 - y0 + 1];
  const scale = BITMAP_SIDE / Math.max(w, h);
  const bitmap = new OffscreenCanvas(BITMAP_SIDE, BITMAP_SIDE).getContext('2d', { willReadFrequently: true });
  bitmap.imageSmoothingQuality = 'high';
  bitmap.drawImage(pad, x0, y0, w, h, (BITMAP_SIDE - w * scale) / 2, (BITMAP_SIDE - h * scale) / 2, w * scale, h * scale);
  const coverage = bitmap.getImageData(0, 0, BITMAP_SIDE, BITMAP_SIDE).data;
  const input = new Float32Array(64);
  for (let y = 0; y < BITMAP_SIDE; ++y) {
    for (let x = 0; x < BITMAP_SIDE; ++x) {
      if (coverage[(y * BITMAP_SIDE + x) * 4 + 3] >= 128) input[(y >> 2) * 8 + (x >> 2)] += 1;
    }
  }
  return input.map((count) => count / 16);
}

async function readSamples() {
  const text = await (await fetch('/models/breast_cancer_sample.csv')).text();
  const [header, ...lines] = text.trim().split('\n');
  const names = header.split(',');
  const features = names.slice(0, -1);  // the last column is XGBoost's own p("1")
  return {
    features,
    rows: lines.map((line) => {
      const cells = line.split(',').map(Number);
      return { values: cells.slice(0, -1), reference: cells[cells.length - 1] };
    }),
  };
}

const DEMOS = {
  async trees() {
    const [{ loadTrees }, samples] = await Promise.all([import('/tessera-web/src/trees.js'), readSamples()]);
    const state = { model: null, samples, firstPredictionAt: null, answers: [] };
    window.tesseraDemo.trees = state;
    const form = $('features');
    state.samples.features.forEach((name) => {
      const label = document.createElement('label');
      label.textContent = name.replaceAll('_', ' ');
      const input = document.createElement('input');
      input.name = name;
      input.type = 'number';
      input.step = 'any';
      label.append(input);
      form.append(label);
    });
    state.samples.rows.forEach((_, i) => $('sample').append(new Option(`sample ${i + 1}`, i)));
    const fill = (i) => {
      state.samples.rows[i].values.forEach((v, f) => {
        form.elements[state.samples.features[f]].value = String(v);
      });
      $('reference').textContent = state.samples.rows[i].reference.toFixed(6);
    };
    fill(0);
    $('sample').onchange = () => fill(Number($('sample').value));
    $('flavour').value = params.get('flavour') ?? 'auto';

    const record = () => {
      const r = {};
      for (const name of state.samples.features) {
        const v = form.elements[name].value.trim();
        r[name] = v === '' ? null : Number(v);  // an empty field is a missing value
      }
      return r;
    };

    async function load() {
      $('load').disabled = true;
      $('predict').disabled = true;
      await state.model?.dispose();
      const threads = params.has('threads') ? Number(params.get('threads')) : 'auto';
      state.model = await loadTrees('/models/breast_cancer.json', {
        flavour: $('flavour').value,
        threads,
        onProgress: ({ phase, loaded, total }) => {
          $('progress').value = total ? loaded / total : 0;
          $('progress-text').textContent = `${phase}: ${loaded} of ${total ?? '?'} bytes`;
        },
      });
      const rt = state.model.runtime;
      $('runtime').textContent = `flavour ${rt.flavour} (${rt.threads} thread${rt.threads > 1 ? 's' : ''}), ` +
        `${rt.worker ? 'in a worker' : 'on the page thread'}, cross-origin isolated: ${rt.crossOriginIsolated}` +
        (rt.fallbackReason ? ` | single-threaded because ${rt.fallbackReason}` : '');
      $('runtime').classList.toggle('fallback', Boolean(rt.fallbackReason));
      const t = state.model.timings;
      $('t-load').textContent = ms(t.loadMs) + (t.fromCache ? ' (from the cache)' : '');
      $('t-warmup').textContent = `${ms(t.warmup?.firstCallMs)} / ${ms(t.warmup?.steadyCallMs)}`;
      $('load').disabled = false;
      $('predict').disabled = false;
    }

    async function predict() {
      const answer = await state.model.predict(record());
      state.answers.push(answer);
      $('p0').textContent = answer['0'].toFixed(6);
      $('p1').textContent = answer['1'].toFixed(6);
      if (state.firstPredictionAt === null) {
        state.firstPredictionAt = performance.now() - pageStart;
        $('t-first-prediction').textContent = ms(state.firstPredictionAt);
      }
      const s = state.model.stats;
      $('t-predict').textContent = `${ms(s.firstCallMs)} / ${ms(s.steadyCallMs)}`;
      return answer;
    }

    // Every sample through the form, as a user would (the browser test compares these with the CLI).
    state.runAll = async () => {
      const out = [];
      for (let i = 0; i < state.samples.rows.length; ++i) {
        $('sample').value = String(i);
        fill(i);
        out.push(await predict());
      }
      return out;
    };

    $('load').onclick = () => load().catch(showError);
    $('predict').onclick = () => predict().catch(showError);
    await load();
    await predict();
  },
  // The digits CNN: the user draws on the pad (mouse, touch or pen); every stroke is classified
  // as it grows. The committed samples (examples/models/digits_cnn_inputs.npy) can be
  // classified too: window.tesseraDemo.digits.classifySamples().
  async digits() {
    const state = { model: null, samples: null, firstPredictionAt: null, answers: [], error: null };
    window.tesseraDemo.digits = state;
    const show = (id, text) => { $(id).textContent = text; };
    const fail = (e) => {
      show('digits-runtime', `error: ${e.message}`);
      $('digits-runtime').classList.add('fallback');
      state.error = e.message;
    };
    const bars = Array.from({ length: 10 }, (_, digit) => {
      const row = $('digits-bars').insertRow();
      row.insertCell().textContent = String(digit);
      const bar = row.insertCell();
      bar.className = 'bar';
      bar.append(document.createElement('div'));
      const value = row.insertCell();
      return { row, fill: bar.firstChild, value };
    });
    const showSeen = (input) => {
      const seen = $('digits-seen').getContext('2d');
      const image = seen.createImageData(8, 8);
      input.forEach((v, i) => {
        const level = 255 - Math.round(v * 255);  // dark ink on white, as the pad shows it
        image.data.set([level, level, level, 255], i * 4);
      });
      seen.putImageData(image, 0, 0);
    };

    // One 8x8 input (values count / 16) -> {logits, probabilities, digit}, shown on the page.
    async function classify(input, label = null) {
      const { logits } = await state.model.run({ input: { data: input, dims: [1, 1, 8, 8] } });
      const probabilities = softmax(logits.data);
      const digit = probabilities.indexOf(Math.max(...probabilities));
      const answer = { input: Array.from(input), logits: Array.from(logits.data), probabilities, digit };
      state.answers.push(answer);
      showSeen(input);
      probabilities.forEach((p, d) => {
        bars[d].fill.style.width = `${(p * 100).toFixed(1)}%`;
        bars[d].value.textContent = p.toFixed(4);
        bars[d].row.classList.toggle('best', d === digit);
      });
      show('digits-answer', String(digit));
      show('digits-label', label === null ? '' : `true label ${label}`);
      if (state.firstPredictionAt === null) {
        // From this script's start, as the trees demo counts, and from the navigation (what
        // a user waits: also the page and its modules' download).
        state.firstPredictionAt = performance.now() - pageStart;
        state.firstPredictionFromNavigation = performance.now();
        show('digits-t-first', `${ms(state.firstPredictionAt)} (${ms(state.firstPredictionFromNavigation)} from the navigation)`);
      }
      const s = state.model.stats;
      show('digits-t-run', `${ms(s.last?.ms)} / ${ms(s.firstCallMs)} / ${ms(s.steadyCallMs)}; ${ms(s.last?.computeMs)}`);
      return answer;
    }
    state.classify = classify;
    state.classifySamples = async () => {
      const out = [];
      for (let i = 0; i < state.samples.labels.length; ++i) {
        $('digits-sample').value = String(i);
        out.push(await classify(state.samples.inputs.data.slice(i * 64, (i + 1) * 64), state.samples.labels[i]));
      }
      return out;
    };

    // The pad: pointer events cover mouse, touch and pen. A drawing is classified while it
    // grows, one inference at a time (the latest strokes win).
    const pad = $('digits-pad');
    const ink = pad.getContext('2d', { willReadFrequently: true });
    let last = null;
    let inFlight = null;
    let again = false;
    state.drawn = null;  // the last drawing's answer promise, for tests
    const classifyDrawing = () => {
      if (inFlight) { again = true; return inFlight; }
      const input = digitsInputOf(pad);
      if (!input || !state.model) return null;
      inFlight = classify(input).catch(fail).finally(() => {
        inFlight = null;
        if (again) { again = false; state.drawn = classifyDrawing(); }
      });
      return inFlight;
    };
    const stroke = (e) => {
      const r = pad.getBoundingClientRect();
      const p = { x: (e.clientX - r.left) * (pad.width / r.width), y: (e.clientY - r.top) * (pad.height / r.height) };
      ink.lineWidth = pad.width / 14;  // about the stroke width of the dataset's digits once fitted to 32x32
      ink.lineCap = 'round';
      ink.lineJoin = 'round';
      ink.strokeStyle = '#111';
      ink.beginPath();
      ink.moveTo((last ?? p).x, (last ?? p).y);
      ink.lineTo(p.x, p.y);
      ink.stroke();
      last = p;
      state.drawn = classifyDrawing();
    };
    pad.onpointerdown = (e) => {
      pad.setPointerCapture(e.pointerId);
      last = null;
      stroke(e);
    };
    pad.onpointermove = (e) => { if (pad.hasPointerCapture(e.pointerId)) stroke(e); };
    pad.onpointerup = () => { last = null; };
    const blank = () => {
      show('digits-answer', '–');
      show('digits-label', '');
      bars.forEach((b) => { b.fill.style.width = '0'; b.value.textContent = ''; b.row.classList.remove('best'); });
      showSeen(new Float32Array(64));
    };
    $('digits-clear').onclick = () => {
      ink.clearRect(0, 0, pad.width, pad.height);
      again = false;
      state.drawn = null;
      blank();
      inFlight?.then(blank);  // the erased drawing's answer, if it was on its way
    };

    // The samples download while the module and the model load (index.html preloads them).
    const samplesRead = Promise.all(['digits_cnn_inputs.npy', 'digits_cnn_labels.npy']
      .map(async (name) => parseNpy(await (await fetch(`/models/${name}`)).arrayBuffer())));
    samplesRead.catch(() => {});  // a failure shows where it is awaited, after the model's
    try {
      // On the page's thread, single-threaded: a call computes in well under a millisecond, so a
      // worker would only add its start (hundreds of ms on a loaded machine: a thread, an
      // isolate, its scripts) to the first answer and a round trip to every call.
      // The digits CNN compiled into a module of its own (js/CMakeLists.txt: tessera_add_wasm_module
      // (... ONNX_HEADER examples/models/digits_cnn_model.hpp ...), served by serve.mjs): its ops
      // and weights only, 239 KB gzip with its glue against the generic cnn-simd's 507 KB (2.6 MB raw).
      state.model = await loadCompiledCnn({
        module: { st: DIGITS_MODULE },
        worker: false,
        threads: 1,
        // No warm-up on zeros: a call computes in microseconds, and what a first call pays
        // (V8 compiling the module's functions lazily, on their first call) the first answer
        // pays once instead of a warm-up before it.
        warmup: false,
        onProgress: (p) => {
          $('digits-progress').value = p.total ? p.loaded / p.total : 0;
          show('digits-progress-text', progressText(p));
        },
      });
      const { info, runtime, timings } = state.model;
      show('digits-runtime', `${info.parameters} parameters, input ${info.inputs[0].name} [${info.inputs[0].dims}] | ${runtimeText(runtime)}`);
      $('digits-runtime').classList.toggle('fallback', Boolean(runtime.fallbackReason));
      show('digits-t-load', `${ms(timings.loadMs)} (module ${ms(timings.startMs)}: fetch and compile ${ms(timings.compileMs)}; ` +
        `model ${ms(timings.modelMs)}${timings.fromCache ? ', from the cache' : ''}) + warm-up ${ms(timings.readyMs - timings.loadMs)}`);
      const [inputs, labels] = await samplesRead;
      state.samples = { inputs, labels: labels.data };
      state.samples.labels.forEach((label, i) => $('digits-sample').append(new Option(`sample ${i + 1}: ${label}`, i)));
      $('digits-sample').onchange = () => {
        const i = Number($('digits-sample').value);
        classify(inputs.data.slice(i * 64, (i + 1) * 64), state.samples.labels[i]).catch(fail);
      };
      $('digits-samples').onclick = () => { state.running = state.classifySamples().catch(fail); };
      $('digits-samples').disabled = false;
      await classify(inputs.data.slice(0, 64), state.samples.labels[0]);
    } catch (e) {
      fail(e);
    }
  },

  // The face detector: a photo from a file input, or the camera's frames, with the boxes and
  // scores drawn over it. The model loads in the background (window.tesseraDemo.face.loaded).
  async face() {
    const state = { model: null, modelName: null, loaded: null, running: null, results: [], image: null, error: null, camera: null };
    window.tesseraDemo.face = state;
    const show = (id, text) => { $(id).textContent = text; };
    const fail = (e) => {
      show('face-runtime', `error: ${e.message}`);
      $('face-runtime').classList.add('fallback');
      state.error = e.message;
    };
    const canvas = $('face-canvas');
    const context = canvas.getContext('2d', { willReadFrequently: true });

    const drawDetections = (detections) => {
      const line = Math.max(2, Math.round(canvas.width / 400));
      context.lineWidth = line;
      context.font = `${6 * line + 4}px sans-serif`;
      context.textBaseline = 'bottom';
      for (const d of detections) {
        const [x, y, w, h] = d.bbox_xywh;
        context.strokeStyle = '#19e04b';
        context.strokeRect(x, y, w, h);
        const label = d.confidence.toFixed(2);
        context.fillStyle = '#19e04b';
        context.fillRect(x - line / 2, y - 6 * line - 6, context.measureText(label).width + 4, 6 * line + 6);
        context.fillStyle = '#000';
        context.fillText(label, x + 2, y - 1);
      }
    };

    // The pixels on the canvas (a photo or a camera frame) -> detections drawn over them.
    async function detectShown(pixels) {
      const options = { ...FACE_DETECT_OPTIONS, confidence: Number($('face-confidence').value) };
      const answer = await state.model.detect(pixels, options);
      context.putImageData(pixels, 0, 0);
      drawDetections(answer.detections);
      state.results.push(answer);
      const s = state.model.stats;
      show('face-summary', `${answer.detections.length} face${answer.detections.length === 1 ? '' : 's'} on ${pixels.width}x${pixels.height}`);
      show('face-t-run', `${ms(s.last?.ms)} / ${ms(s.firstCallMs)} / ${ms(s.steadyCallMs)}; ${ms(s.last?.computeMs)}`);
      return answer;
    }

    // A photo at its own size. Embedded colour profiles are ignored (colorSpaceConversion
    // 'none'), as tessera's own decoder (stb_image) ignores them.
    async function detectPhoto(file) {
      const bitmap = await createImageBitmap(file, { colorSpaceConversion: 'none', imageOrientation: 'from-image' });
      canvas.width = bitmap.width;
      canvas.height = bitmap.height;
      context.drawImage(bitmap, 0, 0);
      bitmap.close();
      state.image = context.getImageData(0, 0, canvas.width, canvas.height);
      if (!state.model) {
        show('face-summary', 'no model loaded yet');
        return null;
      }
      return detectShown(state.image);
    }

    async function load(source, name) {
      await stopCamera();
      await state.model?.dispose();
      state.model = null;
      state.modelName = null;
      $('face-camera').disabled = true;
      show('face-runtime', `loading ${name}…`);
      state.model = await loadCnn(source, {
        flavour: params.get('flavour') ?? 'auto',
        threads: threadsParam(),
        onProgress: (p) => {
          $('face-progress').value = p.total ? p.loaded / p.total : 0;
          show('face-progress-text', progressText(p));
        },
      });
      state.modelName = name;
      const { info, runtime: rt, timings: t } = state.model;
      const input = info.inputs.find((i) => i.required);
      show('face-runtime', `${name}: ${info.parameters} parameters, input ${input?.name} [${input?.dims}] | ${runtimeText(rt)}`);
      $('face-runtime').classList.toggle('fallback', Boolean(rt.fallbackReason));
      show('face-t-load', `${ms(t.loadMs)} + warm-up ${ms(t.readyMs - t.loadMs)}${t.fromCache ? ' (from the cache)' : ''}`);
      $('face-camera').disabled = !navigator.mediaDevices?.getUserMedia;
      if (state.image) await detectShown(state.image);
    }

    // The camera: frames are detected one after another, each on the frame it was taken from.
    async function startCamera() {
      const stream = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 } });
      const video = document.createElement('video');
      video.muted = true;
      video.playsInline = true;
      video.srcObject = stream;
      await video.play();
      state.camera = { stream, stopped: false };
      $('face-camera').textContent = 'Stop the camera';
      canvas.width = video.videoWidth;
      canvas.height = video.videoHeight;
      const camera = state.camera;
      while (!camera.stopped && state.model) {
        context.drawImage(video, 0, 0);
        state.image = context.getImageData(0, 0, canvas.width, canvas.height);
        await detectShown(state.image);
        await new Promise((r) => requestAnimationFrame(r));
      }
    }
    async function stopCamera() {
      if (!state.camera) return;
      state.camera.stopped = true;
      state.camera.stream.getTracks().forEach((track) => track.stop());
      state.camera = null;
      $('face-camera').textContent = 'Use the camera';
    }

    const available = await Promise.all(FACE_MODELS.map(async (name) =>
      (await fetch(FACE_MODELS_URL + name, { method: 'HEAD' }).catch(() => null))?.ok ? name : null));
    const found = available.filter(Boolean);
    found.forEach((name) => $('face-model').append(new Option(name.replace('.onnx', ''), name)));
    if (!found.length) {
      $('face-model').append(new Option('none here'));
      $('face-model').disabled = true;
    }
    state.available = found;
    $('face-model').onchange = () => {
      const name = $('face-model').value;
      state.loaded = load(FACE_MODELS_URL + name, name).catch(fail);
    };
    $('face-model-file').onchange = () => {
      const file = $('face-model-file').files[0];
      if (file) state.loaded = load(file, file.name).catch(fail);
    };
    $('face-photo').onchange = () => {
      const file = $('face-photo').files[0];
      if (file) state.running = (async () => { await stopCamera(); await state.loaded; return detectPhoto(file); })().catch(fail);
    };
    $('face-confidence').onchange = () => {
      if (state.image && state.model && !state.camera) state.running = detectShown(state.image).catch(fail);
    };
    $('face-camera').onclick = () => {
      if (state.camera) stopCamera();
      else state.running = startCamera().catch(fail);
    };
    if (found.length) {
      state.loaded = load(FACE_MODELS_URL + found[0], found[0]).catch(fail);
    } else {
      show('face-runtime', `the face detector is not here: ${FACE_MODELS_URL} is not served (it serves ` +
        '../shared/models/face-detector when it is beside the checkout). Pick a version-RFB-320.onnx or ' +
        'version-slim-320.onnx of your own (Ultra-Light-Fast-Generic-Face-Detector-1MB) above.');
      $('face-runtime').classList.add('fallback');
      state.loaded = Promise.resolve();
    }
  },

  // The model loads in the background (window.tesseraDemo.llm.loaded), so a missing or large
  // model never holds up the other demos; its errors show in this section.
  async llm() {
    const { loadLLM } = await import('/tessera-web/src/llm.js');
    const state = { model: null, loaded: null, running: null, results: [], messages: [], tokensSoFar: 0, defaultModel: LLM_DEMO_MODEL };
    window.tesseraDemo.llm = state;
    $('llm-url').value = params.get('llm-model') ?? LLM_DEMO_MODEL;
    $('llm-flavour').value = params.get('flavour') ?? 'auto';
    const show = (id, text) => { $(id).textContent = text; };
    const perSecond = (v) => (v === null || v === undefined ? '–' : `${v.toFixed(1)} tokens/s`);
    const fail = (e) => {
      show('llm-runtime', `error: ${e.message}`);
      $('llm-runtime').classList.add('fallback');
      state.error = e.message;
    };

    async function load(source) {
      $('llm-load').disabled = true;
      $('llm-generate').disabled = true;
      await state.model?.dispose();
      state.model = null;
      state.messages = [];
      const threads = params.has('threads') ? Number(params.get('threads')) : 'auto';
      try {
        state.model = await loadLLM(source, {
          flavour: $('llm-flavour').value,
          threads,
          onProgress: ({ phase, loaded, total }) => {
            $('llm-progress').value = total ? loaded / total : 0;
            show('llm-progress-text', `${phase}: ${(loaded / 1e6).toFixed(1)} of ${total ? (total / 1e6).toFixed(1) : '?'} MB`);
          },
        });
        const { info, runtime: rt, timings: t } = state.model;
        show('llm-runtime', `${info.name || info.architecture}: ${info.layers} layers, ${info.embeddingLength} wide, ` +
          `${Object.keys(info.tensorTypes).join('/')} weights, ${(info.fileBytes / 1e6).toFixed(1)} MB, ` +
          `context ${state.model.context}, chat format ${info.chatTemplate.format} | flavour ${rt.flavour} ` +
          `(${rt.threads} thread${rt.threads > 1 ? 's' : ''})` + (rt.fallbackReason ? ` | single-threaded because ${rt.fallbackReason}` : ''));
        $('llm-runtime').classList.toggle('fallback', Boolean(rt.fallbackReason));
        show('llm-t-load', `${ms(t.loadMs)} + warm-up ${ms(t.readyMs - t.loadMs)}${t.fromCache ? ' (from the cache)' : ''}`);
        $('llm-generate').disabled = false;
      } finally {
        $('llm-load').disabled = false;
      }
    }

    async function generate() {
      const model = state.model;
      const controller = new AbortController();
      state.controller = controller;
      state.tokensSoFar = 0;
      $('llm-generate').disabled = true;
      $('llm-stop').disabled = false;
      const prompt = $('llm-prompt').value;
      const chat = $('llm-chat').checked;
      const output = $('llm-output');
      const answer = document.createElement('b');
      if (chat) {
        state.messages.push({ role: 'user', content: prompt });
        output.append(`${output.textContent ? '\n\n' : ''}user: ${prompt}\nassistant: `);
      } else {
        output.textContent = prompt;
      }
      output.append(answer);
      const options = {
        maxTokens: Number($('llm-max-tokens').value),
        temperature: Number($('llm-temperature').value),
        seed: Number($('llm-seed').value),
        stopAtEog: !$('llm-ignore-eos').checked,
        signal: controller.signal,
        onToken: () => { state.tokensSoFar += 1; },
      };
      const generation = chat ? model.chat(state.messages, options) : model.generate(prompt, options);
      let result;
      try {
        for await (const piece of generation) answer.append(piece);
        result = await generation;
      } catch (e) {
        if (e.code !== 'cancelled' || !e.partial) throw e;
        result = e.partial;  // the stop button: keep what was generated
      } finally {
        $('llm-generate').disabled = false;
        $('llm-stop').disabled = true;
      }
      if (chat) state.messages.push({ role: 'assistant', content: result.text });
      const t = result.timings;
      show('llm-t-first', ms(t.firstTokenMs));
      show('llm-t-prompt', `${t.promptTokens} (${t.reusedTokens} from the cache), ${perSecond(t.promptTokensPerSec)}`);
      show('llm-t-generate', `${t.generatedTokens}, ${perSecond(t.tokensPerSec)}`);
      show('llm-t-stop', result.stopReason.replaceAll('_', ' '));
      state.results.push(result);
      return result;
    }

    $('llm-load').onclick = () => { state.loaded = load($('llm-url').value).catch(fail); };
    $('llm-file').onchange = () => {
      const file = $('llm-file').files[0];
      if (file) state.loaded = load(file).catch(fail);
    };
    $('llm-generate').onclick = () => { state.running = generate().catch(fail); };
    $('llm-stop').onclick = () => state.controller?.abort();
    $('llm-chat').onchange = () => { state.messages = []; $('llm-output').textContent = ''; };
    state.loaded = load($('llm-url').value).catch(fail);
  },
};

function showError(e) {
  $('runtime').textContent = `error: ${e.message}`;
  $('runtime').classList.add('fallback');
  window.tesseraDemo.error = e.message;
}

// The digits demo starts alone: its first answer gets the cores, the connections and the
// event loop of the page. The others start after it (answered, or failed), then get their
// code, modules and models: the trees demo first (it answers at once), then those with large
// models, loaded in the background (the face detector, the LLM).
const LATER = [['trees'], ['face', 'llm']];
const onPage = (names) => names.filter((name) => document.querySelector(`[data-demo="${name}"]`)).map((name) => DEMOS[name]);
window.tesseraDemo.ready = (async () => {
  await Promise.all(onPage(['digits']).map((start) => start()));
  await new Promise((resolve) => setTimeout(resolve, 0));  // the answer painted before the others' work
  for (const names of LATER) await Promise.all(onPage(names).map((start) => start()));
})().catch((e) => {
  showError(e);
  throw e;
});
