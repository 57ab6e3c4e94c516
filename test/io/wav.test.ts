/**
 * WAV reading and writing, with sox (a real peer) producing every supported encoding from one
 * known signal, and hand-broken files for each defect. The sox part skips, saying why, when sox
 * is not installed.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { encodeWav, encodeWavHeader, floatToPcm16, isEdgeRnnError, readWav, readWavInfo, readWavMono, Rng } from '../../src/index.js';

function hasSox(): boolean {
  try {
    execFileSync('sox', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const rng = new Rng(5);
/** 0.25 s of 16 kHz: a tone plus noise, as 16-bit codes. */
const pcm = Int16Array.from({ length: 4000 }, (_, i) => Math.round(12000 * Math.sin(i * 0.07) + 3000 * rng.normal()));
const stereo = Int16Array.from({ length: 8000 }, (_, i) => (i % 2 === 0 ? pcm[i >> 1]! : -pcm[i >> 1]! >> 1));

/** A mono 16 kHz IEEE-float WAV (format 3) of these samples, 32- or 64-bit. */
function floatWav(bits: 32 | 64, samples: number[]): Uint8Array {
  const bytes = bits / 8;
  const b = new Uint8Array(44 + bytes * samples.length);
  b.set(encodeWav(new Int16Array(0), 16000).subarray(0, 44));
  const dv = new DataView(b.buffer);
  dv.setUint32(4, 36 + bytes * samples.length, true);
  dv.setUint16(20, 3, true); // IEEE float
  dv.setUint16(32, bytes, true); // block align
  dv.setUint16(34, bits, true);
  dv.setUint32(40, bytes * samples.length, true);
  samples.forEach((v, i) => (bits === 32 ? dv.setFloat32(44 + 4 * i, v, true) : dv.setFloat64(44 + 8 * i, v, true)));
  return b;
}

function errorOf(fn: () => unknown): Error & { code?: string } {
  try {
    fn();
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected an error');
}

describe('encodeWav / readWav round trip', () => {
  it('16-bit mono: codes come back exactly (as code / 32768)', () => {
    const w = readWav(encodeWav(pcm, 16000));
    expect([w.sampleRateHz, w.channels, w.bitsPerSample, w.encoding, w.frames]).toEqual([16000, 1, 16, 'pcm', 4000]);
    expect(Array.from(w.channelData[0]!, (v) => v * 32768)).toEqual(Array.from(pcm));
  });

  it('stereo: channel selection and mixdown', () => {
    const bytes = encodeWav(stereo, 8000, 2);
    expect(readWavInfo(bytes)).toEqual({ sampleRateHz: 8000, channels: 2, bitsPerSample: 16, encoding: 'pcm', frames: 4000 });
    const left = readWavMono(bytes, { channel: 0 }).samples;
    const right = readWavMono(bytes, { channel: 1 }).samples;
    const mix = readWavMono(bytes).samples;
    for (let i = 0; i < 4000; i++) {
      expect(left[i]! * 32768).toBe(pcm[i]);
      expect(right[i]! * 32768).toBe(-pcm[i]! >> 1);
      expect(mix[i]).toBe(Math.fround((left[i]! + right[i]!) / 2));
    }
  });

  it('float input is rounded and clipped to int16', () => {
    const w = readWav(encodeWav(Float32Array.from([0, 0.5, -0.5, 1.5, -2, 1 / 65536]), 16000));
    expect(Array.from(w.channelData[0]!, (v) => v * 32768)).toEqual([0, 16384, -16384, 32767, -32768, 1]);
  });

  it('encodeWavHeader + raw little-endian samples = encodeWav (for writers that stream to disk)', () => {
    const whole = encodeWav(stereo, 16000, 2);
    expect(encodeWavHeader(stereo.length * 2, 16000, 2)).toEqual(whole.subarray(0, 44));
    expect(() => encodeWavHeader(2 ** 32, 16000)).toThrow(/do not fit a RIFF file/);
  });

  it('floatToPcm16 refuses NaN and infinities, naming the sample (NaN was written as 0, silence)', () => {
    for (const bad of [NaN, Infinity, -Infinity]) {
      const e = errorOf(() => floatToPcm16(Float32Array.from([0.5, 0.25, bad])));
      expect(e.code).toBe('NON_FINITE_INPUT');
      expect(e.message).toBe(`floatToPcm16: sample 2 is ${bad}, expected a finite number`);
    }
    expect(Array.from(floatToPcm16(Float64Array.from([0.5, -1, 1, -2, 1 / 65536])))).toEqual([16384, -32768, 32767, -32768, 1]);
  });

  it('encodeWav refuses non-finite samples and partial frames', () => {
    expect(errorOf(() => encodeWav(Float32Array.from([0, NaN]), 16000)).message).toMatch(/sample 1 is NaN/);
    expect(errorOf(() => encodeWav(new Int16Array(3), 16000, 2)).message).toMatch(/3 samples are not whole frames of 2 channels/);
    expect(errorOf(() => encodeWav(new Int16Array(3), 0)).message).toMatch(/sample rate must be a positive integer, got 0/);
  });

  it("never writes a header its own reader refuses or misreads: 16-bit fields that would wrap are SHAPE_MISMATCH", () => {
    // Before: block align (channels · 2) and byte rate (rate · channels · 2) were written with
    // setUint16 / setUint32, which wrap: 40,000 channels gave block align 14,464 (readWav then
    // refused the file), a 3 GHz rate a byte rate of 1,705,032,704; encodeWavHeader took 0
    // channels, a rate of 0 or 1.5, and a data size of half a sample.
    const cases: [() => unknown, RegExp][] = [
      [() => encodeWav(new Int16Array(40000), 16000, 40000), /encodeWav: 40000 channels: at most 32767 \(block align, channels × 2 bytes, is a 16-bit field\)/],
      [() => encodeWav(new Int16Array(2), 3e9), /encodeWav: byte rate 3000000000 Hz × 1 channels × 2 bytes = 6000000000 does not fit the header's 32-bit field/],
      [() => encodeWavHeader(10, 16000, 0), /encodeWavHeader: 0 channels: expected a whole number from 1 to 32767/],
      [() => encodeWavHeader(10, 0), /encodeWavHeader: sample rate must be a positive integer, got 0/],
      [() => encodeWavHeader(10, 1.5), /encodeWavHeader: sample rate must be a positive integer, got 1.5/],
      [() => encodeWavHeader(3, 16000), /encodeWavHeader: 3 data bytes are not whole sample frames of 2 bytes \(1 channels × 16 bits\)/],
      [() => encodeWavHeader(6, 16000, 2), /encodeWavHeader: 6 data bytes are not whole sample frames of 4 bytes/],
    ];
    for (const [f, message] of cases) {
      const e = errorOf(f);
      expect(e.code, e.message).toBe('SHAPE_MISMATCH');
      expect(e.message).toMatch(message);
    }
    // The largest of each still round-trips through readWav.
    const wide = readWav(encodeWav(Int16Array.from({ length: 32767 }, (_, i) => i - 16000), 16000, 32767));
    expect([wide.channels, wide.frames, wide.channelData[32766]![0]! * 32768]).toEqual([32767, 1, 16766]);
    expect(readWavInfo(encodeWav(new Int16Array(4), 2147483647)).sampleRateHz).toBe(2147483647);
  });
});

describe.skipIf(!hasSox())('files written by sox', () => {
  if (!hasSox()) console.log('skipping sox-written WAV checks: sox is not installed (Debian package sox)');
  const dir = mkdtempSync(join(tmpdir(), 'edgernn-wav-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const src = join(dir, 'src.wav');
  writeFileSync(src, encodeWav(pcm, 16000));
  const srcStereo = join(dir, 'stereo.wav');
  writeFileSync(srcStereo, encodeWav(stereo, 16000, 2));
  const sox = (args: string[], input = src): Uint8Array => {
    const out = join(dir, `out-${args.join('_').replace(/[^a-z0-9_-]/gi, '')}.wav`);
    execFileSync('sox', ['-R', '-D', input, ...args, out]);
    return new Uint8Array(readFileSync(out));
  };

  const formats: [string, string[], number, string, number][] = [
    // name, sox output options, bits, encoding, tolerance in 16-bit codes
    ['8-bit unsigned', ['-b', '8', '-e', 'unsigned-integer'], 8, 'pcm', 128],
    ['24-bit signed', ['-b', '24'], 24, 'pcm', 0],
    ['32-bit signed', ['-b', '32'], 32, 'pcm', 0],
    ['32-bit float', ['-b', '32', '-e', 'floating-point'], 32, 'float', 0],
    ['64-bit float', ['-b', '64', '-e', 'floating-point'], 64, 'float', 0],
    ['16-bit written as -t wavpcm (plain PCM header)', ['-b', '16', '-t', 'wavpcm'], 16, 'pcm', 0],
  ];
  for (const [name, args, bits, encoding, tol] of formats) {
    it(`${name}: same samples as the 16-bit source (within ${tol} codes)`, () => {
      const bytes = sox(args);
      const w = readWavMono(bytes);
      expect([w.info.bitsPerSample, w.info.encoding, w.info.frames]).toEqual([bits, encoding, 4000]);
      for (let i = 0; i < 4000; i++) expect(Math.abs(w.samples[i]! * 32768 - pcm[i]!)).toBeLessThanOrEqual(tol);
    });
  }

  it('extensible header (sox writes one for 24-bit stereo) with channel selection', () => {
    const bytes = sox(['-b', '24'], srcStereo);
    const tag = new DataView(bytes.buffer, bytes.byteOffset).getUint16(20, true);
    expect(tag).toBe(0xfffe);
    const right = readWavMono(bytes, { channel: 1 }).samples;
    for (let i = 0; i < 4000; i++) expect(right[i]! * 32768).toBe(-pcm[i]! >> 1);
  });

  it('sox reads what encodeWav writes (its stat agrees on length and rate)', () => {
    const info = execFileSync('soxi', [srcStereo], { encoding: 'utf8' });
    expect(info).toMatch(/Channels\s*: 2/);
    expect(info).toMatch(/Sample Rate\s*: 16000/);
    expect(info).toMatch(/= 4000 samples/);
  });

  it('sox writing into a pipe (placeholder data size 0x7FFFF000) is read to the end of the file', () => {
    const synth = '-R -D -n -r 16000 -c 1 -b 16 -t wav'; // -R -D: repeatable, no dither
    const piped = execFileSync('sh', ['-c', `sox ${synth} - synth 0.25 sine 440 | cat`]);
    expect(new DataView(piped.buffer, piped.byteOffset).getUint32(40, true)).toBe(0x7ffff000);
    const file = join(dir, 'synth.wav');
    execFileSync('sh', ['-c', `sox ${synth} '${file}' synth 0.25 sine 440`]);
    const w = readWav(new Uint8Array(piped), 'piped.wav');
    expect(w.frames).toBe(4000);
    expect(Array.from(w.channelData[0]!)).toEqual(Array.from(readWav(new Uint8Array(readFileSync(file))).channelData[0]!));
  });

  it('A-law is reported as unsupported by name', () => {
    const e = errorOf(() => readWav(sox(['-e', 'a-law']), 'alaw.wav'));
    expect(isEdgeRnnError(e, 'BAD_INPUT_FILE')).toBe(true);
    expect(e.message).toMatch(/alaw.wav: format 6 \(A-law\) is not supported/);
  });
});

describe('malformed files are BAD_INPUT_FILE errors naming the defect', () => {
  const good = encodeWav(pcm.subarray(0, 100), 16000);
  const patch = (f: (b: Uint8Array, dv: DataView) => void, bytes = good): Uint8Array => {
    const b = bytes.slice();
    f(b, new DataView(b.buffer));
    return b;
  };
  /** `good` with a 4-byte LIST chunk declaring `size` bytes inserted at byte `at`. */
  const withList = (at: number, size: number): Uint8Array => {
    const b = new Uint8Array(good.length + 12);
    b.set(good.subarray(0, at));
    b.set([0x4c, 0x49, 0x53, 0x54, size & 0xff, (size >> 8) & 0xff, (size >> 16) & 0xff, size >>> 24, 1, 2, 3, 4], at);
    b.set(good.subarray(at), at + 12);
    return b;
  };
  const cases: [string, Uint8Array, RegExp][] = [
    ['too short', good.subarray(0, 8), /8 bytes is too short for a RIFF\/WAVE header/],
    ['not RIFF', patch((b) => b.set([0x4f, 0x67, 0x67, 0x53], 0)), /not a WAV file: starts with "OggS"/],
    ['RIFX', patch((b) => (b[3] = 0x58)), /big-endian RIFX files are not supported/],
    ['not WAVE', patch((b) => b.set([0x41, 0x56, 0x49, 0x20], 8)), /RIFF form type is "AVI ", expected "WAVE"/],
    ['truncated data', good.subarray(0, 100), /data chunk declares 200 bytes, only 56 remain: truncated/],
    ['no fmt chunk', patch((b) => b.set([0x4a, 0x55, 0x4e, 0x4b], 12)), /data chunk comes before the fmt chunk/],
    ['no data chunk', good.subarray(0, 36), /no data chunk/],
    ['bad block align', patch((_b, dv) => dv.setUint16(32, 4, true)), /block align is 4, expected 2 \(1 channels × 2 bytes\)/],
    ['12-bit samples', patch((_b, dv) => dv.setUint16(34, 12, true)), /12-bit pcm samples are not supported \(expected 8, 16, 24, 32\)/],
    ['zero channels', patch((_b, dv) => dv.setUint16(22, 0, true)), /fmt chunk says 0 channels/],
    ['odd data size', patch((_b, dv) => dv.setUint32(40, 199, true)), /data chunk of 199 bytes is not a whole number of 2-byte sample frames/],
    ['short fmt chunk', patch((_b, dv) => dv.setUint32(16, 12, true)), /fmt chunk is 12 bytes, expected at least 16/],
    // These three were "no fmt chunk" / "no data chunk", hiding that the file was cut short.
    ['a chunk before fmt runs past the end', withList(12, 65536), /"LIST" chunk at byte 12 declares 65536 bytes, only 236 remain: truncated before the fmt chunk/],
    ['a chunk between fmt and data runs past the end', withList(36, 65536), /"LIST" chunk at byte 36 declares 65536 bytes, only 212 remain: truncated before the data chunk/],
    ['the file ends inside a chunk header', good.subarray(0, 40), /the file ends inside a chunk header at byte 36 \(4 of 8 bytes\): truncated before the data chunk/],
  ];
  for (const [name, bytes, msg] of cases) {
    it(name, () => {
      const e = errorOf(() => readWav(bytes, 'bad.wav'));
      expect(isEdgeRnnError(e, 'BAD_INPUT_FILE')).toBe(true);
      expect(e.message).toMatch(/^bad.wav: /);
      expect(e.message).toMatch(msg);
    });
  }

  it('a streamed file (placeholder data size 0xFFFFFFFF, 0x80000000, 0x7FFFFFFF, 0x7FFFFF00, 0x7FFF0000, as ffmpeg, arecord and GStreamer wavenc write into a pipe) is read to its end; a partial last frame is dropped', () => {
    const body = encodeWav(pcm.subarray(0, 100), 16000);
    for (const placeholder of [0xffffffff, 0x80000000, 0x7fffffff, 0x7fffff00, 0x7fff0000]) {
      const streamed = new Uint8Array(body.length + 1); // one byte of a frame cut short
      streamed.set(body);
      new DataView(streamed.buffer).setUint32(4, placeholder, true); // RIFF size: a placeholder too
      new DataView(streamed.buffer).setUint32(40, placeholder, true);
      const w = readWav(streamed, 'streamed.wav');
      expect(w.frames).toBe(100);
      expect(Array.from(w.channelData[0]!)).toEqual(Array.from(readWav(body).channelData[0]!));
      expect(readWavInfo(streamed).frames).toBe(100);
    }
  });

  it('a data size of 0 with audio after the header (a recorder that crashed before writing the sizes) is read to the end, as ffmpeg reads it (was "no samples"); an empty data chunk before another chunk stays empty', () => {
    const body = encodeWav(pcm.subarray(0, 100), 16000);
    for (const riff of [0, 36, 0xffffffff]) {
      const crashed = new Uint8Array(body.length + 1); // and a partial last frame
      crashed.set(body);
      new DataView(crashed.buffer).setUint32(4, riff, true);
      new DataView(crashed.buffer).setUint32(40, 0, true);
      expect(readWavInfo(crashed), `RIFF size ${riff}`).toEqual({ ...readWavInfo(body), sizeUnknown: true });
      expect(Array.from(readWav(crashed, 'crashed.wav').channelData[0]!)).toEqual(Array.from(readWav(body).channelData[0]!));
    }
    // A real empty data chunk followed by a LIST chunk: 0 frames, the LIST is not audio.
    const list = Uint8Array.from([...new TextEncoder().encode('LIST'), 4, 0, 0, 0, ...new TextEncoder().encode('INFO')]);
    const empty = new Uint8Array(44 + list.length);
    empty.set(encodeWavHeader(0, 16000));
    empty.set(list, 44);
    expect(readWavInfo(empty)).toEqual({ sampleRateHz: 16000, channels: 1, bitsPerSample: 16, encoding: 'pcm', frames: 0 });
  });

  it("sox's pipe placeholder for frames that do not divide 0x7FFFF000 (24-bit stereo: 0x7FFFEFFC) is read to the end, as sox reads it (was refused as truncated)", () => {
    // Committed fixtures (test/fixtures/wav, made with sox 14.4): the same 64 frames of 24-bit
    // stereo written to a file, and written by sox into a pipe from raw input of unknown length.
    const dir = new URL('../fixtures/wav/', import.meta.url);
    const plain = readWav(readFileSync(new URL('stereo24.wav', dir)), 'stereo24.wav');
    const pipedBytes = readFileSync(new URL('stereo24-piped.wav', dir));
    expect(pipedBytes.readUInt32LE(pipedBytes.indexOf('data') + 4)).toBe(0x7fffeffc);
    const piped = readWav(pipedBytes, 'stereo24-piped.wav');
    expect(plain.frames).toBe(64);
    expect(piped.frames).toBe(64);
    expect(piped.channelData.map((c) => Array.from(c))).toEqual(plain.channelData.map((c) => Array.from(c)));
    // 24-bit mono: 0x7FFFEFFF, an odd size (sox 14.4, measured).
    const mono = new Uint8Array(44 + 3 * 4);
    mono.set(encodeWav(new Int16Array(0), 16000));
    const dv = new DataView(mono.buffer);
    dv.setUint16(32, 3, true); // block align
    dv.setUint16(34, 24, true);
    dv.setUint32(40, 0x7fffefff, true);
    mono.set([0, 0, 0x40, 0, 0, 0xc0, 1, 0, 0, 0xff, 0xff, 0xff], 44);
    expect(Array.from(readWav(mono, 'mono24.wav').channelData[0]!)).toEqual([0.5, -0.5, 1 / 8388608, -1 / 8388608]);
    // A size one frame short of the placeholder is still a truncated file.
    dv.setUint32(40, 0x7fffefff - 3, true);
    expect(errorOf(() => readWav(mono, 'mono24.wav')).message).toMatch(/truncated/);
  });

  it('NaN in a float file names the sample', () => {
    const b = floatWav(32, [0.5, NaN]);
    expect(errorOf(() => readWav(b, 'nan.wav')).message).toMatch(/nan.wav: sample 1 of channel 0 is NaN/);
  });

  it("a 64-bit float sample beyond float32's range names the sample (it became Infinity in the channel data)", () => {
    const b = floatWav(64, [0.5, -3.4028234663852886e38, 1e300]); // the largest float32 is a sample
    const dv = new DataView(b.buffer);
    const e = errorOf(() => readWav(b, 'huge.wav'));
    expect(e.code).toBe('BAD_INPUT_FILE');
    expect(e.message).toBe("huge.wav: sample 2 of channel 0 is 1e+300, beyond float32's range (|x| <= 3.4028235e38)");
    dv.setFloat64(60, 0.25, true);
    expect(Array.from(readWav(b).channelData[0]!)).toEqual([0.5, -3.4028234663852886e38, 0.25]);
  });

  it('a channel the file does not have', () => {
    expect(errorOf(() => readWavMono(good, { channel: 1, source: 'a.wav' })).message).toBe('a.wav: channel 1 requested, the file has 1 channel (0..0)');
  });

  it('chunks before fmt/data (LIST) and odd-sized chunks are skipped with their pad byte', () => {
    const list = new Uint8Array([0x4c, 0x49, 0x53, 0x54, 3, 0, 0, 0, 1, 2, 3, 0]);
    const b = new Uint8Array(good.length + list.length);
    b.set(good.subarray(0, 12));
    b.set(list, 12);
    b.set(good.subarray(12), 24);
    const w = readWav(b);
    expect(Array.from(w.channelData[0]!, (v) => v * 32768)).toEqual(Array.from(pcm.subarray(0, 100)));
  });
});
