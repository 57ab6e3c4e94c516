/** Test helper: a 16 kHz recording made of keyword fixture clips (test/fixtures/kws), with silence around them. */
import fs from 'node:fs';
import path from 'node:path';
import { encodeWav, readWavMono } from '../../src/io/wav.js';

const FIXTURES = path.resolve(import.meta.dirname, '../fixtures/kws');

/** Writes `file`: 0.5 s of silence, then each clip (e.g. 'yes/flite-kal16_yes_0.wav') followed by 1 s of silence. Returns the samples. */
export function writeKwsRecording(file: string, clips: readonly string[]): Float32Array {
  const parts: Float32Array[] = [new Float32Array(8000)];
  for (const c of clips) parts.push(readWavMono(new Uint8Array(fs.readFileSync(path.join(FIXTURES, c)))).samples, new Float32Array(16000));
  const audio = joined(parts);
  fs.writeFileSync(file, encodeWav(audio, 16000));
  return audio;
}

/** The parts one after another. */
export function joined(parts: readonly Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** The parts joined and put on the int16 grid, as a device sends them (binary int16 frames, full scale = 1). */
export function joinedOnInt16Grid(parts: readonly Float32Array[]): Float32Array {
  return joined(parts).map((v) => Math.max(-32768, Math.min(32767, Math.round(v * 32768))) / 32768);
}
