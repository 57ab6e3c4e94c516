/**
 * Builds a gateway config from a JSON file and command-line overrides (Node-only module), so the
 * `gateway` and `replay` commands read configs the same way.
 */
import fs from 'node:fs';
import path from 'node:path';
import { EdgeRnnError, isEdgeRnnError } from '../errors.js';
import { parseGatewayConfig, resolveConfigPaths, type GatewayConfig } from './config.js';

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

/** Reads and validates a config; overrides replace file values; paths resolve against the file's directory (or cwd). */
export function loadGatewayConfig(file: string | undefined, o: ConfigOverrides, cwd: string): GatewayConfig {
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
    try {
      raw = JSON.parse(text) as Record<string, unknown>;
    } catch (e) {
      throw new EdgeRnnError('GATEWAY_CONFIG', `${file} is not valid JSON: ${(e as Error).message}`, { file });
    }
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
        detector: { kind: 'threshold', on: o.threshold ?? 0.5, ...(o.output !== undefined ? { output: o.output } : {}) },
      },
    ];
  } else if (o.sensor !== undefined || o.codec !== undefined || o.threshold !== undefined || o.output !== undefined) {
    throw new EdgeRnnError('USAGE', '--sensor, --codec, --threshold and --output go with --model (the quick start)');
  }
  try {
    return resolveConfigPaths(parseGatewayConfig(merged, source), baseDir, (b, p) => path.resolve(b, p));
  } catch (e) {
    throw flagError(e, o) ?? e;
  }
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
