// The browser test of tessera-web: Debian's chromium, headless, driven by playwright-core,
// loads the demo page (examples/web) from its own server and scores every sample of the
// feature form, once per flavour; the answers must equal tessera-gbt's own JSON answers for
// the same records (the native CLI). A screenshot of the page is saved.
//
//   node tests/web/browser_test.mjs --package build/wasm/js/package --cli build/native/examples/tessera-gbt/tessera-gbt
//                                   [--screenshot build/web-demo.png] [--chromium /usr/bin/chromium]
// Exits 0 with a "skipped" line when chromium or playwright-core is missing.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..', '..');
const args = process.argv.slice(2);
const option = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : fallback;
};
const chromiumPath = option('--chromium', '/usr/bin/chromium');
const packageDir = path.resolve(option('--package', path.join(root, 'build', 'wasm', 'js', 'package')));
const cli = option('--cli', path.join(root, 'build', 'native', 'examples', 'tessera-gbt', 'tessera-gbt'));
const screenshot = path.resolve(option('--screenshot', path.join(root, 'build', 'web-demo.png')));

function skip(why) {
  console.log(`browser test: skipped: ${why}`);
  process.exit(0);
}
if (!existsSync(chromiumPath)) skip(`${chromiumPath} is missing (scripts/install-deps.sh installs Debian's chromium)`);
let chromium;
try {
  ({ chromium } = createRequire(path.join(here, 'package.json'))('playwright-core'));
} catch {
  skip('playwright-core is missing (scripts/install-deps.sh installs it into tests/web/node_modules)');
}
if (!existsSync(path.join(packageDir, 'dist', 'trees-simd.wasm'))) {
  console.error(`browser test: no staged package in ${packageDir} (cmake --build build/wasm --target tessera_js)`);
  process.exit(1);
}

// The oracle: tessera-gbt's JSON answers for the sample records.
function cliAnswers() {
  const [header, ...lines] = readFileSync(path.join(root, 'examples', 'models', 'breast_cancer_sample.csv'), 'utf8').trim().split('\n');
  const names = header.split(',').slice(0, -1);
  const records = lines.map((l) => Object.fromEntries(l.split(',').slice(0, -1).map((v, i) => [names[i], Number(v)])));
  const dir = mkdtempSync(path.join(tmpdir(), 'tessera-browser-'));
  writeFileSync(path.join(dir, 'records.json'), JSON.stringify(records));
  const command = cli.endsWith('.js') ? [process.execPath, cli] : [cli];
  const text = execFileSync(command[0], [...command.slice(1), 'predict', '--model',
    path.join(root, 'examples', 'models', 'breast_cancer.json'), '--input', path.join(dir, 'records.json')], { encoding: 'utf8' });
  rmSync(dir, { recursive: true });
  return text.trim().split('\n').map((l) => JSON.parse(l));
}

function startServer(extra) {
  return new Promise((resolve, reject) => {
    const server = spawn(process.execPath, [path.join(root, 'examples', 'web', 'serve.mjs'), '--port', '0', '--package', packageDir, ...extra],
      { stdio: ['ignore', 'pipe', 'inherit'] });
    server.stdout.on('data', (d) => {
      const m = /(http:\/\/127\.0\.0\.1:\d+\/)/.exec(String(d));
      if (m) resolve({ url: m[1], stop: () => server.kill() });
    });
    server.on('exit', (code) => reject(new Error(`the demo server exited (${code})`)));
  });
}

const want = cliAnswers();
const f32 = Math.fround;
const userDataDir = mkdtempSync(path.join(tmpdir(), 'tessera-chromium-'));
const browser = await chromium.launchPersistentContext(userDataDir, {
  executablePath: chromiumPath,
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update'],
  viewport: { width: 1200, height: 900 },
});
const isolated = await startServer([]);
const plain = await startServer(['--no-isolation']);
let failures = 0;
const results = [];

async function run(server, query, check) {
  const page = await browser.newPage();
  const console_ = [];
  page.on('console', (m) => console_.push(m.text()));
  page.on('pageerror', (e) => console_.push(`pageerror: ${e.message}`));
  const started = Date.now();
  try {
    await page.goto(`${server.url}?${query}`);
    await page.evaluate(() => window.tesseraDemo.ready);
    const got = await page.evaluate(() => window.tesseraDemo.trees.runAll());
    const info = await page.evaluate(() => {
      const m = window.tesseraDemo.trees.model;
      return { runtime: m.runtime, stats: JSON.parse(JSON.stringify(m.stats)), timings: m.timings,
        firstPredictionAt: window.tesseraDemo.trees.firstPredictionAt };
    });
    assert.equal(got.length, want.length);
    got.forEach((answer, r) => {
      assert.deepEqual(Object.keys(answer), Object.keys(want[r]), `sample ${r}: keys`);
      for (const k of Object.keys(want[r])) assert.equal(f32(answer[k]), f32(want[r][k]), `sample ${r}, "${k}"`);
    });
    check(info, console_);
    results.push({ query, flavour: info.runtime.flavour, threads: info.runtime.threads,
      firstPredictionMs: info.firstPredictionAt, loadMs: info.timings.loadMs, warmup: info.timings.warmup,
      predictFirstMs: info.stats.firstCallMs, predictSteadyMs: info.stats.steadyCallMs, wallMs: Date.now() - started });
    console.log(`ok: ${query}: ${want.length} samples equal tessera-gbt's answers (flavour ${info.runtime.flavour}, ` +
      `${info.runtime.threads} thread(s)${info.runtime.fallbackReason ? `, fallback: ${info.runtime.fallbackReason}` : ''})`);
    return page;
  } catch (e) {
    ++failures;
    console.error(`FAILED: ${query}: ${e.message}\n  page console: ${console_.join('\n  ')}`);
    await page.close();
    return null;
  }
}

try {
  await (await run(isolated, 'flavour=st', (info) => {
    assert.equal(info.runtime.flavour, 'st');
    assert.equal(info.runtime.crossOriginIsolated, true);
  }))?.close();
  const mt = await run(isolated, 'flavour=mt&threads=2', (info) => {
    assert.equal(info.runtime.flavour, 'mt');
    assert.equal(info.runtime.threads, 2);
    assert.equal(info.runtime.fallbackReason, null);
  });
  if (mt) {
    await mt.screenshot({ path: screenshot, fullPage: true });
    console.log(`screenshot: ${screenshot}`);
    await mt.close();
  }
  await (await run(plain, 'threads=2', (info, messages) => {
    assert.equal(info.runtime.flavour, 'st');
    assert.equal(info.runtime.crossOriginIsolated, false);
    assert.match(info.runtime.fallbackReason, /cross-origin isolated/);
    assert.ok(messages.some((m) => m.includes('runs single-threaded') && m.includes('cross-origin isolated')),
      'the fallback is explained in the console');
  }))?.close();
} finally {
  await browser.close();
  isolated.stop();
  plain.stop();
  rmSync(userDataDir, { recursive: true, force: true });
}
console.log(JSON.stringify({ browser: 'chromium', results }));
console.log(`${results.length} passed, ${failures} failed`);
process.exit(failures ? 1 : 0);
