// The element types tensors cross the CNN ABI with: their names (ONNX's, as tessera's model
// info spells them) in the order of tessera::nn::elem_type, whose number the ABI carries
// (include/tessera/wasm/cnn_session_abi.hpp), and the typed array that holds each one.
// float16 and bfloat16 travel as their bits in a Uint16Array, bool as 0/1 bytes.
export const TYPES = ['float32', 'float64', 'float16', 'bfloat16', 'int8', 'uint8', 'int16', 'uint16',
  'int32', 'uint32', 'int64', 'uint64', 'bool'];

const ARRAY_CLASSES = {
  float32: Float32Array, float64: Float64Array, float16: Uint16Array, bfloat16: Uint16Array,
  int8: Int8Array, uint8: Uint8Array, int16: Int16Array, uint16: Uint16Array,
  int32: Int32Array, uint32: Uint32Array, int64: BigInt64Array, uint64: BigUint64Array, bool: Uint8Array,
};

export const arrayClassOf = (type) => ARRAY_CLASSES[type];

// The type a typed array holds when the caller names none (Uint16Array: uint16, never float16).
const NATURAL_TYPES = new Map([[Float32Array, 'float32'], [Float64Array, 'float64'], [Int8Array, 'int8'],
  [Uint8Array, 'uint8'], [Uint8ClampedArray, 'uint8'], [Int16Array, 'int16'], [Uint16Array, 'uint16'],
  [Int32Array, 'int32'], [Uint32Array, 'uint32'], [BigInt64Array, 'int64'], [BigUint64Array, 'uint64']]);

/**
 * A run() feed as the ABI takes it: {data: the type's typed array, dims, type}. The type is
 * the feed's `type`, else the model's for that input when the data's array class can hold it
 * (a Uint16Array for a float16 input), else the array's own; plain arrays of numbers (or of
 * bigints, for 64-bit integers) become the model's type.
 */
export function typedFeed(name, feed, declaredType) {
  const isArray = ArrayBuffer.isView(feed.data) && !(feed.data instanceof DataView);
  const fits = (type) => isArray && (feed.data.constructor === arrayClassOf(type) ||
    (feed.data instanceof Uint8ClampedArray && (type === 'uint8' || type === 'bool')));
  let type = feed.type;
  if (type === undefined) {
    if (!isArray || (declaredType && fits(declaredType))) type = declaredType ?? 'float32';
    else type = NATURAL_TYPES.get(feed.data.constructor);
  }
  const ArrayClass = arrayClassOf(type);
  if (!ArrayClass) throw new TypeError(`run: input '${name}' has an unknown type '${type}' (one of ${TYPES.join(', ')})`);
  if (isArray && !fits(type)) {
    throw new TypeError(`run: input '${name}' is ${type}: its data must be a ${ArrayClass.name} or an array of numbers, not a ${feed.data.constructor.name}`);
  }
  if (isArray) return { name, data: feed.data, dims: feed.dims, type };
  const values = Array.from(feed.data ?? []);
  const wide = ArrayClass === BigInt64Array || ArrayClass === BigUint64Array;
  try {
    return { name, data: ArrayClass.from(values, wide ? (v) => BigInt(v) : Number), dims: feed.dims, type };
  } catch (e) {
    throw new TypeError(`run: input '${name}' is ${type}: ${e.message}`);
  }
}
