/**
 * `edgernn demo` (what `npm start` runs): a tour of what exists, on this machine, in seconds.
 * Builds a keyword-spotting-shaped GRU, quantizes it to int8, writes the .ern, loads it on every
 * backend, streams frames through many sessions at once, moves a stream between backends, and
 * prints what it measured. Then, when the executable supplies it (bin/edgernn.ts: src does not
 * import the simulator), the live part: the shipped models behind a gateway on an embedded
 * broker, fed by simulated devices (firmware-sim/demo.ts). Node-only.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { calibrateAbsMax, quantizeModel } from '../../model/quantize.js';
import { encodeModel } from '../../model/codec.js';
import { createRuntime } from '../../runtime/runtime.js';
import { Rng } from '../../util/rng.js';
import { benchSpec, BENCH_SHAPES } from './bench.js';
import { numberFlag, parseFlags, usageError, writeOutputFile, type Command } from '../framework.js';
import { makeDirs } from '../../io/files.js';

/** The live part: runs the gateway demo, printing through `say`; true when it ran clean (every message stepped, every alert delivered). */
export type LiveDemo = (o: { stateDir: string; seconds: number; speed: number; say: (line: string) => void }) => Promise<boolean>;

export const demoCommand: Command = demoCommandWith();

/** The demo command, with the gateway part when `live` is given. */
export function demoCommandWith(live?: LiveDemo): Command {
  return {
    name: 'demo',
    summary: live ? 'the tour, then the three shipped models behind a gateway fed by simulated devices' : 'a short tour: quantize, save, load and stream a model on every backend',
    help: `usage: edgernn demo [--out DIR]${live ? ' [--seconds N] [--speed X] [--no-gateway]' : ''}

Builds a keyword-spotting-shaped GRU (40 features, 64 hidden units, 12 outputs), quantizes it to
int8, writes DIR/demo-kws.ern (default DIR: ./out), loads it on the simd, scalar and reference
backends, streams 1,000 frames through 100 sessions, replays ten of them on the reference to
check that the backends agree bit for bit,
and hands a stream from one backend to another.${live ? `

Then the live part: the three shipped models (models/) behind one gateway on an embedded MQTT
broker (examples/gateway/three-jobs.json), fed by three simulated devices: a wrist band going
through activities (signals generated from statistics of the HMP recordings), a microphone hearing
keywords said by the held-out test voices over noise, and a meter with a fault near the end. A
simulated Firmata board on the gateway's pins lights its LED through johnny-five. Each alert is
printed as an MQTT subscriber receives it, beside what really happened, and scored at the end.

  --seconds N    device time simulated (default 90, at least 60: the meter's detector learns
                 its normal for the first 40 s)
  --speed X      device seconds per wall-clock second (default 10; max: as fast as it goes)
  --no-gateway   the tour only` : ''}`,
    async run(args, ctx) {
      const flags = live ? { out: { type: 'string' }, seconds: { type: 'string' }, speed: { type: 'string' }, 'no-gateway': { type: 'boolean' } } as const : { out: { type: 'string' } } as const;
      const { values } = parseFlags(args, flags, { min: 0, max: 0, names: '' });
      // An empty --out wrote into the working folder; a file there failed with "EEXIST: /abs/path".
      if (values.out === '') throw usageError('--out needs a folder name');
      const seconds = numberFlag(values.seconds, 'seconds', { min: 60, max: 3600 }) ?? 90;
      const speed = values.speed === 'max' ? Infinity : (numberFlag(values.speed, 'speed', { min: 0.1, max: 1000 }) ?? 10);
      const out = path.resolve(ctx.cwd, typeof values.out === 'string' ? values.out : 'out');
      if (fs.statSync(out, { throwIfNoEntry: false })?.isDirectory() === false) {
        if (typeof values.out === 'string') throw usageError(`--out ${values.out}: is a file, expected a folder`);
        // No --out (`npm start`): not a usage error ("--out out: ..." and exit 2 named a flag nobody gave).
        ctx.stderr.write(`edgernn demo: out is a file; the demo writes its model into a folder of that name (--out DIR for another)\n`);
        return 1;
      }
      const say = (s = '') => ctx.stdout.write(`${s}\n`);
      const shape = BENCH_SHAPES[0]!;
      const I = shape.inputSize;
      const rng = new Rng(7);
      const spec = { ...benchSpec(shape), name: 'demo-kws', labels: Array.from({ length: shape.outputs }, (_, i) => `class${i}`) };
      const calib = Array.from({ length: 8 }, () => rng.float32(shape.steps * I, -3, 3));
      const int8 = quantizeModel(spec, calibrateAbsMax(spec, calib));
      const bytes = encodeModel(int8, { goldenInput: calib[0]!.subarray(0, 8 * I) });
      makeDirs(out);
      const file = path.join(out, 'demo-kws.ern');
      writeOutputFile(file, bytes);
      say(`edgernn demo`);
      say(`  model     GRU ${I} -> ${shape.hidden} + dense ${shape.outputs}, int8 (ern-a16w8-v1): ${bytes.length} bytes -> ${path.relative(ctx.cwd, file)}`);
      const rt = await createRuntime();
      say(`  runtime   SIMD ${rt.simdSupported ? 'supported: default backend simd' : 'not supported: default backend scalar'}`);
      const models = {
        simd: rt.simdSupported ? await rt.load(bytes, { backend: 'simd' }) : null,
        scalar: await rt.load(bytes, { backend: 'scalar' }),
        reference: await rt.load(bytes, { backend: 'reference' }),
      };
      const m = models.simd ?? models.scalar;
      say(`  loaded    sha256 ${m.sha256.slice(0, 16)}…, golden vector reproduced on every backend; state ${m.sizes.stateBytes} B per stream`);
      // 100 streams at once, 1000 frames each.
      const streams = 100;
      const steps = 1000;
      const frames = rng.float32(steps * streams * I, -3, 3);
      const sessions = Array.from({ length: streams }, () => m.session());
      const t0 = performance.now();
      let y: Float32Array = new Float32Array(0);
      for (let t = 0; t < steps; t++) y = m.stepMany(sessions, frames.subarray(t * streams * I, (t + 1) * streams * I));
      const ms = performance.now() - t0;
      say(`  streamed  ${streams} streams x ${steps} frames on ${m.backend}: ${ms.toFixed(1)} ms, ${((ms * 1000) / (streams * steps)).toFixed(2)} µs per stream-step`);
      // The first streams again on the TypeScript reference: the same bits (the reference is
      // ~50x slower, so ten streams make the point).
      const check = 10;
      const refSessions = Array.from({ length: check }, () => models.reference.session());
      let same = true;
      const batch = new Float32Array(check * I);
      for (let t = 0; t < steps; t++) {
        for (let i = 0; i < check; i++) batch.set(frames.subarray((t * streams + i) * I, (t * streams + i + 1) * I), i * I);
        const yr = models.reference.stepMany(refSessions, batch);
        if (t === steps - 1) same = yr.every((v, i) => Object.is(v, y[i]));
      }
      say(`  checked   streams 0-${check - 1} replayed on the TypeScript reference: ${same ? 'identical bits' : 'DIFFERENT (a bug: please report)'} after ${steps} steps`);
      // Hand a stream over: export from one backend, import into another (the reference when
      // scalar streamed: no SIMD here), continue.
      const other = m === models.scalar ? models.reference : models.scalar;
      const moved = other.session();
      moved.importState(sessions[0]!.exportState());
      const next = rng.float32(I, -3, 3);
      const a = Array.from(sessions[0]!.step(next));
      const b = Array.from(moved.step(next));
      say(`  handoff   stream 0 exported from ${m.backend} (${sessions[0]!.exportState().length} B) and continued on ${other.backend}: ${a.every((v, i) => Object.is(v, b[i])) ? 'identical' : 'DIFFERENT'}`);
      const top = a.indexOf(Math.max(...a));
      say(`  output    stream 0 scores: top ${spec.labels[top]} (${a[top]!.toFixed(3)})`);
      say();
      // Under npm (`npm start` in a clone of the repository) no `edgernn` is on the PATH; npx finds it.
      const edgernn = process.env.npm_command === undefined ? 'edgernn' : 'npx edgernn';
      let clean = true;
      if (live && values['no-gateway'] !== true) {
        const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'edgernn-demo-'));
        try {
          clean = await live({ stateDir, seconds, speed, say });
        } finally {
          fs.rmSync(stateDir, { recursive: true, force: true });
        }
        say();
      }
      say(`Next: ${edgernn} info ${path.relative(ctx.cwd, file)}   ${edgernn} bench   ${edgernn} --help${live ? `   ${edgernn} gateway --config examples/gateway/three-jobs.json` : ''}`);
      return same && clean ? 0 : 1;
    },
  };
}
