// tessera-web/cnn: ONNX convolutional networks (raw tensors, or object detection on images) in
// WebAssembly SIMD128.
import type { CallStats, LoadTimings, RuntimeInfo, RuntimeOptions } from './index.js';

export { TesseraError } from './index.js';
export type { CallStats, LoadTimings, Progress, RuntimeInfo, RuntimeOptions } from './index.js';

/** ArrayBuffer, typed array, Blob/File, Response, URL, or a string URL (under Node also a file path). */
export type ModelSource = ArrayBuffer | ArrayBufferView | Blob | Response | URL | string;

export interface LoadOptions extends RuntimeOptions {
  /** Browsers: keep downloaded models in the Cache API under this name ('tessera-models'); false: never. */
  cache?: boolean | string;
  /**
   * Run the network twice on zeros at load so the first call meets optimized code (default true), or
   * the number of runs given (0 as false; 1 is enough for a model computing in microseconds).
   * Symbolic dims ("batch") are set to 1 unless warmupShapes gives an input's shape; an input without a
   * declared shape and none given means no warm-up.
   */
  warmup?: boolean | number;
  /** The shapes of the warm-up run, by input name (those not named: declared dims, symbolic ones 1). */
  warmupShapes?: Record<string, number[]>;
}

/** A graph input or output. dims: a number when static, the dim's name when symbolic ("batch"), null when unknown; null without a declared shape. */
export interface TensorInfo {
  name: string;
  type: TensorType;
  dims: (number | string | null)[] | null;
  /** Inputs the caller must feed (initializers listed as inputs keep their stored values). */
  required?: true;
}

export interface CnnModelInfo {
  producer: string;
  /** Elements of the file's initializers. */
  parameters: number;
  inputs: TensorInfo[];
  outputs: TensorInfo[];
  /** The operator types of the graph, sorted. */
  operators: string[];
  /** The file's metadata_props. */
  metadata: Record<string, string>;
  /** From the metadata's "names" (Ultralytics' export), else empty: detect()'s default class names. */
  classNames: string[];
}

/** ONNX's element types, as the model info names them. */
export type TensorType =
  | 'float32' | 'float64' | 'float16' | 'bfloat16' | 'int8' | 'uint8' | 'int16' | 'uint16'
  | 'int32' | 'uint32' | 'int64' | 'uint64' | 'bool';

/**
 * Each type's typed array: bool holds 0/1 bytes, float16 and bfloat16 their bits (decode
 * them, or let the model Cast to float32).
 */
export interface TensorDataMap {
  float32: Float32Array; float64: Float64Array; float16: Uint16Array; bfloat16: Uint16Array;
  int8: Int8Array; uint8: Uint8Array; int16: Int16Array; uint16: Uint16Array;
  int32: Int32Array; uint32: Uint32Array; int64: BigInt64Array; uint64: BigUint64Array; bool: Uint8Array;
}
export type TensorData = TensorDataMap[TensorType] | Uint8ClampedArray;

/** An output of run(): narrow on `type` to get its typed array (`if (t.type === 'int64') t.data`...). */
export type Tensor = { [T in TensorType]: { data: TensorDataMap[T]; dims: number[]; type: T } }[TensorType];

/**
 * An input to run(). Without `type`: the model's type for that input when the data's array
 * class holds it (a Uint16Array of float16 bits for a float16 input), else the typed array's
 * own type; a plain array (numbers, or bigints for 64-bit integers) is converted to the model's
 * type (numbers to float16 or bfloat16 bits, rounded to nearest even).
 */
export interface TensorInput {
  data: TensorData | ArrayLike<number> | ArrayLike<bigint>;
  dims: number[];
  type?: TensorType;
}

export interface RunOptions {
  signal?: AbortSignal;
}

/** RGBA pixels: ImageData, or anything shaped like it. */
export interface ImageDataLike {
  data: Uint8ClampedArray | Uint8Array;
  width: number;
  height: number;
}

/** What detect() takes; in browsers with OffscreenCanvas also what drawImage takes. */
export type DetectImage = ImageDataLike | CanvasImageSource;

/** tessera-detect's options. */
export interface DetectOptions {
  /** The output layout (default 'yolov8'). */
  format?: 'yolov8' | 'yolov5' | 'boxes-scores';
  /** Minimum score (default 0.25). */
  confidence?: number;
  /** NMS IoU threshold in [0, 1] (default 0.45). */
  iou?: number;
  /** Detections kept at most (default 300). */
  maxDetections?: number;
  /** Keep the aspect ratio and pad (default), or resize to the input size. */
  fit?: 'letterbox' | 'stretch';
  /** The model input's [width, height] (default: the model's static input size, else 640x640). */
  size?: [number, number];
  /** Pixel normalization: x/255 (default), ImageNet's, or (x - mean) / std in pixel units. */
  normalize?: 'unit' | 'imagenet' | { mean: number; std: number };
  /** The model wants BGR planes. */
  bgr?: boolean;
  /** NMS across classes. */
  agnostic?: boolean;
  /** Every class over the threshold, not only the best. */
  multiLabel?: boolean;
  /** boxes-scores: boxes as fractions of the input (default) or in input pixels. */
  boxes?: 'fractions' | 'pixels';
  /** boxes-scores: class 0 is "no object" (never reported). */
  background?: boolean;
  /** Class names by class id (default: the model's, info.classNames). */
  classNames?: string[];
  /** The answer's "image" field (default ''). */
  name?: string;
  signal?: AbortSignal;
}

export interface Detection {
  class_id: number;
  class_name: string;
  confidence: number;
  /** Top-left corner, width and height in photo pixels. */
  bbox_xywh: [number, number, number, number];
}

/** tessera-detect's JSON line for one photo. */
export interface Detections {
  image: string;
  detections: Detection[];
}

export declare class CnnModel {
  readonly info: CnnModelInfo;
  readonly runtime: RuntimeInfo;
  readonly timings: LoadTimings;
  readonly stats: CallStats;
  /** Every input the model requires, by name -> every output, by name. */
  run(inputs: Record<string, TensorInput>, options?: RunOptions): Promise<Record<string, Tensor>>;
  detect(image: DetectImage, options?: DetectOptions): Promise<Detections>;
  /** Frees the model, its module instance and its worker. */
  dispose(): Promise<void>;
}

export declare function loadCnn(source: ModelSource, options?: LoadOptions): Promise<CnnModel>;

/** The ONNX model compiled into a module of your own (cmake: tessera_add_wasm_module(... FAMILY cnn ONNX_HEADER ...)). */
export declare function loadCompiledCnn(options: LoadOptions & { module: { st: string | URL; mt?: string | URL } }): Promise<CnnModel>;
