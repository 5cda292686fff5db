// tessera-web/trees: gradient-boosted tree models (XGBoost JSON/UBJSON, LightGBM text, or a
// forest compiled into your own module) in WebAssembly SIMD128, in a worker by default.
//
//   import { loadTrees } from 'tessera-web/trees';
//   const model = await loadTrees('/models/churn.json', { onProgress: (p) => console.log(p) });
//   await model.predict({ tenure: 3, plan: 'basic' });     // {"0": 0.85, "1": 0.15}
//   await model.predict(new Float32Array(rows));           // Float64Array, rows x outputs
//   await model.dispose();
import { CallStats, loadModel, sendModelBytes } from './core/loader.js';
import { ModelHandle } from './core/model-handle.js';
import { now, yieldToEventLoop } from './core/environment.js';
import { tesseraError, throwIfAborted } from './core/errors.js';

export { TesseraError } from './core/errors.js';

// Work is cut into chunks of about this long, with the event loop turning in between.
const TARGET_CHUNK_MS = 8;
const FIRST_CHUNK_ROWS = 1024;
const MAX_CHUNK_ROWS = 1 << 16;
const RECORDS_PER_CHUNK = 2048;

function isRecord(x) {
  return x !== null && typeof x === 'object' && !Array.isArray(x) && !ArrayBuffer.isView(x);
}

export class TreeModel extends ModelHandle {
  /** @internal */
  constructor(channel, info, runtime, timings) {
    super(channel, runtime, timings);
    this.info = info;
    this.stats = new CallStats();
    this._chunkRows = FIRST_CHUNK_ROWS;
  }

  /**
   * Predicts rows or records.
   *  - Float32Array / Float64Array: rows back to back (numFeatures values each, NaN = missing)
   *    -> Float64Array of rows x (margin ? numOutputs : numTransformedOutputs), like the CLI's CSV.
   *  - an array of number arrays: the same, one array per row.
   *  - a record ({feature: number | string category | boolean | null}) -> one answer object
   *    keyed like the CLI's JSON ({"0": 0.15, "1": 0.85}); an array of records -> an array.
   */
  async predict(input, { margin = false, signal } = {}) {
    this._checkOpen();
    throwIfAborted(signal);
    const t0 = now();
    let result;
    let rows;
    if (isRecord(input)) {
      result = (await this._predictRecords([input], margin, signal))[0];
      rows = 1;
    } else if (Array.isArray(input) && (input.length === 0 || isRecord(input[0]))) {
      result = await this._predictRecords(input, margin, signal);
      rows = input.length;
    } else {
      const flat = this._rowsOf(input);
      result = await this._predictRows(flat, margin, signal);
      rows = this.info.numFeatures ? flat.length / this.info.numFeatures : 0;
    }
    this.stats.record({ rows, ms: now() - t0, computeMs: this._computeMs });
    return result;
  }

  _rowsOf(input) {
    if (input instanceof Float32Array || input instanceof Float64Array) return input;
    if (Array.isArray(input)) {
      const nf = this.info.numFeatures;
      const flat = new Float64Array(input.length * nf);
      input.forEach((row, r) => {
        if (!Array.isArray(row) && !ArrayBuffer.isView(row)) throw new TypeError(`predict: row ${r} is not an array`);
        if (row.length !== nf) {
          throw tesseraError('shape_mismatch', `predict: row ${r} has ${row.length} values, the model expects ${nf}`);
        }
        for (let i = 0; i < nf; ++i) flat[r * nf + i] = row[i] === null || row[i] === undefined ? NaN : Number(row[i]);
      });
      return flat;
    }
    throw new TypeError('predict takes a Float32Array, a Float64Array, an array of rows, a record or an array of records');
  }

  async _predictRows(rows, margin, signal) {
    const nf = this.info.numFeatures;
    const k = margin ? this.info.numOutputs : this.info.numTransformedOutputs;
    if (nf > 0 && rows.length % nf !== 0) {
      throw tesseraError('shape_mismatch', `predict: ${rows.length} values is not a whole number of rows of ${nf}`);
    }
    const nRows = nf > 0 ? rows.length / nf : 0;
    const out = new Float64Array(nRows * k);
    this._computeMs = 0;
    for (let r0 = 0; r0 < nRows;) {
      throwIfAborted(signal);
      const r1 = Math.min(nRows, r0 + this._chunkRows);
      // A copy of the chunk travels (transferred) to the worker: posting a view would clone
      // its whole buffer.
      const chunk = rows.slice(r0 * nf, r1 * nf);
      const { values, ms } = await this._channel.call('predictRows', { rows: chunk, margin },
        this.runtime.worker ? [chunk.buffer] : []);
      out.set(values, r0 * k);
      this._computeMs += ms;
      this._adaptChunk(r1 - r0, ms);
      r0 = r1;
      if (r0 < nRows) await yieldToEventLoop();
    }
    return out;
  }

  _adaptChunk(rows, ms) {
    if (rows < this._chunkRows) return;
    if (ms < TARGET_CHUNK_MS / 2) this._chunkRows = Math.min(MAX_CHUNK_ROWS, this._chunkRows * 2);
    else if (ms > TARGET_CHUNK_MS * 2) this._chunkRows = Math.max(64, this._chunkRows >> 1);
  }

  async _predictRecords(records, margin, signal) {
    const keys = margin ? this.info.marginKeys : this.info.outputKeys;
    const answers = new Array(records.length);
    this._computeMs = 0;
    for (let r0 = 0; r0 < records.length; r0 += RECORDS_PER_CHUNK) {
      throwIfAborted(signal);
      const part = records.slice(r0, r0 + RECORDS_PER_CHUNK);
      const { values, rows, ms } = await this._channel.call('predictRecords', { text: JSON.stringify(part), margin });
      if (rows !== part.length) throw tesseraError('parse_error', `predict: ${part.length} records gave ${rows} answers`);
      for (let r = 0; r < rows; ++r) {
        const answer = {};
        keys.forEach((key, c) => {
          answer[key] = values[r * keys.length + c];
        });
        answers[r0 + r] = answer;
      }
      this._computeMs += ms;
      if (r0 + RECORDS_PER_CHUNK < records.length) await yieldToEventLoop();
    }
    return answers;
  }

  /**
   * Category names for features split categorically, as the CLI's --categories:
   * {feature: ["cat_a", "cat_b"]} (codes 0, 1, ...) or {feature: {cat_a: 0}}.
   */
  async setCategories(map) {
    this._checkOpen();
    this.info = await this._channel.call('setCategories', { text: JSON.stringify(map) });
  }
}

const makeTreeModel = (channel, { info }, runtime, timings) => new TreeModel(channel, info, runtime, timings);

/**
 * Loads an XGBoost JSON/UBJSON or LightGBM text model.
 * @param source  ArrayBuffer, typed array, Blob/File, Response, URL or string (a URL; under
 *                Node also a file path)
 * @param options see trees.d.ts (LoadOptions)
 */
export async function loadTrees(source, options = {}) {
  return loadModel('trees', source, options, async (channel, runtime, opened) => {
    const { fromCache, bytes } = await sendModelBytes(channel, opened, runtime.worker);
    const info = await channel.call('loadEnd', {});
    return { info, fromCache, bytes };
  }, makeTreeModel);
}

/**
 * Opens the forest compiled into a module of your own (cmake: tessera_add_wasm_module(...
 * FOREST_HEADER ...)): options.module = {st: '/path/my_model.mjs', mt?: '/path/my_model-mt.mjs'}.
 */
export async function loadCompiledTrees(options = {}) {
  if (!options.module) throw new TypeError('loadCompiledTrees needs options.module = {st: <url of the .mjs>}');
  return loadModel('trees', null, options, async (channel) => ({ info: await channel.call('loadEmbedded', {}), fromCache: false, bytes: 0 }),
    makeTreeModel);
}
