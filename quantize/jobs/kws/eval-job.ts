/**
 * Node-only: scores a shipped keyword model (`npm run eval:kws`) the way it runs on a gateway,
 * with nothing but the model file and the held-out data:
 *   - features through the front end named in the model's manifest (`input.frontend`)
 *   - clip accuracy on the held-out test split, or any <label>/<clip>.wav folder (one session per
 *     clip, label at the last step)
 *   - the held-out stream as a gateway serves it (sliding windows from a reset state when the
 *     front end has `windows`, else one never-reset session) and the detector settings stored in
 *     the manifest (`extra.kws.detector`): false accepts per hour and miss rate
 */
import { readFileArg } from '../../../src/io/files.js';
import fs from 'node:fs';
import path from 'node:path';
import {
  AudioFrontend,
  createRuntime,
  decodeModel,
  EdgeRnnError,
  kwsDetectorConfigOf,
  kwsTimeBaseOf,
  readWavMono,
  validateAudioSpec,
  type BackendChoice,
  type ModelSpec,
} from '../../../src/index.js';
import { clipAccuracy, frameSpec, recordingSeconds, servedPosteriors, type ClipAccuracy } from './evaluate.js';
import { readCorpusIndex, recordingFeatures, splitFeatures } from './features.js';
import { checkStreamDuration, checkStreamWords, detectEvents, scoreEvents, type StreamScore } from './stream-eval.js';
import { readStreamDir } from './retune.js';

export interface KwsEvalOptions {
  /**
   * Clips to score: a corpus root (its test split), a split folder of a corpus (`.cache/kws/test`),
   * or any folder of `<label>/<clip>.wav` (labels may start with '_', as `_unknown_` does).
   */
  data: string;
  /** Folder with stream.wav and stream.json; none: no stream scoring. */
  stream?: string;
  cacheDir: string;
  backend: BackendChoice;
  /**
   * Also score the stream with every keyword's threshold set to each of these values (the
   * manifest's other detector settings kept): the classifier's trade-off between false accepts
   * and misses, for reading only: thresholds chosen on a test stream are not a test result.
   */
  sweep?: readonly number[];
  /**
   * Called after each clip of a `<label>/<clip>.wav` folder is read and run through the front end
   * (`total` clips): the commands move a bar by it. Minutes on a large folder went by without a
   * word.
   */
  onClip?: (done: number, total: number) => void;
}

/** One operating point of a threshold sweep. */
export interface KwsSweepPoint {
  threshold: number;
  falseAcceptsPerHour: number;
  missRate: number;
}

/** Thresholds of `edgernn eval-kws --sweep`. */
export const DEFAULT_SWEEP: readonly number[] = [0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99];

export interface KwsEvalResult {
  model: string;
  sha256: string;
  fileBytes: number;
  backend: string;
  clips: ClipAccuracy & { data: string };
  /** How the stream was served: sliding windows from the manifest, or null for one never-reset session. */
  stream?: StreamScore & { path: string; windows: { frames: number; hop: number } | null };
  sweep?: KwsSweepPoint[];
}

interface LoadedClips {
  samples: { x: Float32Array; T: number; y: number; where: string }[];
  groups: string[];
}

/** Clips of a corpus split (cached features) or of a plain <label>/<clip>.wav folder. */
function loadClips(data: string, spec: ModelSpec, frontend: ReturnType<typeof validateAudioSpec>, cacheDir: string, onClip?: (done: number, total: number) => void): LoadedClips {
  const split = path.basename(data);
  const root = fs.existsSync(path.join(data, 'manifest.json')) ? data : (split === 'train' || split === 'val' || split === 'test') && fs.existsSync(path.join(data, '..', 'manifest.json')) ? path.dirname(data) : null;
  if (root !== null) {
    const index = readCorpusIndex(root);
    if (index.labels.join('\u0000') !== spec.labels.join('\u0000')) throw new EdgeRnnError('BAD_DATA', `${root}: labels ${index.labels.join(', ')} differ from the model's ${spec.labels.join(', ')}`);
    const f = splitFeatures(index, root === data ? 'test' : (split as 'train' | 'val' | 'test'), frontend, cacheDir);
    return { samples: f.clips.map((c) => ({ x: c.x, T: c.T, y: c.y, where: c.path })), groups: f.clips.map((c) => c.speaker ?? 'noise') };
  }
  if (!fs.existsSync(data)) throw new EdgeRnnError('BAD_DATA', `${data}: no such folder: expected a corpus of npm run data:kws (its test split) or a folder of <label>/<clip>.wav clips`);
  if (!fs.statSync(data).isDirectory()) throw new EdgeRnnError('BAD_DATA', `${data}: not a folder of <label>/<clip>.wav clips`);
  const fe = new AudioFrontend(frontend);
  const out: LoadedClips = { samples: [], groups: [] };
  // Clips are the .wav files of a label folder; hidden ones are not (macOS leaves `._clip.wav`
  // resource forks beside copied clips: no WAV files, and they ended the evaluation), nor a
  // folder named x.wav (a bare "EISDIR" without the path).
  const clipFiles = (dir: string): string[] => fs.readdirSync(dir).filter((f) => f.toLowerCase().endsWith('.wav') && !f.startsWith('.') && fs.statSync(path.join(dir, f)).isFile()).sort();
  // As the trainer's WAV-folder loader: Speech Commands' _background_noise_ (long noise recordings,
  // not a class), hidden folders and folders without clips are skipped (each was an "unknown label").
  const folders = fs.readdirSync(data).filter((d) => d !== '_background_noise_' && !d.startsWith('.') && fs.statSync(path.join(data, d)).isDirectory());
  const files = new Map(folders.sort().flatMap((label) => {
    const clips = clipFiles(path.join(data, label));
    return clips.length > 0 ? [[label, clips] as const] : [];
  }));
  let total = 0;
  for (const f of files.values()) total += f.length;
  for (const [label, clips] of files) {
    const y = spec.labels.indexOf(label);
    if (y < 0) throw new EdgeRnnError('BAD_DATA', `${path.join(data, label)}: unknown label '${label}': the model knows ${spec.labels.join(', ')}`);
    for (const file of clips) {
      const where = path.join(data, label, file);
      const { info, samples } = readWavMono(new Uint8Array(fs.readFileSync(where)), { source: where });
      if (info.sampleRateHz !== frontend.sampleRateHz) throw new EdgeRnnError('BAD_DATA', `${where}: sample rate ${info.sampleRateHz} Hz, the model's front end expects ${frontend.sampleRateHz} Hz`);
      fe.reset();
      const f = fe.batch(samples);
      if (f.count === 0) throw new EdgeRnnError('BAD_DATA', `${where}: too short for one feature frame`);
      out.samples.push({ x: f.data, T: f.count, y, where });
      out.groups.push(file.includes('_') ? file.slice(0, file.indexOf('_')) : label);
      onClip?.(out.samples.length, total);
    }
  }
  if (out.samples.length === 0) throw new EdgeRnnError('BAD_DATA', `${data}: no <label>/<clip>.wav files`);
  return out;
}

export async function evaluateKwsFile(modelPath: string, o: KwsEvalOptions): Promise<KwsEvalResult> {
  if (!fs.existsSync(modelPath)) throw new EdgeRnnError('BAD_INPUT_FILE', `${modelPath}: no such model file`);
  const bytes = new Uint8Array(readFileArg(process.cwd(), modelPath));
  const spec: ModelSpec = decodeModel(bytes, modelPath).spec;
  // The detector settings first: a model of another job is "model 'har': extra.kws must be an
  // object (a keyword model ...)", not a front-end error that names neither file nor model.
  const detector = kwsDetectorConfigOf(spec);
  const served = validateAudioSpec(spec.input.frontend);
  const frontend = frameSpec(served);
  const { hopMs, frameMs } = kwsTimeBaseOf(spec);
  const keywords = spec.labels.filter((l) => !(detector.background ?? spec.labels.filter((x) => x.startsWith('_'))).includes(l));
  // The stream's files are checked before the clips' features are computed (minutes on a corpus).
  const streamIn = o.stream !== undefined ? readStreamDir(o.stream) : undefined;
  if (streamIn) checkStreamWords(streamIn.truth, keywords, `${o.stream}/stream.json`);
  const clips = loadClips(o.data, spec, frontend, o.cacheDir, o.onClip);
  const rt = await createRuntime();
  const model = await rt.load(bytes, { backend: o.backend, source: modelPath });
  try {
    const acc = clipAccuracy(model, clips.samples, spec.labels, clips.groups);
    const res: KwsEvalResult = { model: modelPath, sha256: model.sha256, fileBytes: bytes.length, backend: model.backend, clips: { ...acc, data: o.data } };
    const streamDir = o.stream;
    if (streamDir !== undefined && streamIn !== undefined) {
      const { wav, truth } = streamIn;
      const f = recordingFeatures(wav, frontend, o.cacheDir);
      checkStreamDuration(truth, recordingSeconds(f.T, frontend), `${streamDir}/stream.json`);
      const post = servedPosteriors(model, f.x, served);
      res.stream = { ...scoreEvents(detectEvents(post, spec.labels, detector, hopMs, frameMs), truth, keywords), path: streamDir, windows: served.windows ?? null };
      if (o.sweep) {
        res.sweep = o.sweep.map((threshold) => {
          const config = { ...detector, thresholds: Object.fromEntries(keywords.map((k) => [k, threshold])) };
          const sc = scoreEvents(detectEvents(post, spec.labels, config, hopMs, frameMs), truth, keywords);
          return { threshold, falseAcceptsPerHour: sc.falseAcceptsPerHour, missRate: sc.missRate };
        });
      }
    }
    return res;
  } finally {
    model.dispose();
  }
}

export function formatKwsEval(r: KwsEvalResult, labels: readonly string[]): string {
  const c = r.clips;
  const lines = [
    `${r.model}: ${r.fileBytes} bytes, backend ${r.backend}`,
    `  clips (${c.data}, ${c.samples} clips): accuracy ${(100 * c.accuracy).toFixed(2)}%  (${Object.entries(c.perGroup).map(([g, a]) => `${g} ${(100 * a).toFixed(1)}%`).join(', ')})`,
    `  recall per class: ${labels.map((l) => `${l} ${c.perClass[l]!.clips ? `${(100 * c.perClass[l]!.recall).toFixed(0)}%` : '- (no clips)'}`).join(', ')}`,
  ];
  if (r.stream) {
    const s = r.stream;
    lines.push(
      `  stream (${s.path}, ${(s.durationSec / 60).toFixed(1)} min, ${s.windows ? `windows of ${s.windows.frames} frames every ${s.windows.hop}` : 'one never-reset session'}): ${s.hits}/${s.keywords} keywords detected, miss rate ${(100 * s.missRate).toFixed(1)}%, ${s.falseAccepts} false accepts = ${s.falseAcceptsPerHour.toFixed(2)} per hour, ${s.hits > 0 ? `median delay ${s.medianDelayMs.toFixed(0)} ms after the word` : 'no delay (nothing detected)'}`,
    );
  }
  if (r.sweep) {
    lines.push('  threshold sweep on the stream (every keyword at one threshold; for reading, not tuning):');
    lines.push('    threshold   false accepts/h   miss rate');
    for (const p of r.sweep) lines.push(`    ${String(p.threshold).padStart(9)}   ${p.falseAcceptsPerHour.toFixed(2).padStart(15)}   ${(100 * p.missRate).toFixed(1).padStart(8)}%`);
  }
  return lines.join('\n');
}
