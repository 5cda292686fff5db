// tessera-web/llm: llama-family language models from GGUF files in WebAssembly SIMD128.
import type { LoadTimings, RuntimeInfo, RuntimeOptions } from './index.js';

export { TesseraError } from './index.js';
export type { LoadTimings, Progress, RuntimeInfo, RuntimeOptions } from './index.js';

/** ArrayBuffer, typed array, Blob/File, Response, URL, or a string URL (under Node also a file path). */
export type ModelSource = ArrayBuffer | ArrayBufferView | Blob | Response | URL | string;

export interface LoadOptions extends RuntimeOptions {
  /** Browsers: keep downloaded models in the Cache API under this name ('tessera-models'); false: never. */
  cache?: boolean | string;
  /** Positions of the KV cache (default: the model's trained context, at most 2048). */
  context?: number;
  /** Prompt tokens per forward pass (default 32). */
  batch?: number;
  /** The KV cache's values: 'f32' (default) or 'f16' (half the memory). */
  kvCache?: 'f32' | 'f16';
  /**
   * Prompt batches of 32 tokens or more as f32 products of the dequantized weights (about 1.5x
   * faster prompts) instead of integer products of the quantized activations (default false).
   * The logits then depend on how the prompt is batched, so a kept KV cache and a fresh one can
   * pick different tokens.
   */
  promptF32?: boolean;
  /** A chat format to use instead of the one the model's metadata implies (see LLM.setChatTemplate). */
  chatTemplate?: ChatFormat;
  /** Run a prompt batch and a generated token at load so the first generation meets optimized code (default true). */
  warmup?: boolean;
}

export type ChatFormat =
  | 'chatml' | 'llama2' | 'llama3' | 'gemma' | 'phi3' | 'zephyr'
  | 'mistral-v1' | 'mistral-v3' | 'mistral-v3-tekken' | 'mistral-v7';

export interface LLMInfo {
  architecture: 'llama' | 'qwen2' | 'gemma3' | 'phi3';
  /** general.name */
  name: string;
  vocabSize: number;
  contextLength: number;
  embeddingLength: number;
  layers: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  feedForwardLength: number;
  fileBytes: number;
  /** Bytes of weight matrices one generated token reads (the memory-bandwidth bound's numerator). */
  weightBytesPerToken: number;
  parametersPerToken: number;
  /** Tensor type -> count, e.g. {"q8_0": 85, "f32": 25}. */
  tensorTypes: Record<string, number>;
  tokenizer: { model: 'spm' | 'bpe' | 'wpm'; tokens: number; bos: number; eos: number; addBos: boolean; endOfGeneration: number[] };
  chatTemplate: { format: ChatFormat; recognized: boolean; warning: string; inFile: boolean };
}

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant' | string;
  content: string;
}

export interface GenerateOptions {
  /** Tokens to generate at most (default 128); -1 or Infinity: until the context is full. */
  maxTokens?: number;
  /** Default 0.8; <= 0 picks the most likely token (greedy). */
  temperature?: number;
  /** Default 40; <= 0 is off, 1 is greedy. */
  topK?: number;
  /** Default 0.95; 1 is off. */
  topP?: number;
  /** Default 0.05; 0 is off. */
  minP?: number;
  /** Default 1 (off). */
  repeatPenalty?: number;
  frequencyPenalty?: number;
  presencePenalty?: number;
  /** The penalties' window in tokens (default 64). */
  penaltyLastN?: number;
  /** The same seed, prompt and options give the same tokens, here and in tessera natively (default: random). */
  seed?: number | bigint;
  /** The text ends before the first of these (also across tokens); it is not part of the answer. */
  stop?: string[];
  /** End at the model's end-of-generation tokens (default true). */
  stopAtEog?: boolean;
  /** Control tokens appear as text (default false). */
  renderSpecial?: boolean;
  /** A string prompt starts with the model's BOS token (default true; generate only). */
  addSpecial?: boolean;
  /** Control tokens written in a string prompt ("<|im_start|>") become their ids (default false; generate only). */
  parseSpecial?: boolean;
  /** Stops the generation between two steps: it rejects with a TesseraError of code 'cancelled' whose `partial` holds the result so far. */
  signal?: AbortSignal;
  /** Each generated token and the text it released (often '' while a character or a possible stop string is held back); returning false stops. */
  onToken?: (token: { id: number; text: string }) => void | boolean;
}

export type StopReason = 'end_of_generation' | 'stop_string' | 'max_tokens' | 'context_full' | 'cancelled';

export interface GenerationTimings {
  /** Tokens of the prompt (a chat's whole conversation), and how many of them the KV cache already held. */
  promptTokens: number;
  reusedTokens: number;
  /** From the call to the prompt's last batch fed (tokenizing included). */
  promptMs: number;
  /** Time in the module feeding the prompt, and the new prompt tokens per second there. */
  promptComputeMs: number;
  promptTokensPerSec: number | null;
  /** From the call to the first generated token in the caller's hands. */
  firstTokenMs: number | null;
  generatedTokens: number;
  /** Time in the module generating, and the tokens per second there (a token's forward pass and its sampling). */
  generateComputeMs: number;
  tokensPerSec: number | null;
  totalMs: number;
}

export interface GenerateResult {
  text: string;
  /** The generated ids (the one that ended the generation included). */
  tokens: Int32Array;
  stopReason: StopReason;
  /** The seed the sampler used (given, or drawn). */
  seed: number | bigint;
  timings: GenerationTimings;
}

/** A generation in progress: iterate it for the text as it comes, await it for the whole result. */
export declare class Generation implements AsyncIterable<string>, PromiseLike<GenerateResult> {
  [Symbol.asyncIterator](): AsyncIterator<string>;
  then<A = GenerateResult, B = never>(onFulfilled?: ((r: GenerateResult) => A | PromiseLike<A>) | null,
    onRejected?: ((e: unknown) => B | PromiseLike<B>) | null): Promise<A | B>;
  catch<B = never>(onRejected?: ((e: unknown) => B | PromiseLike<B>) | null): Promise<GenerateResult | B>;
  finally(onFinally?: (() => void) | null): Promise<GenerateResult>;
  /** Stops after the current step; the result's stopReason is 'cancelled' (leaving a for-await loop does the same). */
  stop(): void;
}

export declare class LLM {
  readonly info: LLMInfo;
  readonly runtime: RuntimeInfo;
  readonly timings: LoadTimings;
  /** Positions of the session's KV cache, and prompt tokens per forward pass. */
  readonly context: number;
  readonly batch: number;
  /** The timings of the last generation. */
  readonly lastTimings: GenerationTimings | null;
  /** Continues a prompt (text, or token ids); one generation at a time per model. */
  generate(prompt: string | Int32Array | number[], options?: GenerateOptions): Generation;
  /** Answers a conversation in the model's chat format; the KV cache keeps earlier turns. */
  chat(messages: ChatMessage[], options?: GenerateOptions): Generation;
  tokenize(text: string, options?: { addSpecial?: boolean; parseSpecial?: boolean }): Promise<Int32Array>;
  detokenize(ids: Int32Array | number[], options?: { renderSpecial?: boolean }): Promise<string>;
  /** The prompt text chat() sends for these messages. */
  applyChatTemplate(messages: ChatMessage[], options?: { addGenerationPrompt?: boolean }): Promise<string>;
  setChatTemplate(format: ChatFormat): Promise<void>;
  /** Empties the KV cache. */
  reset(): Promise<void>;
  /** Frees the model, its module instance and its worker. */
  dispose(): Promise<void>;
}

export declare function loadLLM(source: ModelSource, options?: LoadOptions): Promise<LLM>;
