// tests/onnx/check.js: run an exported model with ONNX Runtime (onnxruntime-node)
// on what tests/onnx/onnx_dump wrote and compare with nntrain's numbers.
//   node check.js classify MODEL PREFIX TOL   -> one line: images, argmax agreement,
//        max |p_ort - p_nntrain|, ORT's correct count; exit 1 on any disagreement
//        or a difference over TOL
//   node check.js generate MODEL PREFIX TOL   -> images, max |image_ort - image_nntrain|
// ORT_MODULE: the onnxruntime-node folder (default: require('onnxruntime-node')).
'use strict';
const fs = require('fs');
const ort = require(process.env.ORT_MODULE || 'onnxruntime-node');

function floats(path) {
  const b = fs.readFileSync(path);
  return new Float32Array(b.buffer, b.byteOffset, b.length / 4);
}

async function main() {
  const [mode, model, prefix, tolArg] = process.argv.slice(2);
  const tol = Number(tolArg);
  const meta = JSON.parse(fs.readFileSync(prefix + '.json', 'utf8'));
  // One thread: the suite shares its machine, and the sums then have one order.
  const session = await ort.InferenceSession.create(model, {
    intraOpNumThreads: 1, interOpNumThreads: 1 });
  const B = 250;
  let maxDiff = 0, agree = 0, correct = 0, worst = -1;
  if (mode === 'classify') {
    const { n, c, h, w, k } = meta, dim = c * h * w;
    const x = floats(prefix + '.x'), p = floats(prefix + '.p');
    const yb = fs.readFileSync(prefix + '.y');
    const y = new Int32Array(yb.buffer, yb.byteOffset, yb.length / 4);
    if (x.length !== n * dim || p.length !== n * k || y.length !== n)
      throw new Error(`${prefix}: sizes do not match ${JSON.stringify(meta)}`);
    for (let i0 = 0; i0 < n; i0 += B) {
      const m = Math.min(B, n - i0);
      const input = new ort.Tensor('float32', x.subarray(i0 * dim, (i0 + m) * dim), [m, c, h, w]);
      const out = (await session.run({ input })).probabilities;
      if (out.dims[0] !== m || out.dims[1] !== k) throw new Error(`output dims ${out.dims}`);
      const q = out.data;
      for (let i = 0; i < m; i++) {
        let a = 0, b = 0;
        for (let j = 0; j < k; j++) {
          const d = Math.abs(q[i * k + j] - p[(i0 + i) * k + j]);
          if (!(d <= maxDiff)) { maxDiff = d; worst = i0 + i; }
          if (q[i * k + j] > q[i * k + a]) a = j;
          if (p[(i0 + i) * k + j] > p[(i0 + i) * k + b]) b = j;
        }
        if (a === b) agree++;
        if (a === y[i0 + i]) correct++;
      }
    }
    console.log(`images ${n} argmax_agree ${agree} max_prob_diff ${maxDiff.toExponential(3)} ` +
                `(image ${worst}) ort_correct ${correct}`);
    process.exit(agree === n && maxDiff <= tol ? 0 : 1);
  } else if (mode === 'generate') {
    const { n, z, c, h, w } = meta, dim = c * h * w;
    const zs = floats(prefix + '.z'), img = floats(prefix + '.img');
    for (let i0 = 0; i0 < n; i0 += B) {
      const m = Math.min(B, n - i0);
      const noise = new ort.Tensor('float32', zs.subarray(i0 * z, (i0 + m) * z), [m, z]);
      const out = (await session.run({ noise })).image;
      if (out.dims.join() !== [m, c, h, w].join()) throw new Error(`output dims ${out.dims}`);
      for (let i = 0; i < m * dim; i++) {
        const d = Math.abs(out.data[i] - img[i0 * dim + i]);
        if (!(d <= maxDiff)) { maxDiff = d; worst = i0 + Math.floor(i / dim); }
      }
    }
    console.log(`images ${n} max_pixel_diff ${maxDiff.toExponential(3)} (image ${worst})`);
    process.exit(maxDiff <= tol ? 0 : 1);
  } else {
    throw new Error('usage: node check.js classify|generate MODEL PREFIX TOL');
  }
}

main().catch((e) => { console.error(`check.js: ${e.message || e}`); process.exit(2); });
