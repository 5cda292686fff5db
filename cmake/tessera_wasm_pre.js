// Prepended (--extern-pre-js) to the ES module glue of every tessera WebAssembly module.
// Emscripten 3.1.6's glue still reaches for CommonJS names (require, __dirname) when it runs
// under Node.js, which an ES module does not have: give it both, on Node only.
const tesseraOnNode = typeof process == 'object' && typeof process.versions == 'object' &&
  typeof process.versions.node == 'string';
const require = tesseraOnNode ? (await import('node:module')).createRequire(import.meta.url) : undefined;
const __dirname = tesseraOnNode ? require('node:path').dirname(require('node:url').fileURLToPath(import.meta.url)) : '';
