/**
 * A classifier trained on windows of a CSV (each --seq-len rows from a reset state) is served the
 * same way: `edgernn train` writes the windows into input.frontend, and the gateway's `none` front
 * end cuts them. It was served as one never-reset session, one output per row.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { desktopCommands } from '../../quantize/cli/index.js';
import { createRuntime, decodeModel } from '../../src/index.js';
import { encodeJson } from '../../src/gateway/codecs.js';
import { parseGatewayConfig } from '../../src/gateway/config.js';
import { replayTrace, type TraceRecord } from '../../src/gateway/trace.js';
import { runCaptured } from '../helpers/cli.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'edgernn-csv-windows-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

it('train --task classify on a CSV writes input.frontend.windows (--seq-len frames every --stride); forecast does not', async () => {
  const rows = ['a,b,state'];
  for (let i = 0; i < 240; i++) {
    const c = Math.floor(i / 40) % 2;
    rows.push(`${(c ? Math.sin(i / 2) : 0.01 * Math.cos(i)).toFixed(4)},${(0.3 * c).toFixed(2)},${c ? 'on' : 'off'}`);
  }
  fs.writeFileSync(path.join(dir, 's.csv'), `${rows.join('\n')}\n`);
  const cli = (...argv: string[]) => runCaptured(argv, desktopCommands, dir);
  const common = ['--data', 's.csv', '--seq-len', '20', '--hidden', '4', '--epochs', '1', '--created-at', '2026-01-01T00:00:00Z'];
  const c = await cli('train', ...common, '--label-column', 'state', '-o', 'c.ern');
  expect(c.code, c.err).toBe(0);
  expect(decodeModel(fs.readFileSync(path.join(dir, 'c.ern'))).spec.input.frontend).toEqual({ kind: 'none', windows: { frames: 20, hop: 10 } });
  const s = await cli('train', ...common, '--label-column', 'state', '--stride', '3', '-o', 's.ern');
  expect(s.code, s.err).toBe(0);
  expect(decodeModel(fs.readFileSync(path.join(dir, 's.ern'))).spec.input.frontend).toEqual({ kind: 'none', windows: { frames: 20, hop: 3 } });
  const n = await cli('train', ...common, '--label-column', 'state', '--serve', 'session', '-o', 'n.ern');
  expect(n.code, n.err).toBe(0);
  expect(decodeModel(fs.readFileSync(path.join(dir, 'n.ern'))).spec.input.frontend).toEqual({ kind: 'none' });
  const f = await cli('train', ...common, '--task', 'forecast', '--columns', 'a,b', '-o', 'f.ern');
  expect(f.code, f.err).toBe(0);
  expect(decodeModel(fs.readFileSync(path.join(dir, 'f.ern'))).spec.input.frontend).toEqual({ kind: 'none' });
  // Nothing to serve in windows: a usage error (exit 2), not a flag read and ignored.
  const bad = await cli('train', ...common, '--task', 'forecast', '--serve', 'session', '-o', 'g.ern');
  expect(bad.code).toBe(2);
  expect(bad.err).toMatch(/--serve applies to --task classify on CSV data/);
});

it('the gateway serves the trained classifier as trained: its scores are those of each window run from a reset state', async () => {
  // Regimes of 30-70 rows: x drifts up (+0.5) or down (-0.5) in noise.
  let seed = 3;
  const rnd = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
  const rows = ['x,state'];
  const xs: number[] = [];
  while (xs.length < 600) {
    const up = rnd() < 0.5;
    for (let i = 30 + Math.floor(rnd() * 40); i > 0; i--) {
      const x = Number(((up ? 0.5 : -0.5) + 2 * (rnd() - 0.5)).toFixed(3));
      xs.push(x);
      rows.push(`${x},${up ? 'up' : 'down'}`);
    }
  }
  fs.writeFileSync(path.join(dir, 'r.csv'), `${rows.join('\n')}\n`);
  const t = await runCaptured(['train', '--data', 'r.csv', '--label-column', 'state', '--seq-len', '16', '--hidden', '6', '--epochs', '6', '-o', 'r.ern', '--created-at', '2026-01-01T00:00:00Z'], desktopCommands, dir);
  expect(t.code, t.err).toBe(0);
  const bytes = fs.readFileSync(path.join(dir, 'r.ern'));
  const model = await (await createRuntime()).load(bytes);
  const up = model.spec.labels.indexOf('up');
  // Oracle: window w = rows [8w, 8w + 16), stepped from a reset state; its score is the last output.
  const oracle: number[] = [];
  const s = model.session();
  for (let end = 16; end <= xs.length; end += 8) {
    s.reset();
    let out: Float32Array = new Float32Array(0);
    for (let k = end - 16; k < end; k++) out = s.step([xs[k]!]);
    oracle.push(out[up]!);
  }
  const config = parseGatewayConfig({ site: 'lab', models: { r: 'r.ern' }, routes: [{ sensor: 'x', model: 'r', codec: 'json', detector: { kind: 'threshold', output: 'up', on: 0.5, off: 0.5 } }], stateDir: '' });
  const T0 = 1_714_560_000_000;
  const records: TraceRecord[] = [];
  for (let m = 0; m * 20 < xs.length; m++) records.push({ t: T0 + m * 200, topic: 'edgernn/lab/dev1/x', qos: 1, payload: encodeJson(Float32Array.from(xs.slice(m * 20, m * 20 + 20)), 1, { seq: m, tsMs: T0 + m * 200, rateHz: 100 }) });
  const r = await replayTrace({ config, records, speed: 'max', gateway: { models: { r: model } } });
  // One alert per rise of the windows' score through 0.5, at the window that crossed, with its score.
  const expected = oracle.flatMap((v, w) => (v >= 0.5 && !(w > 0 && oracle[w - 1]! >= 0.5) ? [v] : []));
  expect(expected.length).toBeGreaterThan(2);
  // (Alert scores are rounded to float32 precision.)
  expect(r.alerts.map((a) => Number(a.score.toPrecision(6)))).toEqual(expected.map((v) => Number(v.toPrecision(6))));
});
