// The families a worker can host: one line each, imported only when a model of that family is
// loaded, so a trees-only page never fetches another family's code or module.
import { WasmRuntime } from './wasm-runtime.js';

export const BACKENDS = {
  trees: () => import('../trees/backend.js'),
  llm: () => import('../llm/backend.js'),
  cnn: () => import('../cnn/backend.js'),
};

export async function createBackend(family) {
  const load = BACKENDS[family];
  if (!load) throw new TypeError(`unknown model family '${family}'`);
  return (await load()).createBackend();
}

/**
 * The 'importCode' operation: imports the family's code and the module's glue, so that
 * 'startModule' finds them loaded (they download while the page compiles the .wasm).
 */
export async function importBackendCode({ family, glueUrl }) {
  if (!BACKENDS[family]) throw new TypeError(`unknown model family '${family}'`);
  await Promise.all([BACKENDS[family](), import(glueUrl)]);
  return null;
}

/**
 * The 'startModule' operation of a worker (or of the page, in main-thread mode): the family's code,
 * the module's glue and its .wasm (see compileWasm) load together, then the backend takes the
 * instance. Returns {backend, started: {threads, build, timings}}.
 */
export async function openBackend({ family, glueUrl, wasm, threads }) {
  const [backend, rt] = await Promise.all([createBackend(family), WasmRuntime.create({ glueUrl, wasm, threads })]);
  backend.attach(rt);
  return { backend, started: { threads: rt.threads, build: rt.build, timings: rt.timings } };
}

// Typed-array results travel back to the page without a copy.
export function transferablesOf(result) {
  const list = [];
  if (result && typeof result === 'object') {
    for (const v of Object.values(result)) {
      if (ArrayBuffer.isView(v) && v.buffer instanceof ArrayBuffer) list.push(v.buffer);
    }
  }
  return list;
}
