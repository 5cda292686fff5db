// Shared by the Node tests of the JS API: where the staged package and the fixtures are, and
// the fixtures' expected outputs (XGBoost's and LightGBM's own, scripts/make_tree_models.py).
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';

const here = path.dirname(fileURLToPath(import.meta.url));
export const sourceDir = process.env.TESSERA_SOURCE_DIR ?? path.resolve(here, '..', '..');
export const buildDir = process.env.TESSERA_BUILD_DIR ?? path.join(sourceDir, 'build', 'wasm');
export const packageDir = process.env.TESSERA_WEB_PACKAGE ?? path.join(buildDir, 'js', 'package');
export const fixture = (name) => path.join(sourceDir, 'tests', 'models', 'trees', name);

export async function importPackage(entry = 'trees') {
  return import(pathToFileURL(path.join(packageDir, 'src', `${entry}.js`)).href);
}

/** {nf, rows, x: Float64Array, pred: number[][] (per row), margin: number[][]} from <name>.csv */
export function readCases(name) {
  const lines = readFileSync(fixture(`${name}.csv`), 'utf8').split('\n').filter((l) => l.trim());
  const header = lines[0].split(',');
  const nf = header.filter((h) => h.startsWith('x')).length;
  const nm = header.filter((h) => h.startsWith('margin')).length;
  const rows = lines.length - 1;
  const x = new Float64Array(rows * nf);
  const pred = [];
  const margin = [];
  lines.slice(1).forEach((line, r) => {
    const cells = line.split(',').map(Number);
    x.set(cells.slice(0, nf), r * nf);
    margin.push(cells.slice(nf, nf + nm));
    pred.push(cells.slice(nf + nm));
  });
  return { nf, rows, x, pred, margin };
}

// Records keyed by feature name; a value that is a category code becomes its name.
export function recordsOf(cases, names, categoryName = () => undefined) {
  const out = [];
  for (let r = 0; r < cases.rows; ++r) {
    const rec = {};
    for (let i = 0; i < cases.nf; ++i) {
      const v = cases.x[r * cases.nf + i];
      const key = names[i] ?? `f${i}`;
      const cat = Number.isNaN(v) ? undefined : categoryName(key, v);
      rec[key] = cat ?? (Number.isNaN(v) ? null : v);
    }
    out.push(rec);
  }
  return out;
}

export const f32 = Math.fround;

// Raw and gzip (level 9) bytes of each module in dist/: its .wasm, .mjs glue and pthread worker.
export function moduleSizes(dist) {
  const sizes = [];
  for (const f of readdirSync(dist).filter((n) => n.endsWith('.wasm'))) {
    const base = f.replace(/\.wasm$/, '');
    const files = [`${base}.wasm`, `${base}.mjs`, `${base}.worker.js`].filter((n) => readdirSync(dist).includes(n));
    let raw = 0;
    let gzip = 0;
    for (const n of files) {
      const bytes = readFileSync(path.join(dist, n));
      raw += bytes.byteLength;
      gzip += gzipSync(bytes, { level: 9 }).byteLength;
    }
    sizes.push({ module: base, family: base.split('-')[0], files, raw, gzip });
  }
  return sizes;
}


/** {data: Float32Array, dims: number[]} of a little-endian float32 .npy file (versions 1-3, C order). */
export function readNpyF32(file) {
  const bytes = readFileSync(file);
  if (bytes.toString('latin1', 1, 6) !== 'NUMPY') throw new Error(`${file}: not a .npy file`);
  const major = bytes[6];
  const headerBytes = major === 1 ? bytes.readUInt16LE(8) : bytes.readUInt32LE(8);
  const start = major === 1 ? 10 : 12;
  const header = bytes.toString('latin1', start, start + headerBytes);
  if (!/'descr':\s*'<f4'/.test(header) || /'fortran_order':\s*True/.test(header)) throw new Error(`${file}: not C-order float32`);
  const dims = header.match(/'shape':\s*\(([^)]*)\)/)[1].split(',').map((s) => s.trim()).filter(Boolean).map(Number);
  const at = start + headerBytes;
  const data = new Float32Array(bytes.buffer.slice(bytes.byteOffset + at, bytes.byteOffset + bytes.byteLength));
  return { data, dims };
}
