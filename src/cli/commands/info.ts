import path from 'node:path';
import { decodeModel } from '../../model/codec.js';
import type { ErnLayout } from '../../format/ern.js';
import { isRecurrent, layerOutputSize } from '../../model/spec.js';
import { createRuntime } from '../../runtime/runtime.js';
import { EdgeRnnError, isEdgeRnnError } from '../../errors.js';
import { isOnnxModel } from '../../onnx/proto.js';
import { parseGatewayConfig, type DetectorConfig } from '../../gateway/config.js';
import { createSmoothingDetector, createThresholdDetector, forecastTargets, smoothingDefaults, type DetectorContext } from '../../gateway/detectors.js';
import { FEATURE_FRONTENDS } from '../../gateway/feature-frontends.js';
import { BUILTIN_FRONTENDS } from '../../gateway/frontend.js';
import { defaultThresholdOutput, predictionDetector } from '../../gateway/load-config.js';
import type { ModelSpec } from '../../model/spec.js';
import { parseFlags, printable, readFileArg, type Command } from '../framework.js';
import { summarize } from '../summary.js';

export const infoCommand: Command = {
  name: 'info',
  summary: 'show a model file: manifest, layers, sizes, how the gateway serves it, golden check',
  help: `usage: edgernn info MODEL.ern [--json]

Prints the manifest (name, version, task, labels, input spec, layers, quantization, training
metadata) and sizes, replays the golden test vector on the default backend, and says how
\`edgernn gateway\` serves the model: in sliding windows, each from a reset state, or as one
session per device stream that is never reset; how often its detector decides; the detector a
route that names none gets (or that one must be named); what a forecaster predicts.

  --json    one JSON object: {file, sha256, bytes, formatVersion, layout, manifest, tensors, sizes,
            serving, golden}; layout's parts add up to bytes`,
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
    const serving = servingOf(decoded.spec, decoded.outputSize);
    if (values.json) {
      const { major, minor } = decoded.container.formatVersion;
      ctx.stdout.write(`${JSON.stringify({ file: positionals[0], sha256: decoded.container.sha256, bytes: bytes.length, formatVersion: `${major}.${minor}`, layout, manifest, tensors: tensorList, sizes, serving, golden })}\n`);
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
      ...servingLines(serving, s.task),
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

/**
 * How `edgernn gateway` serves a model, decided by the gateway's own code: the front end its
 * factory builds (windows of framesPerWindow frames, each from a reset state, or one frame at a
 * time into one session per device stream, never reset), the detector a route without one gets
 * (parseGatewayConfig's default, on the output load-config picks, checked by the detector's
 * factory), the smoothing defaults (smoothingDefaults), and what a forecaster predicts
 * (forecastTargets). A model served as one session said nothing: a user could not tell which of
 * their models `--serve`/windows changed.
 */
interface Serving {
  /** windows: each from a reset state; session: one per device stream, never reset; refused: the gateway cannot serve it (`error`). */
  mode: 'windows' | 'session' | 'refused';
  frontend: string;
  /** mode windows: frames per window, frames between windows, and their lengths in ms where the model has a time base. */
  window?: { frames: number; hop: number; ms?: number; hopMs?: number };
  /** Detector decisions per second (one per window, or per frame); null when the model records no rate. */
  decisionsPerSecond?: number | null;
  /** A route that names no detector: the one it gets, or that it must name one (`required`, e.g. `example`). */
  defaultDetector?: (DetectorConfig & { label?: string }) | { required: true; example: string } | { refused: string };
  /** A smoothing detector that leaves window and refractorySteps out gets these (decisions); absent when smoothing refuses the model. */
  smoothingDefaults?: { window: number; refractorySteps: number };
  /** Forecasters (task forecast, anomaly): output k predicts input `targets[k]`, `horizon` frames ahead. */
  forecast?: { horizon: number; targets: string[] } | { error: string };
  error?: string;
}

const FRONTENDS = { ...FEATURE_FRONTENDS, ...BUILTIN_FRONTENDS };

function errorText(e: unknown): string {
  if (!isEdgeRnnError(e)) throw e;
  return `[${e.code}] ${e.message}`;
}

function servingOf(spec: ModelSpec, outputSize: number): Serving {
  const fspec = spec.input.frontend;
  const frontend = fspec.kind;
  if (spec.layers.some((l) => isRecurrent(l) && l.direction !== 'forward')) return { mode: 'refused', frontend, error: 'it has bidirectional layers and cannot run on a stream' };
  const factory = Object.hasOwn(FRONTENDS, frontend) ? FRONTENDS[frontend] : undefined;
  if (factory === undefined) return { mode: 'refused', frontend, error: `front end "${frontend}" is not built into the gateway (a program registers it with GatewayOptions.frontends)` };
  let fe;
  try {
    fe = factory(fspec, { inputSize: spec.input.size, rateHz: spec.input.rateHz, channels: 0, path: 'routes[0]' });
  } catch (e) {
    return { mode: 'refused', frontend, error: errorText(e) };
  }
  // A manifest's windows of one frame are windows too: each frame from a reset state.
  const windowed = fe.framesPerWindow > 1 || (fspec as { windows?: unknown }).windows !== undefined;
  const out: Serving = { mode: windowed ? 'windows' : 'session', frontend };
  // Decisions come every hopSamples samples at the front end's rate (a window's hop, or a frame).
  const everyMs = fe.sampleRateHz !== undefined ? (1000 * fe.hopSamples) / fe.sampleRateHz : undefined;
  if (windowed) {
    const hop = fe.hopFrames ?? fe.framesPerWindow;
    const frameMs = everyMs !== undefined ? everyMs / hop : undefined;
    out.window = { frames: fe.framesPerWindow, hop, ...(frameMs !== undefined ? { ms: round(frameMs * fe.framesPerWindow), hopMs: round(everyMs!) } : {}) };
  }
  out.decisionsPerSecond = everyMs !== undefined ? round(1000 / everyMs) : null;
  const labels = spec.labels.length === outputSize ? spec.labels : [];
  const ctx: DetectorContext = { labels, outputSize, inputSize: spec.input.size, path: 'routes[0].detector', spec };
  const example = predictionDetector(spec.task);
  const detectorOf = (detector?: unknown): DetectorConfig => parseGatewayConfig({ models: { model: 'model.ern' }, routes: [{ sensor: 'data', model: 'model', ...(detector ? { detector } : {}) }] }, 'edgernn info').routes[0]!.detector;
  if (example !== undefined) {
    out.defaultDetector = { required: true, example };
  } else {
    const det = detectorOf() as DetectorConfig & { output: number | string };
    const chosen = defaultThresholdOutput(labels);
    if (chosen !== undefined) det.output = chosen.label;
    try {
      createThresholdDetector(det, ctx);
      out.defaultDetector = { ...det, output: chosen?.index ?? 0, ...(labels.length ? { label: labels[chosen?.index ?? 0] } : {}) };
    } catch (e) {
      out.defaultDetector = { refused: errorText(e) };
    }
    try {
      createSmoothingDetector(detectorOf({ kind: 'smoothing' }), ctx);
      out.smoothingDefaults = smoothingDefaults(ctx);
    } catch (e) {
      // Smoothing refuses this model (its outputs are no posteriors): no defaults to show.
      if (!isEdgeRnnError(e)) throw e;
    }
  }
  if (spec.task === 'forecast' || spec.task === 'anomaly') {
    try {
      const { horizon, inputOf } = forecastTargets(ctx, (why) => new EdgeRnnError('GATEWAY_CONFIG', `its outputs do not predict its inputs: ${why}`));
      const data = spec.extra?.data as { columns?: unknown } | undefined;
      const names = Array.isArray(data?.columns) ? (data.columns as unknown[]) : (spec.input.names ?? []);
      out.forecast = { horizon, targets: inputOf.map((i) => (typeof names[i] === 'string' ? (names[i] as string) : `input ${i}`)) };
    } catch (e) {
      out.forecast = { error: errorText(e) };
    }
  }
  return out;
}

const round = (x: number): number => Number(x.toPrecision(4));

/** The serving, detector and forecast lines of the text output. */
function servingLines(v: Serving, task: string): string[] {
  if (v.mode === 'refused') return [`  serving   not by the gateway: ${v.error}`];
  const ms = (x: number | undefined) => (x !== undefined ? ` (${x} ms)` : '');
  const rate = v.decisionsPerSecond != null ? `${v.decisionsPerSecond} a second` : 'at the rate samples arrive (the model records none)';
  const lines = [
    v.mode === 'windows'
      ? `  serving   sliding windows of ${v.window!.frames} frames${ms(v.window!.ms)} every ${v.window!.hop}${ms(v.window!.hopMs)}, each from a reset state: a decision per window, ${rate}`
      : `  serving   one session per device stream, never reset: a decision per frame, ${rate}`,
  ];
  const d = v.defaultDetector;
  if (d !== undefined && 'required' in d) lines.push(`  detector  a route must name one (task ${task}: its outputs are predictions, not scores), e.g. ${d.example}`);
  else if (d !== undefined && 'refused' in d) lines.push(`  detector  a route without one is refused: ${d.refused}`);
  else if (d !== undefined && d.kind === 'threshold') lines.push(`  detector  a route without one: threshold ${d.on} on output ${d.output}${'label' in d && d.label !== undefined ? ` (${d.label})` : ''}`);
  const sm = v.smoothingDefaults;
  if (sm !== undefined) {
    const t = (n: number) => (v.decisionsPerSecond ? ` (${round((n * 1000) / v.decisionsPerSecond)} ms)` : '');
    lines.push(`            smoothing without window or refractorySteps: window ${sm.window}${t(sm.window)}, refractorySteps ${sm.refractorySteps}${t(sm.refractorySteps)} (decisions)`);
  }
  const f = v.forecast;
  if (f !== undefined) lines.push('error' in f ? `  forecast  ${f.error}` : `  forecast  ${f.horizon} frame${f.horizon === 1 ? '' : 's'} ahead: ${f.targets.join(', ')}`);
  return lines;
}
