/**
 * firmware-sim/nodes.ts: the simulated devices' payloads are what the gateway's codecs read, in
 * order, at the stated rates and device times, and their truth says what happened when.
 */
import { describe, expect, it } from 'vitest';
import { decodeBinary, decodeJson } from '../../src/gateway/codecs.js';
import { isEdgeRnnError } from '../../src/errors.js';
import { interleave, meterNode, micNode, wristNode, type SimulatedNode } from '../../firmware-sim/nodes.js';

const startMs = Date.UTC(2026, 0, 1);

function decodedJson(node: SimulatedNode, channels: number) {
  return node.messages.map((m) => decodeJson(m.payload, { channels, int16Scale: 1 / 32768, maxSamples: 1e6 }));
}

function rms(x: Float32Array): number {
  return Math.sqrt(x.reduce((s, v) => s + v * v, 0) / x.length);
}

describe('wristNode', () => {
  const node = wristNode({ device: 'alice', sensor: 'wrist', seconds: 30, seed: 3, startMs });

  it('sends one second of 32 Hz 6-bit codes per JSON message, numbered, in device time', () => {
    const batches = decodedJson(node, 3);
    expect(batches.map((b) => b.seq)).toEqual(batches.map((_, i) => i));
    expect(batches.map((b) => b.tsMs)).toEqual(node.messages.map((m) => startMs + m.tS * 1000));
    expect(batches.every((b) => b.rateHz === 32)).toBe(true);
    expect(batches.reduce((n, b) => n + b.n, 0)).toBe(30 * 32);
    for (const b of batches) for (const v of b.values) expect(Number.isInteger(v) && v >= 0 && v <= 63).toBe(true);
  });

  it('has a truth that covers the run without gaps, and the same seed gives the same bytes', () => {
    expect(node.truth[0]!.startS).toBe(0);
    for (let i = 1; i < node.truth.length; i++) expect(node.truth[i]!.startS).toBeCloseTo(node.truth[i - 1]!.endS, 9);
    expect(node.truth.at(-1)!.endS).toBeCloseTo(30, 9);
    const again = wristNode({ device: 'alice', sensor: 'wrist', seconds: 30, seed: 3, startMs });
    expect(again.messages.map((m) => Buffer.from(m.payload).toString('hex'))).toEqual(node.messages.map((m) => Buffer.from(m.payload).toString('hex')));
    const other = wristNode({ device: 'alice', sensor: 'wrist', seconds: 30, seed: 4, startMs });
    expect(other.messages[5]!.payload).not.toEqual(node.messages[5]!.payload);
  });
});

describe('micNode', () => {
  const word = (label: string) => ({ label, samples: Float32Array.from({ length: 8000 }, (_, i) => Math.sin(i / 5) * 0.05) });
  const node = micNode({ device: 'kitchen', sensor: 'mic', seconds: 12, seed: 1, startMs, clips: [word('yes'), word('_unknown_'), word('_silence_')], everyS: 3 });
  const audio = (() => {
    const parts = node.messages.map((m) => decodeBinary(m.payload, { channels: 1, int16Scale: 1 / 32768, maxSamples: 1e6 }));
    expect(parts.map((p) => p.seq)).toEqual(parts.map((_, i) => i));
    expect(parts.every((p) => p.n === 1600 && p.rateHz === 16000)).toBe(true);
    expect(parts.map((p) => p.tsMs)).toEqual(parts.map((_, i) => startMs + i * 100));
    const out = new Float32Array(parts.length * 1600);
    parts.forEach((p, i) => out.set(p.values, i * 1600));
    return out;
  })();

  it('says the clips in turn at the SNR asked, and only keywords are truth', () => {
    // Clips at 2, 5, 8 and 11 s: yes, _unknown_, _silence_, yes.
    expect(node.truth).toEqual([
      { device: 'kitchen', startS: 2, endS: 2.5, label: 'yes' },
      { device: 'kitchen', startS: 11, endS: 11.5, label: 'yes' },
    ]);
    const at = (s: number) => audio.subarray(s * 16000, s * 16000 + 8000);
    const floor = rms(audio.subarray(0, 16000));
    expect(20 * Math.log10(rms(at(2)) / floor)).toBeCloseTo(20, 0); // speech over noise, noise included
    expect(rms(at(5)) / floor).toBeGreaterThan(5); // _unknown_ is speech too
    expect(rms(at(8)) / floor).toBeCloseTo(1, 1); // _silence_ adds nothing
  });

  it('refuses a clip spacing shorter than a clip, naming it', () => {
    let err: unknown;
    try {
      micNode({ device: 'k', sensor: 'mic', seconds: 5, seed: 1, startMs, clips: [word('yes')], everyS: 0.5 });
    } catch (e) {
      err = e;
    }
    expect(isEdgeRnnError(err, 'BAD_DATA')).toBe(true);
    expect((err as Error).message).toMatch(/everyS must be a number above 1.*got 0\.5/);
  });
});

describe('meterNode and interleave', () => {
  it('breaks the cycle during the fault, which is the truth', () => {
    const node = meterNode({ device: 'pump', sensor: 'meter', seconds: 40, seed: 2, startMs, faultAtS: 30, faultS: 5 });
    expect(node.truth).toEqual([{ device: 'pump', startS: 30, endS: 35, label: 'anomaly' }]);
    const values = decodedJson(node, 1).flatMap((b) => Array.from(b.values));
    expect(values).toHaveLength(400);
    const mean = (a: number[]) => a.reduce((s, v) => s + v, 0) / a.length;
    expect(mean(values.slice(300, 350)) - mean(values.slice(0, 300))).toBeGreaterThan(4);
    expect(Math.abs(mean(values.slice(350)) - mean(values.slice(0, 300)))).toBeLessThan(1);
  });

  it('orders all nodes by device time, a node before the next on ties', () => {
    const a = meterNode({ device: 'a', sensor: 'meter', seconds: 3, seed: 1, startMs });
    const b = wristNode({ device: 'b', sensor: 'wrist', seconds: 3, seed: 1, startMs });
    expect(interleave([a, b]).map((m) => `${m.device}${m.tS}`)).toEqual(['a0', 'b0', 'a1', 'b1', 'a2', 'b2']);
  });

  it('refuses a run that is not a positive length', () => {
    for (const seconds of [0, -1, NaN, Infinity]) expect(() => meterNode({ device: 'a', sensor: 'm', seconds, seed: 1, startMs })).toThrow(/meter node: seconds must be a positive number/);
  });
});
