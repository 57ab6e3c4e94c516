/**
 * `edgernn gateway` as users call it with a config file, or almost:
 * - `edgernn gateway model.ern` (the model as a positional argument) was "unexpected argument"
 *   without saying it goes after --model (or --config for a .json);
 * - a config route that names no output watches the model's first label not starting with '_'
 *   (test/gateway/config-file.test.ts), and the start-up says which, as the quick start does.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runtimeCommands } from '../../src/cli/commands/index.js';
import { encodeModel } from '../../src/index.js';
import { waitFor } from '../gateway/fixtures.js';
import { clipsClassifier } from '../helpers/classifier.js';
import { runCaptured } from '../helpers/cli.js';

const ROOT = path.resolve(import.meta.dirname, '../..');

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'edgernn-gw-config-file-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('a positional argument names the flag it belongs to', () => {
  it.each([
    ['model.ern', /unexpected argument 'model\.ern': give it as --model model\.ern$/],
    ['gw.JSON', /unexpected argument 'gw\.JSON': give it as --config gw\.JSON$/],
    ['gw.yaml', /unexpected argument 'gw\.yaml': give it as --config gw\.yaml$/],
    ['start', /unexpected argument 'start' \(a model goes after --model, a config file after --config\)$/],
    ['m.onnx', /unexpected argument 'm\.onnx': the gateway runs \.ern models: convert it first \(edgernn convert m\.onnx -o m\.ern\), then --model m\.ern$/],
  ])('%s', async (arg, message) => {
    const r = await runCaptured(['gateway', arg, '--print-config'], runtimeCommands, tmp);
    expect(r.code).toBe(2);
    expect(r.out).toBe('');
    expect(r.err.split('\n')[0]).toMatch(message);
  });
});

it('--model with an ONNX file says to convert it (it was ERN_BAD_MAGIC: not an .ern file)', async () => {
  // The start of an ONNX ModelProto (ir_version 7, producer "pytorch"): the name decides, not the bytes.
  fs.writeFileSync(path.join(tmp, 'net.onnx'), Uint8Array.from([0x08, 0x07, 0x12, 0x07, 0x70, 0x79, 0x74, 0x6f, 0x72, 0x63, 0x68]));
  const r = await runCaptured(['gateway', '--model', 'net.onnx', '--print-config'], runtimeCommands, tmp);
  expect(r.code).toBe(2);
  expect(r.err.split('\n')[0]).toBe('edgernn gateway: --model takes an .ern model: the gateway runs .ern models: convert it first (edgernn convert net.onnx -o net.ern), then --model net.ern');
});

describe('a config route that names no output', () => {
  const spec = clipsClassifier();
  fs.writeFileSync(path.join(tmp, 'clips.ern'), encodeModel(spec));
  fs.writeFileSync(path.join(tmp, 'gw.json'), JSON.stringify({ models: { clips: 'clips.ern' }, routes: [{ sensor: 'mic', model: 'clips' }, { sensor: 'mic2', model: 'clips', detector: { kind: 'threshold', on: 0.7, output: 'low' } }], stateDir: '', metrics: { intervalMs: 0 }, log: { level: 'silent' } }));

  it('--print-config shows the output watched', async () => {
    const r = await runCaptured(['gateway', '--config', 'gw.json', '--print-config'], runtimeCommands, tmp);
    expect(r.code, r.err).toBe(0);
    const routes = JSON.parse(r.out).routes;
    expect(routes[0].detector).toMatchObject({ kind: 'threshold', output: 'high', on: 0.5 });
    expect(routes[1].detector).toMatchObject({ output: 'low' });
  });

  it('the start-up says which output it watches, for the route that did not name one', { timeout: 30_000 }, async () => {
    // The built command in a child process, stopped by a real SIGINT (emitting one in this worker
    // would reach the test runner's own listeners too).
    const child = spawn(process.execPath, [path.join(ROOT, 'dist/cli.js'), 'gateway', '--config', 'gw.json'], { cwd: tmp, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      await waitFor(() => out.includes('embedded broker listening') || child.exitCode !== null, 'the gateway to start', 20_000);
      expect(out.split('\n')[1]).toBe("edgernn gateway gw: routes[0] alerts when output 1 (high) >= 0.5 on sensor 'mic' (routes[0].detector.output picks another)");
      expect(out).not.toMatch(/routes\[1\]/);
    } finally {
      child.kill('SIGINT');
      expect(await exited).toBe(0);
    }
  });
});
