// Model sources -> a stream of byte chunks, with progress. A chunk is handed on and dropped, so
// a model is held once, in the WebAssembly heap (the caller's own ArrayBuffer aside).
//   ArrayBuffer / typed array   views of 1 MiB (no copy here)
//   Blob / File                 its stream (Blob.size is the total)
//   Response                    its body (Content-Length is the total, when not compressed)
//   URL or string               fetched (browsers: through the Cache API when enabled, and a
//                               load from the cache reports phase 'cache'); under Node a file:
//                               URL or a path is read from disk
import { isNode } from './environment.js';
import { tesseraError, throwIfAborted } from './errors.js';

export const CHUNK_BYTES = 1 << 20;
export const DEFAULT_CACHE_NAME = 'tessera-models';

function progressReporter(onProgress, phase, total) {
  let loaded = 0;
  const report = (n) => {
    loaded += n;
    if (onProgress) onProgress({ phase, loaded, total });
  };
  report(0);
  return report;
}

async function* readerChunks(reader, signal) {
  try {
    for (;;) {
      throwIfAborted(signal);
      const { done, value } = await reader.read();
      if (done) return;
      if (value && value.byteLength) yield value;
    }
  } finally {
    reader.releaseLock?.();
  }
}

async function* bufferChunks(view) {
  for (let at = 0; at < view.byteLength; at += CHUNK_BYTES) {
    yield view.subarray(at, Math.min(view.byteLength, at + CHUNK_BYTES));
  }
}

function contentLength(response) {
  const encoding = response.headers.get('content-encoding');
  const length = Number(response.headers.get('content-length'));
  // A compressed body's length is not the number of bytes the stream yields.
  return !encoding || encoding === 'identity' ? (Number.isFinite(length) && length > 0 ? length : undefined) : undefined;
}

function responseSource(response, phase, name, signal) {
  if (!response.ok && response.status !== 0) {
    throw tesseraError('io_error', `${name}: HTTP ${response.status} ${response.statusText}`.trim());
  }
  if (!response.body) throw tesseraError('io_error', `${name}: the response has no body`);
  return { total: contentLength(response), phase, name, chunks: readerChunks(response.body.getReader(), signal) };
}

function isUrlLike(source) {
  return typeof source === 'string' || source instanceof URL;
}

async function nodeFileSource(url, name, signal) {
  const fs = await import('node:fs');
  const { fileURLToPath } = await import('node:url');
  const path = url instanceof URL ? fileURLToPath(url) : url;
  let total;
  try {
    total = (await fs.promises.stat(path)).size;
  } catch (e) {
    throw tesseraError('io_error', `cannot open '${name}' (${e.code ?? e.message})`);
  }
  async function* chunks() {
    for await (const chunk of fs.createReadStream(path, { highWaterMark: CHUNK_BYTES, signal })) yield chunk;
  }
  return { total, phase: 'download', name, chunks: chunks() };
}

function resolveUrl(source) {
  if (source instanceof URL) return source;
  if (isNode && !/^[a-z][a-z0-9+.-]*:/i.test(source)) return null;  // a path
  const base = globalThis.location?.href;
  return base ? new URL(source, base) : new URL(source);
}

async function urlSource(source, { signal, cache }) {
  const name = String(source);
  const url = resolveUrl(source);
  if (isNode && (url === null || url.protocol === 'file:')) return nodeFileSource(url ?? source, name, signal);
  const cacheName = cache === true || cache === undefined ? DEFAULT_CACHE_NAME : cache;
  const useCache = cache !== false && typeof globalThis.caches === 'object' && /^https?:$/.test(url.protocol);
  let store = null;
  // The request starts with the cache lookup, not after it (opening the Cache API's storage can
  // take longer than a small model's download); a hit aborts it.
  const request = new AbortController();
  const abortRequest = () => request.abort(signal.reason);
  signal?.addEventListener('abort', abortRequest, { once: true });
  const fetching = fetch(url.href, { signal: request.signal });
  fetching.catch(() => {});  // awaited below unless the cache answers
  if (useCache) {
    try {
      store = await caches.open(cacheName);
      const hit = await store.match(url.href);
      if (hit) {
        request.abort();
        return { ...responseSource(hit, 'cache', name, signal), fromCache: true };
      }
    } catch {
      store = null;  // storage refused (private mode, quota): load from the network only
    }
  }
  const response = await fetching;
  if (store && response.ok) {
    // The cache reads its own branch of the body while the loader reads the other.
    const [forLoader, forCache] = response.body.tee();
    const headers = new Headers(response.headers);
    store.put(url.href, new Response(forCache, { status: response.status, headers })).catch(() => {});
    return responseSource(new Response(forLoader, { status: response.status, headers }), 'download', name, signal);
  }
  return responseSource(response, 'download', name, signal);
}

/**
 * Opens a model source. onProgress({phase, loaded, total}) is called as chunks are consumed.
 * @returns {Promise<{total: number|undefined, name: string, fromCache: boolean, chunks: AsyncIterable<Uint8Array>}>}
 */
export async function openSource(source, { signal, cache, onProgress } = {}) {
  throwIfAborted(signal);
  let opened;
  if (source instanceof ArrayBuffer || (typeof SharedArrayBuffer === 'function' && source instanceof SharedArrayBuffer)) {
    opened = { total: source.byteLength, phase: 'download', name: 'ArrayBuffer', chunks: bufferChunks(new Uint8Array(source)) };
  } else if (ArrayBuffer.isView(source)) {
    const view = new Uint8Array(source.buffer, source.byteOffset, source.byteLength);
    opened = { total: view.byteLength, phase: 'download', name: 'bytes', chunks: bufferChunks(view) };
  } else if (typeof Blob === 'function' && source instanceof Blob) {
    const name = typeof source.name === 'string' ? source.name : 'Blob';
    opened = { total: source.size, phase: 'download', name, chunks: readerChunks(source.stream().getReader(), signal) };
  } else if (typeof Response === 'function' && source instanceof Response) {
    opened = responseSource(source, 'download', source.url || 'Response', signal);
  } else if (isUrlLike(source)) {
    opened = await urlSource(source, { signal, cache });
  } else {
    throw new TypeError('a model source is an ArrayBuffer, a typed array, a Blob/File, a Response, a URL or a string');
  }
  const report = progressReporter(onProgress, opened.phase, opened.total);
  const inner = opened.chunks;
  async function* counted() {
    for await (const chunk of inner) {
      throwIfAborted(signal);
      const n = chunk.byteLength;  // before the consumer transfers the chunk away
      yield chunk;
      report(n);
    }
  }
  // owned: the chunks are the stream's own buffers (a worker may take them); views of the
  // caller's memory are not.
  const owned = !(source instanceof ArrayBuffer || ArrayBuffer.isView(source) ||
    (typeof SharedArrayBuffer === 'function' && source instanceof SharedArrayBuffer));
  return { total: opened.total, name: opened.name, fromCache: opened.fromCache === true, owned, chunks: counted() };
}

/** Reads a whole URL (a module's .wasm): fetched, or read from disk under Node. */
export async function readUrlBytes(url, { signal, onProgress, phase = 'wasm' } = {}) {
  const href = url instanceof URL ? url : new URL(url, globalThis.location?.href);
  if (isNode && href.protocol === 'file:') {
    const fs = await import('node:fs');
    const bytes = await fs.promises.readFile(href);
    onProgress?.({ phase, loaded: bytes.byteLength, total: bytes.byteLength });
    return bytes;
  }
  const response = await fetch(href, { signal });
  if (!response.ok) throw tesseraError('io_error', `${href}: HTTP ${response.status} ${response.statusText}`.trim());
  const total = contentLength(response);
  const parts = [];
  let loaded = 0;
  onProgress?.({ phase, loaded, total });
  for await (const chunk of readerChunks(response.body.getReader(), signal)) {
    parts.push(chunk);
    loaded += chunk.byteLength;
    onProgress?.({ phase, loaded, total });
  }
  const bytes = new Uint8Array(loaded);
  let at = 0;
  for (const p of parts) {
    bytes.set(p, at);
    at += p.byteLength;
  }
  return bytes;
}
