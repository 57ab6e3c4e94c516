/**
 * NumPy .npy files (format versions 1.0, 2.0, 3.0): read any C- or Fortran-ordered array of
 * float (16, 32, 64 bits)/int/uint/bool elements as float64, write float32. Defects get
 * BAD_INPUT_FILE errors that name the problem.
 */
import { EdgeRnnError } from '../errors.js';
import { fileBytes, unshared } from '../util/bytes.js';

export interface NpyArray {
  shape: number[];
  data: Float64Array;
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

/** An IEEE 754 half (NumPy's float16) as the number it is, exactly: subnormals, ±0, ±inf, NaN. */
function half(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exp = (bits >> 10) & 0x1f;
  const frac = bits & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 0x1f) return frac ? NaN : sign * Infinity;
  return sign * (1024 + frac) * 2 ** (exp - 25);
}

function bad(source: string, msg: string, details: Record<string, unknown> = {}): EdgeRnnError {
  return new EdgeRnnError('BAD_INPUT_FILE', `${source}: ${msg}`, { source, ...details });
}

/**
 * A .npy file's array, read a block at a time: for loaders that keep it as float32 sequences.
 * Memory is then the blocks they keep, not readNpy's float64 copy of the whole array first (8
 * bytes an element: 8 times an int8 file's size).
 */
export interface NpyReader {
  shape: number[];
  /** Elements: the product of the shape. */
  count: number;
  /** Fills `out` with the elements [from, from + out.length) in C order, as float64. */
  read(from: number, out: Float64Array): void;
}

/** Checks a .npy file's header and sizes (BAD_INPUT_FILE naming the defect) and opens its data. */
export function openNpy(file: Uint8Array | ArrayBuffer | SharedArrayBuffer | ArrayBufferView, source = 'input.npy'): NpyReader {
  const bytes = fileBytes(file, source, 'readNpy()');
  // NumPy's other format, np.savez's zip of .npy files, is named: it was "missing magic".
  if (bytes.length >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 3 && bytes[3] === 4) {
    throw bad(source, 'a zip archive (an .npz of np.savez?): save the one array with np.save, as .npy');
  }
  if (MAGIC.some((b, i) => bytes[i] !== b)) throw bad(source, 'not a .npy file (missing \\x93NUMPY magic)');
  // The magic and no more (a copy cut short) was "missing magic".
  if (bytes.length < 10) throw bad(source, `truncated header: ${bytes.length} bytes, a .npy file starts with 10 (magic, version, header length)`);
  const major = bytes[6]!;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  let headerLen: number;
  let start: number;
  if (major === 1) {
    headerLen = dv.getUint16(8, true);
    start = 10;
  } else if (major === 2 || major === 3) {
    if (bytes.length < 12) throw bad(source, 'truncated header');
    headerLen = dv.getUint32(8, true);
    start = 12;
  } else throw bad(source, `unsupported .npy version ${major}.${bytes[7]}`);
  if (start + headerLen > bytes.length) throw bad(source, `header of ${headerLen} bytes runs past the end of the file`);
  const header = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(unshared(bytes.subarray(start, start + headerLen)));
  // The header is a Python dict literal, padded with spaces and ended by '\n' (the .npy format;
  // NumPy and other writers always end it so), and the data starts right after it. A header
  // length that lied used to move where the data was read from, silently: too short (into the
  // padding) read the spaces as numbers, too long read the data from a later offset.
  if (!/^\{[\s\S]*\}\s*$/.test(header) || !header.endsWith('\n')) {
    throw bad(source, `header of ${headerLen} bytes does not end with the dictionary and '\\n' (expected "{...}", spaces, "\\n"; it ends in ${JSON.stringify(header.slice(-16))}): the header length is wrong or the header is damaged`);
  }
  const descrM = /'descr'\s*:\s*'([^']*)'/.exec(header);
  const fortranM = /'fortran_order'\s*:\s*(True|False)/.exec(header);
  const shapeM = /'shape'\s*:\s*\(([^)]*)\)/.exec(header);
  // A structured (record) array's descr is a list of fields: named, where it was "cannot parse
  // header" with the whole header in the message (95 KB for 5,000 fields).
  if (/'descr'\s*:\s*\[/.test(header)) {
    throw bad(source, `a structured (record) array, not supported: save one numeric field or a plain array (np.save(file, a['field']))`);
  }
  if (!descrM || !fortranM || !shapeM) {
    const shown = header.trim();
    throw bad(source, `cannot parse header ${JSON.stringify(shown.length > 200 ? `${shown.slice(0, 200)}…` : shown)}`);
  }
  const typeName = descrM[1]!;
  const unsupported = (): EdgeRnnError => bad(source, `element type '${typeName}' is not supported (float16/32/64, int8-64, uint8-64, bool)`, { elementType: typeName });
  // Byte order, kind, size: '<f4'. Anything else ('<M8[ns]', '|O') is named as unsupported.
  const descr = /^([<>|=])([A-Za-z?])(\d*)$/.exec(typeName);
  if (!descr) throw unsupported();
  const [, order, kind, sizeS] = descr;
  const size = Number(sizeS);
  const shape = shapeM[1]!
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    .map(Number);
  if (shape.some((d) => !Number.isSafeInteger(d) || d < 0)) throw bad(source, `bad shape (${shapeM[1]})`);
  const count = shape.reduce((a, b) => a * b, 1);
  const little = order !== '>';
  const readers: Record<string, (o: number) => number> = {
    f2: (o) => half(dv.getUint16(o, little)),
    f4: (o) => dv.getFloat32(o, little),
    f8: (o) => dv.getFloat64(o, little),
    i1: (o) => dv.getInt8(o),
    i2: (o) => dv.getInt16(o, little),
    i4: (o) => dv.getInt32(o, little),
    i8: (o) => Number(dv.getBigInt64(o, little)),
    u1: (o) => dv.getUint8(o),
    u2: (o) => dv.getUint16(o, little),
    u4: (o) => dv.getUint32(o, little),
    u8: (o) => Number(dv.getBigUint64(o, little)),
    // NumPy reads any nonzero byte as True (a uint8 mask viewed as bool holds 2s and 255s).
    b1: (o) => (dv.getUint8(o) === 0 ? 0 : 1),
  };
  const read = readers[`${kind}${size}`];
  if (!read) throw unsupported();
  const dataStart = start + headerLen;
  if (dataStart + count * size > bytes.length) {
    throw bad(source, `shape [${shape}] of ${kind}${size} needs ${count * size} data bytes, file has ${bytes.length - dataStart}: truncated`);
  }
  const fortran = fortranM[1] === 'True' && shape.length > 1;
  // Fortran order: the storage stride of each dimension (the first varies fastest).
  const strides = shape.map((_, i) => shape.slice(0, i).reduce((a, b) => a * b, 1));
  return {
    shape,
    count,
    read(from, out) {
      const end = from + out.length;
      if (!(Number.isSafeInteger(from) && from >= 0 && end <= count)) throw new RangeError(`elements [${from}, ${end}) of ${count}`);
      if (!fortran) {
        for (let i = 0; i < out.length; i++) out[i] = read(dataStart + (from + i) * size);
        return;
      }
      // Column-major to row-major: idx is the position (C order) of element from + i, f where it is stored.
      const idx = new Array<number>(shape.length).fill(0);
      for (let d = shape.length - 1, rest = from; d >= 0; d--) {
        idx[d] = rest % shape[d]!;
        rest = Math.floor(rest / shape[d]!);
      }
      for (let i = 0; i < out.length; i++) {
        let f = 0;
        for (let d = 0; d < shape.length; d++) f += idx[d]! * strides[d]!;
        out[i] = read(dataStart + f * size);
        for (let d = shape.length - 1; d >= 0; d--) {
          if (++idx[d]! < shape[d]!) break;
          idx[d] = 0;
        }
      }
    },
  };
}

export function readNpy(file: Uint8Array | ArrayBuffer | SharedArrayBuffer | ArrayBufferView, source = 'input.npy'): NpyArray {
  const npy = openNpy(file, source);
  const data = new Float64Array(npy.count);
  npy.read(0, data);
  return { shape: npy.shape, data };
}

/**
 * A float32 .npy file (format 1.0) holding `data` as an array of `shape` (C order). The shape
 * must be whole numbers >= 0 whose product is data.length (INVALID_ARGUMENT otherwise): a
 * header that disagrees with its data made a file NumPy and readNpy refuse, or read wrongly.
 */
export function writeNpy(data: Float32Array, shape: number[]): Uint8Array<ArrayBuffer> {
  if (!(data instanceof Float32Array)) {
    throw new EdgeRnnError('INVALID_ARGUMENT', `writeNpy(): data must be a Float32Array, got ${data === null ? 'null' : typeof data === 'object' ? (data as object).constructor?.name ?? 'an object' : typeof data}`);
  }
  // 1000 dimensions keep the header within format 1.0's 65,535 bytes (NumPy reads 32 or 64).
  if (!Array.isArray(shape) || shape.length > 1000 || shape.some((d) => !Number.isSafeInteger(d) || d < 0)) {
    // Not JSON.stringify: it throws on a BigInt (and gives undefined for a function), which made
    // this message a TypeError.
    const got = Array.isArray(shape) ? `[${shape.slice(0, 10).map((d: unknown) => (typeof d === 'string' ? JSON.stringify(d) : typeof d === 'bigint' ? `${d}n` : String(d))).join(', ')}${shape.length > 10 ? ', …' : ''}]` : typeof shape;
    throw new EdgeRnnError('INVALID_ARGUMENT', `writeNpy(): shape must be an array of at most 1000 whole numbers >= 0, got ${got}`, { got: shape });
  }
  const count = shape.reduce((a, b) => a * b, 1);
  if (count !== data.length) {
    throw new EdgeRnnError('INVALID_ARGUMENT', `writeNpy(): shape [${shape.join(', ')}] holds ${count} values, data has ${data.length}`, { expected: count, got: data.length });
  }
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  const total = 10 + header.length + 1;
  header += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  const out = new Uint8Array(10 + header.length + data.byteLength);
  out.set(MAGIC, 0);
  out[6] = 1;
  out[7] = 0;
  new DataView(out.buffer).setUint16(8, header.length, true);
  out.set(new TextEncoder().encode(header), 10);
  out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), 10 + header.length);
  return out;
}
