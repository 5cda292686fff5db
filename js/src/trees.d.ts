// tessera-web/trees: gradient-boosted tree models (XGBoost JSON/UBJSON, LightGBM text, or a forest
// compiled into your own module) in WebAssembly SIMD128.
import type { CallStats, LoadTimings, RuntimeInfo, RuntimeOptions } from './index.js';

export { TesseraError } from './index.js';
export type { CallStats, LoadTimings, Progress, RuntimeInfo, RuntimeOptions } from './index.js';

/** ArrayBuffer, typed array, Blob/File, Response, URL, or a string URL (under Node also a file path). */
export type ModelSource = ArrayBuffer | ArrayBufferView | Blob | Response | URL | string;

export interface LoadOptions extends RuntimeOptions {
  /** Browsers: keep downloaded models in the Cache API under this name ('tessera-models'); false: never. */
  cache?: boolean | string;
  /** Run the kernels a few times at load so the first prediction meets optimized code (default true). */
  warmup?: boolean;
}

/** A record: feature name -> number, category name, boolean, or null/undefined (missing). */
export type FeatureRecord = Record<string, number | string | boolean | null | undefined>;

/** An answer keyed like tessera-gbt's JSON output: class labels ({"0": 0.15, "1": 0.85}), "prediction", "class" or "margin". */
export type Answer = Record<string, number>;

export interface TreeModelInfo {
  format: 'xgboost' | 'lightgbm' | 'compiled';
  objective: string;
  numFeatures: number;
  numOutputs: number;
  numTransformedOutputs: number;
  numTrees: number;
  precision: 'f32' | 'f64';
  featureNames: string[];
  classLabels: string[];
  /** Keys of an answer; marginKeys with {margin: true}. */
  outputKeys: string[];
  marginKeys: string[];
  /** Category names in code order, per feature split categorically (a record's strings map through them). */
  categories: Record<string, string[]>;
}

export interface PredictOptions {
  /** Raw margins instead of the transformed prediction. */
  margin?: boolean;
  signal?: AbortSignal;
}

export declare class TreeModel {
  readonly info: TreeModelInfo;
  readonly runtime: RuntimeInfo;
  readonly timings: LoadTimings;
  readonly stats: CallStats;
  /** Rows back to back (numFeatures each, NaN = missing) -> rows x outputs, like the CLI's CSV. */
  predict(rows: Float32Array | Float64Array | ArrayLike<number | null>[], options?: PredictOptions): Promise<Float64Array>;
  /** Records -> answers, like the CLI's JSON. */
  predict(records: FeatureRecord[], options?: PredictOptions): Promise<Answer[]>;
  predict(record: FeatureRecord, options?: PredictOptions): Promise<Answer>;
  /** Category names of features, as tessera-gbt's --categories: {f: ["a", "b"]} or {f: {a: 0, b: 1}}. */
  setCategories(map: Record<string, string[] | Record<string, number>>): Promise<void>;
  /** Frees the model, its module instance and its worker. */
  dispose(): Promise<void>;
}

export declare function loadTrees(source: ModelSource, options?: LoadOptions): Promise<TreeModel>;

/** The forest compiled into a module of your own (cmake: tessera_add_wasm_module(... FOREST_HEADER ...)). */
export declare function loadCompiledTrees(options: LoadOptions & { module: { st: string | URL; mt?: string | URL } }): Promise<TreeModel>;
