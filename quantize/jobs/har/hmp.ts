/**
 * Node-only: the HMP wrist-accelerometer dataset (Bruno et al. 2014, "Dataset for ADL
 * Recognition with Wrist-worn Accelerometer", UCI). One folder per activity, one text file per
 * recording, `Accelerometer-YYYY-MM-DD-HH-MM-SS-<activity>-<volunteer>.txt`, one line per sample
 * at 32 Hz with three 6-bit codes x y z (0..63 for -1.5..+1.5 g: g = -1.5 + code/63·3, see
 * HMP_ACCEL_DECODE in src/features/imu.ts). The volunteer id (f1..f5, m1..m11) is in the name.
 *
 * Licence: research use, no redistribution. Nothing here copies the data: it is read from a path
 * (default: the shared copy beside the repository) and only statistics and trained weights leave.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { EdgeRnnError } from '../../../src/index.js';

/** Sample rate of every HMP recording, Hz (MANUAL.txt §3). */
export const HMP_RATE_HZ = 32;
/** Axes per sample, in file order (x toward the hand, y to the left, z out of the back of the hand). */
export const HMP_AXES = ['ax', 'ay', 'az'] as const;
/** Largest code of the 6-bit converter. */
export const HMP_MAX_CODE = 63;

/** Where the dataset can be obtained (it may not be redistributed, so the repository never holds it). */
export const HMP_SOURCE =
  'UCI "Dataset for ADL Recognition with Wrist-worn Accelerometer" (Bruno, Mastrogiovanni, Sgorbissa 2014): https://archive.ics.uci.edu/dataset/283 (mirror: github.com/wchill/HMP_Dataset)';

/**
 * The repository: the nearest folder above this module whose package.json names edgernn. The
 * module runs from quantize/jobs/har/ (tsx) and bundled into dist/cli.js, so a fixed number of
 * '..' would point outside the repository from one of them.
 */
export function repoRoot(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  for (let dir = here; ; ) {
    try {
      if ((JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name?: unknown }).name === 'edgernn') return dir;
    } catch {
      // no package.json here (or not JSON): look further up
    }
    const up = path.dirname(dir);
    if (up === dir) return path.resolve(here, '../../..');
    dir = up;
  }
}

/** The shared copy beside the repository: <repo>/../shared/datasets/har/hmp. */
export function defaultHmpRoot(): string {
  return path.resolve(repoRoot(), '../shared/datasets/har/hmp');
}

export interface HmpRecording {
  /** Activity folder name, lower case (e.g. 'climb_stairs'). */
  activity: string;
  /** Volunteer id from the file name (e.g. 'f1', 'm10'). */
  volunteer: string;
  /** Path relative to the dataset root ('Walk/Accelerometer-...-walk-f1.txt'). */
  file: string;
  /** Start time from the file name, 'YYYY-MM-DD-HH-MM-SS'. */
  startTime: string;
  /** Raw codes, interleaved [n][x, y, z], 0..63. */
  codes: Uint8Array;
  /** Samples (codes.length / 3). */
  samples: number;
}

export interface HmpDataset {
  root: string;
  recordings: HmpRecording[];
  /** sha256 over every file read: relative path, a NUL, the bytes, in sorted path order. */
  sha256: string;
}

export interface LoadHmpOptions {
  /** Only these activities (lower-case folder names); default: every activity folder. */
  activities?: readonly string[];
  /** Only these volunteers; default: all. */
  volunteers?: readonly string[];
  /** At most this many files per activity (sorted by name), for quick tests; default all. */
  maxPerActivity?: number;
}

const NAME = /^Accelerometer-(\d{4}-\d\d-\d\d-\d\d-\d\d-\d\d)-([a-z_]+)-([fm]\d+)\.txt$/;

/** Resolves the dataset root: the given path, else the shared copy; an error says where to get it. */
export function resolveHmpRoot(root?: string): string {
  const dir = path.resolve(root ?? defaultHmpRoot());
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) {
    throw new EdgeRnnError(
      'DATASET_MISSING',
      `HMP dataset not found at ${dir}${root === undefined ? ' (the default shared copy)' : ''}: download ${HMP_SOURCE}, unpack it and pass its folder (the one holding Walk/, Climb_stairs/, ...) with --data`,
      { path: dir },
    );
  }
  return dir;
}

/** Parses one recording's text; every bad line is a BAD_DATA error naming file:line. */
export function parseHmpText(text: string, where: string): Uint8Array {
  // A byte-order mark (a file saved by Notepad), read as latin1 or as UTF-8: its first code was
  // refused as 'ï»¿22' (the example, which reads UTF-8 and trims, took the file).
  const lines = text.replace(/^(\u00ef\u00bb\u00bf|\ufeff)/, '').split('\n');
  const out: number[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '') continue;
    const parts = line.split(/\s+/);
    if (parts.length !== 3) throw new EdgeRnnError('BAD_DATA', `${where}:${i + 1}: expected 3 codes (x y z), got ${parts.length} ('${line.slice(0, 40)}')`, { where: `${where}:${i + 1}`, expected: 3, got: parts.length });
    for (const p of parts) {
      const v = /^\d+$/.test(p) ? Number(p) : NaN;
      if (!(v >= 0 && v <= HMP_MAX_CODE)) throw new EdgeRnnError('BAD_DATA', `${where}:${i + 1}: '${p}' is not a code in 0..${HMP_MAX_CODE}`, { where: `${where}:${i + 1}`, got: p });
      out.push(v);
    }
  }
  if (out.length === 0) throw new EdgeRnnError('BAD_DATA', `${where}: no samples`, { where });
  return Uint8Array.from(out);
}

/** Reads the recordings under `root` (sorted by activity, then file name). */
export function loadHmp(root?: string, opts: LoadHmpOptions = {}): HmpDataset {
  const dir = resolveHmpRoot(root);
  const folders = fs
    .readdirSync(dir)
    .filter((d) => fs.statSync(path.join(dir, d)).isDirectory())
    .sort();
  const byName = new Map(folders.map((f) => [f.toLowerCase(), f]));
  const wanted = opts.activities ?? folders.map((f) => f.toLowerCase());
  for (const a of wanted) {
    if (!byName.has(a)) throw new EdgeRnnError('BAD_DATA', `${dir}: no folder for activity '${a}' (found ${folders.join(', ')})`, { activity: a });
    // Folder names are matched without case: of 'Walk' and 'walk' one was read, the other's
    // recordings left out silently (on a case-sensitive file system both can exist).
    const same = folders.filter((f) => f.toLowerCase() === a);
    if (same.length > 1) throw new EdgeRnnError('BAD_DATA', `${dir}: folders ${same.map((f) => `'${f}'`).join(' and ')} both hold activity '${a}': merge them into one`, { activity: a });
  }
  const hash = createHash('sha256');
  const recordings: HmpRecording[] = [];
  for (const activity of [...wanted].sort()) {
    const folder = byName.get(activity)!;
    let files = fs
      .readdirSync(path.join(dir, folder))
      .filter((f) => f.endsWith('.txt'))
      .sort();
    if (opts.maxPerActivity !== undefined) files = files.slice(0, opts.maxPerActivity);
    for (const f of files) {
      const rel = `${folder}/${f}`;
      const m = NAME.exec(f);
      if (!m) throw new EdgeRnnError('BAD_DATA', `${rel}: file name does not follow Accelerometer-<YYYY-MM-DD-HH-MM-SS>-<activity>-<volunteer>.txt`, { where: rel });
      if (m[2] !== activity) throw new EdgeRnnError('BAD_DATA', `${rel}: file names activity '${m[2]}' inside folder '${folder}'`, { where: rel });
      const volunteer = m[3]!;
      if (opts.volunteers && !opts.volunteers.includes(volunteer)) continue;
      const bytes = fs.readFileSync(path.join(dir, rel));
      hash.update(rel);
      hash.update('\0');
      hash.update(bytes);
      const codes = parseHmpText(bytes.toString('latin1'), rel);
      recordings.push({ activity, volunteer, file: rel, startTime: m[1]!, codes, samples: codes.length / 3 });
    }
  }
  if (recordings.length === 0) {
    const what = opts.volunteers ? ` of volunteers ${opts.volunteers.join(', ')}` : '';
    throw new EdgeRnnError('DATASET_MISSING', `${dir}: no HMP recordings${what} (expected activity folders such as Walk/ holding Accelerometer-<time>-<activity>-<volunteer>.txt files; found ${folders.length ? folders.join(', ') : 'no folders'})`, { path: dir });
  }
  return { root: dir, recordings, sha256: hash.digest('hex') };
}

/** Volunteers sorted f1..f5, m1..m11 (gender, then number). */
export function sortVolunteers(ids: Iterable<string>): string[] {
  return [...new Set(ids)].sort((a, b) => (a[0] === b[0] ? Number(a.slice(1)) - Number(b.slice(1)) : a < b ? -1 : 1));
}

/** Decodes codes to g (HMP_ACCEL_DECODE): g = -1.5 + code/63·3. */
export function codesToG(codes: ArrayLike<number>): Float32Array {
  const out = new Float32Array(codes.length);
  for (let i = 0; i < codes.length; i++) out[i] = -1.5 + (codes[i]! / HMP_MAX_CODE) * 3;
  return out;
}
