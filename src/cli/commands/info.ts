import path from 'node:path';
import { decodeModel } from '../../model/codec.js';
import type { ErnLayout } from '../../format/ern.js';
import { isRecurrent, layerOutputSize } from '../../model/spec.js';
import { createRuntime } from '../../runtime/runtime.js';
import { EdgeRnnError, isEdgeRnnError } from '../../errors.js';
import { isOnnxModel } from '../../onnx/proto.js';
import { parseFlags, printable, readFileArg, type Command } from '../framework.js';
import { summarize } from '../summary.js';


export const infoCommand: Command = {
  name: 'info',
  summary: 'show a model file: manifest, layers, sizes, golden check',
  help: `usage: edgernn info MODEL.ern [--json]

Prints the manifest (name, version, task, labels, input spec, layers, quantization, training
metadata) and sizes, and replays the golden test vector on the default backend.

  --json    one JSON object: {file, sha256, bytes, formatVersion, layout, manifest, tensors, sizes,
            golden}; layout's parts add up to bytes`,
  async run(args, ctx) {
    const { values, positionals } = parseFlags(args, { json: { type: 'boolean' } }, { min: 1, max: 1, names: 'MODEL.ern' });
    const file = path.resolve(ctx.cwd, positionals[0]!);
    const bytes = new Uint8Array(readFileArg(ctx.cwd, positionals[0]!));
    let decoded: ReturnType<typeof decodeModel>;
    try {
      decoded = decodeModel(bytes, positionals[0]!);
    } catch (e) {
      // An ONNX model given to info: say what it is and what to do with it.
      if (isEdgeRnnError(e, 'ERN_BAD_MAGIC') && isOnnxModel(bytes)) {
        throw new EdgeRnnError('ERN_BAD_MAGIC', `${e.message}; it is an ONNX model: \`edgernn convert ${positionals[0]} -o MODEL.ern\` compiles it, \`edgernn run ${positionals[0]} --input FILE\` runs it as is`);
      }
      throw e;
    }
    const rt = await createRuntime();
    let golden: { ok: boolean; backend: string; error?: string };
    let sizes: Record<string, number> = {};
    try {
      const model = await rt.load(bytes, { source: positionals[0]! });
      golden = { ok: true, backend: model.backend };
      sizes = { ...model.sizes };
      model.dispose();
    } catch (e) {
      if (!isEdgeRnnError(e)) throw e;
      golden = { ok: false, backend: rt.resolveBackend(decoded.spec), error: `[${e.code}] ${e.message}` };
    }
    const { tensors, ...manifest } = decoded.container.manifest;
    const tensorList = tensors as { name: string; dtype: string; shape: number[]; bytes: number }[];
    const layout = fileLayout(decoded.container.layout, tensorList);
    if (values.json) {
      const { major, minor } = decoded.container.formatVersion;
      ctx.stdout.write(`${JSON.stringify({ file: positionals[0], sha256: decoded.container.sha256, bytes: bytes.length, formatVersion: `${major}.${minor}`, layout, manifest, tensors: tensorList, sizes, golden })}\n`);
      return golden.ok ? 0 : 1;
    }
    const s = decoded.spec;
    const g = decoded.golden;
    const lines = [
      `${s.name} ${s.version}  (${s.task}, ${s.precision})  ${positionals[0]}`,
      ...(s.description ? [`  about     ${s.description}`] : []),
      `  sha256    ${decoded.container.sha256}`,
      `  file      ${bytes.length} bytes, format ${decoded.container.formatVersion.major}.${decoded.container.formatVersion.minor}`,
      `  layout    header ${layout.header} + manifest ${layout.manifest} + padding ${layout.manifestPadding} + tensors ${layout.tensors} + alignment ${layout.tensorPadding} = ${layout.total} bytes`,
      `  input     ${s.input.size} features${s.input.rateHz ? ` at ${s.input.rateHz} Hz` : ''}${s.input.names ? `: ${namesLine(s.input.names)}` : ''}`,
      ...block('front end', s.input.frontend, 4),
      ...servedIn(s.input.frontend),
      `  output    ${decoded.outputSize}${s.labels.length ? `: ${s.labels.join(', ')}` : ''}`,
      ...quantLines(manifest.quantization),
      `  layers`,
      ...s.layers.map((l, i) => {
        if (isRecurrent(l)) {
          const extra = [l.direction !== 'forward' ? l.direction : '', l.kind === 'gru' && l.linearBeforeReset ? 'linear_before_reset' : '', l.clip !== undefined ? `clip ${l.clip}` : '', l.kind === 'lstm' && (l.quant?.P ?? l.float?.P) ? 'peepholes' : '']
            .filter(Boolean)
            .join(', ');
          return `    ${i}  ${l.kind.padEnd(10)} ${l.inputSize} -> ${layerOutputSize(l)}${extra ? `  (${extra})` : ''}`;
        }
        if (l.kind === 'dense') return `    ${i}  ${'dense'.padEnd(10)} ${l.inputSize} -> ${l.outputSize}  ${l.activation}`;
        return `    ${i}  ${l.kind.padEnd(10)} ${l.size}`;
      }),
      `  tensors   ${tensorList.length}, ${tensorList.reduce((a, t) => a + t.bytes, 0)} bytes`,
      ...(sizes.stateBytes !== undefined ? [`  runtime   weights ${sizes.weightBytes} B, state ${sizes.stateBytes} B per stream`] : []),
      ...trainingLines(s.training),
      ...(s.extra !== undefined ? block('extra', s.extra, 4) : []),
      `  golden    ${golden.ok ? `ok on ${golden.backend}` : `FAILED on ${golden.backend}: ${golden.error}`} (${g.steps} steps, atol ${g.atol})`,
    ];
    // The manifest's name and labels may not hold control or bidirectional-override characters
    // (src/model/manifest.ts); its description, input names, training metadata and extra may, and
    // were printed as they were (an escape sequence could erase lines or fake a "golden ok" line).
    ctx.stdout.write(`${lines.map((l) => printable(l)).join('\n')}\n`);
    return golden.ok ? 0 : 1;
  },
};

/**
 * The file's bytes by section: header + manifest + padding to the data + tensors + the padding
 * between tensors (64-byte alignment) = total, the file's length (the parser checks that).
 */
function fileLayout(l: ErnLayout, tensors: readonly { bytes: number }[]): { header: number; manifest: number; manifestPadding: number; tensors: number; tensorPadding: number; total: number } {
  const tensorBytes = tensors.reduce((a, t) => a + t.bytes, 0);
  return {
    header: l.manifestOffset,
    manifest: l.manifestBytes,
    manifestPadding: l.dataOffset - l.manifestOffset - l.manifestBytes,
    tensors: tensorBytes,
    tensorPadding: l.dataBytes - tensorBytes,
    total: l.dataOffset + l.dataBytes,
  };
}

/** The quantization scheme of an int8 model (the help promised it; only --json had it); none for a float32 model. */
function quantLines(q: unknown): string[] {
  if (q === null || typeof q !== 'object') return [];
  const { scheme, weights, activations } = q as Record<string, unknown>;
  return [`  quant     ${[scheme, weights !== undefined ? `weights ${String(weights)}` : '', activations !== undefined ? `activations ${String(activations)}` : ''].filter(Boolean).join(', ')}`];
}

/** Feature names on one line: the first 8, then how many more (--json has them all). */
function namesLine(names: readonly string[]): string {
  return names.length <= 8 ? names.join(', ') : `${names.slice(0, 8).join(', ')}, … ${names.length - 8} more (--json for all)`;
}

/** `label` then the summary of `v`, aligned under the other fields. */
function block(label: string, v: unknown, maxLines: number): string[] {
  const lines = summarize(v, { maxLines });
  if (lines.length === 0) return [];
  return lines.map((l, i) => `  ${(i === 0 ? label : '').padEnd(10)}${l}`);
}

/** Training metadata: one summary per top-level field (dataset, hyperparameters, metrics, ...). */
function trainingLines(t: Record<string, unknown>): string[] {
  const keys = Object.keys(t);
  if (keys.length === 0) return ['  training  (none recorded)'];
  const w = Math.max(...keys.map((k) => k.length)) + 2;
  const out = ['  training'];
  for (const k of keys) {
    const lines = summarize(t[k], { maxLines: k === 'metrics' ? 4 : 2, width: 96 - w });
    if (lines.length === 0) continue;
    lines.forEach((l, i) => out.push(`    ${(i === 0 ? k : '').padEnd(w)}${l}`));
  }
  return out;
}

/** A line for a front end in sliding windows: how a stream is served. */
function servedIn(fe: Record<string, unknown>): string[] {
  const w = fe.windows as { frames?: unknown; hop?: unknown } | undefined;
  if (typeof w?.frames !== 'number' || typeof w.hop !== 'number') return [];
  const ms = typeof fe.hopMs === 'number' ? (n: number) => ` (${Math.round(n * (fe.hopMs as number))} ms)` : () => '';
  return [`  serving   sliding windows of ${w.frames} frames${ms(w.frames)} every ${w.hop}${ms(w.hop)}, each from a reset state`];
}
