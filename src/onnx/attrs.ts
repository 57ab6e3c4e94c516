/**
 * Typed access to a node's attributes. A wrong type or a missing required attribute is an
 * ONNX_INVALID error naming the node and the attribute.
 */
import { unshared } from '../util/bytes.js';
import { ATTR_TYPES, type AttributeProto, type NodeProto, type TensorProto } from './proto.js';
import { invalid } from './values.js';

export function nodeLabel(n: NodeProto): string {
  return `${n.opType} node '${n.name || n.output[0] || '?'}'`;
}

/** The attribute's type, inferred from the fields set when the writer left `type` out. */
function typeOf(a: AttributeProto): number {
  if (a.type) return a.type;
  if (a.t) return ATTR_TYPES.TENSOR;
  if (a.s) return ATTR_TYPES.STRING;
  if (a.i !== undefined) return ATTR_TYPES.INT;
  if (a.f !== undefined) return ATTR_TYPES.FLOAT;
  if (a.ints.length) return ATTR_TYPES.INTS;
  if (a.floats.length) return ATTR_TYPES.FLOATS;
  if (a.strings.length) return ATTR_TYPES.STRINGS;
  return 0;
}

export class Attrs {
  private readonly node: NodeProto;
  private readonly map = new Map<string, AttributeProto>();

  constructor(node: NodeProto) {
    this.node = node;
    for (const a of node.attribute) {
      if (a.refAttrName) throw invalid(`${nodeLabel(node)}: attribute '${a.name}' refers to a function attribute, which needs an ONNX function`);
      this.map.set(a.name, a);
    }
  }

  has(name: string): boolean {
    return this.map.has(name);
  }

  names(): string[] {
    return [...this.map.keys()];
  }

  private get(name: string, type: number, want: string): AttributeProto | undefined {
    const a = this.map.get(name);
    if (a === undefined) return undefined;
    const t = typeOf(a);
    // Some writers store an empty list without a type; accept it for list types.
    if (t !== type && !(t === 0 && (type === ATTR_TYPES.INTS || type === ATTR_TYPES.FLOATS || type === ATTR_TYPES.STRINGS))) {
      throw invalid(`${nodeLabel(this.node)}: attribute '${name}' must be ${want}`, { node: this.node.name, attribute: name });
    }
    return a;
  }

  int(name: string): number | undefined;
  int(name: string, def: number): number;
  int(name: string, def?: number): number | undefined {
    const a = this.get(name, ATTR_TYPES.INT, 'an int');
    // A typed attribute without its value field holds the protobuf default (proto3 writers omit 0).
    return a ? (a.i ?? 0) : def;
  }

  float(name: string): number | undefined;
  float(name: string, def: number): number;
  float(name: string, def?: number): number | undefined {
    const a = this.get(name, ATTR_TYPES.FLOAT, 'a float');
    return a ? (a.f ?? 0) : def;
  }

  string(name: string): string | undefined;
  string(name: string, def: string): string;
  string(name: string, def?: string): string | undefined {
    const a = this.get(name, ATTR_TYPES.STRING, 'a string');
    return a ? new TextDecoder().decode(unshared(a.s ?? new Uint8Array(0))) : def;
  }

  ints(name: string): number[] | undefined {
    return this.get(name, ATTR_TYPES.INTS, 'a list of ints')?.ints;
  }

  floats(name: string): number[] | undefined {
    return this.get(name, ATTR_TYPES.FLOATS, 'a list of floats')?.floats;
  }

  strings(name: string): string[] | undefined {
    return this.get(name, ATTR_TYPES.STRINGS, 'a list of strings')?.strings.map((s) => new TextDecoder().decode(unshared(s)));
  }

  tensor(name: string): TensorProto | undefined {
    return this.get(name, ATTR_TYPES.TENSOR, 'a tensor')?.t;
  }

  required<T>(v: T | undefined, name: string): T {
    if (v === undefined) throw invalid(`${nodeLabel(this.node)}: required attribute '${name}' is missing`, { node: this.node.name, attribute: name });
    return v;
  }
}
