// One contender, one model and one thread count per page load (wllama fixes its threads when it
// loads a model): browser_bench.mjs calls window.runBench({engine, threads, model, prompt,
// tokens, reps, context}).
//   engine: 'tessera' (tessera-web's LLM in its worker, the package's default; 1 thread the st
//           build, 2 the mt build) or 'wllama' (llama.cpp in WebAssembly, in its own worker)
// Each repetition empties the KV cache, feeds the same prompt and generates `tokens` tokens
// greedily, never stopping at an end-of-generation token. Generation speed is timed on the
// page, between the first and the last token arriving (both contenders stream from a worker),
// and also reported as each engine counts it inside its module; prompt speed as each engine
// counts it. Resolves to the medians over `reps`, the load time and the generated texts.
const log = (s) => { document.getElementById('log').textContent += `\n${s}`; };
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

// Tokens per second between the first and the last token's arrival.
const streamRate = (stamps) => (stamps.length > 1 ? (stamps.length - 1) / ((stamps[stamps.length - 1] - stamps[0]) / 1000) : null);

async function tessera({ threads, model, context }) {
  const { loadLLM } = await import('/tessera-web/src/llm.js');
  const llm = await loadLLM(model, { threads, flavour: threads > 1 ? 'mt' : 'st', cache: false, context });
  return {
    version: `tessera-web ${llm.runtime.build.version} (${llm.runtime.flavour}, ${llm.runtime.threads} thread(s), ${llm.runtime.worker ? 'worker' : 'page thread'})`,
    async generate(prompt, tokens) {
      await llm.reset();
      const stamps = [];
      const r = await llm.generate(prompt, { maxTokens: tokens, temperature: 0, stopAtEog: false, onToken: () => { stamps.push(performance.now()); } });
      return { text: r.text, stamps, promptTokens: r.timings.promptTokens, engineTokensPerSec: r.timings.tokensPerSec,
        enginePromptTokensPerSec: r.timings.promptTokensPerSec };
    },
    dispose: () => llm.dispose(),
  };
}

async function wllama({ threads, model, context }) {
  const { Wllama } = await import('/wllama/esm/index.js');
  const w = new Wllama({ default: '/wllama/esm/wasm/wllama.wasm' }, { suppressNativeLog: true });
  await w.loadModelFromUrl(model, { n_threads: threads, n_ctx: context, n_batch: 512, n_gpu_layers: 0, useCache: false });
  return {
    version: `wllama (llama.cpp in WebAssembly, ${w.getNumThreads()} thread(s), ${w.isMultithread() ? "multi" : "single"}-thread build, worker)`,
    async generate(prompt, tokens) {
      const stamps = [];
      let text = '';
      let timings = null;
      let usage = null;
      // cache_prompt false: every repetition feeds the whole prompt again, as tessera's reset() makes it.
      // Greedy: `temp` is llama.cpp's sampling field, `temperature` the OpenAI-style one; both set.
      const stream = await w.createCompletion({ prompt, max_tokens: tokens, temp: 0, temperature: 0, ignore_eos: true,
        cache_prompt: false, stream: true });
      for await (const chunk of stream) {
        const piece = chunk.choices?.[0]?.text ?? '';
        if (piece || !chunk.timings) stamps.push(performance.now());
        text += piece;
        timings = chunk.timings ?? timings;
        usage = chunk.usage ?? usage;
      }
      return { text, stamps, promptTokens: timings?.prompt_n ?? usage?.prompt_tokens ?? null,
        engineTokensPerSec: timings?.predicted_per_second ?? null, enginePromptTokensPerSec: timings?.prompt_per_second ?? null };
    },
    dispose: () => w.exit(),
  };
}

async function runBench({ engine, threads, model, prompt, tokens, reps, context }) {
  const t0 = performance.now();
  const contender = await (engine === 'tessera' ? tessera : wllama)({ threads, model, context });
  const loadMs = performance.now() - t0;
  await contender.generate(prompt, 8);  // both engines' code meets its optimizing tier before timing
  const runs = [];
  for (let r = 0; r < reps; ++r) runs.push(await contender.generate(prompt, tokens));
  await contender.dispose();
  const pick = (key) => { const xs = runs.map((x) => x[key]).filter((x) => typeof x === 'number'); return xs.length ? median(xs) : null; };
  return {
    engine, threads, version: contender.version, loadMs, tokens, crossOriginIsolated: globalThis.crossOriginIsolated,
    tokensPerSec: median(runs.map((x) => streamRate(x.stamps))), generated: runs[0].stamps.length,
    engineTokensPerSec: pick('engineTokensPerSec'), promptTokens: pick('promptTokens'), enginePromptTokensPerSec: pick('enginePromptTokensPerSec'),
    text: runs[0].text,
  };
}

window.runBench = (config) => runBench(config).then((r) => {
  log(`${config.engine} ${config.threads}: ${r.tokensPerSec?.toFixed(1)} tok/s`);
  return r;
}, (e) => {
  log(`error: ${e.message}`);
  return { error: `${e.message}` };
});
