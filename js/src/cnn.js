// tessera-web/cnn: ONNX convolutional networks run by tessera's ONNX runtime in WebAssembly
// SIMD128, in a worker by default: raw tensors in and out, or object detection on an image
// (YOLOv8, YOLOv5, boxes + scores) answered with the JSON tessera-detect prints.
//
//   import { loadCnn } from 'tessera-web/cnn';
//   const net = await loadCnn('/models/yolov8n.onnx', { onProgress: (p) => console.log(p) });
//   const { detections } = await net.detect(imageData, { confidence: 0.3 });
//   const { logits } = await net.run({ input: { data: new Float32Array(64), dims: [1, 1, 8, 8] } });
//   await net.dispose();
//   const digits = await loadCompiledCnn({ module: { st: '/digits_cnn.mjs' } });  // a model compiled into its module
import { CallStats, loadModel, sendModelBytes } from './core/loader.js';
import { ModelHandle } from './core/model-handle.js';
import { now } from './core/environment.js';
import { tesseraError, throwIfAborted } from './core/errors.js';
import { typedFeed } from './cnn/tensor-types.js';

export { TesseraError } from './core/errors.js';

const numelOf = (dims) => dims.reduce((a, b) => a * b, 1);

// RGBA pixels of an image: ImageData-like objects as they are; in browsers, anything
// drawImage takes (canvas, ImageBitmap, <img>, VideoFrame) through an OffscreenCanvas.
function pixelsOf(image) {
  if (image && ArrayBuffer.isView(image.data) && Number.isInteger(image.width) && Number.isInteger(image.height)) {
    const data = image.data;
    return { pixels: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width: image.width, height: image.height };
  }
  // The source's own size: an <img>'s natural one, a <video>'s or VideoFrame's frame.
  const width = image?.naturalWidth || image?.videoWidth || image?.displayWidth || image?.width;
  const height = image?.naturalHeight || image?.videoHeight || image?.displayHeight || image?.height;
  if (typeof OffscreenCanvas === 'function' && Number.isInteger(width) && Number.isInteger(height) && width > 0 && height > 0) {
    const context = new OffscreenCanvas(width, height).getContext('2d');
    context.drawImage(image, 0, 0);
    return pixelsOf(context.getImageData(0, 0, width, height));
  }
  throw new TypeError('detect takes ImageData or {data: RGBA bytes, width, height}' +
    (typeof OffscreenCanvas === 'function' ? ', a canvas, an ImageBitmap or an image' : ''));
}

function checkFeed(name, feed, declaredType) {
  if (!feed || !Array.isArray(feed.dims) || !feed.dims.every((d) => Number.isInteger(d) && d >= 0)) {
    throw new TypeError(`run: input '${name}' needs {data: a typed array or an array of numbers, dims: [non-negative integers]}`);
  }
  const typed = typedFeed(name, feed, declaredType);
  if (typed.data.length !== numelOf(feed.dims)) {
    throw tesseraError('shape_mismatch', `run: input '${name}' has ${typed.data.length} values, its dims [${feed.dims}] hold ${numelOf(feed.dims)}`);
  }
  return typed;
}

export class CnnModel extends ModelHandle {
  /** @internal */
  constructor(channel, info, runtime, timings) {
    super(channel, runtime, timings);
    this.info = info;
    this.stats = new CallStats();
  }

  /**
   * Runs the network: {inputName: {data, dims, type?}} (every input it requires) ->
   * {outputName: {data, dims, type}}. Data are typed arrays of the tensor's type (Float32Array
   * for float32, BigInt64Array for int64, Uint8Array for uint8 and bool, Uint16Array holding
   * float16 bits...); see typedFeed for how a feed's type is found.
   */
  async run(inputs, { signal } = {}) {
    this._checkOpen();
    throwIfAborted(signal);
    if (inputs === null || typeof inputs !== 'object') throw new TypeError('run takes {inputName: {data, dims}}');
    const t0 = now();
    // Copies travel (transferred) to the worker: posting the caller's arrays would clone their buffers.
    const declared = (name) => this.info.inputs.find((i) => i.name === name)?.type;
    const feeds = Object.entries(inputs).map(([name, feed]) => checkFeed(name, feed, declared(name)))
      .map((f) => (this.runtime.worker ? { ...f, data: f.data.slice() } : f));
    const { outputs, ms } = await this._channel.call('run', { feeds }, this.runtime.worker ? feeds.map((f) => f.data.buffer) : []);
    this.stats.record({ rows: 1, ms: now() - t0, computeMs: ms });
    return Object.fromEntries(outputs.map((o) => [o.name, { data: o.data, dims: o.dims, type: o.type }]));
  }

  /**
   * Detects objects on an image (ImageData-like {data: RGBA, width, height}; in browsers also a
   * canvas, ImageBitmap or image): the model's input gets the fitted photo, its output is
   * decoded, and the answer is tessera-detect's JSON as an object:
   * {image, detections: [{class_id, class_name, confidence, bbox_xywh}]} in photo pixels.
   */
  async detect(image, options = {}) {
    this._checkOpen();
    throwIfAborted(options.signal);
    const t0 = now();
    const { pixels, width, height } = pixelsOf(image);
    const { signal, ...detectOptions } = options;
    const copy = this.runtime.worker ? pixels.slice() : pixels;
    const { json, ms } = await this._channel.call('detect', { pixels: copy, width, height, options: detectOptions },
      this.runtime.worker ? [copy.buffer] : []);
    this.stats.record({ rows: 1, ms: now() - t0, computeMs: ms });
    return JSON.parse(json);
  }
}

// The shapes of the warm-up run on zeros: options.warmupShapes[name] where given, else the
// declared dims with each symbolic one ("batch") set to 1. Null when an input's rank is unknown
// (no declared shape, none given): no warm-up then.
function warmupShapesOf(info, given = {}) {
  const shapes = {};
  for (const input of info.inputs.filter((i) => i.required)) {
    const dims = given[input.name] ?? (Array.isArray(input.dims) ? input.dims.map((d) => (Number.isInteger(d) ? d : 1)) : null);
    if (!dims) return null;
    if (!Array.isArray(dims) || !dims.every((d) => Number.isInteger(d) && d >= 0)) {
      throw new TypeError(`warmupShapes: '${input.name}' needs an array of non-negative integers`);
    }
    shapes[input.name] = dims;
  }
  return shapes;
}

// The warm-up's runs: options.warmup true or absent 2 (the second meets the code V8 optimized
// after the first), false 0, or a count (a model computing in microseconds needs one, at most).
function warmupRoundsOf(warmup = true) {
  if (typeof warmup === 'boolean') return warmup ? 2 : 0;
  if (!Number.isInteger(warmup) || warmup < 0) throw new TypeError('warmup: true, false or a number of runs (0, 1, 2...)');
  return warmup;
}

// What a made model hands loadModel: its info and the warm-up the load options ask for.
function madeModel(info, options, fromCache, bytes) {
  const rounds = warmupRoundsOf(options.warmup);
  const shapes = rounds === 0 ? null : warmupShapesOf(info, options.warmupShapes);
  // Shapes guessed for symbolic dims may not suit the graph: a failed warm-up is then skipped.
  const guessed = info.inputs.some((i) => i.required && !options.warmupShapes?.[i.name] && !i.dims?.every(Number.isInteger));
  return { info, fromCache, bytes, warmupRounds: shapes ? rounds : 0, warmupArgs: { shapes, guessed } };
}

const makeCnnModel = (channel, { info }, runtime, timings) => new CnnModel(channel, info, runtime, timings);

/**
 * Loads an ONNX model.
 * @param source  ArrayBuffer, typed array, Blob/File, Response, URL or string (a URL; under
 *                Node also a file path)
 * @param options see cnn.d.ts (LoadOptions)
 */
export async function loadCnn(source, options = {}) {
  return loadModel('cnn', source, options, async (channel, runtime, file) => {
    const { fromCache, bytes } = await sendModelBytes(channel, file, runtime.worker);
    throwIfAborted(options.signal);
    return madeModel(await channel.call('loadEnd', {}), options, fromCache, bytes);
  }, makeCnnModel);
}

/**
 * Opens the ONNX model compiled into a module of your own (cmake: tessera_add_wasm_module(...
 * FAMILY cnn ONNX_HEADER ...)): options.module = {st: '/path/my_model.mjs', mt?: '/path/my_model-mt.mjs'}.
 * No model file: the module carries the weights and only the ops the model uses.
 */
export async function loadCompiledCnn(options = {}) {
  if (!options.module) throw new TypeError('loadCompiledCnn needs options.module = {st: <url of the .mjs>}');
  return loadModel('cnn', null, options, async (channel) => madeModel(await channel.call('loadEmbedded', {}), options, false, 0),
    makeCnnModel);
}
