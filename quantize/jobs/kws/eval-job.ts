/**
 * Node-only: scores a shipped keyword model (`npm run eval:kws`) the way it runs on a gateway,
 * with nothing but the model file and the held-out data:
 *   - features through the front end named in the model's manifest (`input.frontend`)
 *   - clip accuracy on the held-out test split (one session per clip, label at the last step)
 *   - the held-out stream through one never-reset session and the detector settings stored in the
 *     manifest (`extra.kws.detector`): false accepts per hour and miss rate
 */
import fs from 'node:fs';
import path from 'node:path';
import {
  createRuntime,
  decodeModel,
  EdgeRnnError,
  kwsDetectorConfigOf,
  kwsTimeBaseOf,
  validateAudioSpec,
  type BackendChoice,
  type ModelSpec,
} from '../../../src/index.js';
import { clipAccuracy, streamPosteriors, type ClipAccuracy } from './evaluate.js';
import { readCorpusIndex, recordingFeatures, splitFeatures } from './features.js';
import { detectEvents, scoreEvents, type StreamScore, type StreamTruthLike } from './stream-eval.js';

export interface KwsEvalOptions {
  /** Corpus with the held-out test split (default .cache/kws). */
  corpus: string;
  /** Folder with stream.wav and stream.json (default: the 60-minute held-out stream). */
  stream?: string;
  cacheDir: string;
  backend: BackendChoice;
}

export interface KwsEvalResult {
  model: string;
  sha256: string;
  fileBytes: number;
  backend: string;
  clips: ClipAccuracy & { corpus: string };
  stream?: StreamScore & { path: string };
}

export async function evaluateKwsFile(modelPath: string, o: KwsEvalOptions): Promise<KwsEvalResult> {
  if (!fs.existsSync(modelPath)) throw new EdgeRnnError('BAD_INPUT_FILE', `${modelPath}: no such model file`);
  const bytes = new Uint8Array(fs.readFileSync(modelPath));
  const spec: ModelSpec = decodeModel(bytes, modelPath).spec;
  const frontend = validateAudioSpec(spec.input.frontend);
  const detector = kwsDetectorConfigOf(spec);
  const { hopMs, frameMs } = kwsTimeBaseOf(spec);
  const index = readCorpusIndex(o.corpus);
  if (index.labels.join('\u0000') !== spec.labels.join('\u0000')) {
    throw new EdgeRnnError('BAD_DATA', `${o.corpus}: labels ${index.labels.join(', ')} differ from the model's ${spec.labels.join(', ')}`);
  }
  const rt = await createRuntime();
  const model = await rt.load(bytes, { backend: o.backend, source: modelPath });
  try {
    const test = splitFeatures(index, 'test', frontend, o.cacheDir);
    const samples = test.clips.map((c) => ({ x: c.x, T: c.T, y: c.y, where: c.path }));
    const clips = clipAccuracy(model, samples, spec.labels, test.clips.map((c) => c.speaker ?? 'noise'));
    const res: KwsEvalResult = { model: modelPath, sha256: model.sha256, fileBytes: bytes.length, backend: model.backend, clips: { ...clips, corpus: o.corpus } };
    const streamDir = o.stream;
    if (streamDir !== undefined) {
      const wav = path.join(streamDir, 'stream.wav');
      const truthPath = path.join(streamDir, 'stream.json');
      if (!fs.existsSync(wav) || !fs.existsSync(truthPath)) throw new EdgeRnnError('BAD_DATA', `${streamDir}: needs stream.wav and stream.json (npm run data:kws writes them)`);
      const truth = JSON.parse(fs.readFileSync(truthPath, 'utf8')) as StreamTruthLike;
      const f = recordingFeatures(wav, frontend, o.cacheDir);
      const post = streamPosteriors(model, f.x);
      const keywords = spec.labels.filter((l) => !(detector.background ?? spec.labels.filter((x) => x.startsWith('_'))).includes(l));
      res.stream = { ...scoreEvents(detectEvents(post, spec.labels, detector, hopMs, frameMs), truth, keywords), path: streamDir };
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
    `  held-out clips (${c.corpus}, ${c.samples} clips): accuracy ${(100 * c.accuracy).toFixed(2)}%  (${Object.entries(c.perGroup).map(([g, a]) => `${g} ${(100 * a).toFixed(1)}%`).join(', ')})`,
    `  recall per class: ${labels.map((l) => `${l} ${(100 * c.perClass[l]!.recall).toFixed(0)}%`).join(', ')}`,
  ];
  if (r.stream) {
    const s = r.stream;
    lines.push(
      `  stream (${s.path}, ${(s.durationSec / 60).toFixed(1)} min): ${s.hits}/${s.keywords} keywords detected, miss rate ${(100 * s.missRate).toFixed(1)}%, ${s.falseAccepts} false accepts = ${s.falseAcceptsPerHour.toFixed(2)} per hour, median delay ${s.medianDelayMs.toFixed(0)} ms after the word`,
    );
  }
  return lines.join('\n');
}
