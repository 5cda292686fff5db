// The families a worker can host: one line each, imported only when a model of that family is
// loaded, so a trees-only page never fetches another family's code or module.
export const BACKENDS = {
  trees: () => import('../trees/backend.js'),
  llm: () => import('../llm/backend.js'),
  cnn: () => import('../cnn/backend.js'),
};

export async function createBackend(family) {
  const load = BACKENDS[family];
  if (!load) throw new TypeError(`unknown model family '${family}'`);
  return (await load()).createBackend();
}

// Typed-array results travel back to the page without a copy.
export function transferablesOf(result) {
  const list = [];
  if (result && typeof result === 'object') {
    for (const v of Object.values(result)) {
      if (ArrayBuffer.isView(v) && v.buffer instanceof ArrayBuffer) list.push(v.buffer);
    }
  }
  return list;
}
