/**
 * `quantize` and `prune` read a WAV folder through the model's own audio front end, as `eval`
 * does: they read it with the trainer's default MFCC, so a model of another front end was
 * calibrated (and scored, fine-tuned) on features it never takes, without a word.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { decodeModel, encodeWav, validateAudioSpec } from '../../src/index.js';
import { desktopCommands } from '../../quantize/cli/index.js';
import { loadDataset } from '../../quantize/data/load.js';
import { calibrateAndQuantize } from '../../quantize/quant/calibrate.js';
import { runCaptured } from '../helpers/cli.js';
import { withManifest } from '../helpers/ern.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'edgernn-model-frontend-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const tone = (hz: number, n: number): Float32Array => Float32Array.from({ length: n }, (_, i) => 0.3 * Math.sin((2 * Math.PI * hz * i) / 16000) * (1 + 0.5 * Math.sin(i / 900)));

it("quantize calibrates on the model's own front end (a log-mel model was calibrated on MFCCs)", async () => {
  const root = path.join(dir, 'clips');
  for (const [label, hz] of [['no', 300], ['yes', 800]] as const) {
    fs.mkdirSync(path.join(root, label), { recursive: true });
    for (let k = 0; k < 3; k++) fs.writeFileSync(path.join(root, label, `${k}.wav`), encodeWav(tone(hz + 40 * k, 8000), 16000));
  }
  const cli = (...argv: string[]) => runCaptured(argv, desktopCommands, dir);
  const t = await cli('train', '--data', 'clips', '--hidden', '4', '--epochs', '1', '--created-at', '2026-01-01T00:00:00Z', '-o', 'mfcc.ern');
  expect(t.code, t.err).toBe(0);
  // The same weights behind a 13-band log-mel front end: 13 features per frame, as the MFCCs.
  fs.writeFileSync(
    path.join(dir, 'logmel.ern'),
    withManifest(new Uint8Array(fs.readFileSync(path.join(dir, 'mfcc.ern'))), (m) => {
      const { nMfcc: _, ...fe } = m.input.frontend;
      m.input.frontend = { ...fe, kind: 'logmel', nMels: 13 };
    }),
  );
  const q = await cli('quantize', 'logmel.ern', '--calib', 'clips', '--created-at', '2026-01-01T00:00:00Z', '-o', 'q.ern');
  expect(q.code, q.err).toBe(0);
  const spec = decodeModel(new Uint8Array(fs.readFileSync(path.join(dir, 'logmel.ern')))).spec;
  const ds = await loadDataset(root, { task: 'classify', labels: spec.labels, wav: { frontendSpec: validateAudioSpec(spec.input.frontend) } });
  const expected = calibrateAndQuantize(spec, ds.samples, { method: 'mse' });
  const got = decodeModel(new Uint8Array(fs.readFileSync(path.join(dir, 'q.ern')))).spec;
  expect(Array.from(got.inputScale!)).toEqual(Array.from(expected.inputScale!));
});

it('eval of a model with an imu or audio front end on frames (CSV, JSON Lines) says they are read as the front end output, not samples', async () => {
  const ROOT = path.resolve(import.meta.dirname, '../..');
  const rows = ['ax,ay,az,activity', ...Array.from({ length: 130 }, (_, i) => `${(0.1 * Math.sin(i)).toFixed(3)},9.81,0.2,walk`)];
  fs.writeFileSync(path.join(dir, 'acc.csv'), `${rows.join('\n')}\n`);
  const r = await runCaptured(['eval', path.join(ROOT, 'models/har.ern'), '--data', 'acc.csv', '--label-column', 'activity', '--json'], desktopCommands, dir);
  expect(r.code, r.err).toBe(0);
  expect(r.err).toContain("har.ern is 'imu': acc.csv is read as that front end's output, 3 values per frame, not as sensor samples; recordings are scored through it on an HMP dataset root");
  const line = JSON.stringify({ x: Array.from({ length: 5 }, () => Array.from({ length: 13 }, () => 0)), y: 'yes' });
  fs.writeFileSync(path.join(dir, 'mfcc.jsonl'), `${line}\n`);
  const k = await runCaptured(['eval', path.join(ROOT, 'models/kws.ern'), '--data', 'mfcc.jsonl'], desktopCommands, dir);
  expect(k.code, k.err).toBe(0);
  expect(k.err).toContain("kws.ern is 'mfcc': mfcc.jsonl is read as that front end's output, 13 values per frame, not as audio");
  // A model without a front end (or one eval runs its data through) gets no note.
  const a = await runCaptured(['eval', path.join(ROOT, 'models/anomaly.ern'), '--data', 'acc.csv', '--columns', 'ax'], desktopCommands, dir);
  expect(a.code, a.err).toBe(0);
  expect(a.err).not.toContain('note:');
});
