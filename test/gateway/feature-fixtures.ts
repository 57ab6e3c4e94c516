/**
 * Gateway test fixtures for models with src/features front ends: small GRU models built in code
 * around a front-end spec, the front ends under test with their device signals and message
 * cuts (out of step with hops and windows), a detector that records every step, the
 * uninterrupted reference (batch features through one plain session), and the frame-for-frame
 * comparison of what a gateway stepped against it.
 */
import { audioFrontendSpec, calibrateAbsMax, createFrontend, createRuntime, defaultActivations, encodeModel, HMP_ACCEL_DECODE, quantizeModel, Rng, type FrontendSpec, type Model, type ModelSpec } from '../../src/index.js';
import { decodeBinary, encodeBinary, encodeJson } from '../../src/gateway/codecs.js';
import type { DetectorFactory } from '../../src/gateway/detectors.js';

// ---- models with src/features front ends, and a detector that records every step ---------------

/** GRU I->8 + dense 8->2 + softmax, random weights, quantized with ranges from `calib` feature frames. */
export async function featureModel(I: number, frontend: FrontendSpec, calib: Float32Array, seed: number): Promise<Model> {
  return (await createRuntime()).load(featureModelBytes(I, frontend, calib, seed));
}

/** The int8 .ern bytes of featureModel (for gateways that load models from files). */
export function featureModelBytes(I: number, frontend: FrontendSpec, calib: Float32Array, seed: number): Uint8Array {
  const rng = new Rng(seed);
  const H = 8;
  const spec: ModelSpec = {
    name: `feat-${frontend.kind}`,
    version: '1.0.0',
    task: 'classify',
    labels: ['background', 'event'],
    input: { size: I, frontend },
    precision: 'float32',
    layers: [
      {
        kind: 'gru',
        inputSize: I,
        hiddenSize: H,
        direction: 'forward',
        activations: defaultActivations('gru', 1),
        float: { W: new Float32Array(3 * H * I).map(() => rng.uniform(-0.3, 0.3)), R: new Float32Array(3 * H * H).map(() => rng.uniform(-0.3, 0.3)), B: new Float32Array(6 * H).map(() => rng.uniform(-0.2, 0.2)) },
      },
      { kind: 'dense', inputSize: H, outputSize: 2, activation: 'none', float: { W: new Float32Array(2 * H).map(() => rng.uniform(-2, 2)), B: new Float32Array([0.5, -0.5]) } },
      { kind: 'softmax', size: 2 },
    ],
    training: {},
  };
  return encodeModel(quantizeModel(spec, calibrateAbsMax(spec, [calib])));
}

/** One detector step as the gateway made it: copies of the input frame and the model's outputs. */
export interface RecordedStep {
  input: Float32Array;
  output: Float32Array;
}

/**
 * A detector kind ("record") that appends every step it sees to `log` and never fires: a probe
 * of what the whole pipeline (front end + model) produced, frame for frame. Its state travels
 * with the stream like any detector's.
 */
export function recordingDetector(log: RecordedStep[]): DetectorFactory {
  return () => {
    let steps = 0;
    return {
      lastScore: 0,
      step(output, input) {
        log.push({ input: input.slice(), output: output.slice() });
        steps++;
        return null;
      },
      reset() {
        steps = 0;
      },
      exportState: () => ({ steps }),
      importState(s) {
        steps = Number((s as { steps?: unknown } | null)?.steps ?? 0);
      },
    };
  };
}

/** What the detector of one uninterrupted stream sees: per detected frame, the input and output. */
export interface ReferenceStream {
  name: string;
  steps: RecordedStep[];
}

/**
 * The uninterrupted reference for `samples` (as the gateway decodes them) through a fresh front
 * end (batch) and one plain session: every frame for streaming front ends; for windowed ones
 * (framesPerOutput > 1) each window from a fresh session, the detector seeing its last frame.
 */
export function referenceSteps(model: Model, samples: Float32Array, name: string): ReferenceStream {
  const feats = createFrontend(model.spec.input.frontend, { expectedFeatureSize: model.inputSize }).batch(samples);
  const I = model.inputSize;
  const F = feats.framesPerOutput;
  const steps: RecordedStep[] = [];
  let s = model.session();
  for (let b = 0; b < feats.count; b++) {
    if (F > 1) {
      s.dispose();
      s = model.session();
    }
    for (let t = 0; t < F; t++) {
      const frame = feats.data.subarray((b * F + t) * I, (b * F + t + 1) * I);
      const y = s.step(frame);
      if (t === F - 1) steps.push({ input: frame.slice(), output: y.slice() });
    }
  }
  s.dispose();
  return { name, steps };
}

const bitsOf = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('hex');

/**
 * Assigns each recorded step to the reference stream and position it equals (by its input
 * frame, bit for bit) and checks that every stream's steps came in order, none skipped or
 * repeated, with outputs equal bit for bit: from position `start[name]` (default 0) to its end.
 * A front end that restarted mid-stream computes frames no reference has: reported as such.
 */
export function expectSameAsReference(log: readonly RecordedStep[], refs: readonly ReferenceStream[], start: Readonly<Record<string, number>> = {}): void {
  const where = new Map<string, Array<{ ref: ReferenceStream; t: number }>>();
  for (const ref of refs) {
    ref.steps.forEach((st, t) => {
      const k = bitsOf(st.input);
      const list = where.get(k) ?? [];
      list.push({ ref, t });
      where.set(k, list);
    });
  }
  const next = new Map(refs.map((r) => [r.name, start[r.name] ?? 0]));
  log.forEach((st, i) => {
    const cands = where.get(bitsOf(st.input)) ?? [];
    const hit = cands.find((c) => next.get(c.ref.name) === c.t);
    if (!hit) {
      const seen = cands.map((c) => `${c.ref.name}[${c.t}] (expected next ${next.get(c.ref.name)})`).join(', ');
      throw new Error(`step ${i} of the gateway: its input frame ${seen ? `is ${seen}: out of order` : 'is no frame of any uninterrupted stream (a front end restarted?)'}`);
    }
    if (bitsOf(st.output) !== bitsOf(hit.ref.steps[hit.t]!.output)) throw new Error(`step ${i} (${hit.ref.name}[${hit.t}]): outputs ${Array.from(st.output)} differ from the uninterrupted stream's ${Array.from(hit.ref.steps[hit.t]!.output)}`);
    next.set(hit.ref.name, hit.t + 1);
  });
  for (const r of refs) if (next.get(r.name) !== r.steps.length) throw new Error(`${r.name}: the gateway stepped it to ${next.get(r.name)} of ${r.steps.length} detector steps`);
}

// ---- front ends under test -------------------------------------------------------------------

/** A front end under test: its spec, what devices send, and how the gateway decodes it. */
export interface Kind {
  name: string;
  spec: Record<string, unknown>;
  codec: 'json' | 'binary';
  channels: number;
  /** Device samples (interleaved). */
  signal(n: number, seed: number): Float32Array;
  /** Samples per message, cycled: out of step with hops and windows. */
  sizes: number[];
  /** Total samples per device. */
  samples: number;
}

export const KINDS: Kind[] = [
  {
    name: 'mfcc (25 ms frames every 10 ms, 16 kHz int16 audio)',
    spec: audioFrontendSpec('mfcc', { nMfcc: 10 }) as unknown as Record<string, unknown>,
    codec: 'binary',
    channels: 1,
    signal: (n, seed) => {
      const rng = new Rng(seed);
      return Float32Array.from({ length: n }, (_, i) => 0.05 * rng.normal() + 0.3 * Math.sin(i * (0.05 + 0.00001 * i)) * (i % 4000 < 1500 ? 1 : 0.1));
    },
    sizes: [1000, 730, 1610, 45, 2222, 333],
    samples: 24_000,
  },
  {
    name: 'imu (HMP codes, polyphase 32 -> 50 Hz, windows of 32 every 8)',
    spec: {
      kind: 'imu',
      inputRateHz: 32,
      rateHz: 50,
      resampler: 'polyphase',
      channels: ['ax', 'ay', 'az'].map((name) => ({ name, unit: 'g', decode: { ...HMP_ACCEL_DECODE } })),
      accelUnit: 'm/s2',
      gyroUnit: 'rad/s',
      windowSize: 32,
      hop: 8,
      normalization: { mean: [0, 0, 9.8], std: [4, 4, 4] },
    },
    codec: 'json',
    channels: 3,
    signal: (n, seed) => {
      const rng = new Rng(seed);
      return Float32Array.from({ length: 3 * n }, (_, i) => Math.max(0, Math.min(63, Math.round(31 + 15 * Math.sin(0.02 * i * ((i % 3) + 1)) + 5 * rng.normal()))));
    },
    sizes: [7, 3, 12, 1, 9],
    samples: 640,
  },
  {
    name: 'series (standard scaling, EWM adaptive normalization)',
    spec: { kind: 'series', channels: 2, scaling: { kind: 'standard', mean: [20, -3], std: [5, 2] }, adaptive: { kind: 'ewm', alpha: 0.02, epsilon: 1e-6 } },
    codec: 'json',
    channels: 2,
    signal: (n, seed) => {
      const rng = new Rng(seed);
      return Float32Array.from({ length: 2 * n }, (_, i) => (i % 2 ? -3 + 0.01 * i : 20 + 5 * Math.sin(i / 50)) + rng.normal());
    },
    sizes: [5, 1, 8, 3],
    samples: 400,
  },
];

export interface Message {
  seq: number;
  payload: Uint8Array;
  /** Samples (interleaved) as the gateway decodes them. */
  decoded: Float32Array;
}

/** Cuts a device signal into messages of the kind's cycling sizes. */
export function messages(k: Kind, x: Float32Array): Message[] {
  const out: Message[] = [];
  for (let s = 0, m = 0; s < k.samples; m++) {
    const n = Math.min(k.sizes[m % k.sizes.length]!, k.samples - s);
    const chunk = x.subarray(s * k.channels, (s + n) * k.channels);
    const payload = k.codec === 'binary' ? encodeBinary(chunk, k.channels, { type: 'int16', seq: m }) : encodeJson(chunk, k.channels, { seq: m });
    const decoded = k.codec === 'binary' ? decodeBinary(payload, { channels: k.channels, int16Scale: 1 / 32768, maxSamples: 1e6 }).values : Float32Array.from(chunk);
    out.push({ seq: m, payload, decoded });
    s += n;
  }
  return out;
}

export const concat = (ms: readonly Message[]): Float32Array => {
  const out = new Float32Array(ms.reduce((a, m) => a + m.decoded.length, 0));
  let o = 0;
  for (const m of ms) {
    out.set(m.decoded, o);
    o += m.decoded.length;
  }
  return out;
};

/** The .ern bytes of a small model behind kind k's front end, quantized on its features of a calibration signal. */
export function kindModelBytes(k: Kind, seed: number): Uint8Array {
  const feats = createFrontend(k.spec).batch(concat(messages(k, k.signal(k.samples, 1))));
  return featureModelBytes(feats.featureSize, k.spec as FrontendSpec, feats.data, seed);
}
