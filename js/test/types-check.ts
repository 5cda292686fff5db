// Compiled (never run) by `tsc -p js/test/tsconfig.json`: the hand-written .d.ts must describe
// the API as the tests and the README use it.
import { loadTrees, loadCompiledTrees, TesseraError, type TreeModel, type Answer } from 'tessera-web/trees';
import { environment, type Progress } from 'tessera-web';

async function main(): Promise<void> {
  const seen: Progress[] = [];
  const model: TreeModel = await loadTrees('/models/m.json', { threads: 2, onProgress: (p) => seen.push(p), cache: false });
  const one: Answer = await model.predict({ a: 1, b: 'cat', c: null, d: true });
  const many: Answer[] = await model.predict([{ a: 1 }]);
  const rows: Float64Array = await model.predict(new Float32Array(8), { margin: true });
  const nested: Float64Array = await model.predict([[1, 2], [3, null]]);
  await model.setCategories({ b: ['cat', 'dog'] });
  const reason: string | null = model.runtime.fallbackReason;
  const first: number | null = model.stats.firstCallMs;
  const keys: string[] = model.info.outputKeys;
  await model.dispose();
  const own = await loadCompiledTrees({ module: { st: '/churn.mjs' } });
  await own.dispose();
  const env = await environment({ worker: false });
  try {
    await loadTrees(new ArrayBuffer(0));
  } catch (e) {
    if (e instanceof TesseraError && e.code === 'out_of_memory') console.log(e.message);
  }
  console.log(one, many, rows, nested, reason, first, keys, env.flavour, seen.length);
}
void main();
