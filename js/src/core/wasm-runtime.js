// One instance of a tessera WebAssembly module (built by cmake's tessera_add_wasm_module) and
// the helpers every family's backend uses to call its C ABI (include/tessera/wasm/abi.hpp):
// heap access that survives memory growth, unsigned pointers, errors from the error slot.
import { isNode, now } from './environment.js';
import { codeName, tesseraError, TesseraError } from './errors.js';

// include/tessera/wasm/abi.hpp's TESSERA_WASM_ABI_VERSION: a module of another version is refused.
const ABI_VERSION = 2;

export function wasmUrlOf(glueUrl) {
  return new URL(String(glueUrl).replace(/\.mjs$/, '.wasm'));
}

function checkWasmBytes(bytes, url) {
  const b = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  if (b.byteLength >= 4 && b[0] === 0 && b[1] === 0x61 && b[2] === 0x73 && b[3] === 0x6d) return;
  const head = new TextDecoder().decode(b.subarray(0, 16)).replace(/[^\x20-\x7e]/g, '?');
  throw tesseraError('io_error', `${url} is not a WebAssembly module (it starts with '${head}'): check the URL, ` +
    'and that the server sends .wasm files as application/wasm');
}

/**
 * A module's compiled .wasm. `wasm` is a WebAssembly.Module (used as it is), its bytes, or the
 * URL of the .wasm. A URL is compiled while it downloads (compileStreaming) where the server
 * sends application/wasm; otherwise, and under Node, read whole, checked and compiled
 * (asynchronously: browsers need that for modules over 4 KB).
 * Returns {module, bytes} (bytes: the .wasm's size when it was fetched here, else null).
 */
export async function compileWasm(wasm) {
  if (wasm instanceof WebAssembly.Module) return { module: wasm, bytes: null };
  if (wasm instanceof ArrayBuffer || ArrayBuffer.isView(wasm)) {
    checkWasmBytes(wasm, 'options.wasm');
    return { module: await WebAssembly.compile(wasm), bytes: wasm.byteLength };
  }
  const url = new URL(wasm, globalThis.location?.href);
  if (isNode && url.protocol === 'file:') {
    const fs = await import('node:fs');
    const bytes = await fs.promises.readFile(url);
    checkWasmBytes(bytes, url.href);
    return { module: await WebAssembly.compile(bytes), bytes: bytes.byteLength };
  }
  const response = await fetch(url.href);
  if (!response.ok) throw tesseraError('io_error', `${url.href}: HTTP ${response.status} ${response.statusText}`.trim());
  const length = Number(response.headers.get('content-length')) || null;
  const type = response.headers.get('content-type') ?? '';
  if (typeof WebAssembly.compileStreaming === 'function' && type.split(';')[0].trim() === 'application/wasm') {
    return { module: await WebAssembly.compileStreaming(response), bytes: length };
  }
  const bytes = new Uint8Array(await response.arrayBuffer());
  checkWasmBytes(bytes, url.href);
  return { module: await WebAssembly.compile(bytes), bytes: bytes.byteLength };
}

export class WasmRuntime {
  /**
   * @param {object} o
   * @param {string|URL} o.glueUrl     the module's .mjs
   * @param {WebAssembly.Module|ArrayBuffer|ArrayBufferView|string} [o.wasm]  see compileWasm
   *                                   (default: the .wasm beside the .mjs)
   * @param {number} o.threads         threads of the pthreads flavour (1 for the other)
   * The glue's import and the .wasm's download and compile run together.
   */
  static async create({ glueUrl, wasm, threads = 1 }) {
    const t0 = now();
    const [glue, compiled] = await Promise.all([import(String(glueUrl)), compileWasm(wasm ?? wasmUrlOf(glueUrl).href)]);
    const compileMs = now() - t0;
    const factory = glue.default;
    const wasmModule = compiled.module;
    let memory = null;
    const findMemory = (objects) => {
      for (const o of objects) {
        for (const v of Object.values(o ?? {})) if (v instanceof WebAssembly.Memory) return v;
      }
      return null;
    };
    const module = await factory({
      // pthreads flavour: the pool of workers (at least one: Emscripten 3.1.6 never resolves a
      // module whose pool is empty); the single-threaded flavour ignores it.
      tesseraWorkers: Math.max(1, threads - 1),
      mainScriptUrlOrBlob: String(glueUrl),
      print: (s) => console.log(s),
      printErr: (s) => console.warn(s),
      instantiateWasm(imports, receive) {
        memory = findMemory(Object.values(imports));  // imported by the pthreads flavour
        WebAssembly.instantiate(wasmModule, imports).then((instance) => {
          memory ??= findMemory([instance.exports]);
          receive(instance, wasmModule);
        });
        return {};
      },
    });
    if (!memory) throw tesseraError('unsupported', `${glueUrl}: the module's memory was not found`);
    const rt = new WasmRuntime(module, memory);
    const abi = rt.call('tessera_abi_version');
    if (abi !== ABI_VERSION) throw tesseraError('unsupported', `${glueUrl}: C ABI version ${abi}, this package speaks version ${ABI_VERSION}`);
    rt.build = JSON.parse(rt.string(rt.call('tessera_build_info')));
    if (threads > 1) rt.threads = rt.checkCount(rt.call('tessera_set_threads', threads));
    rt.wasmModule = wasmModule;
    rt.timings = { compileMs, instantiateMs: now() - t0 - compileMs, wasmBytes: compiled.bytes };
    return rt;
  }

  constructor(module, memory) {
    this.module = module;
    this.memory = memory;
    this.threads = 1;
    this.build = null;
    this.wasmModule = null;
    this.timings = null;
  }

  // Views are made afresh: memory growth replaces the buffer.
  u8() { return new Uint8Array(this.memory.buffer); }
  f64() { return new Float64Array(this.memory.buffer); }

  has(name) { return typeof this.module[`_${name}`] === 'function'; }

  call(name, ...args) {
    const fn = this.module[`_${name}`];
    if (typeof fn !== 'function') throw tesseraError('unsupported', `this module does not export ${name}`);
    return fn(...args);
  }

  // A pointer result: unsigned, and 0 means the error slot holds why.
  callPointer(name, ...args) {
    const p = this.call(name, ...args) >>> 0;
    if (p === 0) throw this.lastError();
    return p;
  }

  // A status result: 0 is success.
  check(rc) {
    if (rc !== 0) throw this.lastError();
  }

  checkCount(n) {
    if (n < 0) throw this.lastError();
    return n;
  }

  lastError() {
    const code = codeName(this.call('tessera_error_code'));
    const message = this.string(this.call('tessera_error_message') >>> 0);
    return tesseraError(code === 'ok' ? 'invalid_argument' : code, message || 'failed');
  }

  // A NUL-terminated UTF-8 string from the heap (copied first: TextDecoder refuses views of a
  // SharedArrayBuffer, which the pthreads flavour's heap is).
  string(ptr) {
    ptr >>>= 0;
    if (ptr === 0) return '';
    const heap = this.u8();
    let end = ptr;
    while (end < heap.length && heap[end] !== 0) ++end;
    return new TextDecoder().decode(heap.slice(ptr, end));
  }

  malloc(bytes) {
    const p = this.call('tessera_malloc', bytes >>> 0) >>> 0;
    if (p === 0) throw tesseraError('out_of_memory', `cannot allocate ${bytes} bytes in the WebAssembly heap`);
    return p;
  }

  free(ptr) {
    if (ptr) this.call('tessera_free', ptr >>> 0);
  }

  /**
   * Streams model bytes into a heap buffer (tessera_bytes_*): each chunk is copied to where the
   * module says and dropped. Returns the buffer handle (the family's load call consumes it).
   */
  async streamBytes(opened) {
    const handle = this.callPointer('tessera_bytes_new', opened.total ?? 0);
    try {
      for await (const chunk of opened.chunks) {
        this.appendBytes(handle, chunk);
      }
    } catch (e) {
      this.call('tessera_bytes_free', handle);
      throw e;
    }
    return handle;
  }

  appendBytes(handle, chunk) {
    const dst = this.callPointer('tessera_bytes_append', handle, chunk.byteLength);
    this.u8().set(chunk, dst);
  }

  createBytes(total) { return this.callPointer('tessera_bytes_new', total ?? 0); }
  freeBytes(handle) { this.call('tessera_bytes_free', handle); }
}

export { TesseraError };
