/**
 * Everything the gateway parses from outside, damaged at random: sensor payloads (JSON, binary,
 * CSV), recorded traces and ground-truth files, WAV clips. Each either parses or throws its own
 * typed error (PAYLOAD_DECODE, GATEWAY_TRACE, BAD_INPUT_FILE); never a TypeError, RangeError or
 * any other exception, which in the gateway would fail a message handler instead of dead-lettering
 * one payload.
 */
import { describe, expect, it } from 'vitest';
import { isEdgeRnnError } from '../../src/errors.js';
import { DECODERS, encodeBinary, encodeCsv, encodeJson, type DecodeOptions } from '../../src/gateway/codecs.js';
import { parseTrace, parseTruth, traceHeaderLine, traceRecordLine } from '../../src/gateway/trace.js';
import { encodeWav, readWav, readWavMono } from '../../src/io/wav.js';
import { Rng } from '../../src/util/rng.js';

const OPTS: DecodeOptions = { channels: 3, int16Scale: 1 / 32768, maxSamples: 64 };

/** Bytes damaged one of several ways: cut, bytes overwritten, a run deleted or duplicated. */
function damage(rng: Rng, src: Uint8Array): Uint8Array {
  const r = rng.uniform(0, 1);
  if (src.length === 0 || r < 0.2) return src.subarray(0, rng.int(0, Math.max(0, src.length - 1)));
  const b = src.slice();
  if (r < 0.7) {
    for (let k = rng.int(1, 4); k > 0; k--) b[rng.int(0, b.length - 1)] = rng.int(0, 255);
    return b;
  }
  const at = rng.int(0, b.length - 1);
  const len = rng.int(1, 8);
  if (r < 0.85) return Uint8Array.from([...b.subarray(0, at), ...b.subarray(at + len)]);
  return Uint8Array.from([...b.subarray(0, at + len), ...b.subarray(at)]);
}

/** Text damaged at a JSON-aware level too: a token replaced by another JSON value. */
const TOKENS = ['null', '0', '-1', '1e400', '"x"', '[]', '{}', 'true', '[[1,2,3]]', '"2024-01-01T00:00:00Z"', ''];
function damageText(rng: Rng, text: string): string {
  if (rng.uniform(0, 1) < 0.5) return Buffer.from(damage(rng, Buffer.from(text))).toString('latin1');
  const parts = text.split(/(?<=[:,[\]{}\n])/);
  const i = rng.int(0, parts.length - 1);
  parts[i] = TOKENS[rng.int(0, TOKENS.length - 1)]! + (parts[i]!.match(/[:,[\]{}\n]$/)?.[0] ?? '');
  return parts.join('');
}

function expectTyped(f: () => unknown, codes: string[], what: string): 'ok' | 'refused' {
  try {
    f();
    return 'ok';
  } catch (e) {
    if (isEdgeRnnError(e) && codes.includes(e.code)) return 'refused';
    throw new Error(`${what}: ${e instanceof Error ? `${e.constructor.name}: ${e.message}` : String(e)}`, { cause: e });
  }
}

describe('sensor payload decoders under random damage', () => {
  const rng = new Rng(2024);
  const samples = Array.from({ length: 12 }, () => rng.uniform(-2, 2));
  const valid = {
    json: [encodeJson(samples, 3, { seq: 7, tsMs: 1714560000000, rateHz: 50 }), new TextEncoder().encode('[[1,2,3],[4,null,6]]'), new TextEncoder().encode('{"values":[1,2,3,4,5,6]}')],
    binary: [encodeBinary(samples, 3, { seq: 7, tsMs: 1714560000000, rateHz: 50 }), encodeBinary(samples, 3, { type: 'float32' })],
    csv: [encodeCsv(samples, 3, { seq: 7, tsMs: 1714560000000, rateHz: 50 }), new TextEncoder().encode('1,2,3\n4,,6\n')],
  };
  for (const [codec, sources] of Object.entries(valid) as [keyof typeof DECODERS, Uint8Array[]][]) {
    it(`${codec}: 4000 damaged payloads decode or are refused as PAYLOAD_DECODE`, () => {
      const count = { ok: 0, refused: 0 };
      for (let trial = 0; trial < 4000; trial++) {
        const src = sources[trial % sources.length]!;
        const b = codec === 'binary' ? damage(rng, src) : new TextEncoder().encode(damageText(rng, new TextDecoder().decode(src)));
        const r = expectTyped(
          () => {
            const batch = DECODERS[codec](b, OPTS);
            // What decodes is whole: n samples of the route's channels.
            expect(batch.values.length).toBe(batch.n * OPTS.channels);
            expect(batch.n).toBeLessThanOrEqual(OPTS.maxSamples);
          },
          ['PAYLOAD_DECODE'],
          `${codec} payload ${JSON.stringify(Buffer.from(b).toString('latin1').slice(0, 200))}`,
        );
        count[r]++;
      }
      expect(count.refused).toBeGreaterThan(400);
      expect(count.ok).toBeGreaterThan(100);
    });
  }
});

describe('traces and ground truth under random damage', () => {
  const rng = new Rng(77);
  const trace = [
    traceHeaderLine({ recordedAt: '2026-01-01T00:00:00.000Z', broker: 'mqtt://127.0.0.1:1883', topics: ['edgernn/#'] }),
    ...Array.from({ length: 5 }, (_, i) => traceRecordLine({ t: Date.UTC(2026, 0, 1) + 10 * i, topic: `edgernn/s/d${i}/imu`, qos: 1, payload: encodeJson([i, i, i], 3) })),
  ].join('');
  const truth = JSON.stringify([{ device: 'd1', startMs: 1000, endMs: 2000, label: 'fall' }, { device: 'd2', start: '2026-01-01T00:00:01Z', end: '2026-01-01T00:00:02Z' }]);

  it('the unharmed files parse; blank lines are skipped', () => {
    expect(parseTrace(trace).records).toHaveLength(5);
    expect(parseTrace(trace.replace(/\n/g, '\n\n  \n')).records).toHaveLength(5);
    expect(parseTruth(truth)).toHaveLength(2);
  });

  it('3000 damaged traces parse or are refused as GATEWAY_TRACE', () => {
    let refused = 0;
    for (let trial = 0; trial < 3000; trial++) {
      const text = damageText(rng, trace);
      if (expectTyped(() => parseTrace(text), ['GATEWAY_TRACE'], `trace ${JSON.stringify(text.slice(0, 300))}`) === 'refused') refused++;
    }
    expect(refused).toBeGreaterThan(300);
  });

  it('a record line that is JSON but not an object is named', () => {
    for (const line of ['null', '5', '"x"', '[1]']) {
      const text = `${trace.split('\n')[0]}\n${line}\n`;
      expect(() => parseTrace(text, 't.ndjson')).toThrow(/^t\.ndjson:2: expected a record \{"t","topic","qos","payload"\}, got /);
      expect(() => parseTrace(text, 't.ndjson')).toThrow(expect.objectContaining({ code: 'GATEWAY_TRACE', message: expect.stringMatching(/^t\.ndjson:2: /) }));
    }
  });

  it('3000 damaged ground-truth files parse or are refused as GATEWAY_TRACE', () => {
    let refused = 0;
    for (let trial = 0; trial < 3000; trial++) {
      const text = damageText(rng, truth);
      if (expectTyped(() => parseTruth(text), ['GATEWAY_TRACE'], `truth ${JSON.stringify(text)}`) === 'refused') refused++;
    }
    expect(refused).toBeGreaterThan(300);
  });
});

describe('WAV clips under random damage', () => {
  it('3000 damaged files read or are refused as BAD_INPUT_FILE', () => {
    const rng = new Rng(5);
    const sources = [
      encodeWav(Float32Array.from({ length: 400 }, (_, i) => 0.5 * Math.sin(i / 7)), 16000),
      encodeWav(Float32Array.from({ length: 400 }, (_, i) => 0.3 * Math.cos(i / 5)), 8000, 2),
    ];
    let refused = 0;
    for (let trial = 0; trial < 3000; trial++) {
      const src = sources[trial % 2]!;
      // The header is where the parsing is: damage it more often than the samples.
      const b = rng.uniform(0, 1) < 0.7 ? Uint8Array.from([...damage(rng, src.subarray(0, 44)), ...src.subarray(44)]) : damage(rng, src);
      const r = expectTyped(
        () => {
          const w = readWav(b, 'x.wav');
          expect(w.channelData.length).toBeGreaterThan(0);
          readWavMono(b, { source: 'x.wav' });
        },
        ['BAD_INPUT_FILE'],
        `wav of ${b.length} bytes, header ${Buffer.from(b.subarray(0, 48)).toString('hex')}`,
      );
      if (r === 'refused') refused++;
    }
    expect(refused).toBeGreaterThan(300);
  });
});

describe('gateway config files under random damage', () => {
  it('3000 damaged configs parse or are refused as GATEWAY_CONFIG', async () => {
    const { parseGatewayConfig } = await import('../../src/gateway/config.js');
    const fs = await import('node:fs');
    const path = await import('node:path');
    const text = fs.readFileSync(path.resolve(import.meta.dirname, '../../examples/gateway/three-jobs.json'), 'utf8');
    expect(parseGatewayConfig(JSON.parse(text)).routes).toHaveLength(3);
    const rng = new Rng(303);
    let refused = 0;
    for (let trial = 0; trial < 3000; trial++) {
      const damaged = damageText(rng, text);
      let raw: unknown;
      try {
        raw = JSON.parse(damaged);
      } catch {
        continue; // not JSON: load-config refuses it before parsing (test/gateway/load-config.test.ts)
      }
      if (expectTyped(() => parseGatewayConfig(raw, 'g.json'), ['GATEWAY_CONFIG'], `config ${damaged}`) === 'refused') refused++;
    }
    expect(refused).toBeGreaterThan(300);
  });
});
