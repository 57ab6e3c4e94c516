/**
 * examples/kws-wav.mjs (keyword spotting on a WAV file with the public package API) run as a user
 * runs it, on a recording made of the held-out-voice fixture clips with silence between them. Its
 * events must equal the offline oracle of the keyword job (features in one batch, every window
 * scored by quantize/jobs/kws/evaluate.ts, the detector stepped by stream-eval.ts), and it must
 * find keywords at all.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { frameSpec, servedPosteriors, windowPosteriors } from '../../quantize/jobs/kws/evaluate.js';
import { detectEvents } from '../../quantize/jobs/kws/stream-eval.js';
import { createFrontend } from '../../src/features/registry.js';
import type { AudioFrontendSpec } from '../../src/features/audio.js';
import { kwsDetectorConfigOf, kwsTimeBaseOf } from '../../src/detectors/kws/model.js';
import { encodeWav, readWavMono } from '../../src/io/wav.js';
import { decodeModel, encodeModel } from '../../src/model/codec.js';
import { createRuntime } from '../../src/runtime/runtime.js';
import { tmpDir } from '../gateway/fixtures.js';
import { writeKwsRecording } from '../helpers/kws-recording.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const work = tmpDir('edgernn-example-kws-');
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

function example(...args: string[]) {
  return spawnSync(process.execPath, [path.join(ROOT, 'examples/kws-wav.mjs'), ...args], { encoding: 'utf8', cwd: work });
}

describe('examples/kws-wav.mjs', () => {
  it('finds the keywords of a recording, the same events as the offline oracle', async () => {
    const wav = path.join(work, 'recording.wav');
    const audio = writeKwsRecording(wav, ['yes/flite-kal16_yes_0.wav', 'stop/flite-kal16_stop_0.wav', 'go/flite-kal16_go_0.wav', 'no/flite-slt_no_0.wav']);

    const r = example(wav, '--json');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const got = JSON.parse(r.stdout) as { seconds: number; events: { keyword: string; atMs: number; score: number }[] };
    expect(got.seconds).toBeCloseTo(audio.length / 16000, 6);

    // The oracle, from the WAV as written (int16 codes, as the example reads them).
    const rt = await createRuntime();
    const model = await rt.load(new Uint8Array(fs.readFileSync(path.join(ROOT, 'models/kws.ern'))));
    const spec = model.spec.input.frontend as unknown as AudioFrontendSpec;
    const frames = createFrontend(frameSpec(spec)).batch(readWavMono(new Uint8Array(fs.readFileSync(wav))).samples).data;
    const post = windowPosteriors(model, frames, spec.windows!);
    const { hopMs, frameMs } = kwsTimeBaseOf(model.spec);
    const want = detectEvents(post, model.spec.labels, kwsDetectorConfigOf(model.spec), hopMs, frameMs).map((e) => ({ keyword: e.label, atMs: Math.round(e.timeMs), score: Number(e.score.toFixed(3)) }));
    model.dispose();
    expect(want.length).toBeGreaterThan(0);
    expect(got.events).toEqual(want);
    // Each event is one of the keywords spoken, after its clip began.
    for (const e of got.events) expect(['yes', 'stop', 'go', 'no']).toContain(e.keyword);

    const text = example(wav);
    expect(text.stdout).toMatch(/recording\.wav: \d+\.\d\d s, model kws 1\.0\.0 on simd\n(  \d+\.\d\d s {2}\S+ +\(score [0-9.]+\)\n)+/);
  });

  it('a keyword model without sliding windows runs as one never-reset session, as a gateway runs it', async () => {
    // `npm run tune:kws -- --windows none` makes one; the example reset the session before every
    // single frame, so each frame was scored from a zero state (no event where the gateway has one).
    const d = decodeModel(new Uint8Array(fs.readFileSync(path.join(ROOT, 'models/kws.ern'))));
    const spec = structuredClone(d.spec);
    delete (spec.input.frontend as { windows?: unknown }).windows;
    const ern = path.join(work, 'session.ern');
    fs.writeFileSync(ern, encodeModel(spec, { goldenInput: d.golden.inputData }));
    const wav = path.join(work, 'session.wav');
    writeKwsRecording(wav, ['yes/flite-kal16_yes_0.wav', 'stop/flite-kal16_stop_0.wav', 'go/flite-kal16_go_0.wav', 'no/flite-slt_no_0.wav']);

    const r = example(wav, ern, '--json');
    expect([r.status, r.stderr]).toEqual([0, '']);
    const got = (JSON.parse(r.stdout) as { events: unknown[] }).events;

    const rt = await createRuntime();
    const model = await rt.load(new Uint8Array(fs.readFileSync(ern)));
    const fe = model.spec.input.frontend as unknown as AudioFrontendSpec;
    const frames = createFrontend(fe).batch(readWavMono(new Uint8Array(fs.readFileSync(wav))).samples).data;
    const post = servedPosteriors(model, frames, fe); // one session over the whole recording
    const { hopMs, frameMs } = kwsTimeBaseOf(model.spec);
    const want = detectEvents(post, model.spec.labels, kwsDetectorConfigOf(model.spec), hopMs, frameMs).map((e) => ({ keyword: e.label, atMs: Math.round(e.timeMs), score: Number(e.score.toFixed(3)) }));
    model.dispose();
    expect(want.length).toBeGreaterThan(0);
    expect(got).toEqual(want);
  });

  it('a recording shorter than the model\'s first window says nothing was scored (a 1 s clip gave a bare "no keyword")', () => {
    const wav = path.join(work, 'clip.wav');
    const clip = readWavMono(new Uint8Array(fs.readFileSync(path.join(ROOT, 'test/fixtures/kws/yes/flite-kal16_yes_0.wav')))).samples;
    const second = new Float32Array(16000);
    second.set(clip);
    fs.writeFileSync(wav, encodeWav(second, 16000));
    const note = `${wav}: 1.00 s is shorter than the model's first window (1.52 s of audio): nothing was scored; pad it with silence (sox ${wav} padded.wav pad 0 1), or score clips with edgernn eval MODEL.ern --data DIR\n`;
    const j = example(wav, '--json');
    expect([j.status, j.stdout, j.stderr]).toEqual([0, `{"file":"${wav}","seconds":1,"events":[]}\n`, note]);
    const t = example(wav);
    expect([t.status, t.stderr]).toEqual([0, note]);
    expect(t.stdout).toMatch(/no keyword\n$/);
  });

  it('usage without a file (exit 2); a recording at another rate says how to convert it (exit 1)', () => {
    const usage = example();
    expect([usage.status, usage.stderr]).toEqual([2, 'usage: node examples/kws-wav.mjs RECORDING.wav [MODEL.ern] [--json]\n']);
    const wav = path.join(work, 'cd.wav');
    fs.writeFileSync(wav, encodeWav(new Float32Array(4410), 44100));
    const rate = example(wav);
    expect(rate.status).toBe(1);
    expect(rate.stderr).toBe(`${wav}: 44100 Hz, the model listens at 16000 Hz (sox ${wav} -r 16000 -c 1 converted.wav)\n`);
  });

  it('an empty file or an encoding it cannot read says what is wrong (exit 1), not an uncaught error with a stack', () => {
    const empty = path.join(work, 'empty.wav');
    fs.writeFileSync(empty, new Uint8Array(0)); // a recorder that died before writing its header
    const alaw = path.join(work, 'alaw.wav');
    const bytes = encodeWav(new Float32Array(1600), 16000);
    new DataView(bytes.buffer, bytes.byteOffset).setUint16(20, 6, true); // fmt format tag 6: A-law
    fs.writeFileSync(alaw, bytes);
    const a = example(empty);
    expect([a.status, a.stdout, a.stderr]).toEqual([1, '', `${empty}: 0 bytes is too short for a RIFF/WAVE header (12 bytes)\n`]);
    const b = example(alaw, '--json');
    expect([b.status, b.stdout, b.stderr]).toEqual([1, '', `${alaw}: format 6 (A-law) is not supported (expected 1 = PCM or 3 = IEEE float)\n`]);
  });
});
