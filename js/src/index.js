// tessera-web: the shared part of the package. It loads no WebAssembly: each model family is
// its own entry point (tessera-web/trees, tessera-web/llm, tessera-web/cnn), so a page pulls
// in only the family it uses.
import { chooseFlavour, hasSimd128, isNode, threadsUnavailableReason } from './core/environment.js';

export { TesseraError, ERROR_CODES } from './core/errors.js';

/** What this environment can run, and which flavour a load with these options would pick. */
export async function environment(options = {}) {
  const worker = options.worker !== false && (isNode || typeof Worker === 'function');
  const choice = await chooseFlavour({ flavour: options.flavour, threads: options.threads, worker });
  return {
    node: isNode,
    simd128: hasSimd128(),
    crossOriginIsolated: globalThis.crossOriginIsolated === true,
    threadsUnavailable: threadsUnavailableReason({ worker }),
    ...choice,
  };
}
