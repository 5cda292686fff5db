// What every family's load goes through: pick the flavour, start the worker (or not), compile
// and instantiate the module, warm its kernels up. A family passes its name and module URLs.
import { LocalChannel, WorkerChannel } from './channel.js';
import { chooseFlavour, hasSimd128, isNode, now, yieldToEventLoop } from './environment.js';
import { tesseraError, throwIfAborted } from './errors.js';
import { openSource, readUrlBytes } from './source.js';
import { compileModule } from './wasm-runtime.js';

const DIST = new URL('../../dist/', import.meta.url);

/** The .mjs of a family's flavour in this package's dist/ (or under options.distUrl). */
export function packagedModuleUrl(family, flavour, distUrl) {
  const base = distUrl ? new URL(distUrl, globalThis.location?.href) : DIST;
  const href = base.href.endsWith('/') ? base.href : `${base.href}/`;
  return new URL(`${family}-simd${flavour === 'mt' ? '-mt' : ''}.mjs`, href);
}

/**
 * Starts a family's backend: returns {channel, runtime, timings}.
 * options: worker (default true), threads ('auto' | n), flavour ('auto' | 'st' | 'mt'),
 *          module ({st, mt}: .mjs URLs of your own modules), distUrl, wasm (a compiled
 *          WebAssembly.Module or the .wasm bytes of the chosen flavour), onProgress, signal.
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
  throwIfAborted(signal);
  const wasmModule = await compileModule(glueUrl, { source: options.wasm, readBytes: readUrlBytes, onProgress, signal });
  throwIfAborted(signal);
  const channel = worker ? await WorkerChannel.open(family) : await LocalChannel.open(family);
  try {
    const started = await channel.call('init', { glueUrl: glueUrl.href, wasmModule, threads: choice.threads });
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
    };
  } catch (e) {
    channel.close();
    throw e;
  }
}

/**
 * Streams a model's bytes from `source` into the backend's heap (loadBegin, loadChunk...,
 * loadAbort on failure); the family's loadEnd call turns them into a model.
 * Returns {fromCache, bytes}.
 */
export async function sendModelBytes(channel, source, options, worker) {
  const opened = await openSource(source, options);
  await channel.call('loadBegin', { total: opened.total });
  let bytes = 0;
  try {
    // One chunk in flight at a time: the worker copies it into the heap before the next is
    // read. A chunk travels by transfer when it is ours alone (a stream's), else as a copy.
    for await (const chunk of opened.chunks) {
      const whole = opened.owned && chunk.byteOffset === 0 && chunk.byteLength === chunk.buffer.byteLength &&
        chunk.buffer instanceof ArrayBuffer;
      const sent = worker && !whole ? chunk.slice() : chunk;
      bytes += sent.byteLength;
      await channel.call('loadChunk', { chunk: sent }, worker ? [sent.buffer] : []);
    }
  } catch (e) {
    await channel.call('loadAbort', {}).catch(() => {});
    throw e;
  }
  return { fromCache: opened.fromCache, bytes };
}

/**
 * A family's whole load: starts its backend, lets `open(channel, runtime)` make the model
 * (stream its bytes, loadEnd...), warms it up (unless options.warmup is false or `open`
 * returned warmupRounds: 0), and hands everything to `make(channel, opened, runtime, timings)`
 * for the family's handle. The backend is closed if anything fails.
 * `open` returns {fromCache, bytes, warmupRounds?, ...what the family's handle needs}.
 */
export async function loadModel(family, options, open, make) {
  const t0 = now();
  const { channel, runtime, startMs } = await startBackend(family, options);
  try {
    const opened = await open(channel, runtime);
    const loadMs = now() - t0;
    const rounds = opened.warmupRounds ?? 3;
    const warmup = options.warmup === false || rounds === 0 ? null : await warmUp(channel, 'warmup', rounds);
    const timings = { startMs, loadMs, warmup, readyMs: now() - t0, fromCache: opened.fromCache, bytes: opened.bytes };
    return make(channel, opened, runtime, timings);
  } catch (e) {
    channel.close();
    throw e;
  }
}

/**
 * Runs `op` a few times with the event loop turning in between, so the first call a user makes
 * already meets optimized kernels. Returns the first and the last call's time (in the module).
 */
export async function warmUp(channel, op = 'warmup', rounds = 3) {
  let first = null;
  let last = null;
  let rows;
  for (let i = 0; i < rounds; ++i) {
    const result = await channel.call(op, {});
    if (first === null) first = result.ms;
    last = result.ms;
    rows = result.rows;
    await yieldToEventLoop();
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
