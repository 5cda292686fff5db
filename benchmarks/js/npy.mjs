// Reads a .npy file of little-endian float32 (numpy.save of a C-ordered array), in Node and in
// the browser benchmark pages: {dims, data: Float32Array}.
export function parseNpyFloat32(bytes) {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = String.fromCharCode(...bytes.subarray(1, 6));
  if (bytes[0] !== 0x93 || magic !== 'NUMPY') throw new Error('npy: not a .npy file');
  const major = bytes[6];
  const headerLength = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const headerStart = major === 1 ? 10 : 12;
  const header = new TextDecoder().decode(bytes.subarray(headerStart, headerStart + headerLength));
  if (!/'descr':\s*'<f4'/.test(header)) throw new Error(`npy: float32 only (${header.trim()})`);
  if (/'fortran_order':\s*True/.test(header)) throw new Error('npy: C order only');
  const shape = /'shape':\s*\(([^)]*)\)/.exec(header);
  if (!shape) throw new Error(`npy: no shape in ${header.trim()}`);
  const dims = shape[1].split(',').map((s) => s.trim()).filter(Boolean).map(Number);
  const count = dims.reduce((a, b) => a * b, 1);
  const offset = headerStart + headerLength;
  // Copied: the payload's offset in the file need not be 4-byte aligned.
  const data = new Float32Array(bytes.slice(offset, offset + 4 * count).buffer);
  if (data.length !== count) throw new Error(`npy: ${data.length} values, shape (${dims}) holds ${count}`);
  return { dims, data };
}
