// The tessera-web demo page. Each family demo is one entry of DEMOS, started with the page;
// the trees demo scores the feature form with the breast-cancer model, the LLM demo streams
// text from a GGUF model. Query parameters let tests drive it:
// ?flavour=st|mt&threads=N&llm-model=URL.
import { loadLLM } from '/tessera-web/src/llm.js';
import { loadTrees } from '/tessera-web/src/trees.js';

// The LLM demo's model unless ?llm-model= names another: the small model the repository ships
// for it (examples/models/, served under /models/).
const LLM_DEMO_MODEL = '/models/llm-demo.gguf';

const pageStart = performance.now();
const params = new URLSearchParams(location.search);
const $ = (id) => document.getElementById(id);
const ms = (v) => (v === null || v === undefined ? '–' : `${v.toFixed(v < 1 ? 3 : 1)} ms`);

// What a test (or a curious reader) can inspect: window.tesseraDemo.trees.
window.tesseraDemo = {};

async function readSamples() {
  const text = await (await fetch('/models/breast_cancer_sample.csv')).text();
  const [header, ...lines] = text.trim().split('\n');
  const names = header.split(',');
  const features = names.slice(0, -1);  // the last column is XGBoost's own p("1")
  return {
    features,
    rows: lines.map((line) => {
      const cells = line.split(',').map(Number);
      return { values: cells.slice(0, -1), reference: cells[cells.length - 1] };
    }),
  };
}

const DEMOS = {
  async trees() {
    const state = { model: null, samples: await readSamples(), firstPredictionAt: null, answers: [] };
    window.tesseraDemo.trees = state;
    const form = $('features');
    state.samples.features.forEach((name) => {
      const label = document.createElement('label');
      label.textContent = name.replaceAll('_', ' ');
      const input = document.createElement('input');
      input.name = name;
      input.type = 'number';
      input.step = 'any';
      label.append(input);
      form.append(label);
    });
    state.samples.rows.forEach((_, i) => $('sample').append(new Option(`sample ${i + 1}`, i)));
    const fill = (i) => {
      state.samples.rows[i].values.forEach((v, f) => {
        form.elements[state.samples.features[f]].value = String(v);
      });
      $('reference').textContent = state.samples.rows[i].reference.toFixed(6);
    };
    fill(0);
    $('sample').onchange = () => fill(Number($('sample').value));
    $('flavour').value = params.get('flavour') ?? 'auto';

    const record = () => {
      const r = {};
      for (const name of state.samples.features) {
        const v = form.elements[name].value.trim();
        r[name] = v === '' ? null : Number(v);  // an empty field is a missing value
      }
      return r;
    };

    async function load() {
      $('load').disabled = true;
      $('predict').disabled = true;
      await state.model?.dispose();
      const threads = params.has('threads') ? Number(params.get('threads')) : 'auto';
      state.model = await loadTrees('/models/breast_cancer.json', {
        flavour: $('flavour').value,
        threads,
        onProgress: ({ phase, loaded, total }) => {
          $('progress').value = total ? loaded / total : 0;
          $('progress-text').textContent = `${phase}: ${loaded} of ${total ?? '?'} bytes`;
        },
      });
      const rt = state.model.runtime;
      $('runtime').textContent = `flavour ${rt.flavour} (${rt.threads} thread${rt.threads > 1 ? 's' : ''}), ` +
        `${rt.worker ? 'in a worker' : 'on the page thread'}, cross-origin isolated: ${rt.crossOriginIsolated}` +
        (rt.fallbackReason ? ` | single-threaded because ${rt.fallbackReason}` : '');
      $('runtime').classList.toggle('fallback', Boolean(rt.fallbackReason));
      const t = state.model.timings;
      $('t-load').textContent = ms(t.loadMs) + (t.fromCache ? ' (from the cache)' : '');
      $('t-warmup').textContent = `${ms(t.warmup?.firstCallMs)} / ${ms(t.warmup?.steadyCallMs)}`;
      $('load').disabled = false;
      $('predict').disabled = false;
    }

    async function predict() {
      const answer = await state.model.predict(record());
      state.answers.push(answer);
      $('p0').textContent = answer['0'].toFixed(6);
      $('p1').textContent = answer['1'].toFixed(6);
      if (state.firstPredictionAt === null) {
        state.firstPredictionAt = performance.now() - pageStart;
        $('t-first-prediction').textContent = ms(state.firstPredictionAt);
      }
      const s = state.model.stats;
      $('t-predict').textContent = `${ms(s.firstCallMs)} / ${ms(s.steadyCallMs)}`;
      return answer;
    }

    // Every sample through the form, as a user would (the browser test compares these with the CLI).
    state.runAll = async () => {
      const out = [];
      for (let i = 0; i < state.samples.rows.length; ++i) {
        $('sample').value = String(i);
        fill(i);
        out.push(await predict());
      }
      return out;
    };

    $('load').onclick = () => load().catch(showError);
    $('predict').onclick = () => predict().catch(showError);
    await load();
    await predict();
  },
  // vision: digits CNN and face detector (tessera-web/vision), when that module lands.

  // The model loads in the background (window.tesseraDemo.llm.loaded), so a missing or large
  // model never holds up the other demos; its errors show in this section.
  async llm() {
    const state = { model: null, loaded: null, running: null, results: [], messages: [], tokensSoFar: 0 };
    window.tesseraDemo.llm = state;
    $('llm-url').value = params.get('llm-model') ?? LLM_DEMO_MODEL;
    $('llm-flavour').value = params.get('flavour') ?? 'auto';
    const show = (id, text) => { $(id).textContent = text; };
    const perSecond = (v) => (v === null || v === undefined ? '–' : `${v.toFixed(1)} tokens/s`);
    const fail = (e) => {
      show('llm-runtime', `error: ${e.message}`);
      $('llm-runtime').classList.add('fallback');
      state.error = e.message;
    };

    async function load(source) {
      $('llm-load').disabled = true;
      $('llm-generate').disabled = true;
      await state.model?.dispose();
      state.model = null;
      state.messages = [];
      const threads = params.has('threads') ? Number(params.get('threads')) : 'auto';
      try {
        state.model = await loadLLM(source, {
          flavour: $('llm-flavour').value,
          threads,
          onProgress: ({ phase, loaded, total }) => {
            $('llm-progress').value = total ? loaded / total : 0;
            show('llm-progress-text', `${phase}: ${(loaded / 1e6).toFixed(1)} of ${total ? (total / 1e6).toFixed(1) : '?'} MB`);
          },
        });
        const { info, runtime: rt, timings: t } = state.model;
        show('llm-runtime', `${info.name || info.architecture}: ${info.layers} layers, ${info.embeddingLength} wide, ` +
          `${Object.keys(info.tensorTypes).join('/')} weights, ${(info.fileBytes / 1e6).toFixed(1)} MB, ` +
          `context ${state.model.context}, chat format ${info.chatTemplate.format} | flavour ${rt.flavour} ` +
          `(${rt.threads} thread${rt.threads > 1 ? 's' : ''})` + (rt.fallbackReason ? ` | single-threaded because ${rt.fallbackReason}` : ''));
        $('llm-runtime').classList.toggle('fallback', Boolean(rt.fallbackReason));
        show('llm-t-load', `${ms(t.loadMs)} + warm-up ${ms(t.readyMs - t.loadMs)}${t.fromCache ? ' (from the cache)' : ''}`);
        $('llm-generate').disabled = false;
      } finally {
        $('llm-load').disabled = false;
      }
    }

    async function generate() {
      const model = state.model;
      const controller = new AbortController();
      state.controller = controller;
      state.tokensSoFar = 0;
      $('llm-generate').disabled = true;
      $('llm-stop').disabled = false;
      const prompt = $('llm-prompt').value;
      const chat = $('llm-chat').checked;
      const output = $('llm-output');
      const answer = document.createElement('b');
      if (chat) {
        state.messages.push({ role: 'user', content: prompt });
        output.append(`${output.textContent ? '\n\n' : ''}user: ${prompt}\nassistant: `);
      } else {
        output.textContent = prompt;
      }
      output.append(answer);
      const options = {
        maxTokens: Number($('llm-max-tokens').value),
        temperature: Number($('llm-temperature').value),
        seed: Number($('llm-seed').value),
        stopAtEog: !$('llm-ignore-eos').checked,
        signal: controller.signal,
        onToken: () => { state.tokensSoFar += 1; },
      };
      const generation = chat ? model.chat(state.messages, options) : model.generate(prompt, options);
      let result;
      try {
        for await (const piece of generation) answer.append(piece);
        result = await generation;
      } catch (e) {
        if (e.code !== 'cancelled' || !e.partial) throw e;
        result = e.partial;  // the stop button: keep what was generated
      } finally {
        $('llm-generate').disabled = false;
        $('llm-stop').disabled = true;
      }
      if (chat) state.messages.push({ role: 'assistant', content: result.text });
      const t = result.timings;
      show('llm-t-first', ms(t.firstTokenMs));
      show('llm-t-prompt', `${t.promptTokens} (${t.reusedTokens} from the cache), ${perSecond(t.promptTokensPerSec)}`);
      show('llm-t-generate', `${t.generatedTokens}, ${perSecond(t.tokensPerSec)}`);
      show('llm-t-stop', result.stopReason.replaceAll('_', ' '));
      state.results.push(result);
      return result;
    }

    $('llm-load').onclick = () => { state.loaded = load($('llm-url').value).catch(fail); };
    $('llm-file').onchange = () => {
      const file = $('llm-file').files[0];
      if (file) state.loaded = load(file).catch(fail);
    };
    $('llm-generate').onclick = () => { state.running = generate().catch(fail); };
    $('llm-stop').onclick = () => state.controller?.abort();
    $('llm-chat').onchange = () => { state.messages = []; $('llm-output').textContent = ''; };
    state.loaded = load($('llm-url').value).catch(fail);
  },
};

function showError(e) {
  $('runtime').textContent = `error: ${e.message}`;
  $('runtime').classList.add('fallback');
  window.tesseraDemo.error = e.message;
}

window.tesseraDemo.ready = (async () => {
  for (const [name, start] of Object.entries(DEMOS)) {
    if (document.querySelector(`[data-demo="${name}"]`)) await start();
  }
})().catch((e) => {
  showError(e);
  throw e;
});
