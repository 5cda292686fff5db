// The peer side of tests/onnx/face_detector_test.cpp: decodes the photos (jpeg-js), resizes
// them to 320x240 (bilinear, half-pixel centres), normalizes (x - 127) / 128 into a
// [1, 3, 240, 320] float32 tensor written as .npy, and runs each face detector on it with
// onnxruntime-node, writing its raw outputs as .npy too. tessera then runs the same tensors.
//   node face_detector_ort.mjs --out DIR --models A.onnx,B.onnx --photos 1.jpg,2.jpg
// Packages from benchmarks/js/node_modules (scripts/install-bench-peers.sh).
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, '..', '..', 'benchmarks', 'js', 'package.json'));
const ort = require('onnxruntime-node');
const jpeg = require('jpeg-js');

const args = Object.fromEntries(process.argv.slice(2).reduce((acc, a, i, all) => {
  if (a.startsWith('--')) acc.push([a.slice(2), all[i + 1]]);
  return acc;
}, []));
const W = 320, H = 240;

function npy(shape, data) {  // float32, C order, version 1.0
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  const total = 10 + header.length + 1;
  header += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  const head = Buffer.alloc(10);
  head.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
  head.writeUInt16LE(header.length, 8);
  return Buffer.concat([head, Buffer.from(header, 'latin1'), Buffer.from(data.buffer, data.byteOffset, data.byteLength)]);
}

function tensorOf(file) {
  const img = jpeg.decode(readFileSync(file), { useTArray: true, formatAsRGBA: true });
  const out = new Float32Array(3 * H * W);
  const sx = img.width / W, sy = img.height / H;
  for (let y = 0; y < H; ++y) {
    const fy = Math.min(Math.max((y + 0.5) * sy - 0.5, 0), img.height - 1);
    const y0 = Math.floor(fy), y1 = Math.min(y0 + 1, img.height - 1), wy = fy - y0;
    for (let x = 0; x < W; ++x) {
      const fx = Math.min(Math.max((x + 0.5) * sx - 0.5, 0), img.width - 1);
      const x0 = Math.floor(fx), x1 = Math.min(x0 + 1, img.width - 1), wx = fx - x0;
      for (let c = 0; c < 3; ++c) {
        const p = (yy, xx) => img.data[(yy * img.width + xx) * 4 + c];
        const v = (1 - wy) * ((1 - wx) * p(y0, x0) + wx * p(y0, x1)) + wy * ((1 - wx) * p(y1, x0) + wx * p(y1, x1));
        out[(c * H + y) * W + x] = (Math.round(v) - 127) / 128;
      }
    }
  }
  return out;
}

const models = args.models.split(',');
const sessions = [];
for (const m of models) sessions.push(await ort.InferenceSession.create(m, { intraOpNumThreads: 1 }));
for (const photo of args.photos.split(',')) {
  const base = path.basename(photo, path.extname(photo));
  const x = tensorOf(photo);
  writeFileSync(path.join(args.out, `${base}.input.npy`), npy([1, 3, H, W], x));
  for (let i = 0; i < models.length; ++i) {
    const s = sessions[i];
    const res = await s.run({ [s.inputNames[0]]: new ort.Tensor('float32', x, [1, 3, H, W]) });
    const name = path.basename(models[i], '.onnx');
    for (const o of s.outputNames)
      writeFileSync(path.join(args.out, `${name}.${base}.${o}.npy`), npy(res[o].dims, res[o].data));
  }
}
console.log('face_detector_ort: ok');
