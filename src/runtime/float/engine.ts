/**
 * FloatEngine: runs float32 models through the float reference cells (backend 'float').
 * State is float64 (h, and c for LSTM) per forward recurrent layer, so a stream exported and
 * imported continues exactly.
 */
import { EdgeRnnError } from '../../errors.js';
import { isRecurrent, isStreamable, numDirections, type DenseLayer, type Layer, type ModelSpec } from '../../model/spec.js';
import { type Engine, type EngineState, type NonFinitePolicy, finiteOrZero, firstNonFinite } from '../engine.js';
import { logSoftmaxInPlace, softmaxInPlace } from './activations.js';
import { denseFloat, floatDirections, floatScratch, gruStepFloat, lstmStepFloat, rnnStepFloat, type FloatDirection } from './cells.js';

interface FloatLayerPlan {
  layer: Layer;
  dirs: FloatDirection[];
  /** Byte offset of this layer's state (-1: stateless or offline). */
  stateOff: number;
  outSize: number;
}

interface FloatState extends EngineState {
  readonly f64: Float64Array;
}

export class FloatEngine implements Engine {
  readonly backend = 'float' as const;
  readonly stateClass = 'float' as const;
  readonly inputSize: number;
  readonly outputSize: number;
  readonly streamable: boolean;
  readonly stateBytes: number;
  readonly weightBytes: number;
  private readonly plan: FloatLayerPlan[];
  private readonly scratch: Float64Array;
  private readonly bufs: [Float64Array, Float64Array];
  private readonly init: Float64Array;
  /** step()'s frame rounded to float32 when it came as anything but a Float32Array. */
  private readonly frame32: Float32Array;

  constructor(spec: ModelSpec) {
    if (spec.precision !== 'float32') throw new EdgeRnnError('BACKEND_UNAVAILABLE', `the float backend runs float32 models; this model is ${spec.precision}`);
    this.inputSize = spec.input.size;
    this.frame32 = new Float32Array(this.inputSize);
    let off = 0;
    let widest = spec.input.size;
    let maxH = 1;
    let weights = 0;
    this.plan = spec.layers.map((layer) => {
      let stateOff = -1;
      let dirs: FloatDirection[] = [];
      let outSize: number;
      if (isRecurrent(layer)) {
        dirs = floatDirections(layer);
        outSize = layer.hiddenSize * numDirections(layer);
        maxH = Math.max(maxH, layer.hiddenSize);
        if (layer.direction === 'forward') {
          stateOff = off;
          off += 8 * layer.hiddenSize * (layer.kind === 'lstm' ? 2 : 1);
        }
        const w = layer.float!;
        weights += w.W.byteLength + w.R.byteLength + (w.B?.byteLength ?? 0) + (w.P?.byteLength ?? 0);
      } else if (layer.kind === 'dense') {
        if (!layer.float) throw new EdgeRnnError('ERN_TENSOR', 'dense layer has no float weights');
        outSize = layer.outputSize;
        weights += layer.float.W.byteLength + (layer.float.B?.byteLength ?? 0);
      } else {
        outSize = layer.size;
      }
      widest = Math.max(widest, outSize);
      return { layer, dirs, stateOff, outSize };
    });
    this.outputSize = this.plan.length ? this.plan[this.plan.length - 1]!.outSize : spec.input.size;
    this.streamable = isStreamable(spec);
    this.stateBytes = off;
    this.weightBytes = weights;
    this.scratch = floatScratch(maxH);
    this.bufs = [new Float64Array(widest), new Float64Array(widest)];
    // Initial state image.
    this.init = new Float64Array(off / 8);
    for (const p of this.plan) {
      if (p.stateOff < 0 || !isRecurrent(p.layer)) continue;
      const H = p.layer.hiddenSize;
      const w = p.layer.float!;
      if (w.initialH) for (let j = 0; j < H; j++) this.init[p.stateOff / 8 + j] = w.initialH[j]!;
      if (p.layer.kind === 'lstm' && w.initialC) for (let j = 0; j < H; j++) this.init[p.stateOff / 8 + H + j] = w.initialC[j]!;
    }
  }

  allocState(): EngineState {
    const f64 = new Float64Array(Math.max(this.stateBytes / 8, 1));
    const s: FloatState = { f64, bytes: () => new Uint8Array(f64.buffer, 0, this.stateBytes) };
    this.resetState(s);
    return s;
  }

  freeState(): void {}

  resetState(s: EngineState): void {
    (s as FloatState).f64.set(this.init);
  }

  /** One step through all layers; frame values already validated. */
  private stepOne(st: Float64Array, frame: ArrayLike<number>, fOff: number, out: Float32Array, oOff: number): void {
    let cur: ArrayLike<number> = frame;
    let curOff = fOff;
    let flip = 0;
    for (const p of this.plan) {
      const L = p.layer;
      if (isRecurrent(L)) {
        const H = L.hiddenSize;
        const h = st.subarray(p.stateOff / 8, p.stateOff / 8 + H);
        const dir = p.dirs[0]!;
        if (L.kind === 'gru') gruStepFloat(dir, cur, curOff, h, this.scratch);
        else if (L.kind === 'lstm') lstmStepFloat(dir, cur, curOff, h, st.subarray(p.stateOff / 8 + H, p.stateOff / 8 + 2 * H), this.scratch);
        else rnnStepFloat(dir, cur, curOff, h, this.scratch);
        cur = h;
        curOff = 0;
      } else if (L.kind === 'dense') {
        const y = this.bufs[flip]!;
        flip ^= 1;
        denseFloat(L.float!.W, L.float!.B, L.inputSize, L.outputSize, L.activation, cur, curOff, y, 0);
        cur = y;
        curOff = 0;
      } else {
        const y = this.bufs[flip]!;
        flip ^= 1;
        for (let j = 0; j < L.size; j++) y[j] = cur[curOff + j]!;
        if (L.kind === 'softmax') softmaxInPlace(y, 0, L.size);
        else logSoftmaxInPlace(y, 0, L.size);
        cur = y;
        curOff = 0;
      }
    }
    for (let j = 0; j < this.outputSize; j++) out[oOff + j] = cur[curOff + j]!;
  }

  /**
   * Frames as float32 values: model inputs are float32 (the integer engines stage frames as
   * float32 too), so a Float64Array, a plain array or nested arrays give exactly what the same
   * values in a Float32Array give. A Float32Array without bad values is used as it is; anything
   * else is copied once into float32, NaN and ±Infinity as 0 under policy 'zero'.
   */
  private sanitize(frames: ArrayLike<number>, n: number, policy: NonFinitePolicy): { bad: number; data: ArrayLike<number> } {
    const bad = firstNonFinite(frames, 0, n);
    if (bad >= 0 && policy === 'error') return { bad, data: frames };
    if (bad < 0 && frames instanceof Float32Array) return { bad: -1, data: frames };
    return { bad: -1, data: FloatEngine.toFloat32(frames, 0, n, new Float32Array(n)) };
  }

  /** dst[i] = f32(src[off + i]), non-finite values as 0 (a Float32Array store rounds to nearest even). */
  private static toFloat32(src: ArrayLike<number>, off: number, n: number, dst: Float32Array): Float32Array {
    for (let i = 0; i < n; i++) dst[i] = finiteOrZero(src[off + i]!);
    return dst;
  }

  step(s: EngineState, frame: ArrayLike<number>, frameOff: number, out: Float32Array, policy: NonFinitePolicy): number {
    const I = this.inputSize;
    const bad = firstNonFinite(frame, frameOff, I);
    if (bad >= 0 && policy === 'error') return bad;
    // Rounded to float32 as in sanitize(), into a buffer of the engine's (step() allocates nothing).
    if (bad >= 0 || !(frame instanceof Float32Array)) this.stepOne((s as FloatState).f64, FloatEngine.toFloat32(frame, frameOff, I, this.frame32), 0, out, 0);
    else this.stepOne((s as FloatState).f64, frame, frameOff, out, 0);
    return -1;
  }

  private staged: Float32Array | null = null;

  inputFrame(): Float32Array {
    return (this.staged ??= new Float32Array(this.inputSize));
  }

  stepInput(s: EngineState, out: Float32Array, policy: NonFinitePolicy): number {
    const x = this.inputFrame();
    if (policy === 'zero') for (let i = 0; i < x.length; i++) if (!(x[i]! - x[i]! === 0)) x[i] = 0;
    return this.step(s, x, 0, out, policy);
  }

  stepMany(states: readonly EngineState[], frames: ArrayLike<number>, out: Float32Array, policy: NonFinitePolicy): number {
    const { bad, data } = this.sanitize(frames, states.length * this.inputSize, policy);
    if (bad >= 0) return bad;
    for (let i = 0; i < states.length; i++) this.stepOne((states[i] as FloatState).f64, data, i * this.inputSize, out, i * this.outputSize);
    return -1;
  }

  run(s: EngineState, frames: ArrayLike<number>, T: number, out: Float32Array, policy: NonFinitePolicy): number {
    const { bad, data } = this.sanitize(frames, T * this.inputSize, policy);
    if (bad >= 0) return bad;
    const st = (s as FloatState).f64;
    if (this.streamable) {
      for (let t = 0; t < T; t++) this.stepOne(st, data, t * this.inputSize, out, t * this.outputSize);
      return -1;
    }
    this.resetState(s);
    this.runOffline(st, data, T, out);
    return -1;
  }

  /** Layer by layer over the whole sequence (bidirectional and reverse layers). */
  private runOffline(st: Float64Array, x: ArrayLike<number>, T: number, out: Float32Array): void {
    let cur: Float64Array = Float64Array.from({ length: T * this.inputSize }, (_, i) => x[i]!);
    let width = this.inputSize;
    for (const p of this.plan) {
      const L = p.layer;
      const next = new Float64Array(T * p.outSize);
      if (isRecurrent(L)) {
        const H = L.hiddenSize;
        p.dirs.forEach((dir, d) => {
          const reverse = d === 1 || L.direction === 'reverse';
          const h = new Float64Array(H);
          const c = new Float64Array(H);
          const w = L.float!;
          if (w.initialH) h.set(w.initialH.subarray(d * H, (d + 1) * H));
          if (w.initialC) c.set(w.initialC.subarray(d * H, (d + 1) * H));
          if (p.stateOff >= 0) {
            h.set(st.subarray(p.stateOff / 8, p.stateOff / 8 + H));
            if (L.kind === 'lstm') c.set(st.subarray(p.stateOff / 8 + H, p.stateOff / 8 + 2 * H));
          }
          for (let n = 0; n < T; n++) {
            const t = reverse ? T - 1 - n : n;
            if (L.kind === 'gru') gruStepFloat(dir, cur, t * width, h, this.scratch);
            else if (L.kind === 'lstm') lstmStepFloat(dir, cur, t * width, h, c, this.scratch);
            else rnnStepFloat(dir, cur, t * width, h, this.scratch);
            next.set(h, t * p.outSize + d * H);
          }
          if (p.stateOff >= 0) {
            st.set(h, p.stateOff / 8);
            if (L.kind === 'lstm') st.set(c, p.stateOff / 8 + H);
          }
        });
      } else if (L.kind === 'dense') {
        const D = L as DenseLayer;
        for (let t = 0; t < T; t++) denseFloat(D.float!.W, D.float!.B, D.inputSize, D.outputSize, D.activation, cur, t * width, next, t * p.outSize);
      } else {
        next.set(cur);
        for (let t = 0; t < T; t++) {
          if (L.kind === 'softmax') softmaxInPlace(next, t * p.outSize, p.outSize);
          else logSoftmaxInPlace(next, t * p.outSize, p.outSize);
        }
      }
      cur = next;
      width = p.outSize;
    }
    for (let i = 0; i < T * this.outputSize; i++) out[i] = cur[i]!;
  }

  dispose(): void {}
}
