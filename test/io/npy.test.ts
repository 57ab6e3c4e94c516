/**
 * The .npy reader against NumPy: fixtures written by NumPy itself (test/fixtures/npy/generate.py:
 * every supported element type (float16 too), both byte orders, C and Fortran order, format versions 1–3, 0-d
 * and empty arrays) must read as NumPy reads them; the writer's files must read back in NumPy
 * (when Debian's python3-numpy is here); and damaged files get BAD_INPUT_FILE, never another
 * exception.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { isEdgeRnnError, readNpy, Rng, writeNpy } from '../../src/index.js';
import { openNpy } from '../../src/io/npy.js';
import { thrownBy as errorOf } from '../helpers/errors.js';

const DIR = path.resolve(import.meta.dirname, '../fixtures/npy');
// generate.py writes NaN and the infinities as strings: JSON has no such numbers.
const special: Record<string, number> = { nan: NaN, inf: Infinity, '-inf': -Infinity };
const expected = JSON.parse(fs.readFileSync(path.join(DIR, 'expected.json'), 'utf8'), (_, v: unknown) => (typeof v === 'string' && v in special ? special[v] : v)) as Record<string, { shape: number[]; data: number[] }>;
const names = Object.keys(expected).filter((k) => !k.startsWith('_'));
const file = (name: string) => new Uint8Array(fs.readFileSync(path.join(DIR, `${name}.npy`)));


/** A .npy v1.0 file with the given header dictionary and data bytes. */
function npy(header: string, data = new Uint8Array(0)): Uint8Array {
  const pad = 64 - ((10 + header.length + 1) % 64);
  const h = `${header}${' '.repeat(pad % 64)}\n`;
  const out = new Uint8Array(10 + h.length + data.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
  new DataView(out.buffer).setUint16(8, h.length, true);
  out.set(new TextEncoder().encode(h), 10);
  out.set(data, 10 + h.length);
  return out;
}

describe('readNpy: files NumPy wrote', () => {
  it.each(names)('%s reads as NumPy reads it', (name) => {
    const a = readNpy(file(name), `${name}.npy`);
    expect(a.shape).toEqual(expected[name]!.shape);
    expect(Array.from(a.data)).toEqual(expected[name]!.data);
  });
});

describe('readNpy: defects', () => {
  it('names what is wrong', () => {
    const cases: [Uint8Array, RegExp][] = [
      [new Uint8Array([1, 2, 3]), /not a \.npy file/],
      [new TextEncoder().encode('{"steps": [[1, 2]]}'), /missing \\x93NUMPY magic/],
      // The magic alone (a copy cut short) is truncated, not "missing magic".
      [file('f4-c').subarray(0, 8), /truncated header: 8 bytes, a \.npy file starts with 10/],
      [Uint8Array.from([...file('f4-c').subarray(0, 6), 9, 0, ...file('f4-c').subarray(8)]), /unsupported \.npy version 9\.0/],
      [file('f4-c').subarray(0, 60), /header of \d+ bytes runs past the end/],
      [file('f4-c').subarray(0, file('f4-c').length - 1), /needs 96 data bytes, file has 95: truncated/],
      [npy("{'descr': '<U3', 'fortran_order': False, 'shape': (2,), }", new Uint8Array(24)), /element type '<U3' is not supported/],
      [npy("{'descr': '<f3', 'fortran_order': False, 'shape': (2,), }", new Uint8Array(6)), /element type '<f3' is not supported \(float16\/32\/64, /],
      [npy("{'descr': '<c8', 'fortran_order': False, 'shape': (2,), }", new Uint8Array(16)), /element type '<c8' is not supported/],
      [npy("{'descr': '|O', 'fortran_order': False, 'shape': (2,), }", new Uint8Array(16)), /element type '\|O' is not supported/],
      // Was "cannot parse header": a type with a unit did not fit the pattern.
      [npy("{'descr': '<M8[ns]', 'fortran_order': False, 'shape': (2,), }", new Uint8Array(16)), /element type '<M8\[ns\]' is not supported/],
      [npy("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,), }", new Uint8Array(8)), /a structured \(record\) array, not supported/],
      [npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, -1), }"), /bad shape \(2, -1\)/],
      [npy("{'descr': '<f4', 'fortran_order': False, 'shape': (100000000000000000000,), }"), /bad shape/],
    ];
    for (const [bytes, message] of cases) {
      const e = errorOf(() => readNpy(bytes, 'x.npy'));
      expect(e, String(message)).not.toBeNull();
      expect(e!.code, e!.message).toBe('BAD_INPUT_FILE');
      expect(e!.message).toMatch(/^x\.npy: /);
      expect(e!.message).toMatch(message);
    }
  });

  it('names what NumPy wrote that is not a plain array: a structured array, an .npz (np.savez), in a short message', () => {
    const structured = errorOf(() => readNpy(new Uint8Array(fs.readFileSync(path.join(DIR, 'refused-structured.npy'))), 'x.npy'));
    expect(structured?.code).toBe('BAD_INPUT_FILE');
    expect(structured!.message).toMatch(/^x\.npy: a structured \(record\) array, not supported/);
    const npz = errorOf(() => readNpy(new Uint8Array(fs.readFileSync(path.join(DIR, 'refused-savez.npz'))), 'x.npy'));
    expect(npz?.code).toBe('BAD_INPUT_FILE');
    expect(npz!.message).toMatch(/^x\.npy: a zip archive \(an \.npz of np\.savez\?\)/);
    // A header that cannot be parsed is quoted in part: 5,000 fields made a 95 KB message.
    const long = errorOf(() => readNpy(npy(`{'descr': '<f4', 'shape': (2,), 'note': '${'x'.repeat(60000)}', }`), 'x.npy'));
    expect(long!.message).toMatch(/^x\.npy: cannot parse header "\{'descr': '<f4', /);
    expect(long!.message.length).toBeLessThan(400);
  });

  it('random damage to valid files: a result or BAD_INPUT_FILE, never another exception', () => {
    const rng = new Rng(11);
    let rejected = 0;
    for (let trial = 0; trial < 3000; trial++) {
      const src = file(names[rng.int(0, names.length - 1)]!);
      let b: Uint8Array;
      if (rng.uniform(0, 1) < 0.3) b = src.subarray(0, rng.int(0, src.length - 1));
      else {
        b = src.slice();
        // Damage the header more often than the data: that is where the parsing is.
        for (let k = rng.int(1, 4); k > 0; k--) b[rng.uniform(0, 1) < 0.7 ? rng.int(0, Math.min(b.length, 128) - 1) : rng.int(0, b.length - 1)] = rng.int(0, 255);
      }
      try {
        const a = readNpy(b, 'fuzz.npy');
        expect(a.data.length).toBe(a.shape.reduce((x, y) => x * y, 1));
      } catch (e) {
        if (!isEdgeRnnError(e) || e.code !== 'BAD_INPUT_FILE') throw e;
        rejected++;
      }
    }
    expect(rejected).toBeGreaterThan(1000);
  });
});

describe('writeNpy: a shape that does not fit the data', () => {
  it('is INVALID_ARGUMENT, not a file NumPy refuses (or reads wrongly)', () => {
    // Before: writeNpy(5 values, [2, 3]) wrote a header for 6 values over 20 data bytes, and
    // [-1] or [2.5] went into the header as they were.
    const cases: [Float32Array, number[], RegExp][] = [
      [new Float32Array(5), [2, 3], /shape \[2, 3\] holds 6 values, data has 5/],
      [new Float32Array(7), [2, 3], /shape \[2, 3\] holds 6 values, data has 7/],
      [new Float32Array(0), [-1], /shape must be an array of at most 1000 whole numbers >= 0, got \[-1\]/],
      [new Float32Array(2), [2.5], /got \[2\.5\]/],
      [new Float32Array(1), [NaN], /got \[NaN\]/],
      // The message itself was a TypeError (JSON.stringify of a BigInt, of undefined).
      [new Float32Array(3), [3n] as unknown as number[], /got \[3n\]$/],
      [new Float32Array(3), undefined as unknown as number[], /got undefined$/],
      [new Float32Array(3), ['3'] as unknown as number[], /got \["3"\]$/],
      [new Float64Array(2) as unknown as Float32Array, [2], /data must be a Float32Array, got Float64Array/],
    ];
    for (const [data, shape, message] of cases) {
      const e = errorOf(() => writeNpy(data, shape));
      expect(e, String(message)).not.toBeNull();
      expect(e!.code, e!.message).toBe('INVALID_ARGUMENT');
      expect(e!.message).toMatch(message);
    }
    for (const shape of [[], [0], [2, 0, 3], [1, 2, 1, 2, 1]]) {
      const n = shape.reduce((a, b) => a * b, 1);
      const data = Float32Array.from({ length: n }, (_, i) => i - 0.5);
      expect(readNpy(writeNpy(data, shape))).toEqual({ shape, data: Float64Array.from(data) });
    }
  });
});

const numpy = spawnSync('/usr/bin/python3', ['-c', 'import numpy; print(numpy.__version__)'], { encoding: 'utf8' });
describe.skipIf(numpy.status !== 0)('writeNpy: NumPy reads what it writes', () => {
  // Byte for byte only with the NumPy that wrote them (another version may pad headers differently).
  it.skipIf(numpy.stdout.trim() !== (expected as unknown as { _numpy: string })._numpy)('the committed fixtures are what generate.py writes', () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'edgernn-npy-gen-'));
    try {
      const r = spawnSync('/usr/bin/python3', [path.join(DIR, 'generate.py'), tmp], { encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
      for (const f of fs.readdirSync(tmp)) expect(fs.readFileSync(path.join(tmp, f)).equals(fs.readFileSync(path.join(DIR, f))), f).toBe(true);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });

  it('float16: every one of the 65,536 halves, both byte orders, reads as the number NumPy makes of it (was "not supported")', () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'edgernn-npy-f2-'));
    try {
      const r = spawnSync('/usr/bin/python3', ['-c', `import numpy as np\nb = np.arange(65536, dtype='<u2')\nfor o in '<>':\n    h = b.view('<f2').astype(o + 'f2')\n    np.save('${tmp}/h' + ('le' if o == '<' else 'be') + '.npy', h)\n    np.save('${tmp}/d' + ('le' if o == '<' else 'be') + '.npy', h.astype('<f8'))`], { encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
      for (const order of ['le', 'be']) {
        const halves = readNpy(fs.readFileSync(path.join(tmp, `h${order}.npy`)), `h${order}.npy`);
        const doubles = readNpy(fs.readFileSync(path.join(tmp, `d${order}.npy`)), `d${order}.npy`);
        expect(halves.shape).toEqual([65536]);
        expect(Object.is(halves.data[0x8000], -0)).toBe(true);
        // Bit for bit (NaN payloads aside): toEqual takes -0 and 0 as different, NaN as equal.
        expect(halves.data).toEqual(doubles.data);
      }
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });

  it('float32 arrays of rank 0-5, empty ones too, and reads them back itself', () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'edgernn-npy-'));
    try {
      const rng = new Rng(3);
      const shapes = [[5], [2, 3], [4, 1, 3], [], [0], [2, 0, 3], [1, 2, 1, 2, 1]];
      shapes.forEach((shape, i) => {
        const data = rng.float32(shape.reduce((a, b) => a * b, 1), -10, 10);
        const bytes = writeNpy(data, shape);
        fs.writeFileSync(path.join(tmp, `${i}.npy`), bytes);
        expect(readNpy(bytes)).toEqual({ shape, data: Float64Array.from(data) });
      });
      const r = spawnSync('/usr/bin/python3', ['-c', `import json, numpy\nprint(json.dumps([[list(a.shape), a.dtype.str, a.ravel().astype('f8').tolist()] for a in (numpy.load('${tmp}/%d.npy' % i) for i in range(${shapes.length}))]))`], { encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
      const got = JSON.parse(r.stdout) as [number[], string, number[]][];
      got.forEach(([shape, dtype, values], i) => {
        expect(shape).toEqual(shapes[i]);
        expect(dtype).toBe('<f4');
        expect(values).toEqual(Array.from(readNpy(fs.readFileSync(path.join(tmp, `${i}.npy`))).data));
      });
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });
});

describe('readNpy: a header length that does not match the header', () => {
  // The header is a Python dict literal ending in '\n' (the .npy format); data starts right
  // after it. A length that lied used to shift where the data was read from, silently: too short
  // (cut inside the padding) read the padding spaces as numbers (1.36e-19), too long read the
  // data from the wrong offset when the file had bytes to spare.
  const good = writeNpy(Float32Array.from([1, 2, 3, 4]), [4]);
  const headerLength = new DataView(good.buffer).getUint16(8, true);
  const withLength = (length: number, extraBytes = 0): Uint8Array => {
    const b = new Uint8Array(good.length + extraBytes);
    b.set(good);
    new DataView(b.buffer).setUint16(8, length, true);
    return b;
  };

  it('reads the honest file', () => {
    expect(Array.from(readNpy(withLength(headerLength)).data)).toEqual([1, 2, 3, 4]);
  });

  for (const [name, bytes] of [
    ['20 bytes short (inside the padding)', withLength(headerLength - 20)],
    ['1 byte short (the newline cut off)', withLength(headerLength - 1, 0)],
    ['8 bytes long, file with 8 bytes to spare', withLength(headerLength + 8, 8)],
    ['4 bytes long', withLength(headerLength + 4, 4)],
  ] as const) {
    it(`${name}: BAD_INPUT_FILE naming the header, not shifted numbers`, () => {
      const e = errorOf(() => readNpy(bytes, 'lie.npy'));
      expect(e, 'readNpy returned numbers').not.toBeNull();
      expect(e!.code).toBe('BAD_INPUT_FILE');
      expect(e!.message).toMatch(/^lie\.npy: header of \d+ bytes does not end with the dictionary and '\\n'/);
    });
  }
});

describe('openNpy: a block at a time, as readNpy reads the whole', () => {
  // The loaders read sequences a block at a time (readNpy's float64 copy of the whole array was
  // 8 bytes an element: 13 times an int8 file's size at the peak). Any block of any fixture,
  // Fortran-ordered and big-endian ones too, is the same slice of what readNpy returns.
  it.each(names)('%s', (name) => {
    const whole = readNpy(file(name), `${name}.npy`);
    const npy = openNpy(file(name), `${name}.npy`);
    expect(npy.shape).toEqual(whole.shape);
    expect(npy.count).toBe(whole.data.length);
    for (const block of [1, 2, 3, 5, 8]) {
      for (let from = 0; from + block <= npy.count; from += block) {
        const out = new Float64Array(block);
        npy.read(from, out);
        expect(out).toEqual(whole.data.subarray(from, from + block));
      }
    }
  });
});
