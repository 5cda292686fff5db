// Errors of the tessera package: a TesseraError carries tessera's own message and the code of
// tessera::errc (include/tessera/core/error.hpp) that the C ABI returned.

// errc value -> name, in the order of tessera::errc.
export const ERROR_CODES = Object.freeze([
  'ok', 'invalid_argument', 'shape_mismatch', 'out_of_range', 'parse_error', 'unsupported',
  'out_of_memory', 'io_error', 'cancelled',
]);

export class TesseraError extends Error {
  /**
   * @param {string} message  tessera's message (what tessera::error::what() says)
   * @param {string} code     an ERROR_CODES name
   */
  constructor(message, code = 'invalid_argument', options = undefined) {
    super(message, options);
    this.name = 'TesseraError';
    this.code = code;
  }
}

// tessera::errc_name spellings, so a message reads like the CLI's ("parse error: ...").
const CODE_WORDS = {
  invalid_argument: 'invalid argument', shape_mismatch: 'shape mismatch', out_of_range: 'out of range',
  parse_error: 'parse error', unsupported: 'unsupported', out_of_memory: 'out of memory',
  io_error: 'i/o error', cancelled: 'cancelled',
};

export function tesseraError(code, detail, options) {
  const words = CODE_WORDS[code] ?? code;
  return new TesseraError(detail ? `${words}: ${detail}` : words, code, options);
}

export function codeName(errc) {
  return ERROR_CODES[errc] ?? 'invalid_argument';
}

// Errors cross the worker boundary as plain objects.
export function serializeError(e) {
  if (e instanceof TesseraError) return { name: e.name, message: e.message, code: e.code };
  return { name: e?.name ?? 'Error', message: String(e?.message ?? e), code: e?.code ?? null };
}

export function deserializeError(o) {
  if (o.name === 'TesseraError') return new TesseraError(o.message, o.code);
  if (o.name === 'AbortError') return tesseraError('cancelled', o.message);
  const e = new Error(o.message);
  e.name = o.name;
  return e;
}

export function throwIfAborted(signal) {
  if (signal?.aborted) {
    const why = signal.reason instanceof Error ? signal.reason.message : 'the operation was aborted';
    throw tesseraError('cancelled', why);
  }
}
