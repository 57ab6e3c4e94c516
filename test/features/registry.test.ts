import { describe, expect, it } from 'vitest';
import { AudioFrontend, type StreamingFrontend, audioFrontendSpec, createFrontend, createFrontendForInput, FRONTEND_KINDS, ImuFrontend, isEdgeRnnError, PassthroughFrontend, SeriesFrontend } from '../../src/index.js';

/**
 * Pushes x one sample at a time into current() (afterThrow may replace it), with a callback that
 * collects every block and throws when throwWhen(index): the blocks, their indices and how many
 * throws reached the caller.
 */
function pushSampleBySample(current: () => StreamingFrontend, x: Float32Array, throwWhen: (index: number) => boolean, afterThrow: () => void = () => {}) {
  const C = current().inputChannels;
  const got: number[] = [];
  const indices: number[] = [];
  let thrown = 0;
  for (let i = 0; i < x.length; i += C) {
    try {
      current().push(x.subarray(i, i + C), (block, index) => {
        got.push(...block);
        indices.push(index);
        if (throwWhen(index)) throw new Error('callback failed');
      });
    } catch (e) {
      expect((e as Error).message).toBe('callback failed');
      thrown++;
      afterThrow();
    }
  }
  return { got, indices, thrown };
}

describe('createFrontend: one entry point for gateway and trainer', () => {
  it('dispatches every kind to its streaming class', () => {
    expect(FRONTEND_KINDS).toEqual(['none', 'logmel', 'mfcc', 'imu', 'series']);
    expect(createFrontend({ kind: 'none', channels: 3 })).toBeInstanceOf(PassthroughFrontend);
    expect(createFrontend(audioFrontendSpec('logmel'))).toBeInstanceOf(AudioFrontend);
    expect(createFrontend(audioFrontendSpec('mfcc')).featureSize).toBe(13);
    const imu = createFrontend({ kind: 'imu', inputRateHz: 50, rateHz: 25, resampler: 'polyphase', channels: [{ name: 'ax', unit: 'm/s2' }], accelUnit: 'g', gyroUnit: 'rad/s', windowSize: 50, hop: 25 });
    expect(imu).toBeInstanceOf(ImuFrontend);
    expect([imu.featureSize, imu.framesPerOutput, imu.frameRateHz]).toEqual([1, 50, 25]);
    expect(createFrontend({ kind: 'series', channels: 1, scaling: { kind: 'none' } })).toBeInstanceOf(SeriesFrontend);
  });

  it('a spec read back from manifest JSON builds the same front end', () => {
    const spec = audioFrontendSpec('mfcc', { nMfcc: 10, melScale: 'slaney' });
    const x = Int16Array.from({ length: 4000 }, (_, i) => Math.round(5000 * Math.sin(i * 0.2)));
    expect(createFrontend(JSON.parse(JSON.stringify(spec))).batch(x).data).toEqual(createFrontend(spec).batch(x).data);
  });

  it("'none' passes frames through and takes its width from the model when not given", () => {
    const fe = createFrontendForInput({ size: 2, frontend: { kind: 'none' } });
    const got: number[][] = [];
    fe.push([1, 2, 3, 4], (f) => got.push([...f]));
    expect(got).toEqual([[1, 2], [3, 4]]);
    expect(() => createFrontend({ kind: 'none' })).toThrow(/'channels' must be set/);
  });

  it('an unknown kind lists the known ones', () => {
    expect(() => createFrontend({ kind: 'stft' })).toThrow(/'kind' must be one of 'none', 'logmel', 'mfcc', 'imu', 'series', got "stft"/);
    expect(() => createFrontend({})).toThrow(/'kind' must be one of .* got nothing/);
  });

  it("a front end whose width differs from the model's input size is refused at load", () => {
    let err: unknown;
    try {
      createFrontendForInput({ size: 40, frontend: audioFrontendSpec('mfcc') as never });
    } catch (e) {
      err = e;
    }
    expect(isEdgeRnnError(err, 'FRONTEND_SPEC')).toBe(true);
    expect((err as Error).message).toBe("mfcc front end gives 13 features per frame, the model's input size is 40");
  });
});

describe('push() arguments that are not samples and a callback', () => {
  const kinds = {
    none: () => createFrontend({ kind: 'none', channels: 3 }),
    mfcc: () => createFrontend(audioFrontendSpec('mfcc')),
    'mfcc in windows': () => createFrontendForInput({ size: 13, frontend: { ...audioFrontendSpec('mfcc'), windows: { frames: 10, hop: 5 } } as never }),
    imu: () => createFrontend({ kind: 'imu', inputRateHz: 50, rateHz: 25, resampler: 'polyphase', channels: [{ name: 'ax', unit: 'g' }, { name: 'ay', unit: 'g' }, { name: 'az', unit: 'g' }], accelUnit: 'g', gyroUnit: 'rad/s', windowSize: 8, hop: 4 }),
    series: () => createFrontend({ kind: 'series', channels: 3, scaling: { kind: 'none' } }),
  };
  for (const [name, make] of Object.entries(kinds)) {
    it(`${name}: INVALID_ARGUMENT naming what came, and the stream is unchanged`, () => {
      const fe = make();
      const C = fe.inputChannels;
      const x = Float32Array.from({ length: C * 2000 }, (_, i) => 0.3 * Math.sin(i / 9));
      const ref = fe.batch(x);
      fe.reset();
      const out: number[] = [];
      const keep = (o: Float32Array) => out.push(...o);
      fe.push(x.subarray(0, C * 700), keep);
      const bad: [unknown, unknown, RegExp][] = [
        [undefined, keep, /samples are numbers in a typed array or an array, got undefined/],
        ['0.1,0.2,0.3', keep, /samples are numbers in a typed array or an array, got a string \("0\.1,0\.2,0\.3"\)/],
        [5, keep, /got a number \(5\)/],
        [Array.from({ length: C }, () => [0.1]), keep, /sample 0 channel 0 is an array \(\[0\.1\]\), not a number/],
        // Without a callback, blocks would be computed and then lost (or the state left half-way).
        [x.subarray(C * 700, C * 1400), undefined, /push\(samples, onOutput\) needs onOutput, a function called with each output block; got undefined/],
      ];
      for (const [samples, cb, message] of bad) {
        let err: unknown;
        try {
          fe.push(samples as never, cb as never);
        } catch (e) {
          err = e;
        }
        expect(isEdgeRnnError(err, 'INVALID_ARGUMENT'), String(err)).toBe(true);
        expect((err as Error).message).toMatch(message);
      }
      fe.push(x.subarray(C * 700), keep);
      expect(Float32Array.from(out)).toEqual(ref.data);
    });
  }
});

/** One front end of every kind and path: streaming audio (plain and windowed), both IMU resamplers, series. */
const channels = (n: number) => Array.from({ length: n }, (_, i) => ({ name: `c${i}`, unit: 'none' as const }));
const EVERY_KIND: [string, unknown][] = [
  ['logmel', audioFrontendSpec('logmel')],
  ['mfcc, cmn, windows', audioFrontendSpec('mfcc', { cmn: { alpha: 0.1 }, windows: { frames: 5, hop: 2 } })],
  ['imu polyphase 32 → 50 Hz', { kind: 'imu', inputRateHz: 32, rateHz: 50, resampler: 'polyphase', channels: channels(2), accelUnit: 'g', gyroUnit: 'rad/s', windowSize: 4, hop: 2 }],
  ['imu linear 50 → 16 Hz', { kind: 'imu', inputRateHz: 50, rateHz: 16, resampler: 'linear', channels: channels(2), accelUnit: 'g', gyroUnit: 'rad/s', windowSize: 4, hop: 2 }],
  ['series', { kind: 'series', channels: 2, scaling: { kind: 'none' }, adaptive: { kind: 'ewm', alpha: 0.1, epsilon: 1e-6 } }],
];

describe('a callback that throws', () => {
  // The gateway keeps a stream going when a detector or the model throws; so can any caller.
  // Before: the audio front end advanced past a frame only after its callback returned, so a
  // throw left the frame buffer full and no frame ever came again (4 of 23 frames here); the IMU
  // resampler advanced after emitting, so the next push emitted that frame twice (every later
  // window shifted by one frame).
  for (const [name, spec] of EVERY_KIND) {
    it(`${name}: the stream goes on, as if the callback had returned (1-sample chunks: nothing lost)`, () => {
      const fe = createFrontend(spec);
      const C = fe.inputChannels;
      let seed = 7;
      const x = Float32Array.from({ length: 4000 * C }, () => ((seed = (seed * 16807) % 2147483647) / 2147483647) - 0.5);
      const want = fe.batch(x);
      let first = true;
      const { got, indices, thrown } = pushSampleBySample(() => fe, x, (index) => index === 3 && first && !(first = false));
      expect(thrown).toBe(1);
      expect(indices).toEqual(Array.from({ length: want.count }, (_, k) => k));
      expect(Float32Array.from(got)).toEqual(want.data);
    });
  }

  // Before: an upsampling IMU front end whose callback threw on the first of two frames one
  // input sample makes kept the second one due (it comes with the next push), and exportState()
  // then wrote a resampler position that importState() refused ("leave an output computable from
  // the N samples received"): a gateway could not hand such a device over or restart it.
  const UPSAMPLING: [string, unknown][] = [
    ['imu linear 16 → 50 Hz, single frames', { kind: 'imu', inputRateHz: 16, rateHz: 50, resampler: 'linear', channels: channels(1), accelUnit: 'g', gyroUnit: 'rad/s', windowSize: 1, hop: 1 }],
    ['imu polyphase 16 → 50 Hz, single frames', { kind: 'imu', inputRateHz: 16, rateHz: 50, resampler: 'polyphase', channels: channels(1), accelUnit: 'g', gyroUnit: 'rad/s', windowSize: 1, hop: 1 }],
  ];
  for (const [name, spec] of [...EVERY_KIND, ...UPSAMPLING]) {
    it(`${name}: the state exported right after a throw imports into a new front end, which goes on as the stream would`, () => {
      let fe = createFrontend(spec);
      const C = fe.inputChannels;
      const x = Float32Array.from({ length: 8000 * C }, (_, i) => Math.sin(i * 0.21) * 0.5 + Math.sin(i * 1.3) * 0.1);
      const want = fe.batch(x);
      const { got, indices, thrown } = pushSampleBySample(() => fe, x, (index) => index % 7 === 3, () => {
        const saved = fe.exportState();
        fe = createFrontend(spec);
        fe.importState(saved);
      });
      expect(thrown).toBeGreaterThanOrEqual(3);
      expect(indices).toEqual(Array.from({ length: want.count }, (_, k) => k));
      expect(Float32Array.from(got)).toEqual(want.data);
    });
  }
});

describe('reset() is the state right after construction', () => {
  // Before: the IMU front end (its window ring, the resampler's input ring and first sample) and
  // sliding windows (their frame ring) kept the old stream's values: never read again, but in
  // every exportState() after the reset, so it differed from a fresh front end's and carried
  // the previous stream's data.
  for (const [name, spec] of [...EVERY_KIND, ['none', { kind: 'none', channels: 2 }] as [string, unknown]]) {
    it(`${name}: its exported state is a fresh front end's, byte for byte, and the same input gives the same blocks`, () => {
      const fe = createFrontend(spec);
      const C = fe.inputChannels;
      const x = Float32Array.from({ length: 1234 * C }, (_, i) => Math.sin(i * 0.37) * 0.5);
      const first: number[] = [];
      fe.push(x, (b) => first.push(...b));
      fe.reset();
      expect(fe.exportState()).toEqual(createFrontend(spec).exportState());
      const again: number[] = [];
      fe.push(x, (b) => again.push(...b));
      expect(again).toEqual(first);
    });
  }
});
