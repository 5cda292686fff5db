// The npm package as a user gets it (ctest wasm/js_package): `npm pack` of the staged package,
// installed from the tarball into a fresh folder with --ignore-scripts, imported by name from
// Node, and its size checked against the budget (trees: under 300 KB gzip, the LLM and CNN
// families under 1 MB, glue included; the digits CNN compiled into its own module, built beside
// the package, under issue 12's 300 KB). Skips when npm is not installed.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { it } from 'node:test';

import { buildDir, fixture, moduleSizes, packageDir, sourceDir } from './helpers.js';

const BUDGET_GZIP = { trees: 300 * 1024, llm: 1024 * 1024, cnn: 1024 * 1024 };  // per flavour: .wasm + .mjs (+ .worker.js)
const TARBALL_BUDGET = 2 * 1024 * 1024;

function hasNpm() {
  try {
    execFileSync('npm', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

it('every module is within its size budget (gzip, glue included)', () => {
  const sizes = moduleSizes(path.join(packageDir, 'dist'));
  assert.deepEqual(sizes.map((s) => s.module).sort(), ['cnn-simd', 'cnn-simd-mt', 'llm-simd', 'llm-simd-mt', 'trees-simd', 'trees-simd-mt']);
  for (const s of sizes) {
    console.log(`${s.module}: ${s.raw} bytes raw, ${s.gzip} gzip (${s.files.join(' + ')})`);
    assert.ok(s.gzip < BUDGET_GZIP[s.family], `${s.module}: ${s.gzip} bytes gzip, budget ${BUDGET_GZIP[s.family]}`);
  }
});

it('the digits CNN compiled into its own module is under 300 KB gzip, glue included', () => {
  const [digits] = moduleSizes(path.join(buildDir, 'js', 'example-module')).filter((s) => s.module === 'digits_cnn');
  assert.ok(digits, 'js/CMakeLists.txt built example-module/digits_cnn');
  console.log(`digits_cnn: ${digits.raw} bytes raw, ${digits.gzip} gzip (${digits.files.join(' + ')})`);
  assert.ok(digits.gzip < 300 * 1024, `digits_cnn: ${digits.gzip} bytes gzip, budget ${300 * 1024}`);
});

it('npm pack, install the tarball into a fresh folder, import tessera-web/trees, /llm and /cnn from Node', { skip: !hasNpm() && 'npm is not installed' }, () => {
  const work = mkdtempSync(path.join(tmpdir(), 'tessera-web-pack-'));
  const out = execFileSync('npm', ['pack', '--json', '--pack-destination', work, packageDir], { encoding: 'utf8' });
  const [info] = JSON.parse(out);
  const tarball = path.join(work, info.filename);
  const files = info.files.map((f) => f.path);
  for (const f of ['package.json', 'src/trees.js', 'src/trees.d.ts', 'src/index.d.ts', 'src/worker.js',
    'dist/trees-simd.wasm', 'dist/trees-simd.mjs', 'dist/trees-simd-mt.wasm', 'dist/trees-simd-mt.worker.js', 'dist/package.json',
    'src/llm.js', 'src/llm.d.ts', 'src/llm/backend.js', 'dist/llm-simd.wasm', 'dist/llm-simd.mjs', 'dist/llm-simd-mt.wasm',
    'dist/llm-simd-mt.worker.js', 'src/cnn.js', 'src/cnn.d.ts', 'src/cnn/backend.js', 'dist/cnn-simd.wasm', 'dist/cnn-simd.mjs',
    'dist/cnn-simd-mt.wasm', 'dist/cnn-simd-mt.worker.js']) {
    assert.ok(files.includes(f), `the tarball holds ${f}`);
  }
  assert.ok(!files.some((f) => f.startsWith('test/')), 'no tests in the tarball');
  assert.ok(info.size < TARBALL_BUDGET, `tarball ${info.size} bytes`);
  const pkg = JSON.parse(readFileSync(path.join(packageDir, 'package.json'), 'utf8'));
  assert.equal(pkg.scripts, undefined, 'no install scripts');

  const app = path.join(work, 'app');
  execFileSync('mkdir', ['-p', app]);
  writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
  execFileSync('npm', ['install', '--ignore-scripts', '--no-audit', '--no-fund', '--offline', tarball], { cwd: app, stdio: 'pipe' });
  writeFileSync(path.join(app, 'main.js'), `
    import { loadTrees } from 'tessera-web/trees';
    import { loadLLM } from 'tessera-web/llm';
    import { loadCnn } from 'tessera-web/cnn';
    import { environment } from 'tessera-web';
    const model = await loadTrees(${JSON.stringify(fixture('breast_cancer.json'))});
    const answer = await model.predict({ worst_perimeter: 80, worst_concave_points: 0.05 });
    const llm = await loadLLM(${JSON.stringify(path.join(sourceDir, 'tests', 'llm', 'tokenizer_data', 'spm_bytes.gguf'))}, { warmup: false })
      .catch((e) => e);
    const net = await loadCnn(${JSON.stringify(path.join(sourceDir, 'examples', 'models', 'digits_cnn.onnx'))});
    const { logits } = await net.run({ input: { data: new Float32Array(64), dims: [1, 1, 8, 8] } });
    console.log(JSON.stringify({ answer, flavour: model.runtime.flavour, env: await environment(), llmError: llm.message,
      logitDims: logits.dims }));
    await model.dispose();
    await net.dispose();
  `);
  const result = JSON.parse(execFileSync(process.execPath, ['main.js'], { cwd: app, encoding: 'utf8' }).trim());
  assert.deepEqual(Object.keys(result.answer), ['0', '1']);
  assert.ok(result.answer['1'] > 0.5 && result.answer['1'] <= 1);
  assert.equal(result.env.simd128, true);
  // The LLM module loads and reads the GGUF (a vocabulary-only file: no weights, tessera's message says so).
  assert.match(result.llmError, /tensor|weight|no metadata key/);
  assert.deepEqual(result.logitDims, [1, 10]);
});
