// The LLM family's side of the worker (or of the page, in main-thread mode): one module
// instance, one model and its session, called through the LLM C ABI
// (include/tessera/wasm/llm_abi.hpp). Every operation is synchronous and short: the client
// (../llm.js) feeds a prompt a batch at a time and generates a few tokens per call, so the
// worker's event loop turns in between (V8 tiers the kernels up, an abort is seen).
import { ModelBackend } from '../core/backend.js';
import { now } from '../core/environment.js';
import { tesseraError } from '../core/errors.js';

// tessera_llm_params (48 bytes, little-endian) and the flags it carries.
const PARAMS_BYTES = 48;
const FLAG_STOP_AT_EOG = 1;
const FLAG_RENDER_SPECIAL = 2;
// tessera_llm_session_new's flags.
const SESSION_KV_F16 = 1;
const SESSION_PROMPT_F32 = 2;
// tessera_llm_stop_* in order.
const STOP_REASONS = ['none', 'end_of_generation', 'stop_string', 'max_tokens', 'cancelled', 'context_full'];
const WARMUP_PROMPT_TOKENS = 8;
// Positions of a session's KV cache unless asked: the model's trained context, at most this
// (a 110M-parameter llama's f32 cache takes 75 MB per 1024 positions).
const DEFAULT_CONTEXT = 2048;

export class LlmBackend extends ModelBackend {
  constructor() {
    super();
    this.model = 0;
    this.session = 0;
    this.info = null;
    this.params = 0;
  }

  /** Loads the streamed GGUF and opens its session: {info, context, batch}. */
  loadEnd({ context = 0, batch = 0, kvCache = 'f32', promptF32 = false, chatTemplate } = {}) {
    if (kvCache !== 'f32' && kvCache !== 'f16') throw new TypeError(`kvCache must be 'f32' or 'f16', not '${kvCache}'`);
    if (typeof promptF32 !== 'boolean') throw new TypeError(`promptF32 must be a boolean, not ${promptF32}`);
    this.model = this.rt.callPointer('tessera_llm_load', this.takeBytes());  // the model keeps the bytes
    if (chatTemplate) this.setChatTemplate({ name: chatTemplate });
    const trained = JSON.parse(this.rt.string(this.rt.call('tessera_llm_info', this.model))).contextLength;
    const positions = context || Math.min(trained || DEFAULT_CONTEXT, DEFAULT_CONTEXT);
    const flags = (kvCache === 'f16' ? SESSION_KV_F16 : 0) | (promptF32 ? SESSION_PROMPT_F32 : 0);
    this.session = this.rt.callPointer('tessera_llm_session_new', this.model, positions, batch >>> 0, flags);
    this.params = this.rt.malloc(PARAMS_BYTES);
    return this.describe();
  }

  describe() {
    this.info = JSON.parse(this.rt.string(this.rt.call('tessera_llm_info', this.model)));
    return {
      info: this.info,
      context: this.rt.call('tessera_llm_context', this.session) >>> 0,
      batch: this.rt.call('tessera_llm_batch', this.session) >>> 0,
    };
  }

  setChatTemplate({ name }) {
    const { ptr, bytes } = this.textIntoHeap(name);
    this.rt.check(this.rt.call('tessera_llm_set_chat_template', this.model, ptr, bytes));
    return this.describe();
  }

  // The answer of tokenize, copied out of the heap.
  tokenizeText(text, addSpecial, parseSpecial) {
    const { ptr, bytes } = this.textIntoHeap(text);
    const n = this.rt.checkCount(this.rt.call('tessera_llm_tokenize', this.model, ptr, bytes, addSpecial ? 1 : 0, parseSpecial ? 1 : 0));
    const at = this.rt.call('tessera_llm_ids', this.model) >>> 0;
    return new Int32Array(this.rt.memory.buffer, at, n).slice();
  }

  tokenize({ text, addSpecial = true, parseSpecial = false }) {
    return { ids: this.tokenizeText(String(text), addSpecial, parseSpecial) };
  }

  // Bytes -> text (copied first: TextDecoder refuses views of a SharedArrayBuffer).
  decodeHeap(ptr, bytes) {
    return bytes === 0 ? '' : new TextDecoder().decode(this.rt.u8().slice(ptr, ptr + bytes));
  }

  idsIntoHeap(ids) {
    const list = ids instanceof Int32Array ? ids : Int32Array.from(ids, (v) => {
      if (!Number.isInteger(v)) throw tesseraError('invalid_argument', `token ids are integers, not ${v}`);
      return v;
    });
    const ptr = this.scratchFor(list.byteLength || 4);
    this.rt.u8().set(new Uint8Array(list.buffer, list.byteOffset, list.byteLength), ptr);
    return { ptr, n: list.length };
  }

  detokenize({ ids, renderSpecial = false }) {
    const { ptr, n } = this.idsIntoHeap(ids);
    const bytes = this.rt.checkCount(this.rt.call('tessera_llm_detokenize', this.model, ptr, n, renderSpecial ? 1 : 0));
    return { text: this.decodeHeap(this.rt.call('tessera_llm_text', this.model) >>> 0, bytes) };
  }

  // messages -> the prompt text in the model's chat format.
  chatPromptText(messages, addGenerationPrompt) {
    if (!Array.isArray(messages)) throw new TypeError('chat messages are an array of {role, content}');
    const encoder = new TextEncoder();
    const parts = [];
    const spans = new Uint32Array(messages.length * 4);
    let at = 0;
    messages.forEach((m, i) => {
      if (!m || typeof m.role !== 'string' || typeof m.content !== 'string') {
        throw new TypeError(`chat message ${i} is not {role: string, content: string}`);
      }
      const role = encoder.encode(m.role);
      const content = encoder.encode(m.content);
      spans.set([at, role.byteLength, at + role.byteLength, content.byteLength], i * 4);
      parts.push(role, content);
      at += role.byteLength + content.byteLength;
    });
    const spansAt = (at + 3) & ~3;
    const base = this.scratchFor(spansAt + spans.byteLength || 4);
    const heap = this.rt.u8();
    let p = base;
    for (const part of parts) {
      heap.set(part, p);
      p += part.byteLength;
    }
    heap.set(new Uint8Array(spans.buffer), base + spansAt);
    const bytes = this.rt.checkCount(this.rt.call('tessera_llm_chat_prompt', this.model, base, at, base + spansAt, messages.length,
      addGenerationPrompt ? 1 : 0));
    return this.decodeHeap(this.rt.call('tessera_llm_text', this.model) >>> 0, bytes);
  }

  chatPrompt({ messages, addGenerationPrompt = true }) {
    return { text: this.chatPromptText(messages, addGenerationPrompt) };
  }

  /**
   * Queues a prompt: ids, a text (tokenized with addSpecial / parseSpecial) or chat messages
   * (the chat format's prompt, special tokens parsed). Returns {promptTokens, kept, pending}.
   */
  prepare({ ids, text, messages, addSpecial = true, parseSpecial = false }) {
    const t0 = now();
    let list = ids;
    if (messages) list = this.tokenizeText(this.chatPromptText(messages, true), true, true);
    else if (text !== undefined) list = this.tokenizeText(String(text), addSpecial, parseSpecial);
    if (!list) throw new TypeError('prepare needs ids, a text or chat messages');
    const { ptr, n } = this.idsIntoHeap(list);
    const kept = this.rt.checkCount(this.rt.call('tessera_llm_prepare', this.session, ptr, n));
    return { promptTokens: n, kept, pending: n - kept, ms: now() - t0 };
  }

  /** Feeds up to maxTokens queued prompt tokens: {left, fed, ms}. */
  feed({ maxTokens }) {
    const t0 = now();
    const before = this.rt.call('tessera_llm_position', this.session) >>> 0;
    const left = this.rt.checkCount(this.rt.call('tessera_llm_feed', this.session, maxTokens >>> 0));
    const fed = (this.rt.call('tessera_llm_position', this.session) >>> 0) - before;
    return { left, fed, ms: now() - t0 };
  }

  /** Starts a generation: sampling parameters as llm.d.ts's GenerateOptions (checked by the client). */
  begin({ temperature, topK, topP, minP, repeatPenalty, frequencyPenalty, presencePenalty, penaltyLastN, maxTokens, seed,
    stopAtEog, renderSpecial, stop = [] }) {
    const view = new DataView(this.rt.memory.buffer, this.params, PARAMS_BYTES);
    view.setFloat32(0, temperature, true);
    view.setFloat32(4, topP, true);
    view.setFloat32(8, minP, true);
    view.setFloat32(12, repeatPenalty, true);
    view.setFloat32(16, frequencyPenalty, true);
    view.setFloat32(20, presencePenalty, true);
    view.setInt32(24, topK, true);
    view.setInt32(28, penaltyLastN, true);
    view.setInt32(32, maxTokens, true);
    view.setUint32(36, (stopAtEog ? FLAG_STOP_AT_EOG : 0) | (renderSpecial ? FLAG_RENDER_SPECIAL : 0), true);
    view.setBigUint64(40, BigInt.asUintN(64, BigInt(seed)), true);
    // The stop strings back to back, then their byte counts.
    const encoder = new TextEncoder();
    const encoded = stop.map((s) => encoder.encode(s));
    const textBytes = encoded.reduce((n, e) => n + e.byteLength, 0);
    const lengthsAt = (textBytes + 3) & ~3;
    const base = this.scratchFor(lengthsAt + 4 * encoded.length || 4);
    const heap = this.rt.u8();
    let p = base;
    for (const e of encoded) {
      heap.set(e, p);
      p += e.byteLength;
    }
    new Uint32Array(this.rt.memory.buffer, base + lengthsAt, encoded.length).set(encoded.map((e) => e.byteLength));
    this.rt.check(this.rt.call('tessera_llm_generate_begin', this.session, this.params, base, base + lengthsAt, encoded.length));
    return null;
  }

  // A tessera_llm_step read out of the heap: ids, each token's text, the tail, the stop.
  readStep(ptr) {
    const w = new Uint32Array(this.rt.memory.buffer, ptr, 7);
    const [tokens, stop, idsAt, endsAt, textAt, textBytes, position] = w;
    const ids = new Int32Array(this.rt.memory.buffer, idsAt, tokens).slice();
    const ends = new Uint32Array(this.rt.memory.buffer, endsAt, tokens + 1).slice();
    const text = this.rt.u8().slice(textAt, textAt + textBytes);
    const decoder = new TextDecoder();
    const pieces = [];
    let begin = 0;
    for (let i = 0; i < tokens; ++i) {
      pieces.push(decoder.decode(text.subarray(begin, ends[i])));
      begin = ends[i];
    }
    return { ids, pieces, tail: decoder.decode(text.subarray(begin, ends[tokens])), stop: STOP_REASONS[stop] ?? 'none', position };
  }

  /** Up to maxTokens more tokens: {ids, pieces, tail, stop, position, decoded, ms}. */
  step({ maxTokens }) {
    const t0 = now();
    const before = this.rt.call('tessera_llm_position', this.session) >>> 0;
    const result = this.readStep(this.rt.callPointer('tessera_llm_generate_step', this.session, maxTokens >>> 0));
    return { ...result, decoded: result.position - before, ms: now() - t0 };
  }

  /** Ends the generation where it stands: {tail} (text that was held back). */
  finish() {
    const { tail } = this.readStep(this.rt.callPointer('tessera_llm_generate_finish', this.session));
    return { tail };
  }

  reset() {
    this.rt.call('tessera_llm_reset', this.session);
  }

  // One prompt batch and one generated token (both paths of the kernels), timed in the
  // module; the cache is emptied afterwards.
  warmup() {
    const t0 = now();
    const vocab = this.info.tokenizer.tokens;
    const ids = Int32Array.from({ length: Math.min(WARMUP_PROMPT_TOKENS, this.rt.call('tessera_llm_context', this.session) - 1) },
      (_, i) => (i * 7 + 3) % vocab);
    this.prepare({ ids });
    while (this.feed({ maxTokens: 1 << 20 }).left > 0);
    this.begin({ temperature: 0, topK: 1, topP: 1, minP: 0, repeatPenalty: 1, frequencyPenalty: 0, presencePenalty: 0,
      penaltyLastN: 0, maxTokens: 2, seed: 0, stopAtEog: false, renderSpecial: false });
    this.step({ maxTokens: 2 });
    this.reset();
    return { ms: now() - t0, tokens: ids.length + 2 };
  }

  releaseModel() {
    if (this.session) this.rt.call('tessera_llm_session_free', this.session);
    if (this.model) this.rt.call('tessera_llm_free', this.model);
    this.rt?.free(this.params);
    this.session = 0;
    this.model = 0;
    this.params = 0;
    this.info = null;
  }
}

export function createBackend() {
  return new LlmBackend();
}
