/**
 * Node-only: the keyword corpus (quantize/data/kws) read through the audio front end of
 * src/features, with the features cached on disk.
 *
 * Clips come from the corpus manifest (`<corpus>/manifest.json`), which names every clip's split,
 * label and speaker, so `_unknown_` and `_silence_` are read like any label (the generic WAV-folder
 * loader skips folders that start with '_', see quantize/data/wav.ts). Every clip is 1 s of 16 kHz
 * audio; the front end's batch path (bit-identical to streaming, tested in test/features) turns it
 * into T = 1 + floor((16000 - L) / H) frames (98 for 25 ms / 10 ms).
 *
 * Cache: `<cacheDir>/<key>.f32` (the frames of every clip, concatenated, little-endian float32)
 * and `<key>.json` (the clip index). key = sha256 of the front-end spec, the split and the bytes of
 * the corpus manifest (which changes whenever the corpus is rebuilt), so a stale cache is never
 * read. Every file is written to a temporary name and renamed (writeFileAtomic), and the index is
 * written last: a run killed mid-write leaves no entry that reads as complete. Features are never
 * committed (`.cache/` is git-ignored).
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { AudioFrontend, EdgeRnnError, planResampler, readWavMono, resampleBatch, type AudioFrontendSpec } from '../../../src/index.js';
import { makeDirs } from '../../../src/io/files.js';

/** Bump when the cached layout or the way features are computed changes. */
const CACHE_VERSION = 1;

export interface CorpusClip {
  /** Path relative to the corpus root: `train/yes/espeak-en-us-m1_yes_0.wav`. */
  path: string;
  split: 'train' | 'val' | 'test';
  label: string;
  /** The word's speaker (absent for _silence_). */
  speaker?: string;
}

export interface CorpusIndex {
  root: string;
  /** Class names in model order (keywords, _unknown_, _silence_). */
  labels: string[];
  sampleRateHz: number;
  clips: CorpusClip[];
  /** sha256 of manifest.json: identifies the corpus build. */
  manifestSha256: string;
  /** Corpus generator options (recorded in the model manifest). */
  options: Record<string, unknown>;
  configHash: string;
  /** Generator version of the manifest (KWS_CORPUS_VERSION when it was made; absent: unknown). */
  version?: number;
}

export interface ClipFeatures {
  path: string;
  label: string;
  /** Index into CorpusIndex.labels. */
  y: number;
  speaker?: string;
  /** Frames. */
  T: number;
  /** [T][featureSize] flat. */
  x: Float32Array;
}

export interface SplitFeatures {
  split: string;
  featureSize: number;
  clips: ClipFeatures[];
  /** Whether the features came from the cache. */
  cached: boolean;
}

function corpusError(where: string, msg: string): EdgeRnnError {
  return new EdgeRnnError('BAD_DATA', `${where}: ${msg}`, { where });
}

/** Reads `<root>/manifest.json` of a corpus made by `npm run data:kws`. */
export function readCorpusIndex(root: string): CorpusIndex {
  const file = path.join(root, 'manifest.json');
  if (!fs.existsSync(file)) throw corpusError(file, 'no corpus manifest: generate the corpus with `npm run data:kws` (it writes .cache/kws; eval-kws also takes --data DIR)');
  const bytes = fs.readFileSync(file);
  let m: { labels?: unknown; sampleRateHz?: unknown; clips?: unknown; complete?: unknown; options?: unknown; configHash?: unknown; version?: unknown };
  try {
    m = JSON.parse(bytes.toString('utf8')) as typeof m;
  } catch (e) {
    throw corpusError(file, `not JSON (${(e as Error).message})`);
  }
  if (m.complete !== true) throw corpusError(file, 'the corpus is incomplete (generation was interrupted): rerun `npm run data:kws`');
  if (!Array.isArray(m.labels) || !m.labels.every((l) => typeof l === 'string')) throw corpusError(file, '"labels" must be a list of class names');
  if (!Array.isArray(m.clips)) throw corpusError(file, '"clips" must be a list');
  const labels = m.labels as string[];
  const clips: CorpusClip[] = (m.clips as Record<string, unknown>[]).map((c, i) => {
    const split = c.split;
    if (typeof c.path !== 'string' || typeof c.label !== 'string' || (split !== 'train' && split !== 'val' && split !== 'test')) throw corpusError(file, `clips[${i}] needs path, label and split train|val|test`);
    if (!labels.includes(c.label)) throw corpusError(file, `clips[${i}] has label '${c.label}', not one of ${labels.join(', ')}`);
    return { path: c.path, split, label: c.label, ...(typeof c.speaker === 'string' ? { speaker: c.speaker } : {}) };
  });
  return {
    root,
    labels,
    sampleRateHz: typeof m.sampleRateHz === 'number' ? m.sampleRateHz : 16000,
    clips,
    manifestSha256: createHash('sha256').update(bytes).digest('hex'),
    options: (m.options ?? {}) as Record<string, unknown>,
    configHash: typeof m.configHash === 'string' ? m.configHash : '',
    ...(typeof m.version === 'number' ? { version: m.version } : {}),
  };
}

/** Reads a clip as float samples in [-1, 1), checking its rate. */
export function readClipAudio(root: string, rel: string, rateHz: number): Float32Array {
  const where = path.join(root, rel);
  const { info, samples } = readWavMono(new Uint8Array(fs.readFileSync(where)), { source: where });
  if (info.sampleRateHz !== rateHz) throw corpusError(where, `sample rate ${info.sampleRateHz} Hz, the front end expects ${rateHz} Hz`);
  return samples;
}

/**
 * Writes `file` whole or not at all: the data goes to `<file>.tmp-<pid>` and is renamed over
 * `file` (atomic on one file system), so a process killed mid-write never leaves a short file
 * under the cache's name.
 */
export function writeFileAtomic(file: string, data: string | Uint8Array): void {
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, data);
  fs.renameSync(tmp, file);
}

/** JSON of a cache index, or null when it is unreadable (a cache miss, never an error). */
function readJsonOrNull(file: string): unknown {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as unknown;
  } catch {
    return null;
  }
}

function cacheKey(parts: unknown): string {
  return createHash('sha256').update(JSON.stringify(parts)).digest('hex').slice(0, 24);
}

/**
 * Clip-feature cache: `bin` holds every clip's frames back to back (float32), `idx` the clips
 * without their frames. Returns null when absent or when the two do not agree.
 */
function readClipCache(bin: string, idx: string, F: number): ClipFeatures[] | null {
  if (!fs.existsSync(bin) || !fs.existsSync(idx)) return null;
  const meta = readJsonOrNull(idx) as { clips?: Omit<ClipFeatures, 'x'>[] } | null;
  if (!meta || !Array.isArray(meta.clips) || !meta.clips.every((c) => Number.isInteger(c.T) && c.T >= 0)) return null;
  const raw = fs.readFileSync(bin);
  if (raw.byteLength % 4 !== 0) return null;
  const all = new Float32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4);
  let off = 0;
  const clips = meta.clips.map((c) => {
    const x = all.slice(off, off + c.T * F);
    off += c.T * F;
    return { ...c, x };
  });
  return off === all.length ? clips : null;
}

/** Writes what readClipCache reads; `meta` (spec, split, ...) is stored beside the clip list. */
function writeClipCache(bin: string, idx: string, meta: Record<string, unknown>, clips: readonly ClipFeatures[]): void {
  makeDirs(path.dirname(bin));
  const all = new Float32Array(clips.reduce((n, c) => n + c.x.length, 0));
  let off = 0;
  for (const c of clips) {
    all.set(c.x, off);
    off += c.x.length;
  }
  // The index last: it is what marks the entry complete.
  writeFileAtomic(bin, new Uint8Array(all.buffer));
  writeFileAtomic(idx, JSON.stringify({ ...meta, clips: clips.map(({ x: _x, ...rest }) => rest) }));
}

/**
 * Features of every clip of one split, from the cache when present. Clips are padded with zeros
 * or cut to 1 s (the corpus writes exactly 1 s).
 */
export function splitFeatures(index: CorpusIndex, split: 'train' | 'val' | 'test', spec: AudioFrontendSpec, cacheDir: string): SplitFeatures {
  const key = cacheKey({ v: CACHE_VERSION, spec, split, manifest: index.manifestSha256 });
  const bin = path.join(cacheDir, `${split}-${key}.f32`);
  const idx = path.join(cacheDir, `${split}-${key}.json`);
  const fe = new AudioFrontend(spec);
  const F = fe.featureSize;
  const hit = readClipCache(bin, idx, F);
  if (hit) return { split, featureSize: F, clips: hit, cached: true };
  const clipSamples = index.sampleRateHz; // 1 s
  const clips: ClipFeatures[] = [];
  for (const c of index.clips) {
    if (c.split !== split) continue;
    const audio = readClipAudio(index.root, c.path, spec.sampleRateHz);
    const clip = new Float32Array(clipSamples);
    clip.set(audio.subarray(0, clipSamples));
    const f = fe.batch(clip);
    clips.push({ path: c.path, label: c.label, y: index.labels.indexOf(c.label), ...(c.speaker !== undefined ? { speaker: c.speaker } : {}), T: f.count, x: f.data });
  }
  if (clips.length === 0) throw corpusError(index.root, `no ${split} clips in the corpus manifest`);
  writeClipCache(bin, idx, { spec, split }, clips);
  return { split, featureSize: F, clips, cached: false };
}

/**
 * Speed perturbation (Ko et al., Interspeech 2015): the clip played r times faster,
 * y(t) = x(r·t), by polyphase resampling from r·sr to sr. Formants and pitch scale by r and the
 * duration by 1/r, which turns a male voice into a plausible female or child one for r ≈ 1.2.
 * The result is centred in `length` samples (the corpus centres the word): longer results are
 * cut at both ends; shorter ones are padded by mirroring their own edges (noise, not silence).
 */
export function speedPerturb(x: Float32Array, r: number, rateHz: number, length: number): Float32Array {
  const inRate = Math.round(rateHz * r);
  return fitCentered(resampleBatch(planResampler('polyphase', 1, inRate, rateHz), x), length);
}

/**
 * y centred in `length` samples: cut at both ends when longer; when shorter, the missing samples
 * mirror y's own edges (..., y[1], y[0] | y[0], y[1], ... | ..., y[n-1]), repeating if needed.
 */
export function fitCentered(y: ArrayLike<number>, length: number): Float32Array {
  const out = new Float32Array(length);
  const n = y.length;
  if (n === 0) return out;
  const off = Math.floor((n - length) / 2);
  for (let i = 0; i < length; i++) {
    let j = i + off;
    while (j < 0 || j >= n) j = j < 0 ? -j - 1 : 2 * n - j - 1;
    out[i] = y[j]!;
  }
  return out;
}

/**
 * Features of speed-perturbed copies of the clips `select` picks (one copy per factor), cached
 * like the splits. Paths get a `@r` suffix so errors name the copy.
 */
export function perturbedFeatures(index: CorpusIndex, split: 'train' | 'val', spec: AudioFrontendSpec, cacheDir: string, factors: readonly number[], select: (c: CorpusClip) => boolean): SplitFeatures {
  const chosen = index.clips.filter((c) => c.split === split && select(c));
  const key = cacheKey({ v: CACHE_VERSION, spec, split, manifest: index.manifestSha256, factors, clips: chosen.map((c) => c.path) });
  const bin = path.join(cacheDir, `${split}-speed-${key}.f32`);
  const idx = path.join(cacheDir, `${split}-speed-${key}.json`);
  const fe = new AudioFrontend(spec);
  const F = fe.featureSize;
  const hit = readClipCache(bin, idx, F);
  if (hit) return { split, featureSize: F, clips: hit, cached: true };
  const clips: ClipFeatures[] = [];
  for (const c of chosen) {
    const audio = readClipAudio(index.root, c.path, spec.sampleRateHz);
    for (const r of factors) {
      const f = fe.batch(speedPerturb(audio, r, spec.sampleRateHz, index.sampleRateHz));
      clips.push({ path: `${c.path}@${r}`, label: c.label, y: index.labels.indexOf(c.label), ...(c.speaker !== undefined ? { speaker: c.speaker } : {}), T: f.count, x: f.data });
    }
  }
  writeClipCache(bin, idx, { spec, split, factors }, clips);
  return { split, featureSize: F, clips, cached: false };
}

/**
 * Features of a long recording (the evaluation stream), cached like the splits: `rec-<key>.f32`
 * holds the frames and `rec-<key>.json` their count, written after them; an entry whose frames do
 * not fill T × featureSize floats is computed again.
 */
export function recordingFeatures(wavPath: string, spec: AudioFrontendSpec, cacheDir: string): { x: Float32Array; T: number; featureSize: number; cached: boolean } {
  const st = fs.statSync(wavPath);
  const key = cacheKey({ v: CACHE_VERSION, spec, file: path.resolve(wavPath), size: st.size, mtimeMs: st.mtimeMs });
  const bin = path.join(cacheDir, `rec-${key}.f32`);
  const idx = path.join(cacheDir, `rec-${key}.json`);
  const fe = new AudioFrontend(spec);
  const F = fe.featureSize;
  const meta = fs.existsSync(bin) ? (readJsonOrNull(idx) as { T?: unknown; featureSize?: unknown } | null) : null;
  if (meta && Number.isInteger(meta.T) && meta.featureSize === F) {
    const raw = fs.readFileSync(bin);
    if (raw.byteLength === (meta.T as number) * F * 4) {
      const x = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
      return { x, T: meta.T as number, featureSize: F, cached: true };
    }
  }
  const { info, samples } = readWavMono(new Uint8Array(fs.readFileSync(wavPath)), { source: wavPath });
  if (info.sampleRateHz !== spec.sampleRateHz) throw corpusError(wavPath, `sample rate ${info.sampleRateHz} Hz, the front end expects ${spec.sampleRateHz} Hz`);
  const f = fe.batch(samples);
  makeDirs(cacheDir);
  writeFileAtomic(bin, new Uint8Array(f.data.buffer, f.data.byteOffset, f.data.byteLength));
  writeFileAtomic(idx, JSON.stringify({ T: f.count, featureSize: F, wav: path.resolve(wavPath) }));
  return { x: f.data, T: f.count, featureSize: F, cached: false };
}
