// The browser test of tessera-web: Debian's chromium, headless, driven by playwright-core,
// loads the demo page (examples/web) from its own server, once per flavour:
//   - trees: scores every sample of the feature form; the answers must equal tessera-gbt's own
//     JSON answers for the same records (the native CLI);
//   - LLM: generates from a prompt typed into the form, greedily and with a seed; the ids must
//     equal tessera-llm's greedy ids and llm_fixture's sampled ids for the same prompt ids (the
//     native tools), the page must show the text; then a long generation is stopped with the
//     Stop button. The model is llm_fixture's random-weight llama, written at test time.
// A screenshot of the page is saved.
//
//   node tests/web/browser_test.mjs --package build/wasm/js/package --cli build/native/examples/tessera-gbt/tessera-gbt
//        [--llm-cli build/native/examples/tessera-llm/tessera-llm] [--llm-fixture build/native/tests/web/llm_fixture]
//        [--screenshot build/web-demo.png] [--chromium /usr/bin/chromium]
// Exits 0 with a "skipped" line when chromium or playwright-core is missing; the LLM part is
// skipped (and says so) when the two native LLM tools are.
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
const llmCli = option('--llm-cli', path.join(root, 'build', 'native', 'examples', 'tessera-llm', 'tessera-llm'));
const llmFixture = option('--llm-fixture', path.join(root, 'build', 'native', 'tests', 'web', 'llm_fixture'));

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

// The LLM part: a model written now (a little larger than the Node tests' one, so that a
// generation lasts long enough to be stopped by a click), and the native tools' ids.
const llmDir = mkdtempSync(path.join(tmpdir(), 'tessera-browser-llm-'));
const llm = existsSync(llmCli) && existsSync(llmFixture) ? {
  model: path.join(llmDir, 'model.gguf'),
  ids: (args) => execFileSync(args[0], args.slice(1), { encoding: 'utf8' }).trim().split(/\s+/).map(Number),
} : null;
if (llm) {
  execFileSync(llmFixture, ['model', '--out', llm.model, '--dim', '128', '--layers', '4', '--hidden', '384', '--context', '2048']);
} else {
  console.log(`browser test: the LLM demo is not tested: ${llmCli} or ${llmFixture} is missing (cmake --build build/native)`);
}
const LLM_PROMPT = 'Once upon a time, the licensor';
const LLM_TOKENS = 24;

async function checkLlm(page, expectedFlavour) {
  const state = await page.evaluateHandle(async () => {
    await window.tesseraDemo.llm.loaded;
    return window.tesseraDemo.llm;
  });
  const loaded = await state.evaluate((s) => ({ error: s.error ?? null, runtime: s.model?.runtime, info: s.model?.info,
    timings: s.model?.timings }));
  assert.equal(loaded.error, null, 'the LLM demo loaded its model');
  assert.equal(loaded.runtime.flavour, expectedFlavour);
  // Random weights pick end-of-text tokens now and then; the native tools go on past them.
  await page.check('#llm-ignore-eos');
  const generate = async ({ temperature, maxTokens, seed = 42 }) => {
    await page.fill('#llm-prompt', LLM_PROMPT);
    await page.fill('#llm-temperature', String(temperature));
    await page.fill('#llm-max-tokens', String(maxTokens));
    await page.fill('#llm-seed', String(seed));
    await state.evaluate((s) => { s.running = null; });
    await page.click('#llm-generate');
    await state.evaluate(async (s) => { while (!s.running) await new Promise((r) => setTimeout(r, 5)); await s.running; });
    return state.evaluate((s) => {
      const r = s.results[s.results.length - 1];
      return { tokens: Array.from(r.tokens), text: r.text, stopReason: r.stopReason, timings: r.timings,
        shown: document.querySelector('#llm-output b').textContent, error: s.error ?? null };
    });
  };
  const promptIds = await state.evaluate(async (s, text) => Array.from(await s.model.tokenize(text)), LLM_PROMPT);
  const idsArg = promptIds.join(' ');
  const greedy = await generate({ temperature: 0, maxTokens: LLM_TOKENS });
  assert.equal(greedy.error, null);
  assert.deepEqual(greedy.tokens, llm.ids([llmCli, 'generate', '--model', llm.model, '--prompt-ids', idsArg, '-n', String(LLM_TOKENS),
    '--temperature', '0', '--print-token-ids']), 'greedy ids');
  assert.equal(greedy.shown, greedy.text, 'the page shows the generated text');
  assert.ok(greedy.text.length > 0);
  const sampled = await generate({ temperature: 0.9, maxTokens: LLM_TOKENS, seed: 1234 });
  assert.deepEqual(sampled.tokens, llm.ids([llmFixture, 'sample', '--model', llm.model, '--prompt-ids', idsArg, '-n', String(LLM_TOKENS),
    '--seed', '1234', '--temperature', '0.9']), 'sampled ids');
  // The Stop button, a few tokens into a generation that would run to the end of the context.
  await page.fill('#llm-max-tokens', '100000');
  await page.fill('#llm-temperature', '0.8');
  await state.evaluate((s) => { s.running = null; });
  await page.click('#llm-generate');
  await page.waitForFunction(() => window.tesseraDemo.llm.tokensSoFar >= 8);
  await page.click('#llm-stop');
  const stopped = await state.evaluate(async (s) => {
    await s.running;
    const r = s.results[s.results.length - 1];
    return { stopReason: r.stopReason, tokens: r.tokens.length, text: r.text, shown: document.querySelector('#llm-output b').textContent,
      stopDisabled: document.querySelector('#llm-stop').disabled, generateDisabled: document.querySelector('#llm-generate').disabled,
      shownReason: document.querySelector('#llm-t-stop').textContent };
  });
  assert.equal(stopped.stopReason, 'cancelled');
  assert.ok(stopped.tokens >= 8 && stopped.tokens < 2048 - promptIds.length, `${stopped.tokens} tokens before the stop`);
  assert.equal(stopped.shown, stopped.text, 'the text so far stays on the page');
  assert.equal(stopped.shownReason, 'cancelled');
  assert.ok(stopped.stopDisabled && !stopped.generateDisabled);
  return { load: loaded.timings, greedy: greedy.timings, sampled: sampled.timings, stoppedAfter: stopped.tokens };
}

function startServer(extra) {
  return new Promise((resolve, reject) => {
    const server = spawn(process.execPath, [path.join(root, 'examples', 'web', 'serve.mjs'), '--port', '0', '--package', packageDir,
      '--mount', `/llm-test=${llmDir}`, ...extra],
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

async function run(server, query, check, expectedFlavour) {
  const page = await browser.newPage();
  const console_ = [];
  page.on('console', (m) => console_.push(m.text()));
  page.on('pageerror', (e) => console_.push(`pageerror: ${e.message}`));
  const started = Date.now();
  try {
    await page.goto(`${server.url}?${query}${llm ? '&llm-model=/llm-test/model.gguf' : ''}`);
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
    const llmResult = llm ? await checkLlm(page, expectedFlavour) : null;
    results.push({ query, flavour: info.runtime.flavour, threads: info.runtime.threads,
      firstPredictionMs: info.firstPredictionAt, loadMs: info.timings.loadMs, warmup: info.timings.warmup,
      predictFirstMs: info.stats.firstCallMs, predictSteadyMs: info.stats.steadyCallMs, llm: llmResult, wallMs: Date.now() - started });
    console.log(`ok: ${query}: ${want.length} samples equal tessera-gbt's answers (flavour ${info.runtime.flavour}, ` +
      `${info.runtime.threads} thread(s)${info.runtime.fallbackReason ? `, fallback: ${info.runtime.fallbackReason}` : ''})` +
      (llmResult ? `; LLM: greedy and sampled ids equal the native tools', stopped after ${llmResult.stoppedAfter} tokens, ` +
        `${llmResult.greedy.tokensPerSec?.toFixed(0)} tokens/s, first token ${llmResult.greedy.firstTokenMs?.toFixed(1)} ms` : ''));
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
  }, 'st'))?.close();
  const mt = await run(isolated, 'flavour=mt&threads=2', (info) => {
    assert.equal(info.runtime.flavour, 'mt');
    assert.equal(info.runtime.threads, 2);
    assert.equal(info.runtime.fallbackReason, null);
  }, 'mt');
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
  }, 'st'))?.close();
} finally {
  await browser.close();
  isolated.stop();
  plain.stop();
  rmSync(userDataDir, { recursive: true, force: true });
  rmSync(llmDir, { recursive: true, force: true });
}
console.log(JSON.stringify({ browser: 'chromium', results }));
console.log(`${results.length} passed, ${failures} failed`);
process.exit(failures ? 1 : 0);
