/**
 * `edgernn replay`: feeds a recorded trace through the gateway pipeline on a clock that follows
 * the trace, so threshold tuning and false-alarm counts are reproducible: same trace, same
 * config, same alerts (ids included).
 */
import fs from 'node:fs';
import path from 'node:path';
import { EdgeRnnError } from '../../errors.js';
import { inConfigFile, loadGatewayConfig } from '../../gateway/load-config.js';
import { Topics } from '../../gateway/topics.js';
import { parseTrace, parseTruth, replayTrace, scoreAlerts, type AlertScore } from '../../gateway/trace.js';
import { numberFlag, parseFlags, readFileArg, usageError, type Command } from '../framework.js';

/** A file's identity (device and inode: the same file by any path or link), or null when there is none. */
function fileId(file: string): string | null {
  try {
    const st = fs.statSync(file);
    return `${st.dev}:${st.ino}`;
  } catch {
    return null;
  }
}

export const replayCommand: Command = {
  name: 'replay',
  summary: 'replay a recorded trace through the gateway pipeline (deterministic alerts, false-alarm counts)',
  help: `usage: edgernn replay TRACE.ndjson --config gateway.json [--speed X | --as-fast-as-possible] [options]

Runs the trace through the same pipeline as \`edgernn gateway\` (decode, streams, models,
detectors) with the broker, outbox and device-state files replaced by in-memory stand-ins, on
a clock that follows the recorded arrival times: the same trace and config give the same
alerts, ids included. Prints a summary; --truth scores the alerts against labelled events.

  -c, --config FILE        gateway config (models, routes, detectors, limits)
  --as-fast-as-possible    no waiting between messages (the default)
  --speed X                pace messages at X times real time (the result does not change)
  --alerts FILE            write the alerts as NDJSON (default: not written)
  --truth FILE             JSON list of {device, startMs, endMs, label?} events
  --tolerance-ms N         an alert within N ms of an event counts for it (default 0)
  --json                   print the summary as one JSON object`,
  async run(args, ctx) {
    const { values, positionals } = parseFlags(
      args,
      {
        config: { type: 'string', short: 'c' },
        speed: { type: 'string' },
        'as-fast-as-possible': { type: 'boolean' },
        alerts: { type: 'string' },
        truth: { type: 'string' },
        'tolerance-ms': { type: 'string' },
        json: { type: 'boolean' },
      },
      { min: 1, max: 1, names: 'TRACE.ndjson' },
    );
    if (typeof values.config !== 'string') throw usageError('--config gateway.json is required (it names the models and routes)');
    const speedFlag = numberFlag(values.speed, 'speed', { min: 1e-6 });
    if (speedFlag !== undefined && values['as-fast-as-possible']) throw usageError('--speed and --as-fast-as-possible exclude each other');
    const tolerance = numberFlag(values['tolerance-ms'], 'tolerance-ms', { min: 0 }) ?? 0;
    // --alerts naming an input (a slip of the tab key: --alerts field.ndjson) truncated it: the
    // recording was lost after the replay had read it.
    if (typeof values.alerts === 'string') {
      const out = fileId(path.resolve(ctx.cwd, values.alerts));
      for (const [file, what] of [[positionals[0], 'the trace'], [values.truth, 'the truth file'], [values.config, 'the config']] as const) {
        if (out !== null && typeof file === 'string' && fileId(path.resolve(ctx.cwd, file)) === out) throw usageError(`--alerts ${values.alerts} is ${what}: it would be overwritten`);
      }
    }
    const config = loadGatewayConfig(values.config, { logLevel: 'silent' }, ctx.cwd);
    // The bytes, not a string: a trace over 512 MiB does not fit in one.
    let traceBytes: Buffer;
    try {
      traceBytes = readFileArg(ctx.cwd, positionals[0]!);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ERR_FS_FILE_TOO_LARGE') throw new EdgeRnnError('GATEWAY_TRACE', `${positionals[0]}: ${(e as Error).message}: replay it in parts (split it after any line, keeping line 1, the header, in each part)`);
      throw e;
    }
    // With the config: a bad topic its template matches is refused naming the device or sensor
    // ("level 3" sent the user counting topic levels), before --alerts is created.
    const trace = parseTrace(traceBytes, positionals[0]!, { config });
    // Read before the replay (which may take long on a day of site data), not after it.
    const truth = typeof values.truth === 'string' ? parseTruth(readFileArg(ctx.cwd, values.truth).toString('utf8'), values.truth) : null;
    const alertsOut = typeof values.alerts === 'string' ? fs.openSync(path.resolve(ctx.cwd, values.alerts), 'w') : null;
    let result;
    try {
      result = await replayTrace({
        config,
        records: trace.records,
        source: positionals[0]!,
        speed: speedFlag ?? 'max',
        onAlert: (a) => {
          if (alertsOut !== null) fs.writeSync(alertsOut, `${JSON.stringify(a)}\n`);
        },
      });
    } catch (e) {
      // A config error raised at the gateway's start names the file, as those raised reading it do.
      throw inConfigFile(e, values.config as string);
    } finally {
      if (alertsOut !== null) fs.closeSync(alertsOut);
    }
    // A trace of another site (or with another topic template) replays nothing: said only as
    // "0 messages (N on topics no route consumes)", easily read as a quiet day.
    if (result.messages === 0 && result.skipped > 0) {
      const topics = new Topics(config);
      const filters = [...new Set(config.routes.map((r) => topics.sensorFilter(r.sensor)))].join(', ');
      ctx.stderr.write(`edgernn replay: warning: none of the trace's ${result.skipped} messages is on a topic the config's routes consume (site '${config.site}': ${filters}); the trace's first topic is '${trace.records[0]!.topic}': a trace of another site?\n`);
    }
    let score: AlertScore | null = null;
    if (truth !== null) {
      // Events no alert can match are scored as misses without a word: a label the models do not
      // have (a typo, another model's), or a time outside the trace (an offset, another day).
      const known = new Set(result.labels);
      const unknown = new Map<string, number>();
      for (const e of truth) if (e.label !== undefined && !known.has(e.label)) unknown.set(e.label, (unknown.get(e.label) ?? 0) + 1);
      for (const [label, n] of unknown) {
        ctx.stderr.write(`edgernn replay: warning: ${values.truth}: ${n} event${n === 1 ? '' : 's'} labelled '${label}', a label the config's models do not raise (${result.labels.filter((l) => !/^output\d+$/.test(l) && l !== 'anomaly').join(', ') || 'none'}; anomaly, output<i>): always missed\n`);
      }
      const outside = truth.filter((e) => e.endMs < result.fromMs - tolerance || e.startMs > result.toMs + tolerance).length;
      if (outside > 0 && trace.records.length > 0) {
        ctx.stderr.write(`edgernn replay: warning: ${values.truth}: ${outside} of ${truth.length} events lie outside the trace (${new Date(result.fromMs).toISOString()} to ${new Date(result.toMs).toISOString()}): missed unless the devices' clocks are that far from the recorder's\n`);
      }
      // Per device-hour over every device the trace fed the gateway: a false alarm on a device
      // without events counts, so that device's hours count too (not only the devices in the truth).
      score = scoreAlerts(result.alerts, truth, { fromMs: result.fromMs, toMs: result.toMs, toleranceMs: tolerance, devices: result.devices });
    }
    const byLabel: Record<string, number> = {};
    for (const a of result.alerts) byLabel[a.label] = (byLabel[a.label] ?? 0) + 1;
    const c = result.counters;
    const summary = {
      trace: positionals[0],
      messages: result.messages,
      skipped: result.skipped,
      devices: result.devices,
      tornLastLine: trace.tornLastLine,
      fromMs: result.fromMs,
      toMs: result.toMs,
      alerts: result.alerts.length,
      byLabel,
      counters: { frames: c.frames_total, deadLetters: c.dead_letters_total, duplicates: c.duplicates_total, missing: c.missing_total, resets: c.resets_total, droppedSamples: c.dropped_samples_total },
      ...(score ? { score } : {}),
    };
    if (values.json) {
      ctx.stdout.write(`${JSON.stringify(summary)}\n`);
      return 0;
    }
    const hours = (result.toMs - result.fromMs) / 3_600_000;
    const lines = [
      `${positionals[0]}: ${result.messages} messages over ${hours < 1 ? `${((result.toMs - result.fromMs) / 1000).toFixed(1)} s` : `${hours.toFixed(2)} h`}${result.skipped ? ` (${result.skipped} on topics no route consumes)` : ''}`,
      `  frames ${c.frames_total}, dead letters ${c.dead_letters_total}, duplicates ${c.duplicates_total}, missing ${c.missing_total}, resets ${c.resets_total}, dropped samples ${c.dropped_samples_total}`,
      ...(trace.tornLastLine ? ['  the last line is torn (the recorder stopped mid-write): not replayed'] : []),
      `  alerts ${result.alerts.length}${Object.keys(byLabel).length ? ` (${Object.entries(byLabel).map(([k, v]) => `${k} ${v}`).join(', ')})` : ''}`,
    ];
    if (score) {
      lines.push(
        `  truth   ${score.events} events: ${score.hits} detected, ${score.misses} missed; ${score.falseAlarms} false alarms (${score.falseAlarmsPerHour.toFixed(2)}/h, ${score.falseAlarmsPerDeviceHour.toFixed(3)}/device-h); ${score.repeats} repeats; mean delay ${Number.isNaN(score.meanDelayMs) ? '-' : `${score.meanDelayMs.toFixed(0)} ms`}`,
      );
    }
    ctx.stdout.write(`${lines.join('\n')}\n`);
    return 0;
  },
};
