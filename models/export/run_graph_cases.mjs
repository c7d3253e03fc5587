// Runs graph parity cases with onnxruntime-node (CPU) and prints one JSON line of results.
//   node models/export/run_graph_cases.mjs <bundleDir> <casesDir> [--io-only]
// Each <casesDir>/*.json: {graph, case, inputs:{name:{file,dtype,shape}}, outputs:{...}, tolerance}
// --io-only: only load every graph of the manifest and print its input/output names/types.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(join(process.cwd(), 'package.json'));
const ort = require('onnxruntime-node');

const [bundleDir, casesDir, flag] = process.argv.slice(2);
const manifest = JSON.parse(readFileSync(join(bundleDir, 'manifest.json'), 'utf8'));

function readTensor(root, e) {
  const buf = readFileSync(join(root, e.file));
  const ab = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength);
  let data;
  switch (e.dtype) {
    case 'float32': data = new Float32Array(ab); break;
    case 'int64': data = new BigInt64Array(ab); break;
    case 'bool': data = Uint8Array.from(new Uint8Array(ab), (x) => x); return new ort.Tensor('bool', data, e.shape);
    case 'float16': data = new Uint16Array(ab); return new ort.Tensor('float16', data, e.shape);
    default: throw new Error(`dtype ${e.dtype}`);
  }
  return new ort.Tensor(e.dtype, data, e.shape);
}

function halfToFloat(h) {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * f * 2 ** -24;
  if (e === 31) return f ? NaN : s * Infinity;
  return s * (1 + f / 1024) * 2 ** (e - 15);
}
const num = (t, i) => (t.type === 'float16' && !(t.data instanceof Float32Array) && typeof t.data[i] === 'number' && t.data.constructor.name === 'Uint16Array' ? halfToFloat(t.data[i]) : Number(t.data[i]));

const opts = { executionProviders: ['cpu'], intraOpNumThreads: 1, interOpNumThreads: 1 };
const sessions = {};
async function session(graph) {
  if (!sessions[graph]) sessions[graph] = await ort.InferenceSession.create(join(bundleDir, manifest.graphs[graph].file), opts);
  return sessions[graph];
}

if (flag === '--io-only') {
  const out = {};
  for (const g of Object.keys(manifest.graphs)) {
    const s = await session(g);
    const meta = (list) => list.map((m) => ({ name: m.name, type: m.isTensor ? m.type : 'non-tensor', shape: m.shape }));
    out[g] = { inputs: meta(s.inputMetadata ?? []), outputs: meta(s.outputMetadata ?? []), inputNames: s.inputNames, outputNames: s.outputNames };
  }
  console.log(JSON.stringify(out));
  process.exit(0);
}

const results = [];
for (const f of readdirSync(casesDir).filter((x) => x.endsWith('.json')).sort()) {
  const c = JSON.parse(readFileSync(join(casesDir, f), 'utf8'));
  const s = await session(c.graph);
  const feeds = {};
  for (const [n, e] of Object.entries(c.inputs)) feeds[n] = readTensor(casesDir, e);
  const t0 = performance.now();
  const out = await s.run(feeds);
  const ms = performance.now() - t0;
  const diffs = {};
  let worst = 0;
  for (const [n, e] of Object.entries(c.outputs)) {
    const exp = readTensor(casesDir, e);
    const got = out[n];
    if (!got) throw new Error(`${f}: missing output ${n}`);
    if (JSON.stringify(got.dims) !== JSON.stringify(e.shape)) throw new Error(`${f}: ${n} dims ${got.dims} != ${e.shape}`);
    let m = 0;
    for (let i = 0; i < exp.data.length; i++) {
      const d = Math.abs(num(got, i) - num(exp, i));
      if (!(d <= m)) m = Number.isNaN(d) ? Infinity : Math.max(m, d);
    }
    diffs[n] = m;
    worst = Math.max(worst, m);
  }
  results.push({ file: f, graph: c.graph, case: c.case, maxAbsDiff: worst, tolerance: c.tolerance, ms, diffs });
}
console.log(JSON.stringify(results));
