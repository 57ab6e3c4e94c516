/**
 * Format versions (docs/model-format.md): a reader refuses a major it does not know and reads a
 * newer minor of its major, ignoring the fields that minor added (in the manifest, in a layer, in
 * the tensor table, in a longer header).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { createRuntime, decodeModel, encodeModel, resealErn } from '../../src/index.js';
import { ERN_FORMAT_MAJOR, ERN_FORMAT_MINOR } from '../../src/format/ern.js';
import { withManifest } from '../helpers/ern.js';
import { randomQuantModel } from '../helpers/random-model.js';
import { caughtEdgeRnnError } from '../helpers/errors.js';

let bytes: Uint8Array;
beforeAll(() => {
  bytes = encodeModel(randomQuantModel(5).int8, { goldenSteps: 3 });
});

function withVersion(b: Uint8Array, major: number, minor: number): Uint8Array {
  const out = b.slice();
  const dv = new DataView(out.buffer);
  dv.setUint16(8, major, true);
  dv.setUint16(10, minor, true);
  return resealErn(out);
}


describe('format versions', () => {
  it('writes the version it reads', () => {
    const dv = new DataView(bytes.buffer, bytes.byteOffset);
    expect([dv.getUint16(8, true), dv.getUint16(10, true)]).toEqual([ERN_FORMAT_MAJOR, ERN_FORMAT_MINOR]);
    expect(decodeModel(bytes).container.formatVersion).toEqual({ major: 1, minor: 0 });
  });

  it('refuses an older or newer major, naming both versions', () => {
    for (const [major, minor] of [
      [0, 9],
      [2, 0],
      [65535, 65535],
    ] as const) {
      const e = caughtEdgeRnnError(() => decodeModel(withVersion(bytes, major, minor), 'v.ern'));
      expect(e.code).toBe('ERN_UNSUPPORTED_VERSION');
      expect(e.message).toBe(`v.ern: file format ${major}.${minor}, this runtime reads ${ERN_FORMAT_MAJOR}.x`);
      expect(e.details).toMatchObject({ got: `${major}.${minor}`, expected: `${ERN_FORMAT_MAJOR}.x` });
    }
  });

  it('reads a newer minor and ignores the fields it added: manifest, layer and tensor-table fields, a longer header', async () => {
    const newer = withVersion(
      withManifest(bytes, (m) => {
        m.calibration = { method: 'percentile', p: 99.9 };
        m.layers[0].layerNorm = false;
        m.tensors[0].compression = 'none';
        m.golden.note = 'added in 1.1';
      }),
      1,
      7,
    );
    const d = decodeModel(newer);
    expect(d.container.formatVersion).toEqual({ major: 1, minor: 7 });
    const rt = await createRuntime();
    (await rt.load(newer, { backend: 'reference' })).dispose();
    // A 1.x header may grow: the manifest then starts after it (bytes 64.. belong to the header).
    const dv = new DataView(bytes.buffer, bytes.byteOffset);
    const mLen = dv.getUint32(20, true);
    const dOff = dv.getUint32(24, true);
    const dLen = dv.getUint32(28, true);
    const out = new Uint8Array(dOff + 64 + dLen);
    out.set(bytes.subarray(0, 64));
    out.set(bytes.subarray(64, 64 + mLen), 128);
    out.fill(0x20, 128 + mLen, dOff + 64);
    out.set(bytes.subarray(dOff), dOff + 64);
    const odv = new DataView(out.buffer);
    odv.setUint32(12, 128, true);
    odv.setUint32(16, 128, true);
    odv.setUint32(24, dOff + 64, true);
    odv.setUint16(10, 1, true);
    out.fill(0xab, 64, 128);
    expect(decodeModel(resealErn(out)).spec.name).toBe(decodeModel(bytes).spec.name);
  });

  it("a tensor type from a newer minor is refused naming the file's version and the reader's", () => {
    const e = caughtEdgeRnnError(() => decodeModel(withVersion(withManifest(bytes, (m) => (m.tensors[0].dtype = 'f16')), 1, 3), 'v.ern'));
    expect(e.code).toBe('ERN_TENSOR');
    expect(e.message).toMatch(/dtype "f16" is not one of f32, i8, i16, i32, u8, i8bs \(the file is format 1\.3, this reader knows 1\.0\)/);
  });
});

describe('what a newer minor adds and this reader cannot ignore', () => {
  // Until 2026-11-27 only an unknown dtype said the file was newer: an unknown layer kind, a new
  // precision, scheme, direction or activation, or a front-end field read as a broken file
  // ("must be one of gru, lstm, ..."), with nothing telling the user to upgrade the reader.
  const newerNote = /\(the file is format 1\.4, this reader knows 1\.0\)/;
  const cases: [string, (m: Record<string, any>) => void][] = [
    ['a layer kind', (m) => m.layers.splice(m.layers.length - 1, 0, { kind: 'layerNorm', size: m.output.size })],
    ['a precision', (m) => (m.precision = 'int4')],
    ['a quantization scheme', (m) => (m.quantization.scheme = 'ern-a8w4-v2')],
    ['a direction', (m) => (m.layers[0].direction = 'causal')],
    ['an activation', (m) => (m.layers[0].activations[0].name = 'Gelu')],
    ['a front-end field', (m) => (m.input.frontend.dither = 0.1)],
  ];
  for (const [what, edit] of cases) {
    it(`${what} is refused naming both versions`, () => {
      const e = caughtEdgeRnnError(() => decodeModel(withVersion(withManifest(bytes, edit), 1, 4), 'v.ern'));
      expect(e.code).toBe('ERN_MANIFEST');
      expect(e.message).toMatch(newerNote);
    });
  }

  it('a format 1.0 file with the same defect is a broken file, not a newer one', () => {
    const e = caughtEdgeRnnError(() => decodeModel(withManifest(bytes, (m) => (m.layers[0].direction = 'causal')), 'v.ern'));
    expect(e.code).toBe('ERN_MANIFEST');
    expect(e.message).not.toMatch(/this reader knows/);
  });
});
