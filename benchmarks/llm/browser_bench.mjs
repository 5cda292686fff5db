// LLM generation in the browser: tessera-web against wllama (llama.cpp compiled to WebAssembly,
// npm @wllama/wllama) on the same GGUF files and page setup (headless Debian chromium, a
// cross-origin isolated page served by examples/web/serve.mjs), 1 and 2 threads.
//   bash scripts/install-bench-peers.sh          (@wllama/wllama into benchmarks/js/node_modules)
//   build/native/examples/tessera-llm/tessera-llm make-bench-models --out build/native/bench-models
//   node benchmarks/llm/browser_bench.mjs [--models-dir build/native/bench-models] [--types q8_0,q4_0,q4_k]
//        [--package build/wasm/js/package] [--tokens 64] [--reps 3] [--threads 1,2] [--context 512]
// Models: the benchmark's random-weight llama (110M, bench_llm's), one file per weight type.
// One page load per model, contender and thread count. Each contender generates `--tokens`
// greedily after the same prompt (never stopping at an end-of-generation token), `--reps` times
// after a short warm-up generation; tokens/s is the median, timed on the page between the
// first and the last token's arrival (both stream from their worker). Each engine's own count
// (inside its module) and its prompt speed are printed in the note.
// Prints harness records (bench, case, threads, target, unit, tessera, peer, peer_value, ratio:
// tessera's tokens/s over wllama's, above 1 tessera is faster); progress on stderr.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { launchChromium, option as optionOf, root, startServer } from '../js/browser.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const option = (name, fallback) => optionOf(args, name, fallback);
const modelsDir = path.resolve(option('--models-dir', path.join(root, 'build', 'native', 'bench-models')));
const packageDir = path.resolve(option('--package', path.join(root, 'build', 'wasm', 'js', 'package')));
const types = option('--types', 'q8_0,q4_0,q4_k').split(',');
const tokens = Number(option('--tokens', 64));
const reps = Number(option('--reps', 3));
const context = Number(option('--context', 512));
const threadCounts = option('--threads', '1,2').split(',').map(Number);
const wllamaDir = path.join(root, 'benchmarks', 'js', 'node_modules', '@wllama', 'wllama');
if (!existsSync(path.join(wllamaDir, 'esm', 'wasm', 'wllama.wasm'))) {
  throw new Error(`no @wllama/wllama in ${wllamaDir}: bash scripts/install-bench-peers.sh`);
}
// About 40 tokens of plain text: the models' synthetic vocabulary tokenizes it the same way in both.
const prompt = 'The quick brown fox jumps over the lazy dog while the farmer counts his sheep, ' +
  'and the children sing a song about the river that runs past the old mill.';

const cases = [];
for (const type of types) {
  const file = path.join(modelsDir, `llama-110m-${type}.gguf`);
  if (!existsSync(file)) {
    console.error(`browser_bench: skipping ${type}: no ${file} (tessera-llm make-bench-models --out ${modelsDir})`);
    continue;
  }
  cases.push({ name: `llama-110m-${type}`, url: `/bench-models/llama-110m-${type}.gguf` });
}

const server = await startServer(packageDir, { '/bench-models': modelsDir, '/wllama': wllamaDir, '/bench': path.join(here, 'web') });
const chromium = await launchChromium();
const results = {};
try {
  for (const c of cases) {
    for (const threads of threadCounts) {
      // Interleaved, so drifting machine load touches both contenders alike.
      for (const engine of ['tessera', 'wllama']) {
        const page = await chromium.context.newPage();
        page.on('pageerror', (e) => console.error(`browser_bench: ${engine}: page error: ${e.message}`));
        page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') console.error(`browser_bench: ${engine}: ${m.text()}`); });
        await page.goto(`${server.url}bench/`);
        await page.waitForFunction(() => typeof window.runBench === 'function');
        const r = await page.evaluate((config) => window.runBench(config), { engine, threads, model: c.url, prompt, tokens, reps, context });
        await page.close();
        if (r.error) throw new Error(`${c.name}, ${engine}, ${threads} thread(s): ${r.error}`);
        if (r.generated !== tokens) throw new Error(`${c.name}, ${engine}: ${r.generated} tokens generated, ${tokens} asked`);
        console.error(JSON.stringify({ case: c.name, ...r, text: r.text.slice(0, 60) }));
        results[`${c.name}/${engine}/${threads}`] = r;
      }
    }
  }
} finally {
  await chromium.close();
  server.stop();
}

const fixed = (x, digits = 1) => (typeof x === 'number' ? x.toFixed(digits) : '?');
for (const c of cases) {
  for (const threads of threadCounts) {
    const t = results[`${c.name}/tessera/${threads}`];
    const w = results[`${c.name}/wllama/${threads}`];
    // Greedy on the same weights: the texts agree until rounding differences (Q8 activations,
    // accumulation order) pick another token. llama.cpp keeps the first piece's leading space.
    const [a, b] = [t.text.trimStart(), w.text.trimStart()];
    let same = 0;
    while (same < Math.min(a.length, b.length) && a[same] === b[same]) ++same;
    console.log(JSON.stringify({
      bench: 'llm_browser', case: `${c.name}/tg${tokens}`, threads, target: `chromium${chromium.version ? ` ${chromium.version}` : ''}-wasm`,
      unit: 'tok/s', tessera: t.tokensPerSec, peer: 'wllama', peer_value: w.tokensPerSec, ratio: t.tokensPerSec / w.tokensPerSec,
      note: `${t.version} vs ${w.version}; in-module tok/s ${fixed(t.engineTokensPerSec)} vs ${fixed(w.engineTokensPerSec)}; ` +
        `prompt (${t.promptTokens} vs ${w.promptTokens} tokens) ${fixed(t.enginePromptTokensPerSec)} vs ${fixed(w.enginePromptTokensPerSec)} tok/s; ` +
        `load ${fixed(t.loadMs, 0)} vs ${fixed(w.loadMs, 0)} ms; greedy texts agree on ${same} of ${Math.max(a.length, b.length)} chars`,
    }));
  }
}
