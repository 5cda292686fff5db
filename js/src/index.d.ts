// tessera-web: shared types. Families are separate entry points: 'tessera-web/trees', 'tessera-web/llm', 'tessera-web/cnn'.

export type ErrorCode =
  | 'invalid_argument' | 'shape_mismatch' | 'out_of_range' | 'parse_error' | 'unsupported'
  | 'out_of_memory' | 'io_error' | 'cancelled';

/** Every failure of the package: tessera's own message ("parse error: record 1: ..."), and its code. */
export declare class TesseraError extends Error {
  readonly name: 'TesseraError';
  readonly code: ErrorCode;
}

export declare const ERROR_CODES: readonly string[];

/** 'st': SIMD128, single-threaded (any page). 'mt': SIMD128 + pthreads (cross-origin isolated pages, Node). */
export type Flavour = 'st' | 'mt';

export interface Progress {
  /** 'wasm': the module's .wasm; 'download': the model's bytes; 'cache': the model's bytes from the Cache API. */
  phase: 'wasm' | 'download' | 'cache';
  loaded: number;
  /** Undefined when the size is not known up front (no Content-Length). */
  total: number | undefined;
}

export interface RuntimeOptions {
  /** Run in a worker the package starts (default true); false runs on the calling thread (single-threaded build). */
  worker?: boolean;
  /** 'auto' (default: up to 4, the hardware's count) or a number; more than 1 needs the 'mt' flavour. */
  threads?: 'auto' | number;
  /** 'auto' (default), or force one flavour. */
  flavour?: 'auto' | Flavour;
  /** Where the package's dist/ folder is served, when not next to src/ (bundlers, CDNs). */
  distUrl?: string | URL;
  /** Your own module (cmake: tessera_add_wasm_module): URLs of its .mjs files. */
  module?: { st: string | URL; mt?: string | URL };
  /** The chosen flavour's .wasm, already compiled or as bytes (skips the fetch; a later load of the family reuses the module the first compiled). */
  wasm?: WebAssembly.Module | ArrayBuffer | ArrayBufferView;
  onProgress?: (progress: Progress) => void;
  signal?: AbortSignal;
}

export interface RuntimeInfo {
  flavour: Flavour;
  threads: number;
  worker: boolean;
  crossOriginIsolated: boolean;
  /** Why the single-threaded build runs although more threads were asked for (also logged), else null. */
  fallbackReason: string | null;
  moduleUrl: string;
  build: { abi: number; version: string; threads: boolean; exceptions: boolean; simd: string };
}

/** Timings of a model's calls: the first apart from the steady state (V8 tiers kernels up between calls). */
export interface CallStats {
  calls: number;
  firstCallMs: number | null;
  /** Median of the later calls (up to 64), or null before the second call. */
  steadyCallMs: number | null;
  last: { rows: number; ms: number; computeMs: number } | null;
}

export interface LoadTimings {
  /** Worker start, module compile and instantiation (the model downloads meanwhile). */
  startMs: number;
  /** In the worker: the glue's import and the .wasm's download and compile (together). */
  compileMs: number;
  /** In the worker: the module's instantiation and set-up. */
  instantiateMs: number;
  /** The module was compiled already (by an earlier load of the family, or options.wasm): no download, no compile. */
  compiledBefore: boolean;
  /** From the module's start to the model made in its heap (the rest of the download, the bytes' copy, parsing). */
  modelMs: number;
  /** From the call to the model being ready to predict (before the warm-up). */
  loadMs: number;
  /**
   * The warm-up run at load: its first and last call, timed inside the module. Null with warmup: false.
   * skipped: why a warm-up on guessed shapes (symbolic dims set to 1) was not run; its times are null then.
   */
  warmup: { firstCallMs: number | null; steadyCallMs: number | null; rounds: number; rows?: number; skipped?: string } | null;
  /** From the call to a warmed-up model. */
  readyMs: number;
  fromCache: boolean;
  bytes: number;
}

export declare function environment(options?: RuntimeOptions): Promise<{
  node: boolean;
  simd128: boolean;
  crossOriginIsolated: boolean;
  threadsUnavailable: string | null;
  flavour: Flavour;
  threads: number;
  fallbackReason: string | null;
}>;
