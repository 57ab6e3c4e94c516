/**
 * `edgernn gateway --model FILE` (the quick start without a config file): a model file that is
 * not there is named as the flag gave it, before anything starts; it was found only when the
 * gateway loaded it ("models.model.path: cannot read ..."), and --print-config printed a config
 * whose model did not exist (exit 0).
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runtimeCommands } from '../../src/cli/commands/index.js';
import { encodeModel } from '../../src/index.js';
import { waitFor } from '../gateway/fixtures.js';
import { clipsClassifier, tinyForecaster } from '../helpers/classifier.js';
import { runCaptured } from '../helpers/cli.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'edgernn-gw-quick-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

it('a missing --model file: exit 1 naming the file, also with --print-config', async () => {
  for (const extra of [['--print-config'], ['--print-config', '--sensor', 'imu']]) {
    const r = await runCaptured(['gateway', '--model', 'no-such.ern', ...extra], runtimeCommands, tmp);
    expect(r.code, r.err).toBe(1);
    expect(r.out).toBe('');
    expect(r.err).toMatch(/no such file: no-such\.ern/);
    expect(r.err).not.toMatch(/models\.model/);
  }
  // A model that is there still prints its config.
  fs.copyFileSync(path.resolve(import.meta.dirname, '../../models/anomaly.ern'), path.join(tmp, 'a.ern'));
  const ok = await runCaptured(['gateway', '--model', 'a.ern', '--print-config'], runtimeCommands, tmp);
  expect(ok.code, ok.err).toBe(0);
  expect(JSON.parse(ok.out).models.model.path).toBe(path.join(tmp, 'a.ern'));
});

/**
 * `--threshold X` watched output 0: for a classifier trained on a WAV folder that is `_silence_`
 * (labels sorted), so the quick start alerted on silence. It now watches the first label not
 * starting with '_' (the background convention of keyword models), --output picks another, and the
 * start-up line says which.
 */
describe('the quick start on a classifier: which output --threshold watches', () => {
  const spec = clipsClassifier();
  fs.writeFileSync(path.join(tmp, 'clips.ern'), encodeModel(spec));
  const quick = (...extra: string[]) => runCaptured(['gateway', '--model', 'clips.ern', '--threshold', '0.7', '--print-config', ...extra], runtimeCommands, tmp);

  it('watches the first label that is not background, not _silence_', async () => {
    const r = await quick();
    expect(r.code, r.err).toBe(0);
    expect(JSON.parse(r.out).routes[0].detector).toMatchObject({ kind: 'threshold', output: 'high', on: 0.7 });
  });

  it('--output picks the output by label or index', async () => {
    for (const [flag, want] of [['low', 'low'], ['0', '_silence_'], ['2', 'low']] as const) {
      const r = await quick('--output', flag);
      expect(r.code, r.err).toBe(0);
      expect(JSON.parse(r.out).routes[0].detector.output, flag).toBe(want);
    }
  });

  it('an --output the model does not have is a usage error naming its labels', async () => {
    for (const flag of ['loud', '3', '1.5', '']) {
      const r = await quick('--output', flag);
      expect(r.code, flag).toBe(2);
      expect(r.err).toMatch(/--output must be a label of model 'clips' \(_silence_, high, low\) or an output index in \[0, 2\], got "/);
    }
    // Without --model there is no quick-start route for it.
    fs.writeFileSync(path.join(tmp, 'gw.json'), '{}');
    const r = await runCaptured(['gateway', '--config', 'gw.json', '--output', 'high'], runtimeCommands, tmp);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/--output go with --model/);
  });
});

/**
 * `--model` on a model whose outputs are predictions (task anomaly, forecast, autoencoder) built a
 * threshold on output 0: the gateway compared the forecaster's predicted value with 0.5, silently
 * (a config route without a detector is refused for these models). An anomaly model now gets the
 * anomaly detector (its settings from the manifest); --threshold/--output, and a forecaster or an
 * autoencoder (whose error threshold has no default), are refused naming the detector to use.
 */
describe('the quick start on a model whose outputs are predictions', () => {
  fs.copyFileSync(path.resolve(import.meta.dirname, '../../models/anomaly.ern'), path.join(tmp, 'anomaly.ern'));

  it('an anomaly model gets the anomaly detector', async () => {
    const r = await runCaptured(['gateway', '--model', 'anomaly.ern', '--print-config'], runtimeCommands, tmp);
    expect(r.code, r.err).toBe(0);
    expect(JSON.parse(r.out).routes[0].detector).toEqual({ kind: 'anomaly' });
  });

  it('the start-up says the anomaly detector watches', { timeout: 30_000 }, async () => {
    // The built command in a child process, stopped by a real SIGINT (as in gateway-config-file.test.ts).
    const child = spawn(process.execPath, [path.resolve(import.meta.dirname, '../../dist/cli.js'), 'gateway', '--model', 'anomaly.ern', '--sensor', 'level', '--state-dir', '', '--log-level', 'silent'], { cwd: tmp, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      await waitFor(() => out.split('\n').length > 2 || child.exitCode !== null, 'the gateway to start', 20_000);
      expect(out.split('\n')[1]).toBe("edgernn gateway gw: alerts from the anomaly detector (settings from model 'anomaly-gru-forecaster') on sensor 'level'");
    } finally {
      child.kill('SIGINT');
      expect(await exited).toBe(0);
    }
  });

  it('--threshold or --output on it, and a forecaster, are usage errors naming the detector to use', async () => {
    for (const extra of [['--threshold', '0.7'], ['--output', '0']]) {
      const r = await runCaptured(['gateway', '--model', 'anomaly.ern', '--print-config', ...extra], runtimeCommands, tmp);
      expect(r.code, extra.join(' ')).toBe(2);
      expect(r.err).toMatch(/task anomaly: its outputs are predictions, not scores.*\{"kind": "anomaly"\}/);
    }
    const spec = tinyForecaster('fc', 2);
    fs.writeFileSync(path.join(tmp, 'fc.ern'), encodeModel(spec));
    const r = await runCaptured(['gateway', '--model', 'fc.ern', '--print-config'], runtimeCommands, tmp);
    expect(r.code, r.err).toBe(2);
    expect(r.err).toMatch(/task forecast: its outputs are predictions, not scores.*"score": "forecastError"/);
  });
});
