// tessera-web/llm: llama-family language models from GGUF files (llama, qwen2, gemma3, phi3;
// F32/F16/BF16/Q8_0/Q4_0/Q4_1/Q5_0/Q5_1/Q4_K/Q5_K/Q6_K weights) in WebAssembly SIMD128, in a
// worker by default.
//
//   import { loadLLM } from 'tessera-web/llm';
//   const llm = await loadLLM('/models/model.gguf', { onProgress: (p) => console.log(p) });
//   for await (const text of llm.generate('Once upon a time', { maxTokens: 64 })) out.append(text);
//   const { text, timings } = await llm.chat([{ role: 'user', content: 'Hi!' }], { signal });
//   await llm.dispose();
//
// A generation is fed and generated in short calls to the worker (a prompt batch, or a few
// tokens: about TARGET_STEP_MS each), so the page never waits long for a stop button, an
// AbortSignal takes effect between two steps, and V8 optimizes the kernels as they run.
import { loadModel, sendModelBytes } from './core/loader.js';
import { ModelHandle } from './core/model-handle.js';
import { now, yieldToEventLoop } from './core/environment.js';
import { tesseraError, throwIfAborted } from './core/errors.js';

export { TesseraError } from './core/errors.js';

const TARGET_STEP_MS = 20;
const MAX_TOKENS_PER_STEP = 16;

const DEFAULTS = Object.freeze({
  maxTokens: 128,
  temperature: 0.8,
  topK: 40,
  topP: 0.95,
  minP: 0.05,
  repeatPenalty: 1.0,
  frequencyPenalty: 0.0,
  presencePenalty: 0.0,
  penaltyLastN: 64,
  stopAtEog: true,
  renderSpecial: false,
});

function numberOption(options, name, { integer = false, min = -Infinity, max = Infinity } = {}) {
  const v = options[name] ?? DEFAULTS[name];
  if (typeof v !== 'number' || Number.isNaN(v) || (integer && !Number.isInteger(v)) || v < min || v > max) {
    throw tesseraError('invalid_argument', `${name} must be ${integer ? 'an integer' : 'a number'} in [${min}, ${max}], not ${v}`);
  }
  return v;
}

function randomSeed() {
  const words = new Uint32Array(2);
  globalThis.crypto.getRandomValues(words);
  return words[0] * 2 ** 21 + (words[1] >>> 11);  // 53 bits
}

// The sampling and stopping parameters a generation sends to the backend, checked here.
function samplingParams(options) {
  const stop = options.stop ?? [];
  if (!Array.isArray(stop) || stop.some((s) => typeof s !== 'string')) throw tesseraError('invalid_argument', 'stop must be an array of strings');
  const seed = options.seed ?? randomSeed();
  if (!(Number.isInteger(seed) && seed >= 0) && typeof seed !== 'bigint') {
    throw tesseraError('invalid_argument', `seed must be a non-negative integer or a BigInt, not ${seed}`);
  }
  const maxTokens = options.maxTokens === Infinity ? -1 : numberOption(options, 'maxTokens', { integer: true, min: -1, max: 2 ** 31 - 1 });
  return {
    temperature: numberOption(options, 'temperature'),
    topK: numberOption(options, 'topK', { integer: true, min: -(2 ** 31), max: 2 ** 31 - 1 }),
    topP: numberOption(options, 'topP'),
    minP: numberOption(options, 'minP'),
    repeatPenalty: numberOption(options, 'repeatPenalty'),
    frequencyPenalty: numberOption(options, 'frequencyPenalty'),
    presencePenalty: numberOption(options, 'presencePenalty'),
    penaltyLastN: numberOption(options, 'penaltyLastN', { integer: true, min: 0, max: 1 << 20 }),
    maxTokens,
    seed: typeof seed === 'bigint' ? seed : Math.floor(seed),
    stopAtEog: options.stopAtEog ?? DEFAULTS.stopAtEog,
    renderSpecial: options.renderSpecial ?? DEFAULTS.renderSpecial,
    stop,
  };
}

/**
 * One generation: an async iterable of text pieces, and a promise of the whole result
 * (`await llm.generate(...)`). It runs whether or not it is iterated; leaving a for-await loop
 * early stops it.
 */
export class Generation {
  /** @internal */
  constructor(run) {
    this._queue = [];
    this._waiting = null;
    this._done = false;
    this._error = null;
    this._stopRequested = false;
    this._result = run(this).then((result) => {
      this._finish(null);
      return result;
    }, (e) => {
      this._finish(e);
      throw e;
    });
    this._result.catch(() => {});  // the error reaches whoever iterates or awaits
  }

  /** @internal a piece of text for the iterator */
  _push(text) {
    if (!text) return;
    if (this._waiting) {
      const { resolve } = this._waiting;
      this._waiting = null;
      resolve({ value: text, done: false });
    } else {
      this._queue.push(text);
    }
  }

  _finish(error) {
    this._done = true;
    this._error = error;
    if (this._waiting) {
      const { resolve, reject } = this._waiting;
      this._waiting = null;
      if (error) reject(error);
      else resolve({ value: undefined, done: true });
    }
  }

  /** Asks the generation to stop after the current step (its stopReason is then 'cancelled'). */
  stop() {
    this._stopRequested = true;
  }

  [Symbol.asyncIterator]() {
    return {
      next: () => {
        if (this._queue.length) return Promise.resolve({ value: this._queue.shift(), done: false });
        if (this._done) return this._error ? Promise.reject(this._error) : Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve, reject) => {
          this._waiting = { resolve, reject };
        });
      },
      return: async () => {
        this.stop();
        await this._result.catch(() => {});
        return { value: undefined, done: true };
      },
    };
  }

  then(onFulfilled, onRejected) { return this._result.then(onFulfilled, onRejected); }
  catch(onRejected) { return this._result.catch(onRejected); }
  finally(onFinally) { return this._result.finally(onFinally); }
}

export class LLM extends ModelHandle {
  /** @internal */
  constructor(channel, loaded, runtime, timings) {
    super(channel, runtime, timings);
    this.info = loaded.info;
    this.context = loaded.context;
    this.batch = loaded.batch;
    this.lastTimings = null;
    this._busy = false;
    this._tokensPerStep = 1;
  }

  /**
   * Continues `prompt` (a string, tokenized with addSpecial (default true: BOS) and
   * parseSpecial (default false); or token ids). The KV cache keeps what an earlier prompt
   * shares with this one.
   */
  generate(prompt, options = {}) {
    let input;
    if (typeof prompt === 'string') input = { text: prompt, addSpecial: options.addSpecial ?? true, parseSpecial: options.parseSpecial ?? false };
    else if (prompt instanceof Int32Array || Array.isArray(prompt)) input = { ids: Int32Array.from(prompt) };
    else return this._failed(new TypeError('generate takes a string or token ids (an Int32Array or an array of integers)'));
    return new Generation((g) => this._run(input, options, g));
  }

  /**
   * Answers a conversation ([{role: 'system' | 'user' | 'assistant', content}]) in the model's
   * chat format. Sending the whole conversation again with the next user message reuses the
   * KV cache of the earlier turns.
   */
  chat(messages, options = {}) {
    if (!Array.isArray(messages)) return this._failed(new TypeError('chat takes an array of {role, content} messages'));
    return new Generation((g) => this._run({ messages }, options, g));
  }

  _failed(error) {
    return new Generation(() => Promise.reject(error));
  }

  async _run(input, options, generation) {
    this._checkOpen();
    if (this._busy) throw tesseraError('invalid_argument', 'a generation is already running on this model (await or stop it first)');
    this._busy = true;
    try {
      return await this._generate(input, options, generation);
    } finally {
      this._busy = false;
    }
  }

  async _generate(input, options, generation) {
    const t0 = now();
    const { signal, onToken } = options;
    const params = samplingParams(options);
    throwIfAborted(signal);
    const call = (op, args) => this._channel.call(op, args);
    const worker = this.runtime.worker;
    const between = async () => {
      if (!worker) await yieldToEventLoop();  // main-thread mode: let the page breathe
    };
    const prepared = await call('prepare', input);
    const timings = {
      promptTokens: prepared.promptTokens,
      reusedTokens: prepared.kept,
      promptMs: 0,
      promptComputeMs: 0,
      promptTokensPerSec: null,
      firstTokenMs: null,
      generatedTokens: 0,
      generateComputeMs: 0,
      tokensPerSec: null,
      totalMs: 0,
    };
    const ids = [];
    let text = '';
    let stopReason = 'none';
    let decoded = 0;
    const result = () => {
      timings.totalMs = now() - t0;
      if (timings.promptComputeMs > 0) timings.promptTokensPerSec = (timings.promptTokens - timings.reusedTokens) / timings.promptComputeMs * 1000;
      if (timings.generateComputeMs > 0 && decoded > 0) timings.tokensPerSec = decoded / timings.generateComputeMs * 1000;
      timings.generatedTokens = ids.length;
      this.lastTimings = timings;
      return { text, tokens: Int32Array.from(ids), stopReason, seed: params.seed, timings };
    };
    // Ends the generation where it stands (a stop, an abort): the text held back comes out.
    const stopHere = async () => {
      const { tail } = await call('finish', {});
      text += tail;
      generation._push(tail);
      stopReason = 'cancelled';
    };
    const aborted = async () => {
      await stopHere();
      const e = tesseraError('cancelled', abortMessage(signal));
      e.partial = result();
      return e;
    };

    // The prompt, a batch per call.
    for (let left = prepared.pending; left > 0;) {
      if (signal?.aborted) throw tesseraError('cancelled', abortMessage(signal));
      if (generation._stopRequested) {
        stopReason = 'cancelled';
        return result();
      }
      const r = await call('feed', { maxTokens: this.batch });
      left = r.left;
      timings.promptComputeMs += r.ms;
      await between();
    }
    timings.promptMs = now() - t0;
    await call('begin', params);

    // The answer, a few tokens per call.
    for (;;) {
      if (signal?.aborted) throw await aborted();
      if (generation._stopRequested) {
        await stopHere();
        break;
      }
      const step = await call('step', { maxTokens: this._tokensPerStep });
      timings.generateComputeMs += step.ms;
      decoded += step.decoded;
      if (timings.firstTokenMs === null && step.ids.length) timings.firstTokenMs = now() - t0;
      for (let i = 0; i < step.ids.length; ++i) {
        ids.push(step.ids[i]);
        text += step.pieces[i];
        generation._push(step.pieces[i]);
        if (onToken && onToken({ id: step.ids[i], text: step.pieces[i] }) === false) generation.stop();
      }
      text += step.tail;
      generation._push(step.tail);
      if (step.stop !== 'none') {
        stopReason = step.stop;
        break;
      }
      this._adaptStep(step.ids.length, step.ms);
      await between();
    }
    return result();
  }

  // Tokens per call: as many as fit in about TARGET_STEP_MS.
  _adaptStep(tokens, ms) {
    if (tokens < this._tokensPerStep) return;
    if (ms < TARGET_STEP_MS / 2) this._tokensPerStep = Math.min(MAX_TOKENS_PER_STEP, this._tokensPerStep * 2);
    else if (ms > TARGET_STEP_MS * 2) this._tokensPerStep = Math.max(1, this._tokensPerStep >> 1);
  }

  /** Token ids of a text (addSpecial: BOS/EOS as the model asks, default true; parseSpecial: control tokens written in the text, default false). */
  async tokenize(text, { addSpecial = true, parseSpecial = false } = {}) {
    this._checkOpen();
    return (await this._channel.call('tokenize', { text, addSpecial, parseSpecial })).ids;
  }

  /** The text of token ids (control tokens as text with renderSpecial). */
  async detokenize(ids, { renderSpecial = false } = {}) {
    this._checkOpen();
    return (await this._channel.call('detokenize', { ids: Int32Array.from(ids), renderSpecial })).text;
  }

  /** The prompt chat() would send for these messages. */
  async applyChatTemplate(messages, { addGenerationPrompt = true } = {}) {
    this._checkOpen();
    return (await this._channel.call('chatPrompt', { messages, addGenerationPrompt })).text;
  }

  /** Replaces the chat format the model's metadata implies: 'chatml', 'llama3', 'gemma', 'phi3', 'mistral-v7', ... */
  async setChatTemplate(name) {
    this._checkOpen();
    this.info = (await this._channel.call('setChatTemplate', { name })).info;
  }

  /** Empties the KV cache (the next prompt is computed from its start). */
  async reset() {
    this._checkOpen();
    await this._channel.call('reset', {});
  }
}

function abortMessage(signal) {
  return signal.reason instanceof Error ? signal.reason.message : 'the generation was aborted';
}

/**
 * Loads a GGUF model and opens a session on it.
 * @param source  ArrayBuffer, typed array, Blob/File, Response, URL or string (a URL; under
 *                Node also a file path)
 * @param options see llm.d.ts (LoadOptions)
 */
export async function loadLLM(source, options = {}) {
  return loadModel('llm', source, options, async (channel, runtime, opened) => {
    const { fromCache, bytes } = await sendModelBytes(channel, opened, runtime.worker);
    throwIfAborted(options.signal);
    const context = options.context ?? 0;
    if (!Number.isInteger(context) || context < 0) throw tesseraError('invalid_argument', `context must be a non-negative integer, not ${context}`);
    const loaded = await channel.call('loadEnd', {
      context, batch: options.batch ?? 0, kvCache: options.kvCache ?? 'f32', promptF32: options.promptF32 ?? false,
      chatTemplate: options.chatTemplate,
    });
    return { loaded, fromCache, bytes, warmupRounds: 2 };
  }, (channel, { loaded }, runtime, timings) => new LLM(channel, loaded, runtime, timings));
}
