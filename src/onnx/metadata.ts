/**
 * What a model is, carried through ONNX: `edgernn export` writes the manifest's descriptive
 * fields into the model's metadata_props, `edgernn convert` reads them back, so a model keeps its
 * name, version, task, labels and input spec (the front end that turns raw samples into its
 * features) across .ern -> ONNX -> .ern. Other ONNX tools show the entry and otherwise ignore it.
 *
 *   key    'edgernn.manifest'
 *   value  JSON: { format: 'edgernn.onnx-metadata', formatVersion: 1, name, version, task,
 *                  description?, labels, input, training, extra? }
 *
 * The fields are checked exactly as a .ern manifest's are (parseModelInfo), and the input size
 * and label count against the graph. Metadata that fails a check is ignored as a whole, with a
 * note naming the defect: the graph still converts, as it would without metadata.
 * extra.onnx (the I/O of a model that was itself imported) is not carried: the exported graph
 * has export.ts's I/O contract, and the importer records its own.
 */
import { EdgeRnnError } from '../errors.js';
import { describedFields, parseModelInfo, type ModelInfo } from '../model/manifest.js';
import type { ModelSpec } from '../model/spec.js';
import type { MetadataEntry, ModelProto } from './proto.js';

export const METADATA_KEY = 'edgernn.manifest';
export const METADATA_FORMAT = 'edgernn.onnx-metadata';
export const METADATA_FORMAT_VERSION = 1;

/** The metadata entry of a spec (for export). */
export function specMetadata(spec: ModelSpec): MetadataEntry {
  const extra = spec.extra ? Object.fromEntries(Object.entries(spec.extra).filter(([k]) => k !== 'onnx')) : undefined;
  const value = {
    format: METADATA_FORMAT,
    formatVersion: METADATA_FORMAT_VERSION,
    ...describedFields(spec),
    training: spec.training,
    ...(extra && Object.keys(extra).length ? { extra } : {}),
  };
  return { key: METADATA_KEY, value: JSON.stringify(value) };
}

export interface MetadataRead {
  /** The checked fields, or null when there are none or they were ignored. */
  info: ModelInfo | null;
  /** What happened, for the user: restored (and what), or ignored (and why); null without metadata. */
  note: string | null;
}

/**
 * Reads and checks the edgernn entry of an ONNX model against the compiled graph's input width and
 * output size. Never throws for bad metadata (see the module comment).
 */
export function readSpecMetadata(model: ModelProto, inputSize: number, outputSize: number, source: string): MetadataRead {
  const entry = metadataObject(model, METADATA_KEY);
  if (entry === null) return { info: null, note: null };
  const ignored = (why: string): MetadataRead => ({ info: null, note: `ONNX metadata '${METADATA_KEY}' ignored: ${why}` });
  if ('problem' in entry) return ignored(entry.problem);
  const m = entry.object;
  if (m.format !== METADATA_FORMAT) return ignored(`format must be "${METADATA_FORMAT}", got ${JSON.stringify(m.format) ?? 'nothing'}`);
  if (m.formatVersion !== METADATA_FORMAT_VERSION) {
    return ignored(`formatVersion ${JSON.stringify(m.formatVersion) ?? '(missing)'}, this edgernn reads ${METADATA_FORMAT_VERSION}`);
  }
  let info: ModelInfo;
  try {
    info = parseModelInfo(m, outputSize, `${source} metadata '${METADATA_KEY}'`);
  } catch (e) {
    if (e instanceof EdgeRnnError) return ignored(e.message.replace(`${source} metadata '${METADATA_KEY}': `, ''));
    throw e;
  }
  if (info.input.size !== inputSize) return ignored(`input.size is ${info.input.size}, the graph's input has ${inputSize} features`);
  const what = [
    `name '${info.name}'`,
    `version ${info.version}`,
    `task ${info.task}`,
    ...(info.labels.length ? [`${info.labels.length} labels`] : []),
    `${info.input.frontend.kind} front end`,
    ...(info.extra ? [`extra (${Object.keys(info.extra).join(', ')})`] : []),
  ];
  return { info, note: `restored from ONNX metadata '${METADATA_KEY}': ${what.join(', ')}` };
}

/** metadata_props key where `edgernn export` writes the first-call values of its state inputs (when one is not zero). */
export const INITIAL_STATE_KEY = 'edgernn.initial_state';

/**
 * The first-call state values an edgernn export keeps in metadata (a state input carries no
 * value), checked against the graph's inputs: `{ values }` by input name, `{ ignored }` saying why a
 * malformed entry is not used (like the manifest entry, never an error), or null without one.
 */
export function readInitialStateMetadata(model: ModelProto): { values: Map<string, { dims: number[]; data: Float32Array }> } | { ignored: string } | null {
  const entry = metadataObject(model, INITIAL_STATE_KEY);
  if (entry === null) return null;
  const ignored = (why: string) => ({ ignored: `ONNX metadata '${INITIAL_STATE_KEY}' ignored: ${why}; state inputs start from zeros` });
  if ('problem' in entry) return ignored(entry.problem);
  const values = new Map<string, { dims: number[]; data: Float32Array }>();
  for (const [name, list] of Object.entries(entry.object)) {
    const info = model.graph.input.find((v) => v.name === name);
    if (!info) return ignored(`'${name}' is not a graph input`);
    const dims = info.shape ?? [];
    if (!dims.every((d): d is number => typeof d === 'number')) return ignored(`graph input '${name}' has no fixed shape`);
    const n = dims.reduce((a, b) => a * b, 1);
    if (!Array.isArray(list) || list.length !== n || !list.every((v) => typeof v === 'number' && Number.isFinite(v))) {
      return ignored(`'${name}' must be ${n} finite numbers (dims [${dims}])`);
    }
    values.set(name, { dims, data: Float32Array.from(list as number[]) });
  }
  return { values };
}

/** The JSON object under a metadata_props key: null without the key, else the object or what is wrong with the entry. */
function metadataObject(model: ModelProto, key: string): { object: Record<string, unknown> } | { problem: string } | null {
  const entries = model.metadataProps.filter((e) => e.key === key);
  if (entries.length === 0) return null;
  if (entries.length > 1) return { problem: `the key appears ${entries.length} times` };
  let raw: unknown;
  try {
    raw = JSON.parse(entries[0]!.value);
  } catch (e) {
    return { problem: `not JSON (${(e as Error).message})` };
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return { problem: `expected a JSON object, got ${Array.isArray(raw) ? 'an array' : raw === null ? 'null' : typeof raw}` };
  return { object: raw as Record<string, unknown> };
}
