/**
 * A classifier trained on a WAV folder (`edgernn train --data DIR`), served by the gateway as
 * `train` writes it: in windows (its front end's `windows`: the last clip's frames, 1 s, every
 * 100 ms, each window from a reset state) against one never-reset session (`--serve session`: the
 * same model with no `windows`, a step per frame). Four gateways in this process (int8 on simd and
 * float, each served both ways), rounds interleaved: each round, every gateway is given the same
 * audio as 1 s int16 messages of one device (its stream goes on from round to round), each
 * message stepped at once (drainNow); timed per second of audio: the message's decoding, the
 * front end, the window queue, stepping and the detector (smoothing, the model's defaults).
 * Printed: frames stepped per second of audio, ms per second of audio, and the ratios (the
 * numbers docs/trainer.md cites).
 *
 * The model is trained here, in seconds, by the CLI from source (bin/edgernn.ts) on generated
 * clips (two tones in noise, 1 s at 16 kHz, under the system's temp folder, removed at the end):
 * the trainer's defaults (GRU-32, its MFCC front end), --int8; the float model is that one
 * dequantized (the same shapes; what is timed does not depend on the weights).
 *
 *   npx tsx test/bench/wav-serving.ts [--quick] [--seconds 20]
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ManualClock } from '../../src/gateway/clock.js';
import { encodeBinary } from '../../src/gateway/codecs.js';
import { parseGatewayConfig } from '../../src/gateway/config.js';
import { Gateway } from '../../src/gateway/gateway.js';
import { memoryLogger } from '../../src/gateway/logger.js';
import { TraceTransport } from '../../src/gateway/transport.js';
import { createRuntime, decodeModel, dequantizeModel, encodeModel, encodeWav, Rng, validateAudioSpec, type ModelSpec } from '../../src/index.js';
import { median } from '../../src/util/stats.js';
const { values } = parseArgs({ options: { quick: { type: 'boolean', default: false }, seconds: { type: 'string' } } });
const seconds = Number(values.seconds ?? (values.quick ? 5 : 20));
const rounds = values.quick ? 5 : 9;
const SR = 16000;
const root = path.resolve(import.meta.dirname, '../..');

function tone(rng: Rng, hz: number, n: number): Float32Array {
  const phase = rng.uniform(0, 6.28);
  return Float32Array.from({ length: n }, (_, i) => 0.3 * Math.sin(phase + (2 * Math.PI * hz * i) / SR) + 0.05 * rng.normal());
}

function trainModel(dir: string): Uint8Array {
  const rng = new Rng(7);
  const data = path.join(dir, 'clips');
  for (const [label, hz] of [['low', 440], ['high', 1320]] as const) {
    fs.mkdirSync(path.join(data, label), { recursive: true });
    for (let k = 0; k < 12; k++) fs.writeFileSync(path.join(data, label, `${k}.wav`), encodeWav(tone(rng, hz * rng.uniform(0.9, 1.1), SR), SR));
  }
  const out = path.join(dir, 'model.ern');
  execFileSync(process.execPath, [...process.execArgv, path.join(root, 'bin/edgernn.ts'), 'train', '--data', data, '-o', out, '--epochs', '2', '--int8', '--created-at', '2026-01-01T00:00:00Z'], { stdio: ['ignore', 'ignore', 'pipe'] });
  return new Uint8Array(fs.readFileSync(out));
}


const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-wav-serving-'));
try {
  const t0 = performance.now();
  const bytes = trainModel(dir);
  const trainS = (performance.now() - t0) / 1000;
  const spec = decodeModel(bytes).spec;
  const served = validateAudioSpec(spec.input.frontend);
  const { windows, ...session } = served;
  if (!windows) throw new Error('the trained model has no windows in its front end: is `train --serve windows` still the default?');
  const asSession = (sp: ModelSpec): ModelSpec => ({ ...sp, input: { ...sp.input, frontend: { ...session } } });
  const floatSpec = dequantizeModel(spec);
  const rt = await createRuntime();
  const variants = [
    { name: 'int8 simd, windows (as trained)', windowed: true, bytes, backend: 'simd' as const },
    { name: 'int8 simd, one session', windowed: false, bytes: encodeModel(asSession(spec)), backend: 'simd' as const },
    { name: 'float, windows (as trained)', windowed: true, bytes: encodeModel(floatSpec), backend: 'float' as const },
    { name: 'float, one session', windowed: false, bytes: encodeModel(asSession(floatSpec)), backend: 'float' as const },
  ];
  // Audio: the two tones and noise, 1 s int16 messages of one device.
  const rng = new Rng(3);
  const messages = Array.from({ length: seconds }, (_, k) => Float32Array.from({ length: SR }, (_, i) => 0.2 * Math.sin(i * (k % 2 ? 0.52 : 0.17)) + 0.05 * rng.normal()));
  const gateways = await Promise.all(
    variants.map(async (v) => {
      const model = await rt.load(v.bytes, { backend: v.backend });
      const config = parseGatewayConfig({
        site: 'bench',
        gatewayId: 'wav-serving',
        broker: { url: 'mqtt://127.0.0.1:1' },
        models: { m: 'm.ern' },
        routes: [{ sensor: 'audio', model: 'm', codec: 'binary', channels: 1, detector: { kind: 'smoothing', threshold: 0.9, background: [] } }],
        stateDir: '',
        metrics: { intervalMs: 0 },
      });
      const tr = new TraceTransport();
      const gw = await Gateway.create({ config, models: { m: model }, clock: new ManualClock(1_700_000_000_000), transport: tr, logger: memoryLogger('error') });
      let seq = 0;
      const feed = (): void => {
        for (const m of messages) {
          tr.deliver(gw.topics.sensor('mic-0', 'audio'), encodeBinary(m, 1, { type: 'int16', seq: seq++, rateHz: SR }));
          gw.drainNow();
        }
      };
      return { ...v, model, gw, feed, ms: [] as number[], stepped: 0, dropped: 0 };
    }),
  );
  for (let r = 0; r < rounds; r++) {
    for (let j = 0; j < gateways.length; j++) {
      const g = gateways[(j + r) % gateways.length]!;
      const c = g.gw.metrics.counters;
      const before = { stepped: c.frames_total ?? 0, dropped: c.dropped_frames_total ?? 0 };
      const t = performance.now();
      g.feed();
      const ms = (performance.now() - t) / seconds;
      if (r >= 2) g.ms.push(ms);
      g.stepped = (c.frames_total ?? 0) - before.stepped;
      g.dropped += (c.dropped_frames_total ?? 0) - before.dropped;
    }
  }
  const med = gateways.map((g) => median(g.ms));
  const layers = spec.layers.map((l) => ('hiddenSize' in l ? `${l.kind}-${l.hiddenSize}` : l.kind)).join(' > ');
  const perS = (1000 / session.hopMs) * (windows.frames / windows.hop);
  console.log(`WAV-folder classifier (${layers}, ${bytes.length} bytes int8, trained here in ${trainS.toFixed(1)} s), front end ${session.kind} ${String(session.nMfcc ?? session.nMels)}, ${session.frameMs} ms frames every ${session.hopMs} ms; windows of ${windows.frames} frames every ${windows.hop} (${perS.toFixed(0)} frames stepped per s of audio)`);
  console.log(`${seconds} s of audio a round in 1 s messages through the gateway, median of ${rounds - 2} interleaved rounds after 2 warm-ups; Node ${process.version}, ${os.cpus().length} cores, ${new Date().toISOString().slice(0, 10)}\n`);
  console.log('| serving | frames stepped per s of audio | ms per s of audio | windows over session | over int8 simd windows |');
  console.log('| --- | ---: | ---: | ---: | ---: |');
  gateways.forEach((g, i) => {
    const pair = g.windowed ? `${(med[i]! / med[i + 1]!).toFixed(2)}x` : '';
    console.log(`| ${g.name} | ${(g.stepped / seconds).toFixed(0)} | ${med[i]!.toFixed(2)} | ${pair} | ${(med[i]! / med[0]!).toFixed(2)}x |`);
  });
  const dropped = gateways.filter((g) => g.dropped > 0);
  if (dropped.length) console.log(`\nframes dropped (limits.maxQueuedFrames): ${dropped.map((g) => `${g.name} ${g.dropped}`).join(', ')}`);
  for (const g of gateways) {
    await g.gw.stop();
    g.model.dispose();
  }
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
