// The tessera-web demo page. Each family demo is one entry of DEMOS, started with the page;
// the trees demo scores the feature form with the breast-cancer model. Query parameters let
// tests drive it: ?flavour=st|mt&threads=N&autorun=1.
import { loadTrees } from '/tessera-web/src/trees.js';

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
  // llm: text generation (tessera-web/llm), when that module lands.
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
