/** `edgernn record`: captures MQTT traffic with arrival times into an NDJSON trace for `edgernn replay`. */
import fs from 'node:fs';
import path from 'node:path';
import { isEdgeRnnError } from '../../errors.js';
import { parseGatewayConfig } from '../../gateway/config.js';
import { recordTrace } from '../../gateway/trace.js';
import { redactUrl } from '../../gateway/transport.js';
import { STOP_SIGNALS } from './gateway.js';
import { numberFlag, parseFlags, usageError, type Command } from '../framework.js';

export const recordCommand: Command = {
  name: 'record',
  service: true,
  summary: 'record MQTT sensor traffic (with arrival times) to an NDJSON trace',
  help: `usage: edgernn record --broker URL --topics FILTER[,FILTER...] -o trace.ndjson [options]

Subscribes to the topic filters and writes every message with its arrival time (see
docs/gateway.md for the format) until SIGINT/SIGTERM/SIGHUP, --duration or --count.

  --broker URL         mqtt://, mqtts://, ws:// or wss:// broker
  --topics F,F         topic filters, e.g. edgernn/plant1/+/imu (repeatable)
  -o, --output FILE    trace file (default trace.ndjson)
  --duration S         stop after S seconds
  --count N            stop after N messages
  --username U, --password P, --cafile F, --cert F, --key F, --insecure
  --mqtt-version 4|5   protocol version (default 5)`,
  async run(args, ctx) {
    const { values } = parseFlags(
      args,
      {
        broker: { type: 'string' },
        topics: { type: 'string', multiple: true },
        output: { type: 'string', short: 'o' },
        duration: { type: 'string' },
        count: { type: 'string' },
        username: { type: 'string' },
        password: { type: 'string' },
        cafile: { type: 'string' },
        cert: { type: 'string' },
        key: { type: 'string' },
        insecure: { type: 'boolean' },
        'mqtt-version': { type: 'string' },
      },
      { min: 0, max: 0, names: '' },
    );
    if (typeof values.broker !== 'string') throw usageError('--broker URL is required');
    if (values.broker === 'embedded') throw usageError('--broker must be the URL of a running broker (the gateway prints its embedded broker URL)');
    const topics = ((values.topics as string[] | undefined) ?? []).flatMap((t) => t.split(',')).filter(Boolean);
    if (topics.length === 0) throw usageError('--topics needs at least one topic filter');
    // A malformed filter is the user's argument: said before anything (it surfaced after connecting,
    // as GATEWAY_TRANSPORT "subscribe: Invalid topic", exit 1, the output file already replaced).
    const badFilter = topics.find((f) => f.includes('\u0000') || f.split('/').some((l, i, a) => (l.includes('#') && (l !== '#' || i !== a.length - 1)) || (l.includes('+') && l !== '+')));
    if (badFilter !== undefined) throw usageError(`--topics: '${badFilter}' is not an MQTT topic filter ('+' stands for one whole level, '#' for all the rest, last)`);
    const str = (k: string) => (typeof values[k] === 'string' ? (values[k] as string) : undefined);
    const broker: Record<string, unknown> = { url: values.broker };
    for (const [flag, field] of [['username', 'username'], ['password', 'password'], ['cafile', 'ca'], ['cert', 'cert'], ['key', 'key']] as const) {
      const v = str(flag);
      if (v !== undefined) broker[field] = flag === 'username' || flag === 'password' ? v : path.resolve(ctx.cwd, v);
    }
    if (values.insecure) broker.rejectUnauthorized = false;
    const mv = numberFlag(values['mqtt-version'], 'mqtt-version', { integer: true, min: 4, max: 5 });
    if (mv !== undefined) broker.protocolVersion = mv;
    // The gateway's broker validation, reused (the field names match the config file's).
    const cfg = parseGatewayConfig({ broker, models: { m: 'x' }, routes: [{ sensor: 's', model: 'm' }] }, '(flags)');
    const file = path.resolve(ctx.cwd, str('output') ?? 'trace.ndjson');
    const durationS = numberFlag(values.duration, 'duration', { min: 0 });
    const count = numberFlag(values.count, 'count', { integer: true, min: 0 });
    let stopNow: () => void = () => {};
    const stop = new Promise<void>((r) => (stopNow = r));
    const onSignal = () => stopNow();
    // SIGHUP (the terminal closed) too: by default it ended the process without closing the trace.
    for (const sg of STOP_SIGNALS) process.on(sg, onSignal);
    try {
      const record = (b: typeof cfg.broker) =>
        recordTrace({
          url: b.url,
          broker: b,
          topics,
          file,
          stop,
          ...(durationS !== undefined ? { durationMs: durationS * 1000 } : {}),
          ...(count !== undefined ? { maxMessages: count } : {}),
          onReady: () => ctx.stderr.write(`edgernn record: recording ${topics.join(', ')} from ${redactUrl(b.url)} to ${file} (Ctrl-C to stop)\n`),
          onBroker: (_event, message) => ctx.stderr.write(`edgernn record: ${message}\n`),
        });
      let res: Awaited<ReturnType<typeof recordTrace>>;
      try {
        res = await record(cfg.broker);
      } catch (e) {
        // MQTT 5 by default; a 3.1.1 broker (the gateway's embedded aedes) refuses it: say so and
        // use 3.1.1, unless --mqtt-version asked for 5.
        if (mv !== undefined || !isEdgeRnnError(e, 'GATEWAY_TRANSPORT') || !/Unacceptable protocol version/i.test(e.message)) throw e;
        ctx.stderr.write('edgernn record: the broker speaks MQTT 3.1.1, not 5: recording with --mqtt-version 4\n');
        res = await record({ ...cfg.broker, protocolVersion: 4 });
      }
      // The summary goes to stderr when the trace itself goes to stdout (-o /dev/stdout, documented
      // for piping it on): appended to the trace, it made replay refuse it ("not JSON").
      const out = ctx.stdout === process.stdout && isStdout(file) ? ctx.stderr : ctx.stdout;
      out.write(`edgernn record: ${res.messages} messages, ${res.bytes} bytes -> ${file}${res.retained > 0 ? ` (${res.retained} retained messages sent on subscribing not recorded)` : ''}\n`);
    } finally {
      for (const sg of STOP_SIGNALS) process.off(sg, onSignal);
    }
    return 0;
  },
};

/** Whether `file` is this process's stdout (`/dev/stdout`, `/proc/self/fd/1`, or the file stdout was redirected to). */
function isStdout(file: string): boolean {
  try {
    const a = fs.statSync(file);
    const b = fs.fstatSync(1);
    return a.dev === b.dev && a.ino === b.ino;
  } catch {
    return false;
  }
}
