// The worker the package starts for each model (a Web Worker in browsers, a worker_threads
// Worker under Node): it hosts one family backend and answers {id, op, args} messages with
// {id, ok, value} or {id, ok: false, error}. Each message is its own task, so the worker's
// event loop turns between two chunks of work (V8 then tiers the kernels up).
import { openBackend, importBackendCode, transferablesOf } from './core/backends.js';
import { isNode } from './core/environment.js';
import { serializeError } from './core/errors.js';

const port = isNode ? (await import('node:worker_threads')).parentPort : globalThis;
let backend = null;

async function handle({ id, op, args }) {
  try {
    let value;
    if (op === 'importCode') {
      value = await importBackendCode(args);
    } else if (op === 'startModule') {
      ({ backend, started: value } = await openBackend(args));
    } else {
      if (!backend || typeof backend[op] !== 'function') throw new TypeError(`worker: unknown operation '${op}'`);
      value = await backend[op](args ?? {});
    }
    port.postMessage({ id, ok: true, value }, transferablesOf(value));
  } catch (e) {
    port.postMessage({ id, ok: false, error: serializeError(e) });
  }
}

// Messages are handled one after the other, in order (a load's chunks, then predictions).
let queue = Promise.resolve();
const enqueue = (data) => {
  queue = queue.then(() => handle(data));
};
if (isNode) port.on('message', enqueue);
else port.onmessage = (event) => enqueue(event.data);
