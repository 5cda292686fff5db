// Compiled (never run) by `tsc -p js/test/tsconfig.json`: the hand-written .d.ts must describe
// the API as the tests and the README use it.
import { loadTrees, loadCompiledTrees, TesseraError, type TreeModel, type Answer } from 'tessera-web/trees';
import { environment, type Progress } from 'tessera-web';
import { loadLLM, type LLM, type GenerateResult, type ChatMessage } from 'tessera-web/llm';
import { loadCnn, loadCompiledCnn, type CnnModel, type Detections, type Tensor } from 'tessera-web/cnn';

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

async function llmUser(signal: AbortSignal): Promise<void> {
  const llm: LLM = await loadLLM('/models/m.gguf', { threads: 2, context: 512, kvCache: 'f16', promptF32: true, onProgress: (p) => console.log(p.loaded) });
  let text = '';
  for await (const piece of llm.generate('Once upon a time', { maxTokens: 32, temperature: 0, stop: ['\n\n'], signal })) text += piece;
  const result: GenerateResult = await llm.generate([1, 2, 3], { seed: 42n, onToken: ({ id, text: t }) => id !== 2 && t !== 'x' });
  const messages: ChatMessage[] = [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Hi' }];
  const answer = await llm.chat(messages, { topK: 40, topP: 0.9, minP: 0.05, repeatPenalty: 1.1 });
  const generation = llm.chat([...messages, { role: 'assistant', content: answer.text }]);
  generation.stop();
  const ids: Int32Array = await llm.tokenize(text, { parseSpecial: true });
  const back: string = await llm.detokenize(ids);
  const prompt: string = await llm.applyChatTemplate(messages);
  await llm.setChatTemplate('llama3');
  const perSecond: number | null = result.timings.tokensPerSec;
  console.log(back, prompt, perSecond, llm.info.chatTemplate.format, llm.info.tensorTypes, result.stopReason, (await generation).text);
  await llm.reset();
  await llm.dispose();
}
async function cnnUser(canvas: HTMLCanvasElement, signal: AbortSignal): Promise<void> {
  const net: CnnModel = await loadCnn('/models/yolov8n.onnx', { threads: 2, warmup: false, onProgress: (p) => console.log(p.phase) });
  const dims: (number | string | null)[] | null = net.info.inputs[0].dims;
  const outputs: Record<string, Tensor> = await net.run({ images: { data: new Float32Array(3 * 640 * 640), dims: [1, 3, 640, 640] } }, { signal });
  const output0 = outputs.output0;
  const logits: Float32Array = output0.type === 'float32' ? output0.data : new Float32Array(0);
  const typed = await net.run({ ids: { data: new BigInt64Array(4), dims: [1, 4] }, mask: { data: [1, 1, 0, 0], dims: [1, 4], type: 'bool' } });
  for (const t of Object.values(typed)) if (t.type === 'int64') console.log(t.data[0] + 1n);
  const found: Detections = await net.detect({ data: new Uint8ClampedArray(16), width: 2, height: 2 },
    { confidence: 0.3, iou: 0.5, format: 'yolov5', normalize: { mean: 127, std: 128 }, size: [320, 240], classNames: ['a'], signal });
  const fromCanvas = await net.detect(canvas, { fit: 'stretch', boxes: 'pixels', background: true });
  const [x, y, w, h] = found.detections[0].bbox_xywh;
  console.log(dims, logits.length, x + y + w + h, found.detections[0].class_name, fromCanvas.image, net.info.classNames, net.stats.steadyCallMs);
  const digits = await loadCnn('/models/digits_cnn.onnx', { warmupShapes: { input: [1, 1, 8, 8] } });
  const t = digits.timings;
  const firstCall: number | null = t.warmup?.firstCallMs ?? null;
  console.log(t.compileMs + t.instantiateMs + t.modelMs, t.compiledBefore, firstCall, t.warmup?.skipped);
  await digits.dispose();
  const compiled: CnnModel = await loadCompiledCnn({ module: { st: new URL('/example-module/digits_cnn.mjs', location.href) }, worker: false, warmup: 1 });
  console.log(compiled.info.operators, (await compiled.run({ input: { data: new Float32Array(64), dims: [1, 1, 8, 8] } })).logits.dims);
  await compiled.dispose();
  await net.dispose();
}
void main();
void llmUser(new AbortController().signal);
void cnnUser(document.createElement('canvas'), new AbortController().signal);
