import { beforeAll, describe, expect, it } from 'vitest';
import {
  EdgeRnnError,
  audioFrontendSpec,
  createRuntime,
  decodeErn,
  decodeModel,
  encodeErn,
  encodeModel,
  quantizeModel,
  resealErn,
  type ErrorCode,
  type ModelSpec,
  type Runtime,
} from '../../src/index.js';
import { Rng } from '../../src/util/rng.js';
import { withManifest, withManifestText } from '../helpers/ern.js';
import { randomQuantModel } from '../helpers/random-model.js';

let rt: Runtime;
let intSpec: ModelSpec;
let floatSpec: ModelSpec;
let intBytes: Uint8Array;
let floatBytes: Uint8Array;

beforeAll(async () => {
  rt = await createRuntime();
  const m = randomQuantModel(8); // gru -> gru -> dense -> dense -> softmax
  intSpec = m.int8;
  floatSpec = m.float;
  intBytes = encodeModel(intSpec);
  floatBytes = encodeModel(floatSpec);
});

/** Loads and returns the error code, or 'ok'. Any non-EdgeRnnError fails the test. */
async function outcome(bytes: Uint8Array): Promise<ErrorCode | 'ok'> {
  try {
    const m = await rt.load(bytes, { backend: 'reference' });
    m.dispose();
    return 'ok';
  } catch (e) {
    if (e instanceof EdgeRnnError) return e.code;
    throw e;
  }
}

/** A valid IMU front end: `channels` accelerometer axes at `inputRateHz`, model rate 16 Hz. */
function imuSpec(channels: number, inputRateHz: number): Record<string, unknown> {
  return { kind: 'imu', inputRateHz, rateHz: 16, resampler: 'polyphase', accelUnit: 'g', gyroUnit: 'rad/s', windowSize: 8, hop: 4, channels: Array.from({ length: channels }, (_, i) => ({ name: `a${i}`, unit: 'g' })) };
}

function setU32(bytes: Uint8Array, off: number, v: number): Uint8Array {
  const b = bytes.slice();
  new DataView(b.buffer).setUint32(off, v, true);
  return b;
}

describe('.ern round trip', () => {
  it('int8 and float32 models survive encode/decode with every tensor and field intact', () => {
    for (const [spec, bytes] of [
      [intSpec, intBytes],
      [floatSpec, floatBytes],
    ] as const) {
      const d = decodeModel(bytes);
      expect(d.spec.name).toBe(spec.name);
      expect(d.spec.precision).toBe(spec.precision);
      expect(d.spec.layers.map((l) => l.kind)).toEqual(spec.layers.map((l) => l.kind));
      spec.layers.forEach((l, i) => {
        const got = d.spec.layers[i]! as any;
        const w = (l as any).quant ?? (l as any).float;
        const gw = got.quant ?? got.float;
        for (const k of Object.keys(w ?? {})) {
          if (typeof w[k] === 'number') expect(gw[k]).toBe(w[k]);
          else expect(Array.from(gw[k]), `layer ${i} ${k}`).toEqual(Array.from(w[k]));
        }
      });
    }
  });

  it('refuses to write or quantize a model with a NaN or infinite float weight, naming it', () => {
    for (const bad of [NaN, Infinity, -Infinity]) {
      const spec = structuredClone(floatSpec);
      const layer = spec.layers[0] as { float: { R: Float32Array } };
      layer.float.R[7] = bad;
      expect(() => encodeModel(spec)).toThrow(new RegExp(`encodeModel\\(\\): layers\\[0\\]\\.float\\.R\\[7\\] is ${String(bad).replace('+', '')}: weights must be finite`));
      // A NaN weight used to quantize silently to 0.
      expect(() => quantizeModel(spec, { inputAbsMax: new Float32Array(spec.input.size).fill(1) })).toThrow(/quantizeModel\(\): layers\[0\]\.float\.R\[7\]/);
    }
  });

  it('refuses to write a file the runtime would refuse, with the decoder\'s error', () => {
    const bad = { ...intSpec, input: { ...intSpec.input, names: ['only-one'] } };
    expect(() => encodeModel(bad)).toThrow(expect.objectContaining({ code: 'ERN_MANIFEST' }));
    expect(() => encodeModel(bad)).toThrow(/input\.names must be an array of \d+ strings/);
  });

  it('refuses to write metadata JSON cannot hold (a BigInt, a cycle) with ERN_MANIFEST, not a TypeError', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    for (const training of [{ seed: 1n }, { hyperparameters: cyclic }]) {
      expect(() => encodeModel({ ...intSpec, training })).toThrow(expect.objectContaining({ code: 'ERN_MANIFEST', message: expect.stringMatching(/cannot be written as JSON/) }));
    }
  });

  it('is deterministic: the same spec gives the same bytes', () => {
    expect(Buffer.from(encodeModel(intSpec)).equals(Buffer.from(intBytes))).toBe(true);
  });

  it('views tensors in place when the buffer is aligned and copies once when it is not', () => {
    const aligned = decodeErn(intBytes);
    expect(aligned.zeroCopy).toBe(true);
    const t = aligned.tensors.get('layers.0.Wq')!;
    expect(t.data.buffer).toBe(intBytes.buffer);
    const shifted = new Uint8Array(intBytes.length + 3);
    shifted.set(intBytes, 3);
    const odd = decodeErn(shifted.subarray(3));
    expect(odd.zeroCopy).toBe(false);
    expect(Array.from(odd.tensors.get('layers.0.Wq')!.data)).toEqual(Array.from(t.data));
  });

  it('records the manifest fields a deployment needs', () => {
    const spec: ModelSpec = {
      ...intSpec,
      name: 'kws-gru',
      version: '2.1.0',
      task: 'kws',
      labels: Array.from({ length: 10 }, (_, i) => `c${i}`),
      input: { size: intSpec.input.size, rateHz: 100, frontend: { ...audioFrontendSpec('logmel', { nMels: intSpec.input.size }) } },
      training: { dataset: 'synthetic', datasetSha256: 'a'.repeat(64), hyperparameters: { lr: 0.001 }, metrics: { accuracy: 0.95 }, codeCommit: 'abc123', createdAt: '2026-11-25T00:00:00Z' },
    };
    const d = decodeModel(encodeModel(spec));
    expect(d.spec.version).toBe('2.1.0');
    expect(d.spec.labels).toHaveLength(10);
    expect(d.spec.input.frontend).toEqual({ ...audioFrontendSpec('logmel', { nMels: intSpec.input.size }) });
    expect(d.spec.training.metrics).toEqual({ accuracy: 0.95 });
    expect(d.golden.steps).toBe(8);
  });
});

describe('.ern defects get typed errors naming them', () => {
  const cases: [string, () => Uint8Array, ErrorCode, RegExp?][] = [
    ['empty file', () => new Uint8Array(0), 'ERN_TRUNCATED', /needs 64/],
    ['truncated header', () => intBytes.slice(0, 40), 'ERN_TRUNCATED'],
    ['truncated body', () => intBytes.slice(0, intBytes.length - 100), 'ERN_TRUNCATED', /truncated/],
    ['trailing bytes', () => Uint8Array.from([...intBytes, 1, 2, 3]), 'ERN_TRAILING_DATA'],
    ['wrong magic (a PNG)', () => Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, ...intBytes.slice(8)]), 'ERN_BAD_MAGIC', /89504e47/],
    ['future major version', () => resealErn(Uint8Array.from(intBytes.slice(), (v, i) => (i === 8 ? 2 : v))), 'ERN_UNSUPPORTED_VERSION', /2\.0/],
    ['data offset not aligned', () => resealErn(setU32(intBytes, 24, 100)), 'ERN_BAD_HEADER'],
    ['manifest past data', () => resealErn(setU32(intBytes, 20, 1 << 20)), 'ERN_BAD_HEADER'],
    ['header size below 64 (manifest and data where they are)', () => resealErn(setU32(intBytes, 12, 32)), 'ERN_BAD_HEADER', /header size 32, expected at least 64/],
    ['one flipped data byte', () => Uint8Array.from(intBytes, (v, i) => (i === intBytes.length - 10 ? v ^ 1 : v)), 'ERN_CHECKSUM'],
    [
      'manifest not JSON',
      () => {
        const b = intBytes.slice();
        b[64] = 0x7b;
        b[65] = 0x7b;
        return resealErn(b);
      },
      'ERN_MANIFEST',
    ],
    ['missing name', () => withManifest(intBytes, (m) => delete m.name), 'ERN_MANIFEST', /manifest\.name/],
    ['bad semver', () => withManifest(intBytes, (m) => (m.version = '1.2')), 'ERN_MANIFEST', /semantic version/],
    ['unknown task', () => withManifest(intBytes, (m) => (m.task = 'dance')), 'ERN_MANIFEST', /manifest\.task/],
    ['unknown layer kind', () => withManifest(intBytes, (m) => (m.layers[0].kind = 'transformer')), 'ERN_MANIFEST', /layers\[0\]\.kind/],
    ['layer sizes do not chain', () => withManifest(intBytes, (m) => (m.layers[1].inputSize += 1)), 'ERN_MANIFEST', /previous layer/],
    ['negative hidden size', () => withManifest(intBytes, (m) => (m.layers[0].hiddenSize = -3)), 'ERN_MANIFEST', /hiddenSize/],
    ['labels of the wrong count', () => withManifest(intBytes, (m) => (m.labels = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n'])), 'ERN_MANIFEST', /labels/],
    ['output size other than the last layer\'s', () => withManifest(intBytes, (m) => (m.output.size += 1)), 'ERN_MANIFEST', /manifest\.output\.size must be \d+ \(the last layer's output size\)/],
    ['no output size', () => withManifest(intBytes, (m) => delete m.output), 'ERN_MANIFEST', /manifest\.output must be an object/],
    ['a label twice', () => withManifest(intBytes, (m) => (m.labels = m.labels.length ? m.labels.map((l: string, i: number) => (i === 1 ? m.labels[0] : l)) : Array.from({ length: m.output.size }, (_, i) => (i === 1 ? 'c0' : `c${i}`)))), 'ERN_MANIFEST', /manifest\.labels\[1\] must be a non-empty label no other output has, got "\w+"/],
    ['an empty label', () => withManifest(intBytes, (m) => (m.labels = Array.from({ length: m.output.size }, (_, i) => (i === 2 ? '' : `c${i}`)))), 'ERN_MANIFEST', /manifest\.labels\[2\] must be a non-empty label no other output has, got ""/],
    ['golden tolerance 1e999 (Infinity: the check turned off)', () => withManifestText(intBytes, (t) => t.replace(/"atol":[^,}]+/, '"atol":1e999')), 'ERN_MANIFEST', /golden\.atol must be a finite number >= 0/],
    // Used to load, then crash `edgernn info --json` and encodeModel(decoded.spec) with a RangeError.
    [
      'training metadata nested deeper than JSON.stringify can write',
      () => withManifestText(withManifest(intBytes, (m) => (m.training = { history: '@' })), (t) => t.replace('"@"', `${'['.repeat(10_000)}${']'.repeat(10_000)}`)),
      'ERN_MANIFEST',
      /manifest\.training nests objects and arrays more than 64 levels deep/,
    ],
    ['tensor reference to nothing', () => withManifest(intBytes, (m) => (m.layers[0].tensors.Wq = 'nope')), 'ERN_TENSOR', /'nope'/],
    ['tensor of the wrong dtype', () => withManifest(intBytes, (m) => (m.layers[0].tensors.Wq = m.layers[0].tensors.Bx)), 'ERN_TENSOR', /must be i8/],
    [
      'tensor of the wrong shape',
      () =>
        withManifest(intBytes, (m) => {
          const t = m.tensors.find((x: any) => x.name === 'layers.0.Wq');
          t.shape = [t.shape[0], t.shape[2], t.shape[1]];
        }),
      'ERN_TENSOR',
      /must have shape/,
    ],
    [
      'tensor past the data section',
      () =>
        withManifest(intBytes, (m) => {
          const t = m.tensors.find((x: any) => x.name === 'golden.output');
          t.offset += 1 << 16;
        }),
      'ERN_TENSOR',
      /data section/,
    ],
    [
      'the last tensor moved 64 bytes past the end of the data section',
      () =>
        withManifest(intBytes, (m) => {
          const last = m.tensors.reduce((a: any, b: any) => (b.offset > a.offset ? b : a));
          last.offset += 64;
        }),
      'ERN_TENSOR',
      /data section/,
    ],
    [
      'overlapping tensors',
      () =>
        withManifest(intBytes, (m) => {
          m.tensors[1].offset = m.tensors[0].offset;
        }),
      'ERN_TENSOR',
      /overlap/,
    ],
    ['byte count that disagrees with the shape', () => withManifest(intBytes, (m) => (m.tensors[0].bytes += 1)), 'ERN_TENSOR', /needs/],
    ['unknown dtype', () => withManifest(intBytes, (m) => (m.tensors[0].dtype = 'f16')), 'ERN_TENSOR', /dtype/],
    ['front end the runtime cannot build', () => withManifest(intBytes, (m) => (m.input.frontend = { kind: 'wavelet' })), 'ERN_MANIFEST', /input\.frontend/],
    ['front end of the wrong width', () => withManifest(intBytes, (m) => (m.input.frontend = { kind: 'none', channels: m.input.size + 1 })), 'ERN_MANIFEST', /input\.frontend/],
    ['MFCC front end of the wrong width', () => withManifest(intBytes, (m) => (m.input.frontend = audioFrontendSpec('mfcc', { nMfcc: m.input.size + 1 }))), 'ERN_MANIFEST', /input\.frontend: mfcc front end gives \d+ features per frame, the model's input size is \d+/],
    [
      'IMU front end of the wrong width',
      () => withManifest(intBytes, (m) => (m.input.frontend = imuSpec(m.input.size + 1, 32))),
      'ERN_MANIFEST',
      /input\.frontend: imu front end gives \d+ features per frame/,
    ],
    [
      'IMU front end with a rate ratio it cannot resample',
      () => withManifest(intBytes, (m) => (m.input.frontend = imuSpec(m.input.size, 33.3331))),
      'ERN_MANIFEST',
      /input\.frontend: imu front end: 'rateHz' must be a rational multiple of inputRateHz 33\.3331/,
    ],
    ['series front end of the wrong width', () => withManifest(intBytes, (m) => (m.input.frontend = { kind: 'series', channels: m.input.size + 2, scaling: { kind: 'none' } })), 'ERN_MANIFEST', /input\.frontend: series front end gives/],
    ['description that is not a string', () => withManifest(intBytes, (m) => (m.description = { text: 'x' })), 'ERN_MANIFEST', /manifest\.description must be a string/],
    ['extra that is not an object', () => withManifest(intBytes, (m) => (m.extra = 'x')), 'ERN_MANIFEST', /manifest\.extra must be an object/],
    ['wrong quantization scheme', () => withManifest(intBytes, (m) => (m.quantization.scheme = 'tflite')), 'ERN_MANIFEST', /scheme/],
    // A huge finite tolerance passed any output: with the checksum recomputed, an edited model
    // (here the softmax turned into logSoftmax) loaded and computed something else.
    [
      'golden tolerance 1e300 hiding an edited layer (int8)',
      () => withManifest(intBytes, (m) => ((m.golden.atol = 1e300), (m.layers[m.layers.length - 1].kind = 'logSoftmax'))),
      'ERN_MANIFEST',
      /manifest\.golden\.atol must be at most 0\.000001 for an int8 model/,
    ],
    [
      'golden tolerance 1e300 hiding an edited layer (float32)',
      () => withManifest(floatBytes, (m) => ((m.golden.atol = 1e300), (m.layers[m.layers.length - 1].kind = 'logSoftmax'))),
      'ERN_MANIFEST',
      /manifest\.golden\.atol must be at most 0\.00001 for a float32 model/,
    ],
    ['quantization parameters on a float32 model', () => withManifest(floatBytes, (m) => (m.quantization = { scheme: 'ern-a16w8-v1', zeroPoint: 3 })), 'ERN_MANIFEST', /manifest\.quantization must be null for a float32 model/],
    ['a name with a lone surrogate (rewritten to U+FFFD when re-encoded)', () => withManifest(intBytes, (m) => (m.name = 'kws\ud800')), 'ERN_MANIFEST', /manifest\.name must be well-formed Unicode text/],
    ['a name with a terminal escape sequence', () => withManifest(intBytes, (m) => (m.name = 'kws\u001b[2J')), 'ERN_MANIFEST', /manifest\.name must be well-formed Unicode text/],
    ['a label with a right-to-left override', () => withManifest(intBytes, (m) => (m.labels = Array.from({ length: m.output.size }, (_, i) => (i === 1 ? 'yes\u202e' : `c${i}`)))), 'ERN_MANIFEST', /manifest\.labels\[1\] must be well-formed Unicode text/],
    ['semver pre-release with a leading zero', () => withManifest(intBytes, (m) => (m.version = '1.2.3-01')), 'ERN_MANIFEST', /manifest\.version must be a semantic version/],
    ['semver with an empty pre-release identifier', () => withManifest(intBytes, (m) => (m.version = '1.2.3-a..b')), 'ERN_MANIFEST', /manifest\.version must be a semantic version/],
    ['semver with an empty build identifier', () => withManifest(intBytes, (m) => (m.version = '1.2.3+a..b')), 'ERN_MANIFEST', /manifest\.version must be a semantic version/],
    [
      'a dense layer after the softmax of an int8 model',
      () =>
        withManifest(intBytes, (m) => {
          const sm = m.layers.pop();
          const d = m.layers.pop();
          m.layers.push({ kind: 'softmax', size: d.inputSize }, d, sm);
        }),
      'ERN_MANIFEST',
      /manifest\.layers\[\d\] must be absent: layers\[\d\] \(softmax\) must be the last layer of an int8 model/,
    ],
    [
      'golden output that the model does not reproduce',
      () => {
        const d = decodeErn(intBytes);
        const g = d.tensors.get('golden.output')!;
        const b = intBytes.slice();
        const off = g!.data.byteOffset - intBytes.byteOffset + 4 * 5;
        new DataView(b.buffer).setFloat32(off, 123.5, true);
        return resealErn(b);
      },
      'ERN_GOLDEN_MISMATCH',
      /golden/,
    ],
    [
      'negative weight scale',
      () => {
        const d = decodeErn(intBytes);
        const s = d.tensors.get('layers.0.Wscale')!;
        const b = intBytes.slice();
        new DataView(b.buffer).setFloat32(s.data.byteOffset - intBytes.byteOffset, -1, true);
        return resealErn(b);
      },
      'ERN_QUANT_PARAMS',
      /Wscale\[0\]/,
    ],
    [
      'bias that could overflow the int32 accumulator',
      () => {
        const d = decodeErn(intBytes);
        const bx = d.tensors.get('layers.0.Bx')!;
        const b = intBytes.slice();
        new DataView(b.buffer).setInt32(bx.data.byteOffset - intBytes.byteOffset, 2 ** 31 - 10, true);
        return resealErn(b);
      },
      'ERN_QUANT_PARAMS',
      /exceeds int32/,
    ],
    [
      // Used to load and then fail its golden check with "output 3 is NaN, expected NaN".
      'a NaN weight in a float model',
      () => {
        const d = decodeErn(floatBytes);
        const w = d.tensors.get('layers.0.W')!;
        const b = floatBytes.slice();
        new DataView(b.buffer).setFloat32(w.data.byteOffset - floatBytes.byteOffset + 4 * 3, NaN, true);
        return resealErn(b);
      },
      'ERN_TENSOR',
      /tensor 'layers\.0\.W' value 3 is NaN/,
    ],
    [
      'an infinite golden output',
      () => {
        const d = decodeErn(intBytes);
        const g = d.tensors.get('golden.output')!;
        const b = intBytes.slice();
        new DataView(b.buffer).setFloat32(g.data.byteOffset - intBytes.byteOffset, Infinity, true);
        return resealErn(b);
      },
      'ERN_TENSOR',
      /value 0 is Infinity/,
    ],
  ];

  for (const [name, make, code, message] of cases) {
    it(name, async () => {
      const bytes = make();
      try {
        await rt.load(bytes, { backend: 'reference', source: 'bad.ern' });
        expect.fail('loaded a defective file');
      } catch (e) {
        expect(e).toBeInstanceOf(EdgeRnnError);
        expect((e as EdgeRnnError).code).toBe(code);
        expect((e as EdgeRnnError).message).toContain('bad.ern');
        if (message) expect((e as EdgeRnnError).message).toMatch(message);
      }
    });
  }
});

describe('fuzzing the parser', () => {
  it('2000 random byte mutations: always a typed error, never a crash or a hang', async () => {
    const rng = new Rng(1234);
    const seen = new Map<string, number>();
    for (let i = 0; i < 2000; i++) {
      let b = intBytes.slice();
      const op = rng.int(0, 4);
      if (op === 0) {
        const pos = rng.int(0, b.length - 1);
        b[pos] = b[pos]! ^ (1 << rng.int(0, 7));
      }
      else if (op === 1) b = b.slice(0, rng.int(0, b.length - 1));
      else if (op === 2) b = Uint8Array.from([...b.slice(0, rng.int(0, b.length)), rng.int(0, 255), ...b.slice(rng.int(0, b.length))]);
      else if (op === 3) for (let k = 0; k < 8; k++) b[rng.int(0, b.length - 1)] = rng.int(0, 255);
      else b = b.slice(rng.int(1, 64));
      const code = await outcome(b);
      seen.set(code, (seen.get(code) ?? 0) + 1);
    }
    expect(seen.get('ok') ?? 0).toBe(0);
    expect(seen.size).toBeGreaterThan(2);
  });

  it('2000 mutations behind a valid checksum reach the structural checks: typed error or a working model', async () => {
    const rng = new Rng(99);
    const seen = new Map<string, number>();
    const dv = new DataView(intBytes.buffer, intBytes.byteOffset);
    const dOff = dv.getUint32(24, true);
    for (let i = 0; i < 2000; i++) {
      const b = intBytes.slice();
      const n = rng.int(1, 4);
      for (let k = 0; k < n; k++) {
        // Mostly the header and manifest, sometimes the tensor data.
        const pos = rng.next() < 0.85 ? rng.int(8, dOff - 1) : rng.int(dOff, b.length - 1);
        b[pos] = rng.next() < 0.5 ? b[pos]! ^ (1 << rng.int(0, 7)) : rng.int(0, 255);
      }
      const code = await outcome(resealErn(b));
      seen.set(code, (seen.get(code) ?? 0) + 1);
    }
    // Many distinct defects were reached, all of them typed (outcome() rethrows anything else).
    expect(seen.size).toBeGreaterThanOrEqual(4);
  });

  it('500 semantic manifest mutations: typed error or a working model', async () => {
    const rng = new Rng(7);
    const base = JSON.parse(new TextDecoder().decode(intBytes.subarray(64, 64 + new DataView(intBytes.buffer).getUint32(20, true))));
    const values = [null, -1, 0, 1, 1e9, 0.5, 'x', '', [], {}, true, [1, 2], NaN];
    for (let i = 0; i < 500; i++) {
      const code = await outcome(
        withManifest(intBytes, (m) => {
          // Walk to a random node and replace or delete one of its fields.
          let node: any = m;
          for (let depth = 0; depth < 4; depth++) {
            const keys = Object.keys(node);
            if (keys.length === 0) break;
            const k = rng.pick(keys);
            if (typeof node[k] !== 'object' || node[k] === null || rng.next() < 0.3) {
              if (rng.next() < 0.3) delete node[k];
              else node[k] = rng.pick(values);
              return;
            }
            node = node[k];
          }
        }),
      );
      expect(typeof code).toBe('string');
    }
    expect(base.format).toBe('edgernn.model');
  });
});

describe('layout checks a file that is otherwise consistent must still pass (mutation-testing review, 2026-11-27)', () => {
  it('a data section at a multiple of 8 but not of 64 is ERN_BAD_HEADER (8 spaces more manifest padding, header and checksum updated)', () => {
    const dv = new DataView(intBytes.buffer, intBytes.byteOffset);
    const dOff = dv.getUint32(24, true);
    const moved = new Uint8Array(intBytes.length + 8);
    moved.set(intBytes.subarray(0, dOff));
    moved.fill(0x20, dOff, dOff + 8);
    moved.set(intBytes.subarray(dOff), dOff + 8);
    new DataView(moved.buffer).setUint32(24, dOff + 8, true);
    expect(() => decodeErn(resealErn(moved))).toThrow(expect.objectContaining({ code: 'ERN_BAD_HEADER', message: expect.stringMatching(/data 64-aligned/) }));
  });

  it('a manifest nested exactly 64 levels deep reads and writes; 65 levels is ERN_MANIFEST on both sides', () => {
    // training = 1 level, then arrays: the innermost at depth 1 + n.
    const nest = (n: number): unknown => (n === 0 ? 1 : [nest(n - 1)]);
    const at = (n: number) => withManifestText(withManifest(intBytes, (m) => (m.training = { deep: '@' })), (t) => t.replace('"@"', JSON.stringify(nest(n))));
    expect(decodeErn(at(63)).manifest.training).toBeDefined();
    expect(() => decodeErn(at(64))).toThrow(expect.objectContaining({ code: 'ERN_MANIFEST', message: expect.stringMatching(/manifest\.training nests objects and arrays more than 64 levels deep/) }));
    expect(encodeErn({ training: { deep: nest(63) } }, []).length).toBeGreaterThan(0);
    expect(() => encodeErn({ training: { deep: nest(64) } }, [])).toThrow(expect.objectContaining({ code: 'ERN_MANIFEST' }));
  });

  it('tensors that overlap by a single byte are ERN_TENSOR', () => {
    const file = encodeErn({}, [
      { name: 'a', data: new Uint8Array(65), shape: [65] },
      { name: 'b', data: new Uint8Array(64), shape: [64] },
    ]);
    expect(decodeErn(file).tensors.size).toBe(2);
    const forged = withManifest(file, (m) => (m.tensors[1].offset = 64));
    expect(() => decodeErn(forged)).toThrow(expect.objectContaining({ code: 'ERN_TENSOR', message: expect.stringMatching(/'a' and 'b' overlap/) }));
  });
});
