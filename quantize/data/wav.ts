/**
 * Node-only: WAV clips in the Speech Commands layout, <root>/<label>/<clip>.wav, turned into
 * feature frames by the audio front end of src/features (the same code the gateway streams
 * with, so training and serving see identical features). The _background_noise_ folder (long
 * noise recordings, not a class) is skipped, as in the Speech Commands tooling; other folders
 * starting with '_' (_unknown_, _silence_: classes of keyword models) are classes like any other.
 * Clips are padded with silence or cut to `clipMs` so every sequence has the same length.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { AudioFrontend, audioFrontendSpec, isEdgeRnnError, readWavMono, type AudioFrontendSpec } from '../../src/index.js';
import { dataError, sortLabels, type Dataset, type Sample } from './dataset.js';

export interface WavOptions {
  /** Front end: 'mfcc' (default) or 'logmel', with the audio front end's defaults. */
  frontend?: 'mfcc' | 'logmel';
  /** A complete front-end spec instead (e.g. from a model's manifest). */
  frontendSpec?: AudioFrontendSpec;
  /** Clip length in ms after padding/cutting (default 1000, the Speech Commands length). */
  clipMs?: number;
  labels?: readonly string[];
}

/** Speech Commands' folder of background noise recordings: material for mixing, not a class. */
const BACKGROUND_NOISE = '_background_noise_';

export async function loadWavFolder(dir: string, shown: string, opts: WavOptions): Promise<Dataset> {
  const spec = opts.frontendSpec ?? audioFrontendSpec(opts.frontend ?? 'mfcc');
  const clipSamples = Math.round(((opts.clipMs ?? 1000) * spec.sampleRateHz) / 1000);
  // statSync follows symlinks, as edgernn eval does: a symlinked class folder was dropped. A link
  // whose target is gone is named, as an unreadable clip is: it was a raw ENOENT with no path.
  const stat = (rel: string): fs.Stats => {
    try {
      return fs.statSync(path.join(dir, rel));
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      let target = '';
      try {
        target = fs.readlinkSync(path.join(dir, rel));
      } catch {
        // not a link: the error below names the code
      }
      throw dataError(path.join(shown, rel), target ? `a symbolic link to '${target}', which ${code === 'ENOENT' ? 'does not exist' : 'cannot be followed'} (${code}): restore the file or remove the link` : `cannot be read (${code})`, { code });
    }
  };
  const folders = fs
    .readdirSync(dir)
    // Every '_' folder was skipped: `train` on a keyword corpus lost its _unknown_ and _silence_
    // classes without a word ("classify needs at least 2 classes, found 1 (yes)" with two folders).
    .filter((n) => n !== BACKGROUND_NOISE && !n.startsWith('.') && stat(n).isDirectory());
  // Clips as edgernn eval finds them: not hidden files (macOS leaves `._clip.wav` resource forks
  // beside copied clips: "not a WAV file" stopped training) nor a folder named x.wav (a bare EISDIR).
  const clipFiles = (folder: string): string[] =>
    fs
      .readdirSync(path.join(dir, folder))
      .filter((n) => n.toLowerCase().endsWith('.wav') && !n.startsWith('.') && stat(path.join(folder, n)).isFile()) // symlinked clips count
      .sort();
  const found = folders.filter((f) => clipFiles(f).length > 0);
  if (found.length === 0) throw dataError(shown, 'no <label>/<clip>.wav files (Speech Commands layout)');
  const labels = opts.labels ? [...opts.labels] : sortLabels(found, shown);
  const index = new Map(labels.map((l, i) => [l, i]));
  const hash = createHash('sha256');
  const samples: Sample[] = [];
  const frontend = new AudioFrontend(spec);
  const sizeUnknown: string[] = [];
  for (const label of [...found].sort()) {
    const y = index.get(label);
    const files = clipFiles(label);
    if (y === undefined) throw dataError(path.join(shown, label), `unknown label '${label}': the model knows ${labels.join(', ')}`);
    for (const name of files) {
      const rel = `${label}/${name}`;
      const where = path.join(shown, rel);
      const bytes = new Uint8Array(fs.readFileSync(path.join(dir, rel)));
      if (bytes.length === 0) throw dataError(where, 'empty file');
      hash.update(rel);
      hash.update(bytes);
      let audio: Float32Array;
      try {
        const { info, samples: s } = readWavMono(bytes, { source: where });
        if (info.sampleRateHz !== spec.sampleRateHz) throw dataError(where, `sample rate ${info.sampleRateHz} Hz, the front end expects ${spec.sampleRateHz} Hz`);
        // Padding made an empty clip a second of silence under its label (eval refuses it).
        if (info.frames === 0) throw dataError(where, 'no samples (an empty data chunk): expected a recording');
        if (info.sizeUnknown) sizeUnknown.push(rel);
        audio = s;
      } catch (e) {
        // The reader's message already starts with the clip's path: once is enough.
        if (isEdgeRnnError(e) && e.code !== 'BAD_DATA') throw dataError(where, e.message.startsWith(`${where}: `) ? e.message.slice(where.length + 2) : e.message, { ...e.details });
        throw e;
      }
      const clip = new Float32Array(clipSamples);
      clip.set(audio.subarray(0, clipSamples));
      frontend.reset();
      const f = frontend.batch(clip);
      const T = f.count * f.framesPerOutput;
      if (T === 0) throw dataError(where, 'too short for one feature frame');
      samples.push({ x: f.data.slice(0, T * f.featureSize), T, y, where });
    }
  }
  return {
    source: shown,
    sha256: hash.digest('hex'),
    features: frontend.featureSize,
    labels,
    targetSize: 0,
    samples,
    frontend: { ...spec },
    ...(frontend.frameRateHz !== undefined ? { rateHz: frontend.frameRateHz } : {}),
    ...(sizeUnknown.length ? { notes: [`${sizeUnknown.length} clip${sizeUnknown.length === 1 ? '' : 's'} of ${shown} (${sizeUnknown.slice(0, 3).join(', ')}${sizeUnknown.length > 3 ? ', ...' : ''}) give no data size in the WAV header (written into a pipe, or the recorder stopped before it wrote the sizes): read to the end of the file`] } : {}),
  };
}
