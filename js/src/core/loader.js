// What every family's load goes through: pick the flavour, start the worker (or not), compile
// and instantiate the module while the model downloads, warm its kernels up. A family passes
// its name and module URLs.
import { LocalChannel, WorkerChannel } from './channel.js';
import { chooseFlavour, hasSimd128, isNode, now, yieldToEventLoop } from './environment.js';
import { tesseraError, throwIfAborted } from './errors.js';
import { openSource } from './source.js';
import { compileWasm, wasmUrlOf } from './wasm-runtime.js';

const DIST = new URL('../../dist/', import.meta.url);

/** The .mjs of a family's flavour in this package's dist/ (or under options.distUrl). */
export function packagedModuleUrl(family, flavour, distUrl) {
  const base = distUrl ? new URL(distUrl, globalThis.location?.href) : DIST;
  const href = base.href.endsWith('/') ? base.href : `${base.href}/`;
  return new URL(`${family}-simd${flavour === 'mt' ? '-mt' : ''}.mjs`, href);
}

// Compiled modules by .wasm URL: every later model of the family sends the same compiled
// module to its worker (a cheap handle within the page's agent cluster).
const compiledModules = new Map();  // .wasm URL -> Promise<{module, bytes}>

function compileOnce(wasmUrl) {
  if (!compiledModules.has(wasmUrl)) {
    const compiling = compileWasm(wasmUrl);
    compiledModules.set(wasmUrl, compiling);
    compiling.catch(() => compiledModules.delete(wasmUrl));
  }
  return compiledModules.get(wasmUrl);
}

/**
 * Starts a family's backend: returns {channel, runtime, startMs, moduleTimings}.
 * options: worker (default true), threads ('auto' | n), flavour ('auto' | 'st' | 'mt'),
 *          module ({st, mt}: .mjs URLs of your own modules), distUrl, wasm (a compiled
 *          WebAssembly.Module or the .wasm bytes of the chosen flavour), onProgress, signal.
 * Three things start at once: the worker (its script and imports), the family's code and the
 * module's glue imported in it ('importCode'), and the .wasm compiled on this side while it
 * downloads (compileStreaming: off the page's thread, and no copy of the bytes kept). The
 * compiled module then goes to the worker, which only instantiates it ('startModule').
 */
export async function startBackend(family, options = {}) {
  const t0 = now();
  const { signal, onProgress } = options;
  const worker = options.worker !== false && (isNode || typeof Worker === 'function');
  if (!hasSimd128()) {
    throw tesseraError('unsupported', 'this JavaScript engine has no WebAssembly SIMD128 (Chrome 91+, Firefox 89+, ' +
      'Safari 16.4+, Node 16.4+)');
  }
  const custom = options.module;
  const opening = worker ? WorkerChannel.open() : Promise.resolve(new LocalChannel());
  opening.catch(() => {});  // a flavour error below is the one to report
  let channel = null;
  try {
    let choice = await chooseFlavour({ flavour: options.flavour, threads: options.threads, worker });
    if (custom && choice.flavour === 'mt' && !custom.mt) {
      choice = { flavour: 'st', threads: 1, fallbackReason: 'options.module names no pthreads (mt) build' };
    }
    if (choice.fallbackReason && options.threads !== 1) {
      console.warn(`tessera: ${family} runs single-threaded: ${choice.fallbackReason}`);
    }
    const glueUrl = custom
      ? new URL(custom[choice.flavour] ?? custom.st, globalThis.location?.href)
      : packagedModuleUrl(family, choice.flavour, options.distUrl);
    if (!glueUrl || (custom && !custom.st && choice.flavour === 'st')) {
      throw new TypeError('options.module needs an st (single-threaded) .mjs URL');
    }
    const given = options.wasm;
    const compiledBefore = given instanceof WebAssembly.Module || compiledModules.has(wasmUrlOf(glueUrl).href);
    onProgress?.({ phase: 'wasm', loaded: 0, total: undefined });
    const compiling = given === undefined ? compileOnce(wasmUrlOf(glueUrl).href)
      : compileWasm(typeof given === 'string' || given instanceof URL ? new URL(given, globalThis.location?.href).href : given);
    compiling.catch(() => {});  // reported where it is awaited
    channel = await opening;
    const preparing = channel.call('importCode', { family, glueUrl: glueUrl.href });
    preparing.catch(() => {});  // 'startModule' fails too, after it
    const { module, bytes } = await compiling;
    const compileMs = now() - t0;
    onProgress?.({ phase: 'wasm', loaded: bytes ?? 0, total: bytes ?? 0 });
    throwIfAborted(signal);
    const started = await channel.call('startModule', { family, glueUrl: glueUrl.href, wasm: module, threads: choice.threads });
    throwIfAborted(signal);
    return {
      channel,
      runtime: {
        flavour: choice.flavour,
        threads: started.threads,
        worker: channel.worker,
        crossOriginIsolated: globalThis.crossOriginIsolated === true,
        fallbackReason: choice.fallbackReason,
        moduleUrl: glueUrl.href,
        build: started.build,
      },
      startMs: now() - t0,
      moduleTimings: { compileMs, instantiateMs: started.timings.instantiateMs, compiledBefore },
    };
  } catch (e) {
    (channel ?? (await opening.catch(() => null)))?.close();
    throw e;
  }
}

// How far a model's download may run ahead of the module's start (the bytes wait in memory
// until the heap takes them): a small model arrives while the module compiles; a large one
// waits, so the page never holds a large model twice.
export const READ_AHEAD_BYTES = 16 << 20;

/**
 * Reads an opened source's chunks (see openSource) ahead of their consumer, up to `limit`
 * bytes. Returns the source with chunks from that queue, and cancel() to stop reading.
 */
export function readAhead(opened, limit = READ_AHEAD_BYTES) {
  const queue = [];
  let queuedBytes = 0;
  let finished = false;
  let failure = null;
  let cancelled = false;
  let wakeConsumer = null;
  let wakeReader = null;
  const iterator = opened.chunks[Symbol.asyncIterator]();
  (async () => {
    try {
      for (;;) {
        while (queuedBytes >= limit && !cancelled) await new Promise((resolve) => { wakeReader = resolve; });
        if (cancelled) {
          await iterator.return?.();
          return;
        }
        const { done, value } = await iterator.next();
        if (done) return;
        queue.push(value);
        queuedBytes += value.byteLength;
        wakeConsumer?.();
      }
    } catch (e) {
      failure = e;
    } finally {
      finished = true;
      wakeConsumer?.();
    }
  })();
  async function* chunks() {
    for (;;) {
      if (queue.length) {
        const chunk = queue.shift();
        queuedBytes -= chunk.byteLength;
        wakeReader?.();
        wakeReader = null;
        yield chunk;
      } else if (failure) {
        throw failure;
      } else if (finished) {
        return;
      } else {
        await new Promise((resolve) => { wakeConsumer = resolve; });
        wakeConsumer = null;
      }
    }
  }
  return {
    ...opened,
    chunks: chunks(),
    cancel() {
      cancelled = true;
      wakeReader?.();
    },
  };
}

// Chunks posted to the worker before the first of them is acknowledged: the worker copies each
// into the heap in order; a few in flight keep the round trips out of the load's time.
const CHUNKS_IN_FLIGHT = 4;

/**
 * Streams a model's bytes from an opened source (see openSource, readAhead) into the backend's
 * heap (loadBegin, loadChunk..., loadAbort on failure); the family's loadEnd call turns them
 * into a model. Returns {fromCache, bytes}.
 */
export async function sendModelBytes(channel, opened, worker) {
  let bytes = 0;
  const inFlight = [];
  try {
    await channel.call('loadBegin', { total: opened.total });
    // A chunk travels by transfer when it is ours alone (a stream's), else as a copy.
    for await (const chunk of opened.chunks) {
      const whole = opened.owned && chunk.byteOffset === 0 && chunk.byteLength === chunk.buffer.byteLength &&
        chunk.buffer instanceof ArrayBuffer;
      const sent = worker && !whole ? chunk.slice() : chunk;
      bytes += sent.byteLength;
      inFlight.push(channel.call('loadChunk', { chunk: sent }, worker ? [sent.buffer] : []));
      if (inFlight.length >= CHUNKS_IN_FLIGHT) await inFlight.shift();
    }
    await Promise.all(inFlight);
  } catch (e) {
    inFlight.forEach((p) => p.catch(() => {}));
    await channel.call('loadAbort', {}).catch(() => {});
    throw e;
  }
  return { fromCache: opened.fromCache, bytes };
}

/**
 * A family's whole load: opens the model's source (null for none) and starts its backend at
 * once, the download reading ahead while the module compiles; then lets
 * `open(channel, runtime, opened)` make the model (sendModelBytes, loadEnd...), warms it up
 * (unless options.warmup is false or `open` returned warmupRounds: 0; `open` may return
 * warmupArgs for the family's warmup call), and hands everything to
 * `make(channel, opened, runtime, timings)` for the family's handle. The backend is closed
 * and the download stopped if anything fails.
 * `open` returns {fromCache, bytes, warmupRounds?, warmupArgs?, ...what the family's handle needs}.
 */
export async function loadModel(family, source, options, open, make) {
  const t0 = now();
  const sourceOpening = source === null ? Promise.resolve(null)
    : openSource(source, options).then((opened) => readAhead(opened));
  sourceOpening.catch(() => {});  // reported where it is awaited
  let backend;
  try {
    backend = await startBackend(family, options);
  } catch (e) {
    sourceOpening.then((s) => s?.cancel(), () => {});
    throw e;
  }
  const { channel, runtime, startMs, moduleTimings } = backend;
  try {
    const t1 = now();
    const opened = await open(channel, runtime, await sourceOpening);
    const loadMs = now() - t0;
    const rounds = opened.warmupRounds ?? 3;
    const warmup = options.warmup === false || rounds === 0 ? null : await warmUp(channel, 'warmup', rounds, opened.warmupArgs);
    const timings = { startMs, ...moduleTimings, modelMs: loadMs - (t1 - t0), loadMs, warmup, readyMs: now() - t0,
      fromCache: opened.fromCache, bytes: opened.bytes };
    return make(channel, opened, runtime, timings);
  } catch (e) {
    sourceOpening.then((s) => s?.cancel(), () => {});
    channel.close();
    throw e;
  }
}

/**
 * Runs `op` a few times with the event loop turning in between, so the first call a user makes
 * already meets optimized kernels. Returns the first and the last call's time (in the module).
 */
export async function warmUp(channel, op = 'warmup', rounds = 3, args = {}) {
  let first = null;
  let last = null;
  let rows;
  for (let i = 0; i < rounds; ++i) {
    const result = await channel.call(op, args);
    if (result.skipped) return { firstCallMs: null, steadyCallMs: null, rounds: i, skipped: result.skipped };
    if (first === null) first = result.ms;
    last = result.ms;
    rows = result.rows;
    if (i + 1 < rounds) await yieldToEventLoop();  // none after the last: the model is ready
  }
  return { firstCallMs: first, steadyCallMs: last, rounds, rows };
}

// Timings of a model's calls: the first call apart from the steady state (the median of the
// later ones), since the first may still run in V8's baseline tier.
export class CallStats {
  constructor() {
    this.calls = 0;
    this.firstCallMs = null;
    this.recent = [];
    this.last = null;
  }

  record(entry) {
    this.calls += 1;
    this.last = entry;
    if (this.firstCallMs === null) {
      this.firstCallMs = entry.ms;
      return;
    }
    this.recent.push(entry.ms);
    if (this.recent.length > 64) this.recent.shift();
  }

  get steadyCallMs() {
    if (this.recent.length === 0) return null;
    const s = [...this.recent].sort((a, b) => a - b);
    return s[Math.floor(s.length / 2)];
  }

  toJSON() {
    return { calls: this.calls, firstCallMs: this.firstCallMs, steadyCallMs: this.steadyCallMs, last: this.last };
  }
}
