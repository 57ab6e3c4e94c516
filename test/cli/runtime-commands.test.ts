/**
 * The gateway-side commands: info, run, bench, demo, and the framework's conventions (--help,
 * usage errors exit 2, failures exit 1 with the error code, --json). Most run in-process through
 * runCli; one spawns the built executable to prove the real binary and its exit codes.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runtimeCommands } from '../../src/cli/commands/index.js';
import { createRuntime, decodeModel, encodeModel } from '../../src/index.js';
import { readNpy, writeNpy } from '../../src/io/npy.js';
import { randomQuantModel, randomSequences } from '../helpers/random-model.js';
import { runCaptured } from '../helpers/cli.js';
import { fileErrorText } from '../../src/cli/framework.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'edgernn-cli-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function cli(...argv: string[]): ReturnType<typeof runCaptured> {
  return runCaptured(argv, runtimeCommands, tmp);
}

let I = 0;
let O = 0;
beforeAll(() => {
  const { int8 } = randomQuantModel(8);
  I = int8.input.size;
  const bytes = encodeModel({ ...int8, name: 'cli-model', labels: [] });
  fs.writeFileSync(path.join(tmp, 'm.ern'), bytes);
  const bad = bytes.slice();
  bad[bad.length - 5] = bad[bad.length - 5]! ^ 1;
  fs.writeFileSync(path.join(tmp, 'corrupt.ern'), bad);
  const seqs = randomSequences(2, I, 2, 6);
  fs.writeFileSync(path.join(tmp, 'one.json'), JSON.stringify(Array.from({ length: 6 }, (_, t) => Array.from(seqs[0]!.subarray(t * I, (t + 1) * I)))));
  const batch = new Float32Array(2 * 6 * I);
  batch.set(seqs[0]!);
  batch.set(seqs[1]!, 6 * I);
  fs.writeFileSync(path.join(tmp, 'batch.npy'), writeNpy(batch, [2, 6, I]));
  fs.writeFileSync(path.join(tmp, 'ragged.json'), JSON.stringify([Array(I).fill(0), Array(I + 1).fill(0)]));
  fs.writeFileSync(path.join(tmp, 'nan.json'), `[[${Array(I).fill('0').join(',').replace(/^0/, 'null')}]]`);
});

describe('framework conventions', () => {
  it('--help lists every command and exits 0; no command prints usage and exits 2', async () => {
    const h = await cli('--help');
    expect(h.code).toBe(0);
    for (const c of ['info', 'run', 'bench', 'demo']) expect(h.out).toContain(c);
    const none = await cli();
    expect(none.code).toBe(2);
    expect(none.err).toContain('usage: edgernn <command>');
  });

  it('unknown commands and flags are usage errors (exit 2) that say what is wrong', async () => {
    const u = await cli('rnu');
    expect(u.code).toBe(2);
    expect(u.err).toMatch(/unknown command 'rnu'.*run/s);
    const f = await cli('info', 'm.ern', '--jsno');
    expect(f.code).toBe(2);
    expect(f.err).toMatch(/--jsno/);
    expect(f.err).toContain('usage: edgernn info');
  });

  it('every command has --help (exit 0)', async () => {
    for (const c of runtimeCommands) {
      const r = await cli(c.name, '--help');
      expect(r.code, c.name).toBe(0);
      expect(r.out, c.name).toContain(`usage: edgernn ${c.name}`);
      // Help texts are template literals: an escaped or unfilled placeholder would print as is.
      expect(r.out, c.name).not.toContain('${');
    }
    expect((await cli('bench', '--help')).out).toMatch(/default all: simd, scalar, reference, ort-web, ort-node, matvec-bound, matvec-shape\)/);
  });
});

describe('edgernn info', () => {
  it('prints the manifest and sizes, and --json one parseable object', async () => {
    const t = await cli('info', 'm.ern');
    expect(t.code).toBe(0);
    expect(t.out).toMatch(/cli-model 0\.0\.1/);
    expect(t.out).toMatch(/golden\s+ok on simd/);
    // Training metadata as readable lines, not one JSON blob; --json keeps all of it.
    const har = await cli('info', path.resolve(import.meta.dirname, '../../models/har.ern'));
    expect(har.out).toMatch(/^\s+training\n/m);
    expect(har.out).toMatch(/^\s+metrics\s+leaveSubjectsOut\.int8\.recording\.accuracy 0\.\d+$/m);
    expect(har.out).toMatch(/^\s+front end kind imu, .*channels \[ax, ay, az\]/m);
    expect(har.out).toMatch(/more \(--json for all\)/);
    expect(har.out).not.toContain('{"');
    const j = await cli('info', 'm.ern', '--json');
    const o = JSON.parse(j.out);
    expect(o.manifest.name).toBe('cli-model');
    expect(o.golden.ok).toBe(true);
    expect(o.sizes.stateBytes).toBeGreaterThan(0);
  });

  it('--json carries the format version the text prints (it was missing)', async () => {
    const t = await cli('info', 'm.ern');
    const o = JSON.parse((await cli('info', 'm.ern', '--json')).out);
    expect(o.formatVersion).toMatch(/^\d+\.\d+$/);
    expect(t.out).toContain(`  file      ${o.bytes} bytes, format ${o.formatVersion}\n`);
    expect(t.out).toContain(`  runtime   weights ${o.sizes.weightBytes} B, state ${o.sizes.stateBytes} B per stream\n`);
    expect(t.out).toContain(`  tensors   ${o.tensors.length}, ${o.tensors.reduce((a: number, x: { bytes: number }) => a + x.bytes, 0)} bytes\n`);
  });

  it('says how a model with sliding windows in its front end is served', async () => {
    const kws = path.resolve(import.meta.dirname, '../../models/kws.ern');
    const windowed = new Uint8Array(fs.readFileSync(kws));
    const { spec } = decodeModel(windowed);
    const w = path.join(tmp, 'kws-windows.ern');
    fs.writeFileSync(w, encodeModel({ ...spec, input: { ...spec.input, frontend: { ...spec.input.frontend, windows: { frames: 75, hop: 5 } } } }));
    expect((await cli('info', w)).out).toMatch(/serving\s+sliding windows of 75 frames \(1500 ms\) every 5 \(100 ms\), each from a reset state/);
    // One without windows is served as one session (it said nothing: test/cli/info-serving.test.ts).
    expect((await cli('info', 'm.ern')).out).toMatch(/serving\s+one session per device stream, never reset/);
  });

  it('a corrupt file fails with exit 1 and the error code; a missing file names the path', async () => {
    const c = await cli('info', 'corrupt.ern');
    expect(c.code).toBe(1);
    expect(c.err).toContain('[ERN_CHECKSUM]');
    const m = await cli('info', 'nope.ern');
    expect(m.code).toBe(1);
    expect(m.err).toMatch(/no such file.*nope\.ern/);
  });

  it('an ONNX model given to info is named as one, with the commands that take it', async () => {
    const { exportOnnx } = await import('../../src/onnx/export.js');
    fs.writeFileSync(path.join(tmp, 'given.onnx'), exportOnnx(randomQuantModel(3).float));
    const r = await cli('info', 'given.onnx');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/\[ERN_BAD_MAGIC\]: given\.onnx: not an \.ern file: .*; it is an ONNX model: `edgernn convert given\.onnx -o MODEL\.ern` compiles it, `edgernn run given\.onnx --input FILE` runs it as is/);
  });

  it('file system errors in words, naming the path the user gave, never a stack trace', async () => {
    fs.mkdirSync(path.join(tmp, 'a-folder'), { recursive: true });
    // Node's own error for reading a folder names no path.
    const dir = await cli('info', 'a-folder');
    expect([dir.code, dir.err]).toEqual([1, 'edgernn info: a-folder is a folder, expected a file\n']);
    const input = await cli('run', 'm.ern', '--input', 'a-folder');
    expect(input.err).toBe('edgernn run: a-folder is a folder, expected a file\n');
    const out = await cli('run', 'm.ern', '--input', 'one.json', '--output', 'no-such-folder/out.json');
    expect(out.code).toBe(1);
    expect(out.err).toMatch(/^edgernn run: no such folder: \S*no-such-folder \(for \S*no-such-folder\/out\.json\)\n$/);
    expect(fileErrorText('EACCES', '/x', tmp)).toBe('permission denied: /x');
    expect(fileErrorText('ENOSPC', 'o.ern', tmp)).toBe('no space left on the device for o.ern');
    expect(fileErrorText('EMFILE', 'o.ern', tmp)).toBe('EMFILE: o.ern');
  });
});

describe('edgernn run', () => {
  it('JSON [steps][features] in, outputs for every step out; same on every backend', async () => {
    const outs: number[][][] = [];
    for (const b of ['simd', 'scalar', 'reference']) {
      const r = await cli('run', 'm.ern', '--input', 'one.json', '--backend', b);
      expect(r.code, r.err).toBe(0);
      const o = JSON.parse(r.out);
      expect(o.backend).toBe(b);
      expect(o.outputs).toHaveLength(6);
      outs.push(o.outputs);
    }
    expect(outs[1]).toEqual(outs[0]);
    expect(outs[2]).toEqual(outs[0]);
    O = outs[0]![0]!.length;
    // And what the library computes.
    const rt = await createRuntime();
    const m = await rt.load(new Uint8Array(fs.readFileSync(path.join(tmp, 'm.ern'))));
    const seq = JSON.parse(fs.readFileSync(path.join(tmp, 'one.json'), 'utf8')) as number[][];
    const y = m.session().run(seq);
    expect(outs[0]!.flat()).toEqual(Array.from(y));
  });

  it('.npy [batch][steps][features] gives [batch][steps][outputs], written with --output', async () => {
    const r = await cli('run', 'm.ern', '--input', 'batch.npy', '--output', 'out.json');
    expect(r.code, r.err).toBe(0);
    const o = JSON.parse(fs.readFileSync(path.join(tmp, 'out.json'), 'utf8'));
    expect(o.outputs).toHaveLength(2);
    expect(o.outputs[1]).toHaveLength(6);
    expect(o.outputs[1][5]).toHaveLength(O);
  });

  it('--output FILE.npy writes the outputs as a float32 .npy (it wrote JSON into it, which np.load refuses)', async () => {
    const json = JSON.parse((await cli('run', 'm.ern', '--input', 'batch.npy')).out);
    const r = await cli('run', 'm.ern', '--input', 'batch.npy', '--output', 'out.npy');
    expect(r.code, r.err).toBe(0);
    const a = readNpy(fs.readFileSync(path.join(tmp, 'out.npy')), 'out.npy');
    expect(a.shape).toEqual([2, 6, O]);
    expect(Array.from(a.data)).toEqual(json.outputs.flat(2));
    const one = await cli('run', 'm.ern', '--input', 'one.json', '--output', 'one-out.npy');
    expect(one.code, one.err).toBe(0);
    expect(readNpy(fs.readFileSync(path.join(tmp, 'one-out.npy'))).shape).toEqual([6, O]);
    // A JSON batch of sequences of different lengths has no array shape: refused, nothing written.
    fs.writeFileSync(path.join(tmp, 'ragged-batch.json'), JSON.stringify([[Array(I).fill(0)], [Array(I).fill(0), Array(I).fill(1)]]));
    const ragged = await cli('run', 'm.ern', '--input', 'ragged-batch.json', '--output', 'ragged-out.npy');
    expect(ragged.code).toBe(2);
    expect(ragged.err).toMatch(/--output ragged-out\.npy: a \.npy array needs sequences of one length, the input's have 1, 2 steps/);
    expect(fs.existsSync(path.join(tmp, 'ragged-out.npy'))).toBe(false);
  });

  it('bad input files and bad arguments get the right exit codes and messages', async () => {
    const missing = await cli('run', 'm.ern');
    expect(missing.code).toBe(2);
    expect(missing.err).toMatch(/--input FILE is required/);
    const backend = await cli('run', 'm.ern', '--input', 'one.json', '--backend', 'gpu');
    expect(backend.code).toBe(2);
    expect(backend.err).toMatch(/--backend must be one of/);
    const ragged = await cli('run', 'm.ern', '--input', 'ragged.json');
    expect(ragged.code).toBe(1);
    expect(ragged.err).toMatch(/BAD_INPUT_FILE.*input\[1\] has \d+ values, the model expects \d+/);
    // Sequences without frames: refused in both formats (a .npy of shape [0, F] or [2, 0, F], or a
    // JSON batch holding [], gave empty outputs while a JSON [] was refused).
    fs.writeFileSync(path.join(tmp, 'none.npy'), writeNpy(new Float32Array(0), [0, I]));
    fs.writeFileSync(path.join(tmp, 'none3.npy'), writeNpy(new Float32Array(0), [2, 0, I]));
    fs.writeFileSync(path.join(tmp, 'none.json'), JSON.stringify([[Array(I).fill(0)], []]));
    for (const [f, msg] of [
      ['none.npy', /array of shape \[0,\d+\] holds no frames/],
      ['none3.npy', /array of shape \[2,0,\d+\] holds no frames: expected at least one step in at least one sequence/],
      ['none.json', /input\[1\] holds no frames: every sequence needs at least one step/],
    ] as const) {
      const r = await cli('run', 'm.ern', '--input', f);
      expect(r.code, f).toBe(1);
      expect(r.err).toMatch(msg);
    }
    const nan = await cli('run', 'm.ern', '--input', 'nan.json');
    expect(nan.code).toBe(1);
    expect(nan.err).toMatch(/input\[0\]\[0\] is null, expected a finite number/);
    // Finite in JSON but not as float32: refused where it is in the file, not as a non-finite step.
    fs.writeFileSync(path.join(tmp, 'huge.json'), `[[${['0', '1e39', ...Array(I - 2).fill('0')].join(',')}]]`);
    const huge = await cli('run', 'm.ern', '--input', 'huge.json');
    expect(huge.code).toBe(1);
    expect(huge.err).toMatch(/BAD_INPUT_FILE.*input\[0\]\[1\] is 1e\+39, beyond float32's range/);
    fs.writeFileSync(path.join(tmp, 'overflow.json'), `[[${['1e400', ...Array(I - 1).fill('0')].join(',')}]]`);
    expect((await cli('run', 'm.ern', '--input', 'overflow.json')).err).toMatch(/input\[0\]\[0\] is Infinity, expected a finite number/);
  });
});

describe('edgernn bench and demo', () => {
  it('bench --json prints one object per line with shape, backend, mode, median_us', async () => {
    const r = await cli('bench', '--json', '--quick', '--shapes', 'har-gru', '--rounds', '2', '--round-ms', '0.2', '--cold-runs', '0');
    expect(r.code, r.err).toBe(0);
    const rows = r.out.trim().split('\n').map((l) => JSON.parse(l));
    const timings = rows.filter((o) => o.median_us !== undefined);
    for (const o of timings) {
      expect(Object.keys(o).sort()).toEqual(['backend', 'median_us', 'mode', 'shape']);
      expect(o.median_us).toBeGreaterThan(0);
    }
    const backends = new Set(timings.map((o) => o.backend));
    for (const b of ['simd', 'scalar', 'reference', 'ort-web', 'ort-node', 'matvec-bound', 'matvec-shape']) expect(backends.has(b), b).toBe(true);
    expect(rows.find((o) => o.metric === 'wasm_bytes')).toBeDefined();
    // What the numbers depend on, for comparing runs across machines.
    const machine = rows.find((o) => o.metric === 'machine');
    expect(machine).toMatchObject({ cores: os.cpus().length, node: process.version });
    expect(typeof machine.cpu).toBe('string');
    if (process.arch === 'x64' && process.platform === 'linux') expect(machine.vector).toMatch(/^(AVX-512|AVX2|AVX|SSE4\.1)$/);
  });

  it('bench --backends times only the backends named, prints - for ratios missing one, and refuses unknown names', async () => {
    const r = await cli('bench', '--quick', '--shapes', 'har-gru', '--backends', 'simd,matvec-bound', '--rounds', '2', '--round-ms', '0.2', '--cold-runs', '0');
    expect(r.code, r.err).toBe(0);
    const row = r.out.split('\n').find((l) => l.startsWith('| har-gru |') && l.split('|').length > 12)!;
    const cells = row.split('|').slice(1, -1).map((c) => c.trim());
    // shape, simd, scalar, reference, ort-web, ort-node, bound, shape-bound, ort-web/simd, ort-node/simd, simd/bound, shape/bound
    expect(cells[1]).toMatch(/^\d/);
    expect(cells.slice(2, 6)).toEqual(['-', '-', '-', '-']);
    expect(cells[6]).toMatch(/^\d/);
    expect(cells[10]).toMatch(/^\d.*x$/);
    expect(cells[8]).toBe('-');
    expect(r.out).not.toMatch(/not installed/);
    const json = await cli('bench', '--json', '--quick', '--shapes', 'har-gru', '--backends', 'ort-node', '--rounds', '1', '--round-ms', '0.2', '--cold-runs', '0');
    expect(json.code, json.err).toBe(0);
    const backends = new Set(json.out.trim().split('\n').map((l) => JSON.parse(l)).filter((o) => o.median_us !== undefined).map((o) => o.backend));
    expect([...backends]).toEqual(['ort-node']);
    const bad = await cli('bench', '--backends', 'simd,gpu');
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/unknown backend 'gpu': choose from simd, scalar, reference, ort-web, ort-node, matvec-bound, matvec-shape/);
  });

  it('demo runs, writes its model, and reports identical bits across backends', async () => {
    const r = await cli('demo', '--out', 'demo-out');
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/identical bits/);
    expect(fs.existsSync(path.join(tmp, 'demo-out', 'demo-kws.ern'))).toBe(true);
  });
});

describe('the built executable', () => {
  const bin = path.resolve('dist/cli.js');
  it.skipIf(!fs.existsSync(bin))('dist/cli.js runs as a program with the documented exit codes', () => {
    const ok = spawnSync(process.execPath, [bin, 'info', path.join(tmp, 'm.ern'), '--json'], { encoding: 'utf8' });
    expect(ok.status).toBe(0);
    expect(JSON.parse(ok.stdout).manifest.name).toBe('cli-model');
    expect(spawnSync(process.execPath, [bin, 'run'], { encoding: 'utf8' }).status).toBe(2);
    expect(spawnSync(process.execPath, [bin, 'info', path.join(tmp, 'corrupt.ern')], { encoding: 'utf8' }).status).toBe(1);
    expect(execFileSync(process.execPath, [bin, '--version'], { encoding: 'utf8' }).trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });

  // onnxruntime-node is a devDependency: an installed package does not have it. The built CLI is
  // copied beside a node_modules of links to every package but that one.
  it.skipIf(!fs.existsSync(bin))('bench without onnxruntime-node: --backends ort-node is an error naming the package; the default set leaves it out and says so', () => {
    const dir = path.join(tmp, 'no-ort-node');
    fs.mkdirSync(path.join(dir, 'node_modules'), { recursive: true });
    for (const name of fs.readdirSync('node_modules')) {
      if (name !== 'onnxruntime-node' && name !== '.bin') fs.symlinkSync(path.resolve('node_modules', name), path.join(dir, 'node_modules', name));
    }
    fs.writeFileSync(path.join(dir, 'package.json'), '{"type":"module"}');
    fs.copyFileSync(bin, path.join(dir, 'cli.js'));
    const run = (...args: string[]) => spawnSync(process.execPath, [path.join(dir, 'cli.js'), 'bench', '--quick', '--shapes', 'har-gru', '--rounds', '1', '--round-ms', '0.2', '--cold-runs', '0', ...args], { encoding: 'utf8', cwd: dir });
    const named = run('--backends', 'simd,ort-node');
    expect(named.status, named.stderr).toBe(1);
    expect(named.stderr).toMatch(/BACKEND_UNAVAILABLE.*--backends ort-node: onnxruntime-node not installed \(npm install onnxruntime-node\)/);
    const all = run('--json');
    expect(all.status, all.stderr).toBe(0);
    const rows = all.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(rows.filter((o) => o.metric === 'backend_missing')).toEqual([{ metric: 'backend_missing', backend: 'ort-node', package: 'onnxruntime-node', reason: 'not installed' }]);
    expect(rows.some((o) => o.backend === 'ort-web' && o.mode === 'step')).toBe(true);
    expect(rows.some((o) => o.backend === 'ort-node' && o.median_us !== undefined)).toBe(false);
  });

  // A probe that fails (here: the package has no dist/runtime.js) is reported with its error, the
  // other tools are still measured, and the probes' temporary folder is removed.
  it.skipIf(!fs.existsSync(bin))('bench: a failing cold-start probe is reported with its reason, not dropped in silence', () => {
    const dir = path.join(tmp, 'no-dist');
    fs.mkdirSync(path.join(dir, 'node_modules'), { recursive: true });
    for (const name of fs.readdirSync('node_modules')) if (name !== '.bin') fs.symlinkSync(path.resolve('node_modules', name), path.join(dir, 'node_modules', name));
    fs.writeFileSync(path.join(dir, 'package.json'), '{"name":"edgernn","type":"module"}');
    fs.copyFileSync(bin, path.join(dir, 'cli.js'));
    const tmpdir = path.join(dir, 'tmp');
    fs.mkdirSync(tmpdir);
    const args = ['bench', '--quick', '--shapes', 'har-gru', '--backends', 'simd', '--rounds', '1', '--round-ms', '0.2', '--cold-runs', '1'];
    const env = { ...process.env, TMPDIR: tmpdir };
    const json = spawnSync(process.execPath, [path.join(dir, 'cli.js'), ...args, '--json'], { encoding: 'utf8', cwd: dir, env });
    expect(json.status, json.stderr).toBe(0);
    const rows = json.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const failed = rows.filter((o) => o.metric === 'cold_start_failed');
    expect(failed.map((o) => o.tool).sort()).toEqual(['edgernn', 'edgernn-cached']);
    for (const f of failed) expect(f.reason).toMatch(/runtime(-cached)?\.js/);
    expect(failed.find((o) => o.tool === 'edgernn')!.runs).toBe(0);
    expect(rows.some((o) => o.metric === 'cold_start' && o.tool === 'ort-web')).toBe(true);
    expect(fs.readdirSync(tmpdir)).toEqual([]);
    const text = spawnSync(process.execPath, [path.join(dir, 'cli.js'), ...args], { encoding: 'utf8', cwd: dir, env });
    expect(text.status, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/Cold start, edgernn: failed after 0 starts: .*runtime\.js/);
  });
});


describe('edgernn run on ONNX models (onnxruntime-web)', () => {
  it('runs an exported .onnx through onnxruntime-web with the same outputs as the float model', async () => {
    const { float } = randomQuantModel(8);
    const { exportOnnx } = await import('../../src/onnx/export.js');
    fs.writeFileSync(path.join(tmp, 'f.onnx'), exportOnnx(float, { stateInputs: false }));
    fs.writeFileSync(path.join(tmp, 'f.ern'), encodeModel(float));
    const onnx = await cli('run', 'f.onnx', '--input', 'one.json');
    expect(onnx.code, onnx.err).toBe(0);
    const o = JSON.parse(onnx.out);
    expect(o.backend).toBe('ort-web');
    const ern = JSON.parse((await cli('run', 'f.ern', '--input', 'one.json')).out);
    const a = (o.outputs as number[][]).flat();
    const b = (ern.outputs as number[][]).flat();
    expect(a).toHaveLength(b.length);
    for (let i = 0; i < a.length; i++) expect(Math.abs(a[i]! - b[i]!)).toBeLessThan(1e-4);
    const wrong = await cli('run', 'f.onnx', '--input', 'one.json', '--backend', 'simd');
    expect(wrong.code).toBe(2);
  });

  it('an .ern file with --backend ort-web is a usage error naming its backends (it was parsed as ONNX: exit 1, ONNX_PARSE)', async () => {
    const r = await cli('run', 'm.ern', '--input', 'one.json', '--backend', 'ort-web');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/m\.ern is an \.ern file: it runs on backend simd, scalar, reference, float or auto; ort-web runs \.onnx models/);
    expect(r.err).not.toContain('ONNX_PARSE');
  });
});
