// Where the package runs, and which build of a module it can use there.

export const isNode = typeof process === 'object' && typeof process.versions === 'object' &&
  typeof process.versions.node === 'string';

// WebAssembly SIMD128: both flavours need it (a module with one v128 instruction validates).
const SIMD_PROBE = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 10, 1, 8, 0,
  65, 0, 253, 15, 253, 98, 11]);
export function hasSimd128() {
  try {
    return typeof WebAssembly === 'object' && WebAssembly.validate(SIMD_PROBE);
  } catch {
    return false;
  }
}

export async function hardwareThreads() {
  if (typeof navigator === 'object' && navigator.hardwareConcurrency > 0) return navigator.hardwareConcurrency;
  if (isNode) {
    const os = await import('node:os');
    return os.availableParallelism ? os.availableParallelism() : os.cpus().length;
  }
  return 1;
}

// Why the pthreads flavour cannot run here, or null when it can.
export function threadsUnavailableReason({ worker }) {
  if (typeof SharedArrayBuffer !== 'function') {
    return isNode ? 'SharedArrayBuffer is unavailable in this Node.js'
      : 'SharedArrayBuffer is unavailable: the page is not cross-origin isolated (serve it with ' +
        'Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp)';
  }
  if (!isNode && globalThis.crossOriginIsolated !== true) {
    return 'the page is not cross-origin isolated (serve it with Cross-Origin-Opener-Policy: same-origin and ' +
      'Cross-Origin-Embedder-Policy: require-corp)';
  }
  if (!worker) return 'main-thread mode runs the single-threaded build (pthreads would block the page\'s thread)';
  return null;
}

/**
 * Picks the flavour: 'mt' (pthreads + SIMD128) when more than one thread is wanted and the
 * environment allows it, else 'st' (SIMD128). A fallback from what was asked is explained.
 * @returns {Promise<{flavour: 'st'|'mt', threads: number, fallbackReason: string|null}>}
 */
export async function chooseFlavour({ flavour = 'auto', threads = 'auto', worker = true }) {
  if (!['auto', 'st', 'mt'].includes(flavour)) throw new TypeError(`flavour must be 'auto', 'st' or 'mt', not '${flavour}'`);
  let wanted = threads;
  if (wanted === 'auto') wanted = flavour === 'st' ? 1 : Math.min(4, await hardwareThreads());
  if (!Number.isInteger(wanted) || wanted < 1) throw new TypeError(`threads must be 'auto' or an integer >= 1, not ${threads}`);
  if (flavour === 'st' || (flavour === 'auto' && wanted === 1)) return { flavour: 'st', threads: 1, fallbackReason: null };
  const reason = threadsUnavailableReason({ worker });
  if (reason) return { flavour: 'st', threads: 1, fallbackReason: reason };
  return { flavour: 'mt', threads: wanted, fallbackReason: null };
}

// Returns to the event loop (a macrotask: no 4 ms clamp as nested setTimeout has), so V8 can
// swap in the optimized code of a hot kernel between two chunks of work.
export function yieldToEventLoop() {
  if (isNode) return new Promise((resolve) => setImmediate(resolve));
  if (typeof MessageChannel === 'function') {
    return new Promise((resolve) => {
      const channel = new MessageChannel();
      channel.port1.onmessage = () => {
        channel.port1.close();
        resolve();
      };
      channel.port2.postMessage(0);
    });
  }
  return new Promise((resolve) => setTimeout(resolve, 0));
}

export function now() {
  return globalThis.performance ? performance.now() : Date.now();
}
