// Prints the size table of docs/performance.md: node js/test/sizes.mjs [package dir]
import path from 'node:path';
import { moduleSizes, packageDir } from './helpers.js';

const dist = path.join(process.argv[2] ?? packageDir, 'dist');
console.log('| module | files | raw | gzip -9 |\n|---|---|---:|---:|');
for (const s of moduleSizes(dist)) {
  console.log(`| ${s.module} | ${s.files.join(' + ')} | ${(s.raw / 1024).toFixed(0)} KB | ${(s.gzip / 1024).toFixed(0)} KB |`);
}
