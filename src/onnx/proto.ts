/**
 * The ONNX messages edgernn reads and writes, as plain objects, with their decoders and
 * encoders. Field numbers follow onnx/onnx.proto3 (IR version 10); fields edgernn does not use
 * are skipped on read (functions, training_info, sparse initializers are reported when a
 * model relies on them).
 *
 *   ModelProto        1 ir_version, 2 producer_name, 3 producer_version, 4 domain,
 *                     5 model_version, 6 doc_string, 7 graph, 8 opset_import, 14 metadata_props
 *   StringStringEntryProto 1 key, 2 value
 *   OperatorSetIdProto 1 domain, 2 version
 *   GraphProto        1 node, 2 name, 5 initializer, 10 doc_string, 11 input, 12 output,
 *                     13 value_info, 15 sparse_initializer
 *   NodeProto         1 input, 2 output, 3 name, 4 op_type, 5 attribute, 6 doc_string, 7 domain
 *   AttributeProto    1 name, 2 f, 3 i, 4 s, 5 t, 6 g, 7 floats, 8 ints, 9 strings, 10 tensors,
 *                     11 graphs, 13 doc_string, 20 type, 21 ref_attr_name
 *   TensorProto       1 dims, 2 data_type, 4 float_data, 5 int32_data, 6 string_data,
 *                     7 int64_data, 8 name, 9 raw_data, 10 double_data, 11 uint64_data,
 *                     13 external_data, 14 data_location
 *   ValueInfoProto    1 name, 2 type, 3 doc_string
 *   TypeProto         1 tensor_type (Tensor: 1 elem_type, 2 shape)
 *   TensorShapeProto  1 dim (Dimension: 1 dim_value, 2 dim_param)
 */
import { EdgeRnnError } from '../errors.js';
import { WIRE_I32, WIRE_LEN, WIRE_VARINT, WireReader, WireWriter } from './wire.js';
import { fileBytes } from '../util/bytes.js';

/** TensorProto.DataType values edgernn can read (ids from onnx.proto). */
export const ONNX_DTYPES = {
  FLOAT: 1,
  UINT8: 2,
  INT8: 3,
  UINT16: 4,
  INT16: 5,
  INT32: 6,
  INT64: 7,
  STRING: 8,
  BOOL: 9,
  FLOAT16: 10,
  DOUBLE: 11,
  UINT32: 12,
  UINT64: 13,
  BFLOAT16: 16,
} as const;
export type OnnxDTypeName = keyof typeof ONNX_DTYPES;

/** The TensorProto.DataType values of onnx.proto that edgernn does not read. */
const OTHER_DTYPES: Readonly<Record<number, string>> = {
  14: 'COMPLEX64',
  15: 'COMPLEX128',
  17: 'FLOAT8E4M3FN',
  18: 'FLOAT8E4M3FNUZ',
  19: 'FLOAT8E5M2',
  20: 'FLOAT8E5M2FNUZ',
  21: 'UINT4',
  22: 'INT4',
  23: 'FLOAT4E2M1',
};

export function dtypeName(id: number): string {
  for (const [k, v] of Object.entries(ONNX_DTYPES)) if (v === id) return k;
  return OTHER_DTYPES[id] ?? `type ${id}`;
}

/** AttributeProto.AttributeType. */
export const ATTR_TYPES = { FLOAT: 1, INT: 2, STRING: 3, TENSOR: 4, GRAPH: 5, FLOATS: 6, INTS: 7, STRINGS: 8, TENSORS: 9, GRAPHS: 10 } as const;

/**
 * A decoded tensor. Numeric elements are widened to float64 (int64 exact up to 2^53); `data`
 * is row-major with dims.reduce(*) elements.
 */
export interface TensorProto {
  name: string;
  dataType: number;
  dims: number[];
  data: Float64Array;
}

export interface AttributeProto {
  name: string;
  /** AttributeType; 0 when the writer left it out (old files), then inferred from the fields set. */
  type: number;
  f?: number;
  i?: number;
  s?: Uint8Array;
  t?: TensorProto;
  floats: number[];
  ints: number[];
  strings: Uint8Array[];
  tensors: TensorProto[];
  /** Subgraphs are counted, not decoded: no supported op takes one. */
  graphCount: number;
  refAttrName?: string;
}

export interface NodeProto {
  name: string;
  opType: string;
  domain: string;
  input: string[];
  output: string[];
  attribute: AttributeProto[];
}

/** A dimension: a number, a symbolic name, or unknown. */
export type DimProto = number | string | null;

export interface ValueInfoProto {
  name: string;
  /** Element type (TensorProto.DataType), 0 when not a tensor or unknown. */
  elemType: number;
  /** null when the shape is not given. */
  shape: DimProto[] | null;
}

export interface GraphProto {
  name: string;
  node: NodeProto[];
  initializer: TensorProto[];
  input: ValueInfoProto[];
  output: ValueInfoProto[];
  valueInfo: ValueInfoProto[];
  sparseInitializerCount: number;
}

export interface OpsetId {
  domain: string;
  version: number;
}

export interface ModelProto {
  irVersion: number;
  producerName: string;
  producerVersion: string;
  domain: string;
  modelVersion: number;
  docString: string;
  opsetImport: OpsetId[];
  /** Free-form key/value pairs (ONNX metadata_props; edgernn keeps its manifest there, see metadata.ts). */
  metadataProps: MetadataEntry[];
  graph: GraphProto;
  functionCount: number;
}

export interface MetadataEntry {
  key: string;
  value: string;
}

// ---------------------------------------------------------------------------------------------
// Decoding

function float16ToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

function bfloat16ToFloat(h: number): number {
  const dv = new DataView(new ArrayBuffer(4));
  dv.setUint32(0, (h & 0xffff) << 16);
  return dv.getFloat32(0);
}

/** Integer element types stored in int32_data: [bits, signed]. */
const NARROW_BITS: Record<number, [number, boolean]> = { 2: [8, false], 3: [8, true], 4: [16, false], 5: [16, true], 6: [32, true] };

/** v modulo 2^bits, as the C++ cast of a protobuf value to the element type. */
function wrapInt(v: number, bits: number, signed: boolean): number {
  const m = 2 ** bits;
  const u = ((v % m) + m) % m;
  return signed && u >= m / 2 ? u - m : u;
}

/** Bytes per element in raw_data. */
const RAW_SIZE: Record<number, number> = { 1: 4, 2: 1, 3: 1, 4: 2, 5: 2, 6: 4, 7: 8, 9: 1, 10: 2, 11: 8, 12: 4, 13: 8, 16: 2 };

function decodeRaw(r: WireReader, raw: Uint8Array, dataType: number, count: number, at: number): Float64Array {
  const size = RAW_SIZE[dataType];
  if (size === undefined) throw r.fail(`raw_data of ${dtypeName(dataType)} is not supported`, at);
  if (raw.length !== count * size) throw r.fail(`raw_data has ${raw.length} bytes, dims need ${count} x ${size} = ${count * size}`, at);
  const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const out = new Float64Array(count);
  for (let i = 0; i < count; i++) {
    const o = i * size;
    switch (dataType) {
      case 1: out[i] = dv.getFloat32(o, true); break;
      case 2: case 9: out[i] = dv.getUint8(o); break;
      case 3: out[i] = dv.getInt8(o); break;
      case 4: out[i] = dv.getUint16(o, true); break;
      case 5: out[i] = dv.getInt16(o, true); break;
      case 6: out[i] = dv.getInt32(o, true); break;
      case 7: out[i] = Number(dv.getBigInt64(o, true)); break;
      case 10: out[i] = float16ToFloat(dv.getUint16(o, true)); break;
      case 11: out[i] = dv.getFloat64(o, true); break;
      case 12: out[i] = dv.getUint32(o, true); break;
      case 13: out[i] = Number(dv.getBigUint64(o, true)); break;
      case 16: out[i] = bfloat16ToFloat(dv.getUint16(o, true)); break;
    }
  }
  return out;
}

export function decodeTensor(r: WireReader): TensorProto {
  const dims: number[] = [];
  let dataType = 0;
  let name = '';
  let raw: Uint8Array | null = null;
  let rawAt = 0;
  const floatData: number[] = [];
  const int32Data: number[] = [];
  const int64Data: number[] = [];
  const doubleData: number[] = [];
  const uint64Data: number[] = [];
  let strings = 0;
  let external = false;
  let dataLocation = 0;
  while (!r.done) {
    const [f, w] = r.tag();
    switch (f) {
      case 1: r.repeatedInt64('dims', w, dims); break;
      case 2: r.expect('data_type', w, WIRE_VARINT); dataType = r.int64(); break;
      case 4: r.repeatedFloat32('float_data', w, floatData); break;
      case 5: r.repeatedInt64('int32_data', w, int32Data); break;
      case 6: r.expect('string_data', w, WIRE_LEN); r.bytes(); strings++; break;
      case 7: r.repeatedInt64('int64_data', w, int64Data); break;
      case 8: r.expect('name', w, WIRE_LEN); name = r.string(); break;
      case 9: r.expect('raw_data', w, WIRE_LEN); rawAt = r.pos; raw = r.bytes(); break;
      case 10: r.repeatedFloat64('double_data', w, doubleData); break;
      case 11: r.repeatedUint64('uint64_data', w, uint64Data); break;
      case 13: r.expect('external_data', w, WIRE_LEN); r.bytes(); external = true; break;
      case 14: r.expect('data_location', w, WIRE_VARINT); dataLocation = r.int64(); break;
      default: r.skip(w);
    }
  }
  const label = name ? `tensor '${name}'` : 'tensor';
  for (const d of dims) if (!(d >= 0) || !Number.isSafeInteger(d)) throw r.fail(`${label} has dimension ${d}`);
  if (external || dataLocation === 1) {
    throw new EdgeRnnError('ONNX_UNSUPPORTED', `${label} keeps its data in an external file; save the model with all tensors inside (onnx.save(model, path, save_as_external_data=False))`, { tensor: name });
  }
  if (dataType === ONNX_DTYPES.STRING || strings > 0) {
    throw new EdgeRnnError('ONNX_UNSUPPORTED', `${label} holds strings; edgernn reads numeric tensors only`, { tensor: name });
  }
  // A valid ONNX element type edgernn does not read (int4, float8) is not a malformed file.
  if (OTHER_DTYPES[dataType] !== undefined) {
    throw new EdgeRnnError('ONNX_UNSUPPORTED', `${label} has element type ${dtypeName(dataType)}; edgernn reads FLOAT, FLOAT16, BFLOAT16, DOUBLE and 8- to 64-bit integer and BOOL tensors`, { tensor: name, dataType });
  }
  if (RAW_SIZE[dataType] === undefined) throw r.fail(`${label} has unsupported data_type ${dtypeName(dataType)}`);
  const count = dims.reduce((a, b) => a * b, 1);
  if (raw !== null) return { name, dataType, dims, data: decodeRaw(r, raw, dataType, count, rawAt) };
  // Typed fields: which one holds the data depends on data_type (onnx.proto comments).
  let src: number[];
  let conv: ((v: number) => number) | null = null;
  switch (dataType) {
    case 1: src = floatData; break;
    case 11: src = doubleData; break;
    case 7: src = int64Data; break;
    case 12: src = uint64Data; conv = (v) => wrapInt(v, 32, false); break;
    case 13: src = uint64Data; break;
    case 10: src = int32Data; conv = (v) => float16ToFloat(v & 0xffff); break;
    case 16: src = int32Data; conv = (v) => bfloat16ToFloat(v & 0xffff); break;
    // int32, int16, int8, uint16, uint8, bool: protobuf keeps the low 32 bits of an int32 varint
    // (a negative int32 may be written in 5 bytes), and readers cast to the element type, as
    // onnx.numpy_helper and onnxruntime do (int32_data 255 of an INT8 tensor is -1).
    default: {
      src = int32Data;
      const [bits, signed] = NARROW_BITS[dataType] ?? [32, true];
      conv = dataType === ONNX_DTYPES.BOOL ? (v) => (v !== 0 ? 1 : 0) : (v) => wrapInt(v, bits, signed);
    }
  }
  if (src.length !== count) throw r.fail(`${label} of ${dtypeName(dataType)} [${dims}] needs ${count} elements, the typed data field has ${src.length}`);
  const data = new Float64Array(count);
  for (let i = 0; i < count; i++) data[i] = conv ? conv(src[i]!) : src[i]!;
  if (dataType === 1) for (let i = 0; i < count; i++) data[i] = Math.fround(data[i]!);
  return { name, dataType, dims, data };
}

function decodeAttribute(r: WireReader): AttributeProto {
  const a: AttributeProto = { name: '', type: 0, floats: [], ints: [], strings: [], tensors: [], graphCount: 0 };
  while (!r.done) {
    const [f, w] = r.tag();
    switch (f) {
      case 1: r.expect('name', w, WIRE_LEN); a.name = r.string(); break;
      case 2: r.expect('f', w, WIRE_I32); a.f = r.float32(); break;
      case 3: r.expect('i', w, WIRE_VARINT); a.i = r.int64(); break;
      case 4: r.expect('s', w, WIRE_LEN); a.s = r.bytes(); break;
      case 5: r.expect('t', w, WIRE_LEN); a.t = decodeTensor(r.message(`${r.path}.t`)); break;
      case 6: r.expect('g', w, WIRE_LEN); r.bytes(); a.graphCount++; break;
      case 7: r.repeatedFloat32('floats', w, a.floats); break;
      case 8: r.repeatedInt64('ints', w, a.ints); break;
      case 9: r.expect('strings', w, WIRE_LEN); a.strings.push(r.bytes()); break;
      case 10: r.expect('tensors', w, WIRE_LEN); a.tensors.push(decodeTensor(r.message(`${r.path}.tensors[${a.tensors.length}]`))); break;
      case 11: r.expect('graphs', w, WIRE_LEN); r.bytes(); a.graphCount++; break;
      case 20: r.expect('type', w, WIRE_VARINT); a.type = r.int64(); break;
      case 21: r.expect('ref_attr_name', w, WIRE_LEN); a.refAttrName = r.string(); break;
      default: r.skip(w);
    }
  }
  return a;
}

function decodeNode(r: WireReader): NodeProto {
  const n: NodeProto = { name: '', opType: '', domain: '', input: [], output: [], attribute: [] };
  while (!r.done) {
    const [f, w] = r.tag();
    switch (f) {
      case 1: r.expect('input', w, WIRE_LEN); n.input.push(r.string()); break;
      case 2: r.expect('output', w, WIRE_LEN); n.output.push(r.string()); break;
      case 3: r.expect('name', w, WIRE_LEN); n.name = r.string(); break;
      case 4: r.expect('op_type', w, WIRE_LEN); n.opType = r.string(); break;
      case 5: r.expect('attribute', w, WIRE_LEN); n.attribute.push(decodeAttribute(r.message(`${r.path}.attribute[${n.attribute.length}]`))); break;
      case 7: r.expect('domain', w, WIRE_LEN); n.domain = r.string(); break;
      default: r.skip(w);
    }
  }
  return n;
}

function decodeDim(r: WireReader): DimProto {
  let d: DimProto = null;
  while (!r.done) {
    const [f, w] = r.tag();
    if (f === 1) {
      r.expect('dim_value', w, WIRE_VARINT);
      d = r.int64();
    } else if (f === 2) {
      r.expect('dim_param', w, WIRE_LEN);
      d = r.string();
    } else r.skip(w);
  }
  return d;
}

function decodeValueInfo(r: WireReader): ValueInfoProto {
  const v: ValueInfoProto = { name: '', elemType: 0, shape: null };
  while (!r.done) {
    const [f, w] = r.tag();
    if (f === 1) {
      r.expect('name', w, WIRE_LEN);
      v.name = r.string();
    } else if (f === 2) {
      r.expect('type', w, WIRE_LEN);
      const t = r.message(`${r.path}.type`);
      while (!t.done) {
        const [tf, tw] = t.tag();
        if (tf !== 1) {
          t.skip(tw);
          continue;
        }
        t.expect('tensor_type', tw, WIRE_LEN);
        const tt = t.message(`${t.path}.tensor_type`);
        while (!tt.done) {
          const [xf, xw] = tt.tag();
          if (xf === 1) {
            tt.expect('elem_type', xw, WIRE_VARINT);
            v.elemType = tt.int64();
          } else if (xf === 2) {
            tt.expect('shape', xw, WIRE_LEN);
            const s = tt.message(`${tt.path}.shape`);
            v.shape = [];
            while (!s.done) {
              const [sf, sw] = s.tag();
              if (sf === 1) {
                s.expect('dim', sw, WIRE_LEN);
                v.shape.push(decodeDim(s.message(`${s.path}.dim[${v.shape.length}]`)));
              } else s.skip(sw);
            }
          } else tt.skip(xw);
        }
      }
    } else r.skip(w);
  }
  return v;
}

function decodeGraph(r: WireReader): GraphProto {
  const g: GraphProto = { name: '', node: [], initializer: [], input: [], output: [], valueInfo: [], sparseInitializerCount: 0 };
  while (!r.done) {
    const [f, w] = r.tag();
    switch (f) {
      case 1: r.expect('node', w, WIRE_LEN); g.node.push(decodeNode(r.message(`${r.path}.node[${g.node.length}]`))); break;
      case 2: r.expect('name', w, WIRE_LEN); g.name = r.string(); break;
      case 5: r.expect('initializer', w, WIRE_LEN); g.initializer.push(decodeTensor(r.message(`${r.path}.initializer[${g.initializer.length}]`))); break;
      case 11: r.expect('input', w, WIRE_LEN); g.input.push(decodeValueInfo(r.message(`${r.path}.input[${g.input.length}]`))); break;
      case 12: r.expect('output', w, WIRE_LEN); g.output.push(decodeValueInfo(r.message(`${r.path}.output[${g.output.length}]`))); break;
      case 13: r.expect('value_info', w, WIRE_LEN); g.valueInfo.push(decodeValueInfo(r.message(`${r.path}.value_info[${g.valueInfo.length}]`))); break;
      case 15: r.expect('sparse_initializer', w, WIRE_LEN); r.bytes(); g.sparseInitializerCount++; break;
      default: r.skip(w);
    }
  }
  return g;
}

/** OperatorSetIdProto: 1 domain, 2 version. */
function decodeOpsetId(r: WireReader): OpsetId {
  const id: OpsetId = { domain: '', version: 0 };
  while (!r.done) {
    const [f, w] = r.tag();
    switch (f) {
      case 1: r.expect('domain', w, WIRE_LEN); id.domain = r.string(); break;
      case 2: r.expect('version', w, WIRE_VARINT); id.version = r.int64(); break;
      default: r.skip(w);
    }
  }
  return id;
}

/** StringStringEntryProto: 1 key, 2 value. */
function decodeStringEntry(r: WireReader): MetadataEntry {
  const entry: MetadataEntry = { key: '', value: '' };
  while (!r.done) {
    const [f, w] = r.tag();
    switch (f) {
      case 1: r.expect('key', w, WIRE_LEN); entry.key = r.string(); break;
      case 2: r.expect('value', w, WIRE_LEN); entry.value = r.string(); break;
      default: r.skip(w);
    }
  }
  return entry;
}

/** Decodes a serialized ModelProto. Throws ONNX_PARSE (malformed) or ONNX_UNSUPPORTED. */
export function decodeModelProto(file: Uint8Array | ArrayBuffer | ArrayBufferView, source = 'model.onnx'): ModelProto {
  const bytes = fileBytes(file, source, 'decodeModelProto()');
  const r = new WireReader(bytes, 0, bytes.length, `${source}: ModelProto`);
  const m: ModelProto = { irVersion: 0, producerName: '', producerVersion: '', domain: '', modelVersion: 0, docString: '', opsetImport: [], metadataProps: [], graph: null as unknown as GraphProto, functionCount: 0 };
  let graph: GraphProto | null = null;
  while (!r.done) {
    const [f, w] = r.tag();
    switch (f) {
      case 1: r.expect('ir_version', w, WIRE_VARINT); m.irVersion = r.int64(); break;
      case 2: r.expect('producer_name', w, WIRE_LEN); m.producerName = r.string(); break;
      case 3: r.expect('producer_version', w, WIRE_LEN); m.producerVersion = r.string(); break;
      case 4: r.expect('domain', w, WIRE_LEN); m.domain = r.string(); break;
      case 5: r.expect('model_version', w, WIRE_VARINT); m.modelVersion = r.int64(); break;
      case 6: r.expect('doc_string', w, WIRE_LEN); m.docString = r.string(); break;
      case 7: r.expect('graph', w, WIRE_LEN); graph = decodeGraph(r.message(`${r.path}.graph`)); break;
      case 8: r.expect('opset_import', w, WIRE_LEN); m.opsetImport.push(decodeOpsetId(r.message(`${r.path}.opset_import[${m.opsetImport.length}]`))); break;
      case 14: r.expect('metadata_props', w, WIRE_LEN); m.metadataProps.push(decodeStringEntry(r.message(`${r.path}.metadata_props[${m.metadataProps.length}]`))); break;
      case 25: r.expect('functions', w, WIRE_LEN); r.bytes(); m.functionCount++; break;
      default: r.skip(w);
    }
  }
  if (graph === null) {
    throw new EdgeRnnError('ONNX_PARSE', `${source}: not an ONNX model: no graph field (${bytes.length} bytes${bytes.length === 0 ? ', empty file' : ''})`, { source });
  }
  if (m.irVersion <= 0) throw new EdgeRnnError('ONNX_PARSE', `${source}: not an ONNX model: ir_version is missing`, { source });
  m.graph = graph;
  return m;
}

/** Whether the bytes decode as an ONNX model (to name a file given to the wrong command). */
export function isOnnxModel(bytes: Uint8Array): boolean {
  try {
    decodeModelProto(bytes);
    return true;
  } catch {
    return false;
  }
}

/** Each value's consuming nodes, in graph order (a node that reads a value twice is listed once). */
export function consumersOf(model: ModelProto): Map<string, NodeProto[]> {
  const consumers = new Map<string, NodeProto[]>();
  for (const n of model.graph.node) {
    for (const i of new Set(n.input)) {
      const list = consumers.get(i);
      if (list) list.push(n);
      else consumers.set(i, [n]);
    }
  }
  return consumers;
}

/** Decodes a serialized TensorProto (a node test's input_N.pb / output_N.pb). */
export function decodeTensorProto(file: Uint8Array | ArrayBuffer | ArrayBufferView, source = 'tensor.pb'): TensorProto {
  const bytes = fileBytes(file, source, 'decodeTensorProto()');
  return decodeTensor(new WireReader(bytes, 0, bytes.length, `${source}: TensorProto`));
}

// ---------------------------------------------------------------------------------------------
// Encoding

/** Encodes a tensor with raw_data (FLOAT, DOUBLE, INT32, INT64, UINT8, INT8, BOOL). */
export function encodeTensor(t: TensorProto): WireWriter {
  const w = new WireWriter();
  if (t.dims.length) w.packedInt64(1, t.dims);
  w.int(2, t.dataType);
  if (t.name) w.string(8, t.name);
  const n = t.data.length;
  const size = RAW_SIZE[t.dataType];
  if (size === undefined || t.dataType === 10 || t.dataType === 16) throw new RangeError(`encodeTensor: ${dtypeName(t.dataType)} is not supported`);
  const raw = new Uint8Array(n * size);
  const dv = new DataView(raw.buffer);
  for (let i = 0; i < n; i++) {
    const v = t.data[i]!;
    const o = i * size;
    switch (t.dataType) {
      case 1: dv.setFloat32(o, v, true); break;
      case 11: dv.setFloat64(o, v, true); break;
      case 6: dv.setInt32(o, v, true); break;
      // Doubles at +-2^63 (INT64_MAX / INT64_MIN after rounding) clamp instead of wrapping.
      case 7: dv.setBigInt64(o, v >= 2 ** 63 ? 2n ** 63n - 1n : BigInt(v), true); break;
      case 2: case 9: dv.setUint8(o, v); break;
      case 3: dv.setInt8(o, v); break;
      case 4: dv.setUint16(o, v, true); break;
      case 5: dv.setInt16(o, v, true); break;
      case 12: dv.setUint32(o, v, true); break;
      case 13: dv.setBigUint64(o, BigInt(v), true); break;
    }
  }
  w.bytes(9, raw);
  return w;
}

export function encodeTensorProto(t: TensorProto): Uint8Array {
  return encodeTensor(t).finish();
}

function encodeAttribute(a: AttributeProto): WireWriter {
  const w = new WireWriter();
  w.string(1, a.name);
  if (a.f !== undefined) w.float(2, a.f);
  if (a.i !== undefined) w.int(3, a.i);
  if (a.s !== undefined) w.bytes(4, a.s);
  if (a.t !== undefined) w.message(5, encodeTensor(a.t));
  if (a.floats.length) w.packedFloat(7, a.floats);
  if (a.ints.length) w.packedInt64(8, a.ints);
  for (const s of a.strings) w.bytes(9, s);
  for (const t of a.tensors) w.message(10, encodeTensor(t));
  w.int(20, a.type);
  return w;
}

function encodeValueInfo(v: ValueInfoProto): WireWriter {
  const w = new WireWriter();
  w.string(1, v.name);
  const tensor = new WireWriter();
  tensor.int(1, v.elemType);
  if (v.shape !== null) {
    const shape = new WireWriter();
    for (const d of v.shape) {
      const dim = new WireWriter();
      if (typeof d === 'number') dim.int(1, d);
      else if (typeof d === 'string') dim.string(2, d);
      shape.message(1, dim);
    }
    tensor.message(2, shape);
  }
  const type = new WireWriter();
  type.message(1, tensor);
  w.message(2, type);
  return w;
}

export function encodeModelProto(m: ModelProto): Uint8Array {
  const g = new WireWriter();
  for (const n of m.graph.node) {
    const nw = new WireWriter();
    for (const i of n.input) nw.string(1, i);
    for (const o of n.output) nw.string(2, o);
    if (n.name) nw.string(3, n.name);
    nw.string(4, n.opType);
    for (const a of n.attribute) nw.message(5, encodeAttribute(a));
    if (n.domain) nw.string(7, n.domain);
    g.message(1, nw);
  }
  g.string(2, m.graph.name);
  for (const t of m.graph.initializer) g.message(5, encodeTensor(t));
  for (const v of m.graph.input) g.message(11, encodeValueInfo(v));
  for (const v of m.graph.output) g.message(12, encodeValueInfo(v));
  for (const v of m.graph.valueInfo) g.message(13, encodeValueInfo(v));
  const w = new WireWriter();
  w.int(1, m.irVersion);
  if (m.producerName) w.string(2, m.producerName);
  if (m.producerVersion) w.string(3, m.producerVersion);
  if (m.domain) w.string(4, m.domain);
  if (m.modelVersion) w.int(5, m.modelVersion);
  if (m.docString) w.string(6, m.docString);
  w.message(7, g);
  for (const o of m.opsetImport) {
    const ow = new WireWriter();
    if (o.domain) ow.string(1, o.domain);
    ow.int(2, o.version);
    w.message(8, ow);
  }
  for (const e of m.metadataProps) {
    const ew = new WireWriter();
    ew.string(1, e.key);
    ew.string(2, e.value);
    w.message(14, ew);
  }
  return w.finish();
}

// ---------------------------------------------------------------------------------------------
// Small builders for writers (export, tests).

export function attrInt(name: string, i: number): AttributeProto {
  return { name, type: ATTR_TYPES.INT, i, floats: [], ints: [], strings: [], tensors: [], graphCount: 0 };
}
export function attrFloat(name: string, f: number): AttributeProto {
  return { name, type: ATTR_TYPES.FLOAT, f, floats: [], ints: [], strings: [], tensors: [], graphCount: 0 };
}
export function attrString(name: string, s: string): AttributeProto {
  return { name, type: ATTR_TYPES.STRING, s: new TextEncoder().encode(s), floats: [], ints: [], strings: [], tensors: [], graphCount: 0 };
}
export function attrInts(name: string, ints: number[]): AttributeProto {
  return { name, type: ATTR_TYPES.INTS, floats: [], ints, strings: [], tensors: [], graphCount: 0 };
}
export function attrFloats(name: string, floats: number[]): AttributeProto {
  return { name, type: ATTR_TYPES.FLOATS, floats, ints: [], strings: [], tensors: [], graphCount: 0 };
}
export function attrStrings(name: string, strings: string[]): AttributeProto {
  return { name, type: ATTR_TYPES.STRINGS, floats: [], ints: [], strings: strings.map((s) => new TextEncoder().encode(s)), tensors: [], graphCount: 0 };
}
export function attrTensor(name: string, t: TensorProto): AttributeProto {
  return { name, type: ATTR_TYPES.TENSOR, t, floats: [], ints: [], strings: [], tensors: [], graphCount: 0 };
}

export function tensor(name: string, dataType: number, dims: number[], data: ArrayLike<number>): TensorProto {
  return { name, dataType, dims, data: Float64Array.from(data) };
}

export function valueInfo(name: string, elemType: number, shape: DimProto[] | null): ValueInfoProto {
  return { name, elemType, shape };
}
