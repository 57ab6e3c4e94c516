/**
 * Builds a gateway config from a JSON file and command-line overrides (Node-only module), so the
 * `gateway` and `replay` commands read configs the same way.
 */
import fs from 'node:fs';
import path from 'node:path';
import { EdgeRnnError, isEdgeRnnError } from '../errors.js';
import { decodeModel } from '../model/codec.js';
import { parseGatewayConfig, resolveConfigPaths, type GatewayConfig } from './config.js';
import { redactUrl } from './transport.js';

export interface ConfigOverrides {
  broker?: string;
  port?: number;
  site?: string;
  gatewayId?: string;
  username?: string;
  password?: string;
  ca?: string;
  cert?: string;
  key?: string;
  insecure?: boolean;
  stateDir?: string;
  metricsPort?: number;
  logLevel?: string;
  /** Quick start without a file: one model, one route. */
  model?: string;
  sensor?: string;
  codec?: string;
  threshold?: number;
  /** The output the quick start's threshold watches (a label or an index). */
  output?: number | string;
}

/** A threshold route that names no output, and the output it watches. */
export interface DefaultOutput {
  /** Index in routes. */
  route: number;
  /** The output watched (its index in the model's outputs, and its label). */
  index: number;
  label: string;
}

export interface LoadedGatewayConfig {
  config: GatewayConfig;
  /** Threshold routes whose output the config left out, with the one chosen (to say at start). */
  defaultOutputs: DefaultOutput[];
}

/** Reads and validates a config; overrides replace file values; paths resolve against the file's directory (or cwd). */
export function loadGatewayConfig(file: string | undefined, o: ConfigOverrides, cwd: string): GatewayConfig {
  return loadGatewayConfigDetailed(file, o, cwd).config;
}

/** loadGatewayConfig, with the outputs it chose for threshold routes that name none. */
export function loadGatewayConfigDetailed(file: string | undefined, o: ConfigOverrides, cwd: string): LoadedGatewayConfig {
  let raw: Record<string, unknown> = {};
  let baseDir = cwd;
  let source = '(flags)';
  if (file !== undefined) {
    const abs = path.resolve(cwd, file);
    let text: string;
    try {
      text = fs.readFileSync(abs, 'utf8');
    } catch (e) {
      throw new EdgeRnnError('GATEWAY_CONFIG', `cannot read the config file ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { file });
    }
    raw = parseJsonFile(text, file) as Record<string, unknown>;
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new EdgeRnnError('GATEWAY_CONFIG', `${file}: the top level must be an object`);
    baseDir = path.dirname(abs);
    source = file;
  }
  // A section that is not an object ("broker": null) stays as it is, for the parser to refuse:
  // spread into {}, it silently became the defaults.
  const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  const sectionOf = (v: unknown): Record<string, unknown> | null => (v === undefined ? {} : isObj(v) ? { ...v } : null);
  const broker = sectionOf(raw.broker) ?? {};
  if (o.broker !== undefined) broker.url = o.broker;
  // The file's embedded-broker address goes with the embedded broker that --broker replaced: kept,
  // `--broker mqtt://...` over a config for the embedded broker on a fixed port was refused
  // ("broker.port must be absent ... with an external broker"), so the flag did not override.
  if (o.broker !== undefined && o.broker !== 'embedded') {
    delete broker.host;
    delete broker.port;
  }
  if (o.port !== undefined) broker.port = o.port;
  if (o.username !== undefined) broker.username = o.username;
  if (o.password !== undefined) broker.password = o.password;
  // Flag paths are relative to the working directory: make them absolute before merging.
  if (o.ca !== undefined) broker.ca = path.resolve(cwd, o.ca);
  if (o.cert !== undefined) broker.cert = path.resolve(cwd, o.cert);
  if (o.key !== undefined) broker.key = path.resolve(cwd, o.key);
  if (o.insecure) broker.rejectUnauthorized = false;
  const merged: Record<string, unknown> = { ...raw, broker: sectionOf(raw.broker) === null ? raw.broker : broker };
  if (o.site !== undefined) merged.site = o.site;
  if (o.gatewayId !== undefined) merged.gatewayId = o.gatewayId;
  if (o.stateDir !== undefined) merged.stateDir = o.stateDir === '' ? '' : path.resolve(cwd, o.stateDir);
  if (o.metricsPort !== undefined && sectionOf(raw.metrics) !== null) merged.metrics = { ...sectionOf(raw.metrics), httpPort: o.metricsPort };
  if (o.logLevel !== undefined && sectionOf(raw.log) !== null) merged.log = { ...sectionOf(raw.log), level: o.logLevel };
  if (o.model !== undefined) {
    if (raw.models !== undefined || raw.routes !== undefined) throw new EdgeRnnError('USAGE', '--model is a quick start without a config file: put models and routes in the config instead');
    merged.models = { model: path.resolve(cwd, o.model) };
    merged.routes = [
      {
        sensor: o.sensor ?? 'data',
        model: 'model',
        codec: o.codec ?? 'json',
        detector: quickDetector(path.resolve(cwd, o.model), o),
      },
    ];
  } else if (o.sensor !== undefined || o.codec !== undefined || o.threshold !== undefined || o.output !== undefined) {
    throw new EdgeRnnError('USAGE', '--sensor, --codec, --threshold and --output go with --model (the quick start)');
  }
  let config: GatewayConfig;
  try {
    config = resolveConfigPaths(parseGatewayConfig(merged, source), baseDir, (b, p) => path.resolve(b, p));
  } catch (e) {
    throw flagError(e, o) ?? e;
  }
  return { config, defaultOutputs: defaultThresholdOutputs(config, merged.routes as unknown[], source) };
}

/**
 * The quick start's detector: a threshold on the output --output names (else the one
 * defaultThresholdOutputs picks). A model whose outputs are predictions gets what a config route
 * would be told to use: the anomaly detector (its settings from the manifest) for task anomaly;
 * a forecaster or an autoencoder, whose error threshold has no default, and --threshold/--output
 * on any of them, are refused: the threshold compared a predicted value with 0.5, silently. A
 * model that cannot be read or decoded is left to Gateway.create to name.
 */
function quickDetector(file: string, o: ConfigOverrides): Record<string, unknown> {
  const threshold = { kind: 'threshold', on: o.threshold ?? 0.5, ...(o.output !== undefined ? { output: o.output } : {}) };
  let task: string;
  try {
    task = decodeModel(new Uint8Array(fs.readFileSync(file)), 'model').spec.task;
  } catch {
    return threshold;
  }
  const suggested = predictionDetector(task);
  if (suggested === undefined) return threshold;
  if (task === 'anomaly' && o.threshold === undefined && o.output === undefined) return { kind: 'anomaly' };
  const flags = o.threshold !== undefined || o.output !== undefined ? ' (--threshold and --output watch a score)' : '';
  throw new EdgeRnnError('USAGE', `--model ${o.model}: task ${task}: its outputs are predictions, not scores${flags}: give a config file whose route names its detector, e.g. ${suggested}`, { flag: '--model', expected: suggested, got: task });
}

/**
 * A threshold route that names no output (no detector, or a threshold detector without "output")
 * watches the first label of its model not starting with '_', as the quick start does; output 0
 * for a model without labels or with background labels only. It was output 0 always, which on a
 * classifier trained on a WAV folder is _silence_ (labels sort, '_' first): the route alerted on
 * silence. A route without a detector on a model whose outputs are no scores (a forecaster, an
 * autoencoder) is refused: the default threshold compared a predicted value with 0.5. A model
 * that cannot be read or decoded is left to Gateway.create to name.
 */
function defaultThresholdOutputs(config: GatewayConfig, rawRoutes: unknown[], source: string): DefaultOutput[] {
  const out: DefaultOutput[] = [];
  config.routes.forEach((route, i) => {
    const det = route.detector;
    const rawDet = (rawRoutes[i] as { detector?: { output?: unknown } }).detector;
    if (det.kind !== 'threshold' || det.score !== 'output' || rawDet?.output !== undefined) return;
    let labels: readonly string[];
    let task: string;
    try {
      const { spec, outputSize } = decodeModel(new Uint8Array(fs.readFileSync(config.models[route.model]!.path)), route.model);
      labels = spec.labels.length === outputSize ? spec.labels : [];
      task = spec.task;
    } catch {
      return;
    }
    const suggested = predictionDetector(task);
    if (rawDet === undefined && suggested !== undefined) {
      const expected = `given for model '${route.model}' (task ${task}: its outputs are predictions, not scores), e.g. ${suggested}`;
      throw new EdgeRnnError('GATEWAY_CONFIG', `${source}: routes[${i}].detector must be ${expected}, got nothing`, { field: `routes[${i}].detector`, expected, got: undefined });
    }
    const chosen = defaultThresholdOutput(labels);
    if (chosen === undefined) return;
    det.output = chosen.label;
    out.push({ route: i, ...chosen });
  });
  return out;
}

/**
 * The output a threshold route that names none watches: the first label not starting with '_';
 * undefined (output 0) for a model without labels (pass [] when they do not match its outputs)
 * or with background labels only.
 */
export function defaultThresholdOutput(labels: readonly string[]): { index: number; label: string } | undefined {
  const index = Math.max(0, labels.findIndex((l) => !l.startsWith('_')));
  const label = labels[index];
  return label === undefined || label.startsWith('_') ? undefined : { index, label };
}

/** A model of this task has outputs that are predictions: a route must name its detector (this one, e.g.); undefined for scores. */
export function predictionDetector(task: string): string | undefined {
  return Object.hasOwn(SCORE_DETECTORS, task) ? SCORE_DETECTORS[task] : undefined;
}

/** Detectors for models whose outputs are predictions (the default threshold on output 0 compared one with 0.5). */
const SCORE_DETECTORS: Record<string, string> = {
  anomaly: '{"kind": "anomaly"}',
  forecast: '{"kind": "threshold", "score": "forecastError", "on": ...}',
  autoencoder: '{"kind": "threshold", "score": "reconstructionError", "on": ...}',
};

/** Line and column (from 1) of an offset in a text. */
function lineColumn(text: string, at: number): string {
  const before = text.slice(0, at).split('\n');
  return `line ${before.length}, column ${before[before.length - 1]!.length + 1}`;
}

/**
 * Parses a config file's JSON, naming the common mistakes with their line and column: a comment
 * or a trailing comma (V8 said "Unexpected token '/'" or "Expected double-quoted property name"),
 * a YAML file, a key given twice (JSON.parse keeps the last, silently: a second "broker" section
 * replaced the first). A UTF-8 byte-order mark (Windows Notepad writes one) is read past.
 */
function parseJsonFile(text: string, file: string): unknown {
  const t = text.startsWith('\ufeff') ? text.slice(1) : text;
  const fail = (at: number | undefined, what: string): never => {
    throw new EdgeRnnError('GATEWAY_CONFIG', `${file} is not valid JSON${at !== undefined ? ` at ${lineColumn(t, at)}` : ''}: ${what}`, { file });
  };
  if (t.trim() === '') fail(undefined, 'the file is empty');
  let value: unknown;
  try {
    value = JSON.parse(t);
  } catch (e) {
    // YAML first: its "url: mqtt://host" is no JSON comment.
    const first = t.split('\n').find((l) => l.trim() !== '' && !l.trim().startsWith('#'));
    if (/\.ya?ml$/i.test(file) || (first !== undefined && /^\s*(-\s|[A-Za-z_][\w.-]*\s*:(\s|$))/.test(first))) fail(undefined, 'it looks like YAML, and the config file is JSON (docs/gateway.md "Configuration")');
    const msg = (e as Error).message;
    const m = /at position (\d+)/.exec(msg);
    const pos = m ? Number(m[1]) : undefined;
    // The first mistake: a slip before where V8 stopped (or V8 named no place).
    const slip = jsonSlip(t);
    if (slip && (pos === undefined || slip.at <= pos)) fail(slip.at, slip.what);
    fail(pos, msg.replace(/\s*in JSON at position \d+.*$/s, ''));
  }
  const twice = duplicateKey(t);
  if (twice) throw new EdgeRnnError('GATEWAY_CONFIG', `${file} at ${lineColumn(t, twice.at)}: "${twice.key}" is given twice in one object (JSON keeps the last, silently): remove one`, { file, field: twice.key });
  return value;
}

/** A JSON text as its characters outside strings and its strings whole: where each starts and ends. */
function* jsonTokens(t: string): Generator<{ at: number; ch: string; end: number }> {
  for (let i = 0; i < t.length; i++) {
    const ch = t[i]!;
    if (ch !== '"') {
      yield { at: i, ch, end: i + 1 };
      continue;
    }
    let j = i + 1;
    while (j < t.length && t[j] !== '"') j += t[j] === '\\' ? 2 : 1;
    yield { at: i, ch, end: j + 1 };
    i = j;
  }
}

/** The first comment or comma before } or ] outside strings, in a text JSON.parse refused. */
function jsonSlip(t: string): { at: number; what: string } | null {
  const closes = /\s*[}\]]/y;
  for (const { at, ch } of jsonTokens(t)) {
    if (ch === '/' && (t[at + 1] === '/' || t[at + 1] === '*')) return { at, what: 'a comment (JSON has none: remove it)' };
    closes.lastIndex = at + 1;
    if (ch === ',' && closes.test(t)) return { at, what: 'a comma before } or ] (JSON allows none: remove it)' };
  }
  return null;
}

/** The first key given twice in one object of a valid JSON text. */
function duplicateKey(t: string): { at: number; key: string } | null {
  // One entry per open object (its keys) or array (null).
  const open: Array<Set<string> | null> = [];
  const colon = /\s*:/y;
  for (const { at, ch, end } of jsonTokens(t)) {
    if (ch === '{') open.push(new Set());
    else if (ch === '[') open.push(null);
    else if (ch === '}' || ch === ']') open.pop();
    else if (ch === '"') {
      const keys = open[open.length - 1];
      colon.lastIndex = end;
      if (!keys || !colon.test(t)) continue;
      const key = JSON.parse(t.slice(at, end)) as string;
      if (keys.has(key)) return { at, key };
      keys.add(key);
    }
  }
  return null;
}

/** Config fields a command-line flag sets: [field, override, flag]. */
const FLAG_FIELDS: readonly [string, keyof ConfigOverrides, string][] = [
  ['site', 'site', '--site'],
  ['gatewayId', 'gatewayId', '--id'],
  ['broker.url', 'broker', '--broker'],
  ['broker.port', 'port', '--port'],
  ['broker.username', 'username', '--username'],
  ['broker.password', 'password', '--password'],
  ['stateDir', 'stateDir', '--state-dir'],
  ['metrics.httpPort', 'metricsPort', '--metrics-port'],
  ['log.level', 'logLevel', '--log-level'],
  ['routes[0].sensor', 'sensor', '--sensor'],
  ['routes[0].codec', 'codec', '--codec'],
  ['routes[0].detector.on', 'threshold', '--threshold'],
];

/**
 * A config error in a value a flag gave is a usage error naming the flag: `--sensor '#'` was
 * "error [GATEWAY_CONFIG]: (flags): routes[0].sensor must be ...", exit 1, and with a config
 * file the message named the file for a value the file does not hold.
 */
function flagError(e: unknown, o: ConfigOverrides): EdgeRnnError | null {
  if (!isEdgeRnnError(e, 'GATEWAY_CONFIG')) return null;
  const d = e.details as { field?: unknown; expected?: unknown; got?: unknown } | undefined;
  const hit = FLAG_FIELDS.find(([field, key]) => field === d?.field && o[key] !== undefined);
  if (!hit || typeof d?.expected !== 'string') return null;
  // Quick-start routes exist only with --model: routes[0] is the flags' own route then.
  if (hit[0].startsWith('routes[0]') && o.model === undefined) return null;
  const shown = hit[1] === 'password' ? '***' : JSON.stringify(String(o[hit[1]]));
  return new EdgeRnnError('USAGE', `${hit[2]} must be ${d.expected}, got ${shown}`, { flag: hit[2], expected: d.expected });
}

/**
 * The config as `--print-config` prints it: broker.password and a password in broker.url as
 * "***" (they were printed in plain text, into CI logs). The rest is as resolved, so the printed
 * config loads back (with the password given again, e.g. --password).
 */
export function redactedConfig(config: GatewayConfig): GatewayConfig {
  const broker = { ...config.broker, url: redactUrl(config.broker.url) };
  if (broker.password !== undefined) broker.password = '***';
  return { ...config, broker };
}

/**
 * A config error raised past the file's reading (at start, in Gateway.create or Gateway.check:
 * "routes[0].detector.kind must be ...") names the file, as those raised reading it do.
 */
export function inConfigFile(e: unknown, file: string | undefined): unknown {
  if (file === undefined || !isEdgeRnnError(e, 'GATEWAY_CONFIG') || e.message.startsWith(`${file}`)) return e;
  return new EdgeRnnError('GATEWAY_CONFIG', `${file}: ${e.message}`, { ...e.details, file });
}
