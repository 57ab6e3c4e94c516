/**
 * `edgernn gateway`: runs the MQTT gateway until SIGINT/SIGTERM/SIGHUP, then shuts down gracefully
 * (drain queues, save device states, flush the outbox). Logs are JSON lines on stderr.
 */
import { isIPv6 } from 'node:net';
import { isEdgeRnnError } from '../../errors.js';
import { Gateway } from '../../gateway/gateway.js';
import { jsonLogger } from '../../gateway/logger.js';
import { inConfigFile, loadGatewayConfigDetailed, redactedConfig } from '../../gateway/load-config.js';
import { redactUrl } from '../../gateway/transport.js';
import { decodeModel } from '../../model/codec.js';
import { choiceFlag, numberFlag, parseFlags, readFileArg, usageError, type Command } from '../framework.js';

/** The metrics endpoint's URL as printed: an IPv6 host in brackets (`http://::1:9464/metrics` is no URL). */
export function metricsUrl(host: string, port: number): string {
  return `http://${isIPv6(host) ? `[${host}]` : host}:${port}/metrics`;
}

/** The output the quick start's threshold watches: a label, or an index for a model without labels. */
export interface QuickOutput {
  output: number | string;
  index: number;
  /** The model's name (spec.name), for the start-up line. */
  name: string;
}

/**
 * The output `--threshold` watches in the quick start: --output (a label or an index), else the
 * first label not starting with '_' (background classes of keyword models: _silence_, _unknown_).
 * It was output 0, which on a classifier trained on a WAV folder is _silence_ (labels sort, '_'
 * first): the quick start alerted on silence.
 */
export function quickOutput(bytes: Uint8Array, file: string, flag: string | undefined): QuickOutput {
  // An ONNX file was "ERN_BAD_MAGIC: not an .ern file", without saying what to do.
  if (/\.onnx$/i.test(file)) throw usageError(`--model takes an .ern model: ${convertFirst(file)}`);
  const { spec, outputSize: n } = decodeModel(bytes, file);
  const labels = spec.labels.length === n ? spec.labels : [];
  const named = (index: number): QuickOutput => ({ output: labels[index] ?? index, index, name: spec.name });
  if (flag === undefined) return named(Math.max(0, labels.findIndex((l) => !l.startsWith('_'))));
  const index = /^\d+$/.test(flag) ? Number(flag) : labels.indexOf(flag);
  if (index < 0 || index >= n) {
    const expected = labels.length > 0 ? `a label of model '${spec.name}' (${labels.join(', ')}) or an output index in [0, ${n - 1}]` : `an output index in [0, ${n - 1}] (model '${spec.name}' has no labels)`;
    throw usageError(`--output must be ${expected}, got ${JSON.stringify(flag)}`);
  }
  return named(index);
}

/** What to do with an ONNX model: the gateway runs .ern models. */
function convertFirst(file: string): string {
  const ern = file.replace(/\.onnx$/i, '.ern');
  return `the gateway runs .ern models: convert it first (edgernn convert ${file} -o ${ern}), then --model ${ern}`;
}

/** The signals that stop the gateway gracefully. */
export const STOP_SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

export const gatewayCommand: Command = {
  name: 'gateway',
  service: true,
  summary: 'run the MQTT gateway: sensor feeds in, a model per device, alerts out (never lost)',
  help: `usage: edgernn gateway [--config gateway.json] [options]

Subscribes to sensor topics (edgernn/<site>/<device>/<sensor>), keeps one stream state per
device, steps many devices per kernel call, runs detectors, and publishes alerts (QoS 1) on
edgernn/<site>/<device>/alerts from a durable outbox. Runs until SIGINT, SIGTERM or SIGHUP,
then drains, saves device states and flushes the outbox (at most 5 s on the broker). Topics
are templates (the config's "topics"); several gateways share a site's devices with a "cluster"
section (the sensor topic then carries a partition level). See docs/gateway.md.

  -c, --config FILE    gateway config (JSON); flags below override it
  --broker B           "embedded" (default: an in-process broker, port printed) or
                       mqtt://host:1883, mqtts://host:8883, ws://host/mqtt, wss://host/mqtt
  --port N             embedded broker port (default 0: any free port)
  --username U, --password P
  --cafile F, --cert F, --key F   TLS CA bundle, client certificate and key (PEM)
  --insecure           accept a broker certificate that does not verify
  --site S             site name (the second topic level)
  --id ID              gateway id (status topics, client id)
  --state-dir DIR      outbox and saved device states ('' = memory only)
  --metrics-port N     serve Prometheus text on http://127.0.0.1:N/metrics (0 = any port;
                       the config's metrics.httpHost sets another address)
  --log-level L        debug, info, warn, error, silent
  quick start without a config file:
  --model FILE         one model...
  --sensor NAME        ...on this sensor (default "data")
  --codec C            json (default), binary, csv
  --threshold X        alert when the watched output >= X (default 0.5)
  --output O           the output watched, a label or an index (default: the first label
                       not starting with '_', so not _silence_ or _unknown_; else output 0)
  --print-config       check the config as start does (models loaded and golden-checked,
                       routes, detectors, TLS files), without the broker, state dir or board,
                       then print it resolved, as JSON, and exit: 0 if it would start, 1 if
                       not (for CI). broker.password and a password in broker.url print as ***`,
  async run(args, ctx) {
    const { values, positionals } = parseFlags(
      args,
      {
        config: { type: 'string', short: 'c' },
        broker: { type: 'string' },
        port: { type: 'string' },
        username: { type: 'string' },
        password: { type: 'string' },
        cafile: { type: 'string' },
        cert: { type: 'string' },
        key: { type: 'string' },
        insecure: { type: 'boolean' },
        site: { type: 'string' },
        id: { type: 'string' },
        'state-dir': { type: 'string' },
        'metrics-port': { type: 'string' },
        'log-level': { type: 'string' },
        model: { type: 'string' },
        sensor: { type: 'string' },
        codec: { type: 'string' },
        threshold: { type: 'string' },
        output: { type: 'string' },
        'print-config': { type: 'boolean' },
      },
      { min: 0, max: Infinity, names: '' },
    );
    // `edgernn gateway model.ern` was "unexpected argument", without saying which flag it wanted.
    if (positionals.length > 0) {
      const arg = positionals[0]!;
      if (/\.onnx$/i.test(arg)) throw usageError(`unexpected argument '${arg}': ${convertFirst(arg)}`);
      const flag = /\.(json|ya?ml)$/i.test(arg) ? '--config' : /\.ern$/i.test(arg) ? '--model' : undefined;
      throw usageError(`unexpected argument '${arg}'${flag ? `: give it as ${flag} ${arg}` : ' (a model goes after --model, a config file after --config)'}`);
    }
    const str = (k: string) => (typeof values[k] === 'string' ? (values[k] as string) : undefined);
    const o: Parameters<typeof loadGatewayConfigDetailed>[1] = {};
    const set = <K extends keyof typeof o>(k: K, v: (typeof o)[K] | undefined) => {
      if (v !== undefined) o[k] = v;
    };
    set('broker', str('broker'));
    set('port', numberFlag(values.port, 'port', { integer: true, min: 0, max: 65535 }));
    set('username', str('username'));
    set('password', str('password'));
    set('ca', str('cafile'));
    set('cert', str('cert'));
    set('key', str('key'));
    if (values.insecure === true) o.insecure = true;
    set('site', str('site'));
    set('gatewayId', str('id'));
    set('stateDir', str('state-dir'));
    set('metricsPort', numberFlag(values['metrics-port'], 'metrics-port', { integer: true, min: 0, max: 65535 }));
    set('logLevel', choiceFlag(values['log-level'], 'log-level', ['debug', 'info', 'warn', 'error', 'silent'] as const));
    // The file is checked here, where it is still --model: found missing when the gateway loaded
    // it, the error named the generated config ("models.model.path: cannot read ..."), and
    // --print-config printed a config whose model did not exist.
    const modelFlag = str('model');
    // Nothing to run: it was exit 1 with "(flags): models must be an object", naming neither flag.
    if (modelFlag === undefined && str('config') === undefined) throw usageError('give a config file (--config gateway.json) or a model for the quick start (--model FILE)');
    const quick = modelFlag !== undefined ? quickOutput(readFileArg(ctx.cwd, modelFlag), modelFlag, str('output')) : undefined;
    set('model', modelFlag);
    // Only when given: load-config picks the same default, and refuses --output on a model whose outputs are predictions.
    set('output', str('output') !== undefined ? (quick?.output ?? str('output')) : undefined);
    set('sensor', str('sensor'));
    set('codec', choiceFlag(values.codec, 'codec', ['json', 'binary', 'csv'] as const));
    set('threshold', numberFlag(values.threshold, 'threshold'));
    const file = str('config');
    const { config, defaultOutputs } = loadGatewayConfigDetailed(file, o, ctx.cwd);
    if (values['print-config']) {
      // Checked as start checks it (short of the broker, stateDir and board): it printed configs that then failed to start.
      await Gateway.check({ config }).catch((e: unknown) => {
        throw inConfigFile(e, file);
      });
      ctx.stdout.write(`${JSON.stringify(redactedConfig(config), null, 2)}\n`);
      return 0;
    }
    const logger = jsonLogger({ level: config.log.level, out: ctx.stderr, base: { gateway: config.gatewayId } });
    // Signals are caught from here on (the outbox is durable either way).
    let signalled: NodeJS.Signals | null = null;
    let onStop: () => void = () => {};
    const stopRequested = new Promise<void>((resolve) => (onStop = resolve));
    // A signal during start-up aborts it (it may be waiting for a broker that is down).
    const startup = new AbortController();
    // SIGHUP too (the terminal closed: an ssh session that dropped): by default it ended the
    // process on the spot, device states unsaved. There is no reload: restart for a new config.
    const onSignal = (sig: NodeJS.Signals) => {
      for (const sg of STOP_SIGNALS) process.off(sg, onSignal);
      signalled = sig;
      startup.abort();
      onStop();
    };
    for (const sg of STOP_SIGNALS) process.on(sg, onSignal);
    let gw: Gateway;
    try {
      gw = await Gateway.create({ config, logger, signal: startup.signal });
    } catch (e) {
      for (const sg of STOP_SIGNALS) process.off(sg, onSignal);
      if (isEdgeRnnError(e, 'GATEWAY_STOPPED')) {
        logger.info('signal received during start-up, stopped', { signal: signalled, reason: e.message });
        ctx.stdout.write(`edgernn gateway ${config.gatewayId}: ${e.message}\n`);
        return 0;
      }
      throw inConfigFile(e, file);
    }
    const url = redactUrl(gw.broker ? gw.broker.url : config.broker.url);
    ctx.stdout.write(`edgernn gateway ${config.gatewayId}: ${gw.broker ? `embedded broker listening on ${url}` : `connected to ${url}`}` + `${gw.httpPort !== null ? `, metrics on ${metricsUrl(config.metrics.httpHost, gw.httpPort)}` : ''}\n`);
    const route = config.routes[0];
    if (quick !== undefined && route?.detector.kind === 'threshold') {
      ctx.stdout.write(`edgernn gateway ${config.gatewayId}: alerts when output ${quick.index}${typeof quick.output === 'string' ? ` (${quick.output})` : ''} >= ${route.detector.on} on sensor '${route.sensor}' (--output picks another)\n`);
    } else if (quick !== undefined && route?.detector.kind === 'anomaly') {
      ctx.stdout.write(`edgernn gateway ${config.gatewayId}: alerts from the anomaly detector (settings from model '${quick.name}') on sensor '${route.sensor}'\n`);
    } else {
      // A config route that names no output watches the first non-background label: said here.
      for (const d of defaultOutputs) {
        const r = config.routes[d.route]!;
        ctx.stdout.write(`edgernn gateway ${config.gatewayId}: routes[${d.route}] alerts when output ${d.index} (${d.label}) >= ${(r.detector as { on: number }).on} on sensor '${r.sensor}' (routes[${d.route}].detector.output picks another)\n`);
      }
    }
    await stopRequested;
    logger.info('signal received, shutting down', { signal: signalled });
    await gw.stop();
    ctx.stdout.write(`edgernn gateway ${config.gatewayId}: stopped (outbox depth ${gw.outboxDepth})\n`);
    return 0;
  },
};
