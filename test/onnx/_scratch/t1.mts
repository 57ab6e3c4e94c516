import ort from 'onnxruntime-node';
import { exportOnnx } from '/work/main/src/onnx/export.ts';
import { FloatEngine } from '/work/main/src/runtime/float/engine.ts';
import { defaultActivations, type ModelSpec } from '/work/main/src/model/spec.ts';
import { Rng } from '/work/main/src/util/rng.ts';
const rng = new Rng(1);
const H=5, I=3, T=7;
const spec: ModelSpec = { name:'t', version:'1', task:'custom', labels:[], input:{size:I, frontend:{kind:'raw'}}, precision:'float32', training:{},
 layers:[{kind:'gru', inputSize:I, hiddenSize:H, direction:'bidirectional', activations: defaultActivations('gru',2), float:{W:rng.float32(2*3*H*I), R:rng.float32(2*3*H*H), B:rng.float32(2*6*H)}},
 {kind:'lstm', inputSize:2*H, hiddenSize:4, direction:'forward', activations: defaultActivations('lstm',1), float:{W:rng.float32(16*2*H), R:rng.float32(16*4), B:rng.float32(32), P: rng.float32(12)}},
 {kind:'dense', inputSize:4, outputSize:3, activation:'tanh', float:{W:rng.float32(12), B:rng.float32(3)}}, {kind:'softmax', size:3}]};
const bytes = exportOnnx(spec);
const sess = await ort.InferenceSession.create(bytes);
console.log(sess.inputNames, sess.outputNames);
const x = rng.float32(T*I);
const r = await sess.run({X: new ort.Tensor('float32', x, [T,1,I])});
const e = new FloatEngine(spec); const st = e.allocState(); const out = new Float32Array(T*3); e.run(st, x, T, out, 'error');
let m=0; for (let i=0;i<out.length;i++) m=Math.max(m, Math.abs(out[i]-r.Y.data[i]));
console.log('maxdiff', m, r.Y.dims, r.hN_1.dims);
// stream step by step feeding states (only forward layers matter: make spec2 forward only)
spec.layers[0] = {...spec.layers[0], direction:'forward', activations: defaultActivations('gru',1), float:{W:rng.float32(3*H*I), R:rng.float32(3*H*H), B:rng.float32(6*H)}} as any;
spec.layers[1] = {...spec.layers[1], inputSize: H, float:{W:rng.float32(16*H), R:rng.float32(16*4), B:rng.float32(32), P: rng.float32(12)}} as any;
const s2 = await ort.InferenceSession.create(exportOnnx(spec), {logSeverityLevel:3});
const e2 = new FloatEngine(spec); const st2 = e2.allocState(); const o2 = new Float32Array(T*3); e2.run(st2, x, T, o2, 'error');
let feeds: any = {};
let m2 = 0;
for (let t=0;t<T;t++){ const r = await s2.run({...feeds, X: new ort.Tensor('float32', x.subarray(t*I,(t+1)*I), [1,1,I])});
  for (let j=0;j<3;j++) m2=Math.max(m2, Math.abs(r.Y.data[j]-o2[t*3+j]));
  feeds = {h0_0: r.hN_0, h0_1: r.hN_1, c0_1: r.cN_1}; }
console.log('stepped maxdiff', m2);
{ let feeds: any = {};
for (let t=0;t<3;t++){ const r = await s2.run({...feeds, X: new ort.Tensor('float32', x.subarray(t*I,(t+1)*I), [1,1,I])});
  console.log(t, Array.from(r.Y.data), Array.from(o2.subarray(t*3,t*3+3)), Array.from(r.hN_0.data).slice(0,3));
  feeds = {h0_0: r.hN_0, h0_1: r.hN_1, c0_1: r.cN_1}; }
  const r0 = await s2.run({X: new ort.Tensor('float32', x.subarray(0,I), [1,1,I])});
  const rA = await s2.run({X: new ort.Tensor('float32', x.subarray(0,I), [1,1,I]), h0_0: new ort.Tensor('float32', new Float32Array(H).fill(0.5), [1,1,H])});
  console.log(Array.from(r0.hN_0.data), Array.from(rA.hN_0.data));
}
