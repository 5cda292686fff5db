// The CNN family's side of the worker (or of the page, in main-thread mode): one module
// instance, one ONNX model and its session, called through the CNN C ABI
// (include/tessera/wasm/cnn_abi.hpp). Every operation is one synchronous call of the module.
import { ModelBackend } from '../core/backend.js';
import { now } from '../core/environment.js';
import { tesseraError } from '../core/errors.js';
import { TYPES, arrayClassOf } from './tensor-types.js';

// tessera_cnn_tensor: {name, name_bytes, data, dims, rank, type}, 24 bytes, little-endian.
const TENSOR_BYTES = 24;
// tessera_cnn_detect_params, 40 bytes, and the values it carries.
const DETECT_PARAMS_BYTES = 40;
const FORMATS = { yolov8: 0, yolov5: 1, 'boxes-scores': 2 };
const NORMALIZE_UNIT = 0;
const NORMALIZE_IMAGENET = 1;
const NORMALIZE_UNIFORM = 2;
const FLAG_STRETCH = 1;
const FLAG_BGR = 2;
const FLAG_AGNOSTIC = 4;
const FLAG_MULTI_LABEL = 8;
const FLAG_BOX_PIXELS = 16;
const FLAG_BACKGROUND = 32;

const align = (n, to) => Math.ceil(n / to) * to;
const numelOf = (dims) => dims.reduce((a, b) => a * b, 1);

export class CnnBackend extends ModelBackend {
  constructor() {
    super();
    this.model = 0;
    this.info = null;
  }

  loadEnd() {
    this.model = this.rt.callPointer('tessera_cnn_load', this.takeBytes());  // consumes the bytes
    return this.readInfo();
  }

  // The model compiled into the module (tessera_add_wasm_module(... ONNX_HEADER ...)).
  loadEmbedded() {
    this.model = this.embeddedModel('tessera_cnn_embedded', 'ONNX_HEADER');
    return this.readInfo();
  }

  readInfo() {
    this.info = JSON.parse(this.rt.string(this.rt.call('tessera_cnn_info', this.model)));
    return this.info;
  }

  /**
   * feeds: [{name, data: a typed array of `type`'s class, dims: number[], type}] ->
   * {outputs: [{name, data, dims, type}], ms}.
   */
  run({ feeds }) {
    const t0 = now();
    const encoder = new TextEncoder();
    const names = feeds.map((f) => encoder.encode(f.name));
    // The tensor structs, then each feed's name, dims and values (8-byte aligned: int64, float64).
    let bytes = feeds.length * TENSOR_BYTES;
    const at = feeds.map((f, i) => {
      const name = bytes;
      const dims = align(name + names[i].byteLength, 4);
      const data = align(dims + f.dims.length * 4, 8);
      bytes = data + f.data.byteLength;
      return { name, dims, data };
    });
    const base = this.scratchFor(bytes || 4);
    const heap = this.rt.u8();
    const view = new DataView(heap.buffer);
    feeds.forEach((f, i) => {
      const { name, dims, data } = at[i];
      const type = TYPES.indexOf(f.type);
      if (type < 0) throw new TypeError(`run: input '${f.name}' has an unknown type '${f.type}'`);
      heap.set(names[i], base + name);
      f.dims.forEach((d, k) => view.setUint32(base + dims + k * 4, d, true));
      heap.set(new Uint8Array(f.data.buffer, f.data.byteOffset, f.data.byteLength), base + data);
      const t = base + i * TENSOR_BYTES;
      view.setUint32(t, base + name, true);
      view.setUint32(t + 4, names[i].byteLength, true);
      view.setUint32(t + 8, base + data, true);
      view.setUint32(t + 12, base + dims, true);
      view.setUint32(t + 16, f.dims.length, true);
      view.setUint32(t + 20, type, true);
    });
    this.rt.check(this.rt.call('tessera_cnn_run', this.model, base, feeds.length));
    return { outputs: this.readOutputs(), ms: now() - t0 };
  }

  // The last run's outputs, copied out of the module's workspace.
  readOutputs() {
    const n = this.rt.call('tessera_cnn_output_count', this.model) >>> 0;
    const list = this.rt.call('tessera_cnn_outputs', this.model) >>> 0;
    const buffer = this.rt.u8().buffer;
    const view = new DataView(buffer);
    const outputs = [];
    for (let i = 0; i < n; ++i) {
      const t = list + i * TENSOR_BYTES;
      const data = view.getUint32(t + 8, true);
      const dimsAt = view.getUint32(t + 12, true);
      const dims = Array.from({ length: view.getUint32(t + 16, true) }, (_, k) => view.getUint32(dimsAt + k * 4, true));
      const type = TYPES[view.getUint32(t + 20, true)];
      const ArrayClass = arrayClassOf(type);
      outputs.push({ name: this.rt.string(view.getUint32(t, true)), data: new ArrayClass(buffer, data, numelOf(dims)).slice(), dims, type });
    }
    return outputs;
  }

  /** pixels: RGBA bytes of width x height; options: see detect() in ../cnn.d.ts. -> {json, ms}. */
  detect({ pixels, width, height, options = {} }) {
    const t0 = now();
    if (pixels.byteLength !== width * height * 4) {
      throw tesseraError('shape_mismatch', `detect: ${pixels.byteLength} bytes of pixels for a ${width}x${height} RGBA image`);
    }
    const encoder = new TextEncoder();
    const name = encoder.encode(options.name ?? '');
    const classNames = options.classNames ?? [];
    if (!Array.isArray(classNames) || classNames.some((c) => typeof c !== 'string' || /[\r\n]/.test(c))) {
      throw new TypeError('detect: classNames must be an array of strings without line breaks');
    }
    const names = encoder.encode(classNames.length ? `${classNames.join('\n')}\n` : '');
    const nameAt = DETECT_PARAMS_BYTES;
    const namesAt = nameAt + name.byteLength;
    const pixelsAt = align(namesAt + names.byteLength, 4);
    const base = this.scratchFor(pixelsAt + pixels.byteLength);
    const heap = this.rt.u8();
    writeDetectParams(new DataView(heap.buffer, base, DETECT_PARAMS_BYTES), options);
    heap.set(name, base + nameAt);
    heap.set(names, base + namesAt);
    heap.set(new Uint8Array(pixels.buffer, pixels.byteOffset, pixels.byteLength), base + pixelsAt);
    this.rt.check(this.rt.call('tessera_cnn_detect', this.model, base + pixelsAt, width, height, base,
      base + nameAt, name.byteLength, base + namesAt, names.byteLength));
    return { json: this.rt.string(this.rt.call('tessera_cnn_result', this.model)), ms: now() - t0 };
  }

  // One run on zeros of the given shapes ({inputName: dims}, see warmupShapesOf in ../cnn.js).
  // When the shapes were guessed (symbolic dims set to 1) and the graph refuses them, the
  // warm-up is skipped: {skipped: why}.
  warmup({ shapes, guessed = false }) {
    const typeOf = (name) => this.info.inputs.find((i) => i.name === name)?.type ?? 'float32';
    const feeds = Object.entries(shapes).map(([name, dims]) => {
      const type = typeOf(name);
      return { name, data: new (arrayClassOf(type))(numelOf(dims)), dims, type };
    });
    const t0 = now();
    try {
      this.run({ feeds });
    } catch (e) {
      if (!guessed) throw e;
      return { ms: now() - t0, rows: 0, skipped: `the inputs' symbolic dims set to 1 do not suit the graph (${e.message}): pass warmupShapes` };
    }
    return { ms: now() - t0, rows: 1 };
  }

  releaseModel() {
    if (this.model) this.rt.call('tessera_cnn_free', this.model);
    this.model = 0;
    this.info = null;
  }
}

// detect()'s options into tessera_cnn_detect_params (offsets as in cnn_abi.hpp).
function writeDetectParams(view, o) {
  const format = FORMATS[o.format ?? 'yolov8'];
  if (format === undefined) throw new TypeError(`detect: format must be yolov8, yolov5 or boxes-scores, not '${o.format}'`);
  let normalize = NORMALIZE_UNIT;
  let mean = 0;
  let std = 1;
  if (o.normalize === 'imagenet') normalize = NORMALIZE_IMAGENET;
  else if (typeof o.normalize === 'object' && o.normalize !== null) [normalize, mean, std] = [NORMALIZE_UNIFORM, o.normalize.mean, o.normalize.std];
  else if (o.normalize !== undefined && o.normalize !== 'unit') {
    throw new TypeError("detect: normalize must be 'unit', 'imagenet' or {mean, std}");
  }
  if (o.fit !== undefined && o.fit !== 'letterbox' && o.fit !== 'stretch') throw new TypeError("detect: fit must be 'letterbox' or 'stretch'");
  if (o.boxes !== undefined && o.boxes !== 'fractions' && o.boxes !== 'pixels') throw new TypeError("detect: boxes must be 'fractions' or 'pixels'");
  const [width, height] = o.size ?? [0, 0];
  const flags = (o.fit === 'stretch' ? FLAG_STRETCH : 0) | (o.bgr ? FLAG_BGR : 0) | (o.agnostic ? FLAG_AGNOSTIC : 0) |
    (o.multiLabel ? FLAG_MULTI_LABEL : 0) | (o.boxes === 'pixels' ? FLAG_BOX_PIXELS : 0) | (o.background ? FLAG_BACKGROUND : 0);
  view.setInt32(0, format, true);
  view.setInt32(4, normalize, true);
  view.setFloat32(8, mean, true);
  view.setFloat32(12, std, true);
  view.setInt32(16, width, true);
  view.setInt32(20, height, true);
  view.setFloat32(24, o.confidence ?? 0.25, true);
  view.setFloat32(28, o.iou ?? 0.45, true);
  view.setInt32(32, o.maxDetections ?? 300, true);
  view.setUint32(36, flags, true);
}

export function createBackend() {
  return new CnnBackend();
}
