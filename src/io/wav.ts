/**
 * WAV (RIFF/WAVE) files as bytes, no Node APIs: read integer PCM of 8 (unsigned), 16, 24 and 32
 * bits and IEEE float of 32 and 64 bits, plain or WAVE_FORMAT_EXTENSIBLE, any channel count;
 * write 16-bit PCM. Samples come out as float32 in [-1, 1): code / 2^(bits-1) (8-bit: (code -
 * 128) / 128), so 16-bit audio converts exactly and gives the audio front end the same numbers
 * as the Int16Array would. Every defect is a BAD_INPUT_FILE error that names it.
 */
import { EdgeRnnError } from '../errors.js';
import { fileBytes } from '../util/bytes.js';

export type WavEncoding = 'pcm' | 'float';

export interface WavInfo {
  sampleRateHz: number;
  /** Channels in the file. */
  channels: number;
  bitsPerSample: number;
  encoding: WavEncoding;
  /** Sample frames (samples per channel). */
  frames: number;
  /**
   * Set when the header gave no data size (a placeholder, or 0 with audio after it: a writer into
   * a pipe, or a recorder that stopped before it wrote the sizes) and the samples were read to
   * the end of the file.
   */
  sizeUnknown?: true;
}

export interface WavAudio extends WavInfo {
  /** One Float32Array per channel, values in [-1, 1) (float files: as stored). */
  channelData: Float32Array[];
}

export interface ReadWavMonoOptions {
  /** A 0-based channel index, or 'mix' for the average of all channels (default 'mix'). */
  channel?: number | 'mix';
  /** Name used in error messages. */
  source?: string;
}

const FORMAT_PCM = 1;
const FORMAT_FLOAT = 3;
const FORMAT_EXTENSIBLE = 0xfffe;
const FORMAT_NAMES: Record<number, string> = { 2: 'Microsoft ADPCM', 6: 'A-law', 7: 'mu-law', 0x11: 'IMA ADPCM', 0x55: 'MPEG layer 3' };
/** KSDATAFORMAT_SUBTYPE_* GUID bytes after the 2-byte format code. */
const GUID_TAIL = [0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71];

/**
 * Data sizes that writers streaming to a pipe put in the header because they cannot come back to
 * fill it in: 0xFFFFFFFF (ffmpeg), 0x80000000 (arecord 1.2, measured; 0x7FFFFFFF in older
 * versions, 0x7FFFFF00 in aplay.c's begin_wave for an unknown length), 0x7FFF0000 (GStreamer's
 * wavenc, from its source: piped files were refused as truncated until 2026-11-27), and sox's
 * 0x7FFFF000 rounded down to whole frames (see isStreamedSize). Any other size past the end of
 * the file is a truncated file.
 */
const STREAMED_SIZES = [0xffffffff, 0x80000000, 0x7fffffff, 0x7fffff00, 0x7fff0000];
const SOX_STREAMED_SIZE = 0x7ffff000;

/**
 * sox writes 0x7FFFF000 as whole frames: 0x7FFFEFFF for 24-bit mono, 0x7FFFEFFC for 16-bit
 * 3-channel (measured, sox 14.4). Only 0x7FFFF000 itself was known: a 24-bit file sox wrote into
 * a pipe was refused as truncated.
 */
function isStreamedSize(size: number, blockAlign: number): boolean {
  return STREAMED_SIZES.includes(size) || size === SOX_STREAMED_SIZE - (SOX_STREAMED_SIZE % blockAlign);
}

/** Whether a chunk header is at `at`: four printable ASCII characters and a size within the file. */
function isChunkAt(bytes: Uint8Array, dv: DataView, at: number): boolean {
  if (at + 8 > bytes.length) return false;
  for (let i = 0; i < 4; i++) if (!(bytes[at + i]! >= 0x20 && bytes[at + i]! <= 0x7e)) return false;
  return at + 8 + dv.getUint32(at + 4, true) <= bytes.length;
}

function bad(source: string, msg: string, details: Record<string, unknown> = {}): EdgeRnnError {
  return new EdgeRnnError('BAD_INPUT_FILE', `${source}: ${msg}`, { source, ...details });
}

function fourcc(b: Uint8Array, at: number): string {
  return String.fromCharCode(b[at]!, b[at + 1]!, b[at + 2]!, b[at + 3]!);
}

interface Layout extends WavInfo {
  dataOffset: number;
  blockAlign: number;
}

function parseLayout(bytes: Uint8Array, source: string): Layout {
  if (bytes.length < 12) throw bad(source, `${bytes.length} bytes is too short for a RIFF/WAVE header (12 bytes)`);
  const id = fourcc(bytes, 0);
  if (id === 'RIFX') throw bad(source, 'big-endian RIFX files are not supported (expected RIFF)');
  if (id === 'RF64') throw bad(source, 'RF64 (64-bit) WAV files are not supported (expected RIFF)');
  if (id !== 'RIFF') throw bad(source, `not a WAV file: starts with ${JSON.stringify(id)}, expected "RIFF"`);
  if (fourcc(bytes, 8) !== 'WAVE') throw bad(source, `RIFF form type is ${JSON.stringify(fourcc(bytes, 8))}, expected "WAVE"`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let fmt: Omit<Layout, 'dataOffset' | 'frames'> | undefined;
  let pos = 12;
  while (pos + 8 <= bytes.length) {
    const chunk = fourcc(bytes, pos);
    const size = dv.getUint32(pos + 4, true);
    const body = pos + 8;
    if (chunk === 'fmt ') {
      if (size < 16) throw bad(source, `fmt chunk is ${size} bytes, expected at least 16`);
      if (body + size > bytes.length) throw bad(source, `fmt chunk declares ${size} bytes, only ${bytes.length - body} remain: truncated`);
      let tag = dv.getUint16(body, true);
      const channels = dv.getUint16(body + 2, true);
      const sampleRateHz = dv.getUint32(body + 4, true);
      const blockAlign = dv.getUint16(body + 12, true);
      const bitsPerSample = dv.getUint16(body + 14, true);
      if (tag === FORMAT_EXTENSIBLE) {
        if (size < 40) throw bad(source, `WAVE_FORMAT_EXTENSIBLE fmt chunk is ${size} bytes, expected 40`);
        const sub = dv.getUint16(body + 24, true);
        if (GUID_TAIL.some((b, i) => bytes[body + 26 + i] !== b)) throw bad(source, 'WAVE_FORMAT_EXTENSIBLE sub-format GUID is not a KSDATAFORMAT_SUBTYPE');
        tag = sub;
      }
      let encoding: WavEncoding;
      if (tag === FORMAT_PCM) encoding = 'pcm';
      else if (tag === FORMAT_FLOAT) encoding = 'float';
      else throw bad(source, `format ${tag}${FORMAT_NAMES[tag] ? ` (${FORMAT_NAMES[tag]})` : ''} is not supported (expected 1 = PCM or 3 = IEEE float)`, { formatTag: tag });
      if (channels < 1) throw bad(source, 'fmt chunk says 0 channels');
      if (sampleRateHz < 1) throw bad(source, 'fmt chunk says a sample rate of 0 Hz');
      const okBits = encoding === 'pcm' ? [8, 16, 24, 32] : [32, 64];
      if (!okBits.includes(bitsPerSample)) throw bad(source, `${bitsPerSample}-bit ${encoding} samples are not supported (expected ${okBits.join(', ')})`, { bitsPerSample });
      const expectAlign = (channels * bitsPerSample) / 8;
      if (blockAlign !== expectAlign) throw bad(source, `block align is ${blockAlign}, expected ${expectAlign} (${channels} channels × ${bitsPerSample / 8} bytes)`);
      fmt = { sampleRateHz, channels, bitsPerSample, encoding, blockAlign };
    } else if (chunk === 'data') {
      if (!fmt) throw bad(source, 'data chunk comes before the fmt chunk');
      // A size of 0 with bytes after it that are not a chunk: a writer that never came back to
      // fill the size in (a recorder that crashed; Python's wave module before close). Read to
      // the end, as ffmpeg reads it (sox reads no samples): it was "no samples".
      if ((isStreamedSize(size, fmt.blockAlign) && body + size > bytes.length) || (size === 0 && body < bytes.length && !isChunkAt(bytes, dv, body))) {
        // A writer that could not seek back (arecord or ffmpeg into a pipe) leaves a placeholder
        // size: the samples run to the end of the file; a partial last frame is dropped.
        return { ...fmt, dataOffset: body, frames: Math.floor((bytes.length - body) / fmt.blockAlign), sizeUnknown: true };
      }
      if (body + size > bytes.length) throw bad(source, `data chunk declares ${size} bytes, only ${bytes.length - body} remain: truncated`, { declared: size, available: bytes.length - body });
      if (size % fmt.blockAlign !== 0) throw bad(source, `data chunk of ${size} bytes is not a whole number of ${fmt.blockAlign}-byte sample frames`);
      return { ...fmt, dataOffset: body, frames: size / fmt.blockAlign };
    } else if (body + size > bytes.length) {
      // A chunk before the data that runs past the end: the file was cut short, or the size is
      // damaged. Skipping it left the walk past the end, reported as "no data chunk".
      throw bad(source, `${JSON.stringify(chunk)} chunk at byte ${pos} declares ${size} bytes, only ${bytes.length - body} remain: truncated before the ${fmt ? 'data' : 'fmt'} chunk`, { declared: size, available: bytes.length - body });
    }
    pos = body + size + (size & 1); // chunks are padded to even length
  }
  if (pos < bytes.length) throw bad(source, `the file ends inside a chunk header at byte ${pos} (${bytes.length - pos} of 8 bytes): truncated before the ${fmt ? 'data' : 'fmt'} chunk`);
  throw bad(source, fmt ? 'no data chunk' : 'no fmt chunk');
}

/** The header facts without decoding samples. */
export function readWavInfo(file: Uint8Array | ArrayBuffer | SharedArrayBuffer | ArrayBufferView, source = 'input.wav'): WavInfo {
  const { sampleRateHz, channels, bitsPerSample, encoding, frames, sizeUnknown } = parseLayout(fileBytes(file, source, 'readWavInfo()'), source);
  return { sampleRateHz, channels, bitsPerSample, encoding, frames, ...(sizeUnknown ? { sizeUnknown } : {}) };
}

/** All channels as float32. */
export function readWav(file: Uint8Array | ArrayBuffer | SharedArrayBuffer | ArrayBufferView, source = 'input.wav'): WavAudio {
  const bytes = fileBytes(file, source, 'readWav()');
  const L = parseLayout(bytes, source);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const width = L.bitsPerSample / 8;
  const channelData = Array.from({ length: L.channels }, () => new Float32Array(L.frames));
  for (let c = 0; c < L.channels; c++) {
    const out = channelData[c]!;
    let at = L.dataOffset + c * width;
    const stride = L.blockAlign;
    if (L.encoding === 'float') {
      for (let i = 0; i < L.frames; i++, at += stride) {
        const v = width === 4 ? dv.getFloat32(at, true) : dv.getFloat64(at, true);
        if (!Number.isFinite(v)) throw bad(source, `sample ${i} of channel ${c} is ${v}`, { frame: i, channel: c });
        // A 64-bit sample beyond float32's range became ±Infinity in the float32 channel data,
        // refused later by the front end without naming the file.
        if (!Number.isFinite(Math.fround(v))) throw bad(source, `sample ${i} of channel ${c} is ${v}, beyond float32's range (|x| <= 3.4028235e38)`, { frame: i, channel: c });
        out[i] = v;
      }
    } else if (width === 1) {
      for (let i = 0; i < L.frames; i++, at += stride) out[i] = (bytes[at]! - 128) / 128;
    } else if (width === 2) {
      for (let i = 0; i < L.frames; i++, at += stride) out[i] = dv.getInt16(at, true) / 32768;
    } else if (width === 3) {
      for (let i = 0; i < L.frames; i++, at += stride) {
        const u = bytes[at]! | (bytes[at + 1]! << 8) | (bytes[at + 2]! << 16);
        out[i] = ((u << 8) >> 8) / 8388608; // sign-extend 24 → 32 bits
      }
    } else {
      for (let i = 0; i < L.frames; i++, at += stride) out[i] = dv.getInt32(at, true) / 2147483648;
    }
  }
  const { sampleRateHz, channels, bitsPerSample, encoding, frames, sizeUnknown } = L;
  return { sampleRateHz, channels, bitsPerSample, encoding, frames, ...(sizeUnknown ? { sizeUnknown } : {}), channelData };
}

/** One channel, or the mixdown (average) of all channels, as float32. */
export function readWavMono(bytes: Uint8Array | ArrayBuffer | SharedArrayBuffer | ArrayBufferView, opts: ReadWavMonoOptions = {}): { info: WavInfo; samples: Float32Array } {
  const source = opts.source ?? 'input.wav';
  const channel = opts.channel ?? 'mix';
  const wav = readWav(bytes, source);
  const { channelData, ...info } = wav;
  if (channel !== 'mix') {
    if (!Number.isInteger(channel) || channel < 0 || channel >= wav.channels) {
      throw bad(source, `channel ${channel} requested, the file has ${wav.channels} channel${wav.channels === 1 ? '' : 's'} (0..${wav.channels - 1})`, { channel, channels: wav.channels });
    }
    return { info, samples: channelData[channel]! };
  }
  if (wav.channels === 1) return { info, samples: channelData[0]! };
  const samples = new Float32Array(wav.frames);
  for (let i = 0; i < wav.frames; i++) {
    let s = 0;
    for (let c = 0; c < wav.channels; c++) s += channelData[c]![i]!;
    samples[i] = s / wav.channels;
  }
  return { info, samples };
}

/**
 * float in [-1, 1) → int16 code: round(x · 32768), clamped to [-32768, 32767]. NaN or an
 * infinity is NON_FINITE_INPUT naming the sample (NaN became code 0, silence, until 2026-11-27;
 * the infinities full scale).
 */
export function floatToPcm16(x: Float32Array | Float64Array): Int16Array {
  const out = new Int16Array(x.length);
  for (let i = 0; i < x.length; i++) {
    if (!Number.isFinite(x[i]!)) throw new EdgeRnnError('NON_FINITE_INPUT', `floatToPcm16: sample ${i} is ${x[i]}, expected a finite number`, { index: i, value: String(x[i]) });
    const v = Math.round(x[i]! * 32768);
    out[i] = v > 32767 ? 32767 : v < -32768 ? -32768 : v;
  }
  return out;
}

/** Channels a 16-bit file can declare: its block align, channels × 2 bytes, is a 16-bit field. */
const MAX_PCM16_CHANNELS = 32767;

/**
 * SHAPE_MISMATCH unless the rate and channel count fit the header's fields. DataView's setters
 * wrap silently: 40,000 channels wrote a block align of 14,464 (a file readWav refuses), a
 * 3 GHz rate a wrong byte rate.
 */
function checkPcm16Format(call: string, sampleRateHz: number, channels: number): void {
  if (!Number.isInteger(sampleRateHz) || sampleRateHz < 1 || sampleRateHz > 0xffffffff) {
    throw new EdgeRnnError('SHAPE_MISMATCH', `${call}: sample rate must be a positive integer, got ${sampleRateHz}`, { got: sampleRateHz });
  }
  if (!Number.isInteger(channels) || channels < 1) {
    throw new EdgeRnnError('SHAPE_MISMATCH', `${call}: ${channels} channels: expected a whole number from 1 to ${MAX_PCM16_CHANNELS}`, { expected: `1..${MAX_PCM16_CHANNELS}`, got: channels });
  }
  if (channels > MAX_PCM16_CHANNELS) {
    throw new EdgeRnnError('SHAPE_MISMATCH', `${call}: ${channels} channels: at most ${MAX_PCM16_CHANNELS} (block align, channels × 2 bytes, is a 16-bit field)`, { expected: `1..${MAX_PCM16_CHANNELS}`, got: channels });
  }
  const byteRate = sampleRateHz * channels * 2;
  if (byteRate > 0xffffffff) {
    throw new EdgeRnnError('SHAPE_MISMATCH', `${call}: byte rate ${sampleRateHz} Hz × ${channels} channels × 2 bytes = ${byteRate} does not fit the header's 32-bit field`, { expected: '<= 4294967295', got: byteRate });
  }
}

/**
 * A 16-bit PCM WAV file. `samples` is interleaved when channels > 1: Int16Array codes as they
 * are, float arrays converted with floatToPcm16 (non-finite values are an error).
 */
export function encodeWav(samples: Int16Array | Float32Array | Float64Array, sampleRateHz: number, channels = 1): Uint8Array<ArrayBuffer> {
  checkPcm16Format('encodeWav', sampleRateHz, channels);
  if (samples.length % channels !== 0) {
    throw new EdgeRnnError('SHAPE_MISMATCH', `encodeWav: ${samples.length} samples are not whole frames of ${channels} channels`, { channels, got: samples.length });
  }
  let pcm: Int16Array;
  if (samples instanceof Int16Array) pcm = samples;
  else {
    for (let i = 0; i < samples.length; i++) {
      if (!Number.isFinite(samples[i]!)) throw new EdgeRnnError('NON_FINITE_INPUT', `encodeWav: sample ${i} is ${samples[i]}`, { index: i });
    }
    pcm = floatToPcm16(samples);
  }
  const dataBytes = pcm.length * 2;
  const header = encodeWavHeader(dataBytes, sampleRateHz, channels); // checks the size before allocating
  const out = new Uint8Array(44 + dataBytes);
  out.set(header);
  const dv = new DataView(out.buffer);
  for (let i = 0; i < pcm.length; i++) dv.setInt16(44 + 2 * i, pcm[i]!, true);
  return out;
}

/**
 * The 44-byte header of a 16-bit PCM WAV file whose data chunk holds `dataBytes` bytes: for
 * writers that stream samples to a file and write the header last.
 */
export function encodeWavHeader(dataBytes: number, sampleRateHz: number, channels = 1): Uint8Array<ArrayBuffer> {
  if (!Number.isInteger(dataBytes) || dataBytes < 0 || dataBytes > 0xffffffff - 36) {
    throw new EdgeRnnError('SHAPE_MISMATCH', `encodeWavHeader: ${dataBytes} data bytes do not fit a RIFF file (at most 4 GiB)`, { got: dataBytes });
  }
  checkPcm16Format('encodeWavHeader', sampleRateHz, channels);
  if (dataBytes % (channels * 2) !== 0) {
    throw new EdgeRnnError('SHAPE_MISMATCH', `encodeWavHeader: ${dataBytes} data bytes are not whole sample frames of ${channels * 2} bytes (${channels} channels × 16 bits)`, {
      expected: `a multiple of ${channels * 2}`,
      got: dataBytes,
    });
  }
  const out = new Uint8Array(44);
  const dv = new DataView(out.buffer);
  const ascii = (at: number, s: string): void => {
    for (let i = 0; i < 4; i++) out[at + i] = s.charCodeAt(i);
  };
  ascii(0, 'RIFF');
  dv.setUint32(4, 36 + dataBytes, true);
  ascii(8, 'WAVE');
  ascii(12, 'fmt ');
  dv.setUint32(16, 16, true);
  dv.setUint16(20, FORMAT_PCM, true);
  dv.setUint16(22, channels, true);
  dv.setUint32(24, sampleRateHz, true);
  dv.setUint32(28, sampleRateHz * channels * 2, true); // byte rate
  dv.setUint16(32, channels * 2, true); // block align
  dv.setUint16(34, 16, true); // bits per sample
  ascii(36, 'data');
  dv.setUint32(40, dataBytes, true);
  return out;
}
