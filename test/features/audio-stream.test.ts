/** Streaming and batch give the same numbers bit for bit, whatever the chunking; specs are checked field by field. */
import { describe, expect, it } from 'vitest';
import { AudioFrontend, audioFrameCount, audioFrontendSpec, cmnRows, EdgeRnnError, isEdgeRnnError, Rng, validateAudioSpec, type AudioFrontendSpec } from '../../src/index.js';

function noiseAndTones(n: number, seed: number): Int16Array {
  const rng = new Rng(seed);
  return Int16Array.from({ length: n }, (_, i) => Math.round(8000 * Math.sin(i * 0.05) + 3000 * Math.sin(i * 0.71) + 2000 * rng.normal()));
}

/** Pushes `x` in chunks of random sizes (including empty ones and single samples) and collects the frames. */
function streamed(fe: AudioFrontend, x: Int16Array | Float32Array, rng: Rng, maxChunk: number): { data: Float32Array; indices: number[] } {
  const frames: number[] = [];
  const indices: number[] = [];
  let off = 0;
  while (off < x.length) {
    const len = rng.next() < 0.1 ? 0 : rng.int(1, maxChunk);
    const chunk = x.subarray(off, Math.min(x.length, off + len));
    fe.push(chunk, (f, i) => {
      frames.push(...f);
      indices.push(i);
    });
    off += chunk.length;
  }
  return { data: Float32Array.from(frames), indices };
}

const SPECS: Record<string, AudioFrontendSpec> = {
  'logmel default': audioFrontendSpec('logmel'),
  'mfcc default': audioFrontendSpec('mfcc'),
  'mfcc slaney/hamming': audioFrontendSpec('mfcc', { melScale: 'slaney', melNorm: 'slaney', window: 'hamming', nMfcc: 20 }),
  'hop longer than frame': audioFrontendSpec('logmel', { frameMs: 10, hopMs: 25, nfft: 256, nMels: 20 }),
  'hop equal to frame': audioFrontendSpec('logmel', { frameMs: 20, hopMs: 20 }),
  'mfcc with streaming mean normalization': audioFrontendSpec('mfcc', { frameMs: 40, hopMs: 20, nfft: 1024, cmn: { alpha: 0.05 } }),
};

describe('audio streaming = batch, bit for bit', () => {
  const x = noiseAndTones(16000 + 123, 1);
  for (const [name, spec] of Object.entries(SPECS)) {
    it(`${name}: random chunkings reproduce batch() exactly`, () => {
      const fe = new AudioFrontend(spec);
      const ref = fe.batch(x);
      expect(ref.count).toBe(audioFrameCount(spec, x.length));
      expect(ref.count).toBeGreaterThan(30);
      for (const [seed, maxChunk] of [[1, 1], [2, 37], [3, 160], [4, 5000]] as const) {
        fe.reset();
        const s = streamed(fe, x, new Rng(seed), maxChunk);
        expect(s.indices).toEqual(Array.from({ length: ref.count }, (_, i) => i));
        expect(s.data).toEqual(ref.data); // toEqual on Float32Array compares every element exactly
      }
    });
  }

  it('Int16 codes and float32 samples (code / 32768) give identical frames', () => {
    const spec = audioFrontendSpec('mfcc');
    const a = new AudioFrontend(spec).batch(x);
    const b = new AudioFrontend(spec).batch(Float32Array.from(x, (v) => v / 32768));
    expect(b.data).toEqual(a.data);
  });

  it('frames appear exactly when the frame completes: after 400 samples, then every 160', () => {
    const fe = new AudioFrontend(audioFrontendSpec('logmel'));
    const counts = [399, 1, 159, 1, 160, 320].map((n) => fe.push(x.subarray(0, n), () => {}));
    expect(counts).toEqual([0, 1, 0, 1, 1, 2]);
    expect([0, 399, 400, 559, 560, 16000].map((n) => audioFrameCount(fe.spec, n))).toEqual([0, 0, 1, 1, 2, 98]);
  });

  it('the callback gets the same reused buffer every frame (no per-frame allocation of outputs)', () => {
    const fe = new AudioFrontend(audioFrontendSpec('logmel'));
    const seen = new Set<Float32Array>();
    fe.push(x, (f) => seen.add(f));
    expect(seen.size).toBe(1);
  });

  it('reset() restarts the stream: the same input gives the same frames again', () => {
    const fe = new AudioFrontend(audioFrontendSpec('mfcc'));
    const a = streamed(fe, x, new Rng(9), 999);
    fe.reset();
    const b = streamed(fe, x, new Rng(10), 77);
    expect(b.data).toEqual(a.data);
  });

  it('a chunk with NaN is rejected whole (NON_FINITE_INPUT) and leaves the stream unchanged', () => {
    const spec = audioFrontendSpec('logmel');
    const f = Float32Array.from(x.subarray(0, 2000), (v) => v / 32768);
    const clean = new AudioFrontend(spec);
    const dirty = new AudioFrontend(spec);
    const a: number[] = [];
    const b: number[] = [];
    clean.push(f.subarray(0, 1000), (fr) => a.push(...fr));
    dirty.push(f.subarray(0, 1000), (fr) => b.push(...fr));
    const bad = f.slice(1000, 1500);
    bad[321] = NaN;
    let err: unknown;
    try {
      dirty.push(bad, (fr) => b.push(...fr));
    } catch (e) {
      err = e;
    }
    expect(isEdgeRnnError(err, 'NON_FINITE_INPUT')).toBe(true);
    expect((err as Error).message).toMatch(/sample 321/);
    clean.push(f.subarray(1000), (fr) => a.push(...fr));
    dirty.push(f.subarray(1000), (fr) => b.push(...fr));
    expect(b).toEqual(a);
  });

  it('integer arrays other than Int16Array (a Buffer of raw PCM bytes) are INVALID_ARGUMENT, not samples of 0..255', () => {
    // Before: a Node Buffer read from a .raw file went in as floats 0..255 (Int32Array codes as
    // floats up to 2^31): frames of nonsense, silently.
    const spec = audioFrontendSpec('logmel');
    const codes = x.subarray(0, 1000);
    const bytes = new Uint8Array(codes.buffer, codes.byteOffset, codes.byteLength);
    for (const bad of [bytes, Buffer.from(bytes), Int32Array.from(codes), Uint16Array.from(codes, (v) => v + 32768), new Int8Array(400)]) {
      const fe = new AudioFrontend(spec);
      const name = bad.constructor.name === 'Buffer' ? 'Uint8Array' : bad.constructor.name;
      for (const f of [() => fe.push(bad, () => {}), () => fe.batch(bad)]) {
        let err: unknown;
        try {
          f();
        } catch (e) {
          err = e;
        }
        expect(isEdgeRnnError(err, 'INVALID_ARGUMENT'), `${name}: ${String(err)}`).toBe(true);
        expect((err as Error).message).toMatch(new RegExp(`^logmel front end: audio samples are an Int16Array of PCM codes or floats in \\[-1, 1\\), got a ${name}`));
      }
      expect(fe.exportState()).toEqual(new AudioFrontend(spec).exportState());
    }
    // The same codes as an Int16Array view of those bytes are audio.
    expect(new AudioFrontend(spec).batch(new Int16Array(bytes.buffer, bytes.byteOffset, bytes.length / 2)).data).toEqual(new AudioFrontend(spec).batch(codes).data);
  });
});

describe('audio spec validation names the bad field', () => {
  const good = audioFrontendSpec('mfcc') as unknown as Record<string, unknown>;
  const cases: [string, Record<string, unknown>, RegExp][] = [
    ['unknown kind', { kind: 'spectrogram' }, /'kind' must be one of 'logmel', 'mfcc', got "spectrogram"/],
    ['frame not whole samples', { frameMs: 25.03 }, /'frameMs' must be a whole number of samples at 16000 Hz/],
    ['hop not whole samples', { hopMs: 10.01 }, /'hopMs' must be a whole number of samples/],
    ['nfft not a power of two', { nfft: 500 }, /'nfft' must be a power of two >= 400 \(the frame length in samples\), got 500/],
    ['nfft shorter than the frame', { nfft: 256 }, /'nfft' must be a power of two >= 400/],
    ['nMfcc above nMels', { nMfcc: 41 }, /'nMfcc' must be an integer >= 1 <= 40, got 41/],
    ['nMfcc missing for mfcc', { nMfcc: undefined }, /'nMfcc' must be an integer >= 1 <= 40, got nothing/],
    ['fMax above Nyquist', { fMaxHz: 9000 }, /'fMaxHz' must be a finite number > 20 <= 8000, got 9000/],
    ['fMax below fMin', { fMinHz: 3000, fMaxHz: 2000 }, /'fMaxHz' must be a finite number > 3000/],
    ['negative fMin', { fMinHz: -1 }, /'fMinHz' must be a finite number >= 0, got -1/],
    ['pre-emphasis 1', { preEmphasis: 1 }, /'preEmphasis' must be a finite number >= 0 < 1, got 1/],
    ['bad window', { window: 'blackman' }, /'window' must be one of 'hann', 'hamming', got "blackman"/],
    ['bad mel scale', { melScale: 'kaldi' }, /'melScale' must be one of 'htk', 'slaney'/],
    ['bad mel norm', { melNorm: 'l2' }, /'melNorm' must be one of 'none', 'slaney'/],
    ['zero log floor', { logFloor: 0 }, /'logFloor' must be a finite number > 0, got 0/],
    ['string sample rate', { sampleRateHz: '16000' }, /'sampleRateHz' must be a finite number >= 1000 <= 384000, got "16000"/],
    ['typo field', { nmfcc: 13 }, /'nmfcc' must be absent \(known fields:/],
    ['nMfcc on logmel', { kind: 'logmel' }, /'nMfcc' must be absent for kind 'logmel'/],
    ['NaN nMels', { nMels: NaN }, /'nMels' must be an integer/],
    // Was accepted: building the front end then threw RangeError (2^40) or took minutes per frame (2^26).
    ['nfft beyond 2^20', { nfft: 2 ** 40 }, /'nfft' must be an integer >= 2 <= 1048576, got 1099511627776/],
    ['cmn alpha 0', { cmn: { alpha: 0 } }, /cmn: 'alpha' must be a finite number > 0 <= 1, got 0/],
    ['cmn alpha above 1', { cmn: { alpha: 1.5 } }, /'alpha' must be a finite number > 0 <= 1, got 1.5/],
    ['cmn unknown field', { cmn: { alpha: 0.1, beta: 1 } }, /'beta' must be absent \(known fields: alpha\)/],
    // Was accepted: building the front end threw RangeError (a DCT matrix of 2^38 entries).
    // Was accepted: building the front end threw RangeError (a window ring of 5.2e10 values).
    ['sliding windows beyond 2^26 values', { kind: 'logmel', nMfcc: undefined, nfft: 2 ** 20, nMels: 2 ** 19, windows: { frames: 100000, hop: 1 } }, /windows: 'frames' must be an integer >= 1 <= 128, got 100000/],
    ['a DCT matrix beyond 2^24 entries', { nfft: 2 ** 20, nMels: 2 ** 19, nMfcc: 2 ** 19 }, /'nMfcc' must be an integer >= 1 <= 32, got 524288/],
  ];
  for (const [name, patch, msg] of cases) {
    it(name, () => {
      const spec = { ...good, ...patch };
      for (const k of Object.keys(patch)) if (patch[k] === undefined) delete spec[k];
      let err: unknown;
      try {
        validateAudioSpec(spec);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(EdgeRnnError);
      expect((err as EdgeRnnError).code).toBe('FRONTEND_SPEC');
      expect((err as Error).message).toMatch(msg);
    });
  }

  it('a non-object spec is rejected', () => {
    expect(() => validateAudioSpec(null)).toThrow(/expected an object, got null/);
  });
});

describe('streaming mean normalization (cmn)', () => {
  const x = noiseAndTones(16000, 4);
  for (const kind of ['logmel', 'mfcc'] as const) {
    it(`${kind}: a gain change (a constant added to every log-mel band) leaves the output unchanged`, () => {
      const fe = new AudioFrontend(audioFrontendSpec(kind, { cmn: { alpha: 0.02 } }));
      const loud = fe.batch(x);
      const quiet = fe.batch(Int16Array.from(x, (v) => Math.round(v / 4)));
      const plain = new AudioFrontend(audioFrontendSpec(kind)).batch(x);
      let worst = 0;
      let moved = 0;
      for (let i = 0; i < loud.data.length; i++) {
        worst = Math.max(worst, Math.abs(loud.data[i]! - quiet.data[i]!));
        moved = Math.max(moved, Math.abs(loud.data[i]! - plain.data[i]!));
      }
      // Rounding of the quieter int16 signal moves a few values slightly; ln(16) = 2.8 would be the shift without cmn.
      expect(worst).toBeLessThan(0.05);
      expect(moved).toBeGreaterThan(1);
    });
  }

  it('cmnRows on features computed without cmn gives the cmn front end bit for bit (training reuses cached features)', () => {
    const spec = audioFrontendSpec('mfcc', { frameMs: 40, hopMs: 20, nfft: 1024 });
    const plain = new AudioFrontend(spec).batch(x);
    const withCmn = new AudioFrontend({ ...spec, cmn: { alpha: 0.02 } }).batch(x);
    const post = plain.data.slice();
    cmnRows(0.02, post, plain.count, plain.featureSize);
    expect(post).toEqual(withCmn.data);
  });

  it('a float sample beyond float32 is NON_FINITE_INPUT, not NaN in every later frame (it overflowed the power spectrum and the running mean)', () => {
    const spec = audioFrontendSpec('mfcc', { cmn: { alpha: 0.01 } });
    const f = Float64Array.from(x, (v) => v / 32768);
    const want = new AudioFrontend(spec).batch(f);
    const fe = new AudioFrontend(spec);
    const got: number[] = [];
    fe.push(f.subarray(0, 3000), (fr) => got.push(...fr));
    const bad = f.slice(3000, 3500);
    bad[17] = 1e200;
    let err: unknown;
    try {
      fe.push(bad, (fr) => got.push(...fr));
    } catch (e) {
      err = e;
    }
    expect(isEdgeRnnError(err, 'NON_FINITE_INPUT')).toBe(true);
    expect((err as Error).message).toBe("mfcc front end: sample 17 channel 0 is 1e+200, beyond float32's range (|x| <= 3.4028235e38)");
    fe.push(f.subarray(3000), (fr) => got.push(...fr));
    expect(Float32Array.from(got)).toEqual(want.data);
  });

  it('the first 1/alpha frames use the running mean: frame 0 is all zeros, and a stationary signal stays near 0', () => {
    const fe = new AudioFrontend(audioFrontendSpec('mfcc', { cmn: { alpha: 0.01 } }));
    const f = fe.batch(x);
    for (let j = 0; j < f.featureSize; j++) expect(f.data[j]).toBe(0);
    const tail = f.data.subarray((f.count - 1) * f.featureSize);
    for (const v of tail) expect(Math.abs(v)).toBeLessThan(3);
  });
});

describe('frame and hop lengths in samples (mutation-testing review, 2026-11-27)', () => {
  it('a hop whose ms · rate / 1000 lands just below a whole number rounds to it, not down', () => {
    // 600/7 ms at 11025 Hz is 945 samples, computed as 944.9999999999999 (accepted: within 1e-9).
    const ms = 600 / 7;
    expect((ms * 11025) / 1000).toBeLessThan(945);
    const spec = audioFrontendSpec('logmel', { sampleRateHz: 11025, frameMs: ms, hopMs: ms, nfft: 1024, fMaxHz: 5000 });
    const fe = new AudioFrontend(spec);
    expect([fe.frameLength, fe.hopLength]).toEqual([945, 945]);
    // 945 + 944 samples: one frame; a hop of 944 would start a second one.
    const x = new Float32Array(945 + 944).map((_, i) => Math.sin(i * 0.1) * 0.5);
    let frames = 0;
    fe.push(x, () => frames++);
    expect(frames).toBe(1);
    expect(fe.batch(x).count).toBe(1);
    expect(audioFrameCount(spec, x.length)).toBe(1);
  });
});
