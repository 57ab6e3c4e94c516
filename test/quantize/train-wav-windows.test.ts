/**
 * A classifier trained on a WAV folder (each 1 s clip a sequence from a reset state, its label
 * read at the last frame) is served the same way: `edgernn train` writes sliding windows of a
 * clip's frames every 100 ms into input.frontend, and the gateway runs each from a reset state.
 * It was served as one never-reset session over the continuous stream, which it never saw in
 * training.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { desktopCommands } from '../../quantize/cli/index.js';
import { createFrontend, createRuntime, decodeModel, encodeWav, type AudioFrontendSpec } from '../../src/index.js';
import { encodeJson } from '../../src/gateway/codecs.js';
import { parseGatewayConfig } from '../../src/gateway/config.js';
import { replayTrace, type TraceRecord } from '../../src/gateway/trace.js';
import { runCaptured } from '../helpers/cli.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'edgernn-wav-windows-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const tone = (hz: number, n: number, amp = 0.3): Float32Array => Float32Array.from({ length: n }, (_, i) => amp * Math.sin((2 * Math.PI * hz * i) / 16000));

/** `<label>/<clip>.wav`: half-second tones, low (300-420 Hz) and high (2000-2120 Hz), and quiet noise. */
function folder(root: string): void {
  let seed = 5;
  const rnd = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
  for (const [label, hz] of [['low', 300], ['high', 2000], ['_silence_', 0]] as const) {
    fs.mkdirSync(path.join(root, label), { recursive: true });
    for (let k = 0; k < 4; k++) {
      const clip = hz === 0 ? Float32Array.from({ length: 8000 }, () => 0.01 * (rnd() - 0.5)) : tone(hz + 40 * k, 8000);
      fs.writeFileSync(path.join(root, label, `c${k}.wav`), encodeWav(clip, 16000));
    }
  }
}

const common = ['--data', 'clips', '--hidden', '6', '--epochs', '4', '--created-at', '2026-01-01T00:00:00Z'];
const cli = (...argv: string[]) => runCaptured(argv, desktopCommands, dir);
folder(path.join(dir, 'clips'));

it('train on a WAV folder writes input.frontend.windows (a clip: 98 frames of 10 ms, every 100 ms); --serve session does not', async () => {
  const w = await cli('train', ...common, '-o', 'w.ern');
  expect(w.code, w.err).toBe(0);
  const fe = decodeModel(fs.readFileSync(path.join(dir, 'w.ern'))).spec.input.frontend as unknown as AudioFrontendSpec;
  expect([fe.kind, fe.windows]).toEqual(['mfcc', { frames: 98, hop: 10 }]);
  const s = await cli('train', ...common, '--serve', 'session', '-o', 's.ern');
  expect(s.code, s.err).toBe(0);
  expect((decodeModel(fs.readFileSync(path.join(dir, 's.ern'))).spec.input.frontend as { windows?: unknown }).windows).toBeUndefined();
  // Nothing to serve in windows: a usage error (exit 2), not a flag read and ignored.
  const bad = await cli('train', ...common, '--task', 'autoencoder', '--serve', 'session', '-o', 'a.ern');
  expect(bad.code).toBe(2);
  expect(bad.err).toMatch(/--serve applies to --task classify on CSV data .* or a WAV folder/);
});

it('the gateway serves it as trained: its scores are those of the last 98 frames every 10, each run from a reset state', async () => {
  const bytes = fs.readFileSync(path.join(dir, 'w.ern'));
  const model = await (await createRuntime()).load(bytes);
  const high = model.spec.labels.indexOf('high');
  // A stream: silence, a low tone, silence, a high tone, silence (0.5 s each).
  const parts = [new Float32Array(8000), tone(340, 8000), new Float32Array(8000), tone(2040, 8000), new Float32Array(8000), tone(2080, 8000), new Float32Array(8000)];
  const audio = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  parts.reduce((at, p) => (audio.set(p, at), at + p.length), 0);
  // Oracle: the front end's frames in one batch; window w = frames [10w, 10w + 98) from a reset state.
  const spec = { ...(model.spec.input.frontend as unknown as AudioFrontendSpec) };
  delete spec.windows;
  const frames = createFrontend(spec).batch(audio);
  const F = frames.featureSize;
  const oracle: number[] = [];
  const s = model.session();
  for (let end = 98; end <= frames.count; end += 10) {
    s.reset();
    let out: Float32Array = new Float32Array(0);
    for (let t = end - 98; t < end; t++) out = s.step(frames.data.subarray(t * F, (t + 1) * F));
    oracle.push(out[high]!);
  }
  const config = parseGatewayConfig({ site: 'lab', models: { w: 'w.ern' }, routes: [{ sensor: 'mic', model: 'w', codec: 'json', detector: { kind: 'threshold', output: 'high', on: 0.5, off: 0.5 } }], stateDir: '' });
  const T0 = 1_714_560_000_000;
  const records: TraceRecord[] = [];
  for (let m = 0; m * 1600 < audio.length; m++) records.push({ t: T0 + m * 100, topic: 'edgernn/lab/dev1/mic', qos: 1, payload: encodeJson(audio.slice(m * 1600, (m + 1) * 1600), 1, { seq: m, tsMs: T0 + m * 100, rateHz: 16000 }) });
  const r = await replayTrace({ config, records, speed: 'max', gateway: { models: { w: model } } });
  // One alert per rise of the windows' score through 0.5, with its score.
  const expected = oracle.flatMap((v, w) => (v >= 0.5 && !(w > 0 && oracle[w - 1]! >= 0.5) ? [v] : []));
  expect(expected.length).toBeGreaterThan(0);
  expect(r.alerts.map((a) => Number(a.score.toPrecision(5)))).toEqual(expected.map((v) => Number(v.toPrecision(5))));
});
