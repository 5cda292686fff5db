// What every family's backend (the worker side, or the page in main-thread mode) shares: one
// module instance, the model's bytes streamed into its heap chunk by chunk (tessera_bytes_*),
// and a heap scratch buffer reused by calls. A family subclasses it and adds its operations.
import { tesseraError } from './errors.js';

export class ModelBackend {
  constructor() {
    this.rt = null;
    this.bytes = 0;         // the byte buffer of a load in progress
    this.scratch = 0;       // heap buffer reused by calls
    this.scratchBytes = 0;
  }

  /** Takes the module instance this backend calls (see openBackend in backends.js). */
  attach(rt) {
    this.rt = rt;
  }

  loadBegin({ total }) {
    this.releaseModel();
    this.loadAbort();
    this.bytes = this.rt.createBytes(total);
  }

  loadChunk({ chunk }) {
    this.rt.appendBytes(this.bytes, chunk);
  }

  loadAbort() {
    if (this.bytes) this.rt.freeBytes(this.bytes);
    this.bytes = 0;
  }

  /** The streamed bytes' handle, for the family's load call (which consumes it). */
  takeBytes() {
    const bytes = this.bytes;
    this.bytes = 0;
    return bytes;
  }

  /** A heap buffer of at least `bytes` bytes, valid until the next call. */
  scratchFor(bytes) {
    if (bytes > this.scratchBytes) {
      this.rt.free(this.scratch);
      this.scratch = 0;
      this.scratchBytes = 0;
      this.scratch = this.rt.malloc(bytes);
      this.scratchBytes = bytes;
    }
    return this.scratch;
  }

  /** UTF-8 text copied into the scratch buffer: {ptr, bytes}. */
  textIntoHeap(text, extraBytes = 0) {
    const utf8 = new TextEncoder().encode(text);
    const ptr = this.scratchFor(utf8.byteLength + extraBytes || 1);
    this.rt.u8().set(utf8, ptr);
    return { ptr, bytes: utf8.byteLength };
  }

  /**
   * The model compiled into the module (tessera_add_wasm_module(... <option> ...)): its handle
   * from the family's `exportName` (tessera_<family>_embedded), the previous model released.
   * The family keeps the handle in this.model and reads its info. `what` names it in the error.
   */
  embeddedModel(exportName, option, what = 'model') {
    this.releaseModel();
    if (!this.rt.has(exportName)) {
      throw tesseraError('unsupported', `this module embeds no ${what} (build it with tessera_add_wasm_module(... ${option} ...))`);
    }
    return this.rt.callPointer(exportName);
  }

  releaseModel() {}

  dispose() {
    if (!this.rt) return;
    this.loadAbort();
    this.releaseModel();
    this.rt.free(this.scratch);
    this.scratch = 0;
    this.scratchBytes = 0;
  }
}
