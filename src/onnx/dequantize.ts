/**
 * int8 spec -> float32 spec with the real values the integer weights stand for
 * (docs/quantization.md, scheme ern-a16w8-v1):
 *
 *   W[j,k] = Wq[j,k] * Wscale[j] / inScale[k]      inScale: the layer's input scale
 *   R[j,k] = Rq[j,k] * Rscale[j] / 2^-15           (hidden state is Q0.15)
 *   Wb[j]  = Bx[j] * Wscale[j],  Rb[j] = Bh[j] * Rscale[j]
 *   dense: W = Wq * Wscale / inScale, B = Bq * Wscale
 *
 * A layer's input scale is the model's inputScale for the first layer, 2^-15 after a recurrent
 * layer or a sigmoid/tanh dense layer, and the dense layer's outputScale after none/relu
 * (must match quantizeModel in src/model/quantize.ts).
 *
 * The float model computes what the integer one approximates: the difference is the integer
 * kernels' rounding and their fixed-point sigmoid/tanh, not the weights.
 */
import { EdgeRnnError } from '../errors.js';
import { GATES, isRecurrent, numDirections, type FloatRecurrentWeights, type Layer, type ModelSpec } from '../model/spec.js';

const Q15 = 1 / 32768;

export function dequantizeModel(spec: ModelSpec): ModelSpec {
  if (spec.precision === 'float32') return spec;
  const inputScale = spec.inputScale;
  if (!inputScale || inputScale.length !== spec.input.size) {
    throw new EdgeRnnError('ERN_QUANT_PARAMS', `int8 model '${spec.name}' needs ${spec.input.size} inputScale entries, has ${inputScale?.length ?? 0}`);
  }
  let inScale: Float64Array = Float64Array.from(inputScale);
  const layers: Layer[] = spec.layers.map((layer, li) => {
    if (isRecurrent(layer)) {
      const q = layer.quant;
      if (!q) throw new EdgeRnnError('ERN_TENSOR', `layers.${li} (${layer.kind}) has no int8 weights`);
      const H = layer.hiddenSize;
      const I = layer.inputSize;
      const rows = GATES[layer.kind] * H;
      const D = numDirections(layer);
      const W = new Float32Array(D * rows * I);
      const R = new Float32Array(D * rows * H);
      const B = new Float32Array(D * 2 * rows);
      for (let d = 0; d < D; d++) {
        for (let j = 0; j < rows; j++) {
          const r = d * rows + j;
          const ws = q.Wscale[r]!;
          const rs = q.Rscale[r]!;
          for (let k = 0; k < I; k++) W[r * I + k] = (q.Wq[r * I + k]! * ws) / inScale[k]!;
          for (let k = 0; k < H; k++) R[r * H + k] = (q.Rq[r * H + k]! * rs) / Q15;
          B[d * 2 * rows + j] = q.Bx[r]! * ws;
          B[d * 2 * rows + rows + j] = q.Bh[r]! * rs;
        }
      }
      const float: FloatRecurrentWeights = { W, R, B };
      if (q.P) float.P = q.P;
      if (q.initialH) float.initialH = q.initialH;
      if (q.initialC) float.initialC = q.initialC;
      inScale = new Float64Array(H * D).fill(Q15);
      const { quant: _q, ...rest } = layer;
      return { ...rest, float };
    }
    if (layer.kind === 'dense') {
      const q = layer.quant;
      if (!q) throw new EdgeRnnError('ERN_TENSOR', `layers.${li} (dense) has no int8 weights`);
      const I = layer.inputSize;
      const O = layer.outputSize;
      const W = new Float32Array(O * I);
      const B = new Float32Array(O);
      for (let j = 0; j < O; j++) {
        for (let k = 0; k < I; k++) W[j * I + k] = (q.Wq[j * I + k]! * q.Wscale[j]!) / inScale[k]!;
        B[j] = q.Bq[j]! * q.Wscale[j]!;
      }
      const s = layer.activation === 'sigmoid' || layer.activation === 'tanh' ? Q15 : (q.outputScale ?? 1);
      inScale = new Float64Array(O).fill(s);
      const { quant: _q, ...rest } = layer;
      return { ...rest, float: { W, B } };
    }
    return { ...layer };
  });
  const { inputScale: _s, ...rest } = spec;
  return { ...rest, precision: 'float32', layers };
}
