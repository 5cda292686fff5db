// The trees family's side of the worker (or of the page, in main-thread mode): one module
// instance, one model, called through the trees C ABI (include/tessera/wasm/trees_abi.hpp).
// Every operation is synchronous once the module is up; the client (../trees.js) cuts long
// work into chunks and returns to the event loop between them.
import { ModelBackend } from '../core/backend.js';
import { now } from '../core/environment.js';
import { tesseraError } from '../core/errors.js';

const WARMUP_ROWS = 256;

export class TreesBackend extends ModelBackend {
  constructor() {
    super();
    this.model = 0;
    this.info = null;
  }

  loadEnd() {
    this.model = this.rt.callPointer('tessera_trees_load', this.takeBytes());  // consumes the bytes
    return this.readInfo();
  }

  loadEmbedded() {
    this.model = this.embeddedModel('tessera_trees_embedded', 'FOREST_HEADER', 'forest');
    return this.readInfo();
  }

  readInfo() {
    this.info = JSON.parse(this.rt.string(this.rt.call('tessera_trees_info', this.model)));
    return this.info;
  }

  /** rows: Float32Array or Float64Array of nRows x numFeatures. */
  predictRows({ rows, margin = false }) {
    const t0 = now();
    const nf = this.info.numFeatures;
    const k = margin ? this.info.numOutputs : this.info.numTransformedOutputs;
    const nRows = nf === 0 ? 0 : rows.length / nf;
    if (!Number.isInteger(nRows)) {
      throw tesseraError('shape_mismatch', `predict: ${rows.length} values is not a whole number of rows of ${nf}`);
    }
    const f64 = rows instanceof Float64Array;
    const inBytes = rows.byteLength;
    const outOffset = (inBytes + 7) & ~7;
    const base = this.scratchFor(outOffset + nRows * k * 8 || 8);
    this.rt.u8().set(new Uint8Array(rows.buffer, rows.byteOffset, rows.byteLength), base);
    const outPtr = base + outOffset;
    this.rt.check(this.rt.call('tessera_trees_predict', this.model, base, nRows, nf, f64 ? 1 : 0, outPtr, nRows * k,
      margin ? 1 : 0));
    const values = this.rt.f64().slice(outPtr / 8, outPtr / 8 + nRows * k);
    return { values, ms: now() - t0 };
  }

  /** text: JSON records (an array of objects); the answer is rows x keys. */
  predictRecords({ text, margin = false }) {
    const t0 = now();
    const { ptr, bytes } = this.textIntoHeap(text);
    this.rt.check(this.rt.call('tessera_trees_predict_records', this.model, ptr, bytes, margin ? 1 : 0));
    const rows = this.rt.call('tessera_trees_result_rows', this.model) >>> 0;
    const width = (margin ? this.info.marginKeys : this.info.outputKeys).length;
    const at = this.rt.call('tessera_trees_result', this.model) >>> 0;
    const values = rows === 0 ? new Float64Array(0) : this.rt.f64().slice(at / 8, at / 8 + rows * width);
    return { values, rows, ms: now() - t0 };
  }

  setCategories({ text }) {
    const { ptr, bytes } = this.textIntoHeap(text);
    this.rt.check(this.rt.call('tessera_trees_set_categories', this.model, ptr, bytes));
    return this.readInfo();
  }

  // One pass over every path a prediction takes (rows of zeros and of missing values, a
  // record), timed inside the module.
  warmup() {
    const nf = this.info.numFeatures;
    const rows = new Float32Array(WARMUP_ROWS * nf);
    for (let r = 1; r < WARMUP_ROWS; r += 2) rows.fill(NaN, r * nf, (r + 1) * nf);
    const t0 = now();
    this.predictRows({ rows });
    this.predictRecords({ text: '[{}]' });
    return { ms: now() - t0, rows: WARMUP_ROWS };
  }

  releaseModel() {
    if (this.model) this.rt.call('tessera_trees_free', this.model);
    this.model = 0;
    this.info = null;
  }
}

export function createBackend() {
  return new TreesBackend();
}
