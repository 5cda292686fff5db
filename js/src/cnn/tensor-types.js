// The element types tensors cross the CNN ABI with: their names (ONNX's, as tessera's model
// info spells them) in the order of tessera::nn::elem_type, whose number the ABI carries
// (include/tessera/wasm/cnn_session_abi.hpp), and the typed array that holds each one.
// float16 and bfloat16 travel as their bits in a Uint16Array (plain arrays of numbers are
// converted to them), bool as 0/1 bytes.
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

// Numbers to IEEE binary16 and bfloat16 bits, rounded to nearest, ties to even, as a float32
// first (the precision every tessera model computes in).
const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

export function float16Bits(value) {
  f32[0] = value;
  const x = u32[0];
  const sign = (x >>> 16) & 0x8000;
  const exponent = (x >>> 23) & 0xff;
  const mantissa = x & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa ? 0x200 : 0);  // Inf, NaN (quiet)
  const e = exponent - 112;  // rebiased: 127 - 15
  if (e >= 0x1f) return sign | 0x7c00;  // beyond 65504: Inf
  if (e <= 0) {  // subnormal (or zero): the implicit bit joins the mantissa
    const shift = 14 - e;
    if (shift > 24) return sign;
    const m = mantissa | 0x800000;
    const h = m >>> shift;
    const rest = m - h * 2 ** shift;
    const half = 2 ** (shift - 1);
    return sign | (h + (rest > half || (rest === half && (h & 1)) ? 1 : 0));
  }
  const bits = (e << 10) | (mantissa >>> 13);
  const rest = mantissa & 0x1fff;
  // A carry out of the mantissa steps the exponent, to Inf at the top: still the right value.
  return sign | (bits + (rest > 0x1000 || (rest === 0x1000 && (bits & 1)) ? 1 : 0));
}

export function bfloat16Bits(value) {
  f32[0] = value;
  const x = u32[0];
  if (Number.isNaN(value)) return ((x >>> 16) | 0x40) & 0xffff;
  return Math.floor((x + 0x7fff + ((x >>> 16) & 1)) / 65536) & 0xffff;
}

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
  const convert = { float16: (v) => float16Bits(Number(v)), bfloat16: (v) => bfloat16Bits(Number(v)), int64: BigInt, uint64: BigInt }[type] ?? Number;
  try {
    return { name, data: ArrayClass.from(values, (v) => convert(v)), dims: feed.dims, type };
  } catch (e) {
    throw new TypeError(`run: input '${name}' is ${type}: ${e.message}`);
  }
}
