// How a model's client talks to its backend: through a worker the package starts (the
// default), or directly on this thread. Both answer call(op, args) with a promise.
import { openBackend, importBackendCode } from './backends.js';
import { isNode } from './environment.js';
import { deserializeError, serializeError, tesseraError } from './errors.js';

export class LocalChannel {
  async call(op, args) {
    try {
      if (op === 'importCode') return await importBackendCode(args);
      if (op === 'startModule') {
        const { backend, started } = await openBackend(args);
        this.backend = backend;
        return started;
      }
      return await this.backend[op](args ?? {});
    } catch (e) {
      // The same error objects a worker would hand back.
      throw deserializeError(serializeError(e));
    }
  }

  close() {
    this.backend?.dispose();
    this.backend = null;
  }

  get worker() { return false; }
}

// The worker starts at once; messages posted before its script has run wait for it, so a
// caller sends 'importCode' right away (see startBackend in loader.js).
export class WorkerChannel {
  static async open() {
    const url = new URL('../worker.js', import.meta.url);
    const ch = new WorkerChannel();
    if (isNode) {
      const { Worker } = await import('node:worker_threads');
      ch.w = new Worker(url);
      ch.w.on('message', (m) => ch.onMessage(m));
      ch.w.on('error', (e) => ch.fail(e));
      ch.w.on('exit', () => ch.fail(new Error('the worker exited')));
      ch.w.unref();  // an idle model does not keep Node alive; a call in flight does (ref())
    } else {
      ch.w = new Worker(url, { type: 'module' });
      ch.w.onmessage = (event) => ch.onMessage(event.data);
      ch.w.onerror = (event) => {
        event.preventDefault?.();
        ch.fail(new Error(event.message || 'the worker failed to start'));
      };
    }
    return ch;
  }

  constructor() {
    this.w = null;
    this.nextId = 1;
    this.pending = new Map();
    this.closed = false;
  }

  call(op, args, transfer = []) {
    if (this.closed) return Promise.reject(tesseraError('invalid_argument', 'the model was disposed'));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      if (isNode && this.pending.size === 1) this.w.ref();
      this.w.postMessage({ id, op, args }, transfer);
    });
  }

  onMessage({ id, ok, value, error }) {
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    if (isNode && this.pending.size === 0) this.w.unref();
    if (ok) p.resolve(value);
    else p.reject(deserializeError(error));
  }

  fail(e) {
    const error = e instanceof Error ? e : new Error(String(e));
    for (const p of this.pending.values()) p.reject(error);
    this.pending.clear();
    this.closed = true;
  }

  close() {
    if (!this.w) return;
    this.closed = true;
    for (const p of this.pending.values()) p.reject(tesseraError('cancelled', 'the model was disposed'));
    this.pending.clear();
    if (isNode) this.w.removeAllListeners('exit');
    this.w.terminate();
    this.w = null;
  }

  get worker() { return true; }
}
