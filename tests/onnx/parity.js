// parity.js - runs each exported model of DIR/cases.json (written by
// export_models.c) in onnxruntime and compares its output with the C
// forward pass's, component by component: |onnx - C| <= 1e-5, no NaN.
// Each model runs with graph optimisations off and fully on, on all rows
// at once, in batches of 7 and one row at a time (the batch dimension is
// dynamic).  Prints the largest difference per case.
//
// usage: node parity.js DIR
'use strict';
const fs = require('fs');
const path = require('path');
const ort = require('onnxruntime-node');

const TOLERANCE = 1e-5;

function readFloats(file) {
  const b = fs.readFileSync(file);
  return new Float32Array(b.buffer, b.byteOffset, b.length / 4);
}

// Runs rows [lo, hi) and returns the embedding's data, checking its shape.
async function run(session, X, c, lo, hi) {
  const n = hi - lo;
  const input = new ort.Tensor('float32', X.subarray(lo * c.input_dim, hi * c.input_dim),
    [n, c.input_dim]);
  const out = (await session.run({ features: input })).embedding;
  if (out.type !== 'float32' || out.dims.length !== 2 || out.dims[0] !== n ||
      out.dims[1] !== c.output_dim) {
    throw new Error(`${c.name}: output of type ${out.type} and shape [${out.dims}]`);
  }
  return out.data;
}

async function main() {
  const dir = process.argv[2];
  const cases = JSON.parse(fs.readFileSync(path.join(dir, 'cases.json'), 'utf8'));
  let failed = 0;
  for (const c of cases) {
    const X = readFloats(path.join(dir, `${c.name}.in.f32`));
    const want = readFloats(path.join(dir, `${c.name}.out.f32`));
    if (X.length !== c.rows * c.input_dim || want.length !== c.rows * c.output_dim) {
      throw new Error(`${c.name}: input or expected file of the wrong size`);
    }
    let worst = 0, worstAt = -1;
    const compare = (got, lo) => {
      for (let k = 0; k < got.length; k++) {
        const d = Math.abs(got[k] - want[lo * c.output_dim + k]);
        // NaN fails: !(NaN <= worst) is true.
        if (!(d <= worst)) {
          worst = Number.isNaN(d) ? Infinity : d;
          worstAt = lo * c.output_dim + k;
        }
      }
    };
    for (const level of ['disabled', 'all']) {
      const session = await ort.InferenceSession.create(path.join(dir, `${c.name}.onnx`), {
        executionProviders: ['cpu'],
        graphOptimizationLevel: level,
        intraOpNumThreads: 1,
        interOpNumThreads: 1,
      });
      if (session.inputNames.join() !== 'features' || session.outputNames.join() !== 'embedding') {
        throw new Error(`${c.name}: inputs ${session.inputNames}, outputs ${session.outputNames}`);
      }
      compare(await run(session, X, c, 0, c.rows), 0);
      for (let lo = 0; lo < c.rows; lo += 7) {
        compare(await run(session, X, c, lo, Math.min(lo + 7, c.rows)), lo);
      }
      for (let lo = 0; lo < c.rows; lo++) compare(await run(session, X, c, lo, lo + 1), lo);
      await session.release();
    }
    const ok = worst <= TOLERANCE;
    if (!ok) failed++;
    const at = worstAt < 0 ? '' :
      ` (row ${Math.floor(worstAt / c.output_dim)}, component ${worstAt % c.output_dim})`;
    console.log(`${ok ? 'ok' : 'FAIL'} ${c.name}: ${c.rows} rows x ${c.output_dim}, ` +
                `max |onnxruntime - mlp_forward| = ${worst.toExponential(3)}${at}`);
  }
  console.log(`onnxruntime-node ${ort.env.versions.node}: ${cases.length - failed} of ` +
              `${cases.length} models within ${TOLERANCE}`);
  process.exit(failed ? 1 : 0);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
