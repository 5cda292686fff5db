// What every loaded model of the package shares: the channel to its WebAssembly module (in a
// worker, or on this thread), the runtime the loader chose, the load timings, and dispose().
import { tesseraError } from './errors.js';

export class ModelHandle {
  /** @internal */
  constructor(channel, runtime, timings) {
    this._channel = channel;
    this.runtime = runtime;
    this.timings = timings;
    this._disposed = false;
  }

  /** Frees the model, its module instance and its worker. */
  async dispose() {
    if (this._disposed) return;
    this._disposed = true;
    try {
      if (!this.runtime.worker) await this._channel.call('dispose', {});
    } finally {
      this._channel.close();
    }
  }

  _checkOpen() {
    if (this._disposed) throw tesseraError('invalid_argument', 'the model was disposed');
  }
}
