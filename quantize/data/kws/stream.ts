/**
 * Node-only: the long evaluation stream for false accepts and misses.
 *
 * Background noise in segments of 5–20 s (white/pink/brown from the test region of the sox beds,
 * or babble of held-out voices), each at a level of -45..-30 dBFS RMS. Over it, one event after
 * another with gaps of 0.3–2 s: a keyword (35 %) at 10 dB SNR, or a sentence of 3–8 non-keyword
 * words at 0–15 dB SNR. SNR is the event's active-span RMS over the noise RMS at the event's
 * onset. All voices are the held-out test voices, so the stream is test data like the test split.
 * Events never overlap. Ground truth goes to stream.json: every keyword's word, onset and offset
 * (seconds, the active span ±20 ms), speaker and SNR; the distractor sentences; the noise segments.
 * Written block by block, so a stream of hours does not sit in memory.
 */
import { closeSync, openSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { encodeWavHeader, floatToPcm16, Rng } from '../../../src/index.js';
import type { NoiseKind } from './corpus.js';
import { activeSpan, dbToGain, rms, type NoiseBed } from './dsp.js';
import { runPool } from './pool.js';
import { speak, type EspeakProsody, type FliteProsody } from './tools.js';
import { fnv1a, spokenText, type Speaker } from './voices.js';
import { FILLER_WORDS, KEYWORDS } from './words.js';
import { makeDirs } from '../../../src/io/files.js';

const SR = 16000;
export const STREAM_KEYWORD_SNR_DB = 10;
const KEYWORD_PROBABILITY = 0.35;
const BATCH = 16;

export interface StreamOptions {
  /** Directory for stream.wav and stream.json. */
  outDir: string;
  /** Scratch directory for TTS files. */
  work: string;
  seed: number;
  minutes: number;
  /** Voices of the stream (the held-out test voices). */
  speakers: Speaker[];
  /** Noise beds with the region this stream may use. */
  beds: Record<NoiseKind, { bed: NoiseBed; region: [number, number] }>;
  jobs: number;
}

export interface StreamKeyword {
  word: string;
  onsetSec: number;
  offsetSec: number;
  speaker: string;
  snrDb: number;
}

export interface StreamTruth {
  sampleRateHz: number;
  durationSec: number;
  keywordSnrDb: number;
  keywords: StreamKeyword[];
  speech: { text: string; onsetSec: number; offsetSec: number; speaker: string; snrDb: number }[];
  noise: { startSec: number; endSec: number; kind: NoiseKind; levelDb: number }[];
  speakers: string[];
}

export interface StreamManifest {
  wav: string;
  truth: string;
  durationSec: number;
  keywords: number;
  distractorSentences: number;
}

interface NoiseSegment {
  start: number;
  end: number;
  kind: NoiseKind;
  levelDb: number;
  gain: number;
  /** Where in the bed's region this segment starts. */
  bedStart: number;
}

interface EventPlan {
  keyword: boolean;
  text: string;
  speaker: Speaker;
  prosody: EspeakProsody | FliteProsody;
  snrDb: number;
  gap: number;
}

const round3 = (v: number): number => Math.round(v * 1000) / 1000;

export async function generateStream(o: StreamOptions, onProgress?: (done: number, total: number) => void): Promise<StreamManifest> {
  makeDirs(o.outDir);
  const rng = new Rng(fnv1a(`${o.seed}|stream`));
  const total = Math.round(o.minutes * 60 * SR);
  const kinds: NoiseKind[] = ['white', 'pink', 'brown', 'babble'];

  const segments: NoiseSegment[] = [];
  for (let start = 0; start < total; ) {
    const end = Math.min(total, start + Math.round(rng.uniform(5, 20) * SR));
    const kind = rng.pick(kinds);
    const levelDb = rng.uniform(-45, -30);
    segments.push({ start, end, kind, levelDb, gain: dbToGain(levelDb), bedStart: rng.int(0, 1 << 30) });
    start = end;
  }

  const fd = openSync(join(o.outDir, 'stream.wav'), 'w');
  writeSync(fd, encodeWavHeader(0, SR));
  let written = 0;
  let segIndex = 0;
  /** Writes samples [written, to) = noise + `event` (placed at `eventAt`). */
  const writeUntil = (to: number, event?: Float32Array, eventAt = 0): void => {
    const block = new Float32Array(to - written);
    for (let i = written; i < to; i++) {
      while (segments[segIndex]!.end <= i) segIndex++;
      const s = segments[segIndex]!;
      const { bed, region } = o.beds[s.kind];
      const a = Math.floor(region[0] * bed.samples.length);
      const regionLen = Math.max(1, Math.floor(region[1] * bed.samples.length) - a);
      block[i - written] = bed.samples[a + ((s.bedStart + i - s.start) % regionLen)]! * s.gain;
    }
    if (event) for (let j = 0; j < event.length; j++) block[eventAt - written + j]! += event[j]!;
    const pcm = floatToPcm16(block);
    writeSync(fd, new Uint8Array(pcm.buffer, pcm.byteOffset, pcm.byteLength));
    written = to;
  };
  const noiseGainAt = (i: number): number => segments.find((s) => s.start <= i && i < s.end)!.gain;

  const truth: StreamTruth = { sampleRateHz: SR, durationSec: total / SR, keywordSnrDb: STREAM_KEYWORD_SNR_DB, keywords: [], speech: [], noise: [], speakers: o.speakers.map((s) => s.id) };
  let cursor = Math.round(0.5 * SR);
  let batchNo = 0;
  let full = false;
  try {
    while (!full) {
      const plans: EventPlan[] = Array.from({ length: BATCH }, () => {
        const keyword = rng.next() < KEYWORD_PROBABILITY;
        const speaker = rng.pick(o.speakers);
        const text = keyword ? rng.pick(KEYWORDS) : Array.from({ length: rng.int(3, 8) }, () => rng.pick(FILLER_WORDS)).join(' ');
        const prosody: EspeakProsody | FliteProsody =
          speaker.engine === 'espeak-ng' ? { wpm: rng.uniform(130, 190), pitch: rng.uniform(30, 70) } : { durationStretch: rng.uniform(0.9, 1.2), f0Scale: rng.uniform(0.9, 1.15) };
        return { keyword, text, speaker, prosody, snrDb: keyword ? STREAM_KEYWORD_SNR_DB : rng.uniform(0, 15), gap: Math.round(rng.uniform(0.3, 2) * SR) };
      });
      const b = batchNo++;
      const audio = await runPool(plans, o.jobs, (p, i) => speak(p.speaker, p.keyword ? spokenText(p.speaker, p.text) : p.text, p.prosody, [], join(o.work, `stream-${b}-${i}.wav`)));
      for (let k = 0; k < plans.length; k++) {
        const p = plans[k]!;
        const x = audio[k]!;
        const [a, e] = activeSpan(x, SR);
        const start = cursor + p.gap;
        if (e <= a) continue;
        if (start + (e - a) > total - Math.round(0.2 * SR)) {
          full = true;
          break;
        }
        const g = (noiseGainAt(start) * dbToGain(p.snrDb)) / Math.max(rms(x, a, e), 1e-9);
        const event = Float32Array.from(x.subarray(a, e), (v) => v * g);
        writeUntil(start + event.length, event, start);
        const ev = { onsetSec: round3(start / SR), offsetSec: round3((start + event.length) / SR), speaker: p.speaker.id, snrDb: round3(p.snrDb) };
        if (p.keyword) truth.keywords.push({ word: p.text, ...ev });
        else truth.speech.push({ text: p.text, ...ev });
        cursor = start + event.length;
      }
      onProgress?.(Math.min(cursor, total), total);
    }
    writeUntil(total);
    writeSync(fd, encodeWavHeader(total * 2, SR), 0, 44, 0);
    onProgress?.(total, total);
  } finally {
    closeSync(fd);
  }
  truth.noise = segments.map((s) => ({ startSec: round3(s.start / SR), endSec: round3(s.end / SR), kind: s.kind, levelDb: round3(s.levelDb) }));
  writeFileSync(join(o.outDir, 'stream.json'), `${JSON.stringify(truth, null, 1)}\n`);
  return { wav: 'stream/stream.wav', truth: 'stream/stream.json', durationSec: total / SR, keywords: truth.keywords.length, distractorSentences: truth.speech.length };
}
