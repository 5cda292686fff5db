// Prints the size table of docs/performance.md: node js/test/sizes.mjs [package dir]
// (the package's modules, then those built beside it with a model compiled in).
import { existsSync } from 'node:fs';
import path from 'node:path';
import { moduleSizes, packageDir } from './helpers.js';

const dir = process.argv[2] ?? packageDir;
const examples = path.join(dir, '..', 'example-module');
console.log('| module | files | raw | gzip -9 |\n|---|---|---:|---:|');
for (const s of [...moduleSizes(path.join(dir, 'dist')), ...(existsSync(examples) ? moduleSizes(examples) : [])]) {
  console.log(`| ${s.module} | ${s.files.join(' + ')} | ${(s.raw / 1024).toFixed(0)} KB | ${(s.gzip / 1024).toFixed(0)} KB |`);
}
