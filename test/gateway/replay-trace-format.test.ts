/**
 * The trace format as a reader meets it: a header version that is not the number 1, and a trace
 * of another site (nothing replayed, said only as "0 messages").
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { replayCommand } from '../../src/cli/commands/replay.js';
import { runCli } from '../../src/cli/framework.js';
import { encodeJson } from '../../src/gateway/codecs.js';
import { parseTrace, traceHeaderLine, traceRecordLine } from '../../src/gateway/trace.js';
import { errorMessage } from '../helpers/errors.js';
import { IMU_DETECTOR, imuModelBytes, tmpDir } from './fixtures.js';

let work: string;

function cli() {
  const out = { stdout: '', stderr: '' };
  return { ctx: { stdout: { write: (s: string) => (out.stdout += s) }, stderr: { write: (s: string) => (out.stderr += s) }, cwd: work }, out };
}

beforeAll(() => {
  work = tmpDir();
  fs.writeFileSync(path.join(work, 'imu.ern'), imuModelBytes());
  fs.writeFileSync(path.join(work, 'gateway.json'), JSON.stringify({ site: 'yard', models: { imu: 'imu.ern' }, routes: [{ sensor: 'imu', model: 'imu', codec: 'json', detector: IMU_DETECTOR }] }));
});

afterAll(() => {
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

describe('trace format: the reader', () => {
  it('refuses a header version that is not the number 1 saying what it got (a string "1" said "version 1: this edgernn reads version 1")', () => {
    const header = (v: unknown) => `${JSON.stringify({ format: 'edgernn.trace', version: v, recordedAt: '2024-05-01T12:00:00.000Z' })}\n`;
    expect(errorMessage(() => parseTrace(header('1'), 't.ndjson'), 'GATEWAY_TRACE')).toMatch(/t\.ndjson:1: "version" must be 1 .*got "1"$/);
    expect(errorMessage(() => parseTrace(header(2), 't.ndjson'), 'GATEWAY_TRACE')).toMatch(/t\.ndjson:1: "version" must be 1 .*got 2$/);
    expect(parseTrace(header(1)).records).toEqual([]);
  });

  it('warns when no record of the trace is on a topic the config consumes (a trace of another site): it said only "0 messages"', async () => {
    const payload = encodeJson([0, 0, 0, 0, 0, 0], 6, { seq: 0 });
    const lines = [traceHeaderLine({ recordedAt: '2024-05-01T12:00:00.000Z' })];
    for (let i = 0; i < 3; i++) lines.push(traceRecordLine({ t: 1_714_564_800_000 + i, topic: 'edgernn/plant9/d1/imu', qos: 1, payload }));
    fs.writeFileSync(path.join(work, 'other-site.ndjson'), lines.join(''));
    const r = cli();
    expect(await runCli(['replay', 'other-site.ndjson', '-c', 'gateway.json'], [replayCommand], r.ctx), r.out.stderr).toBe(0);
    expect(r.out.stdout).toMatch(/0 messages .*\(3 on topics no route consumes\)/);
    expect(r.out.stderr).toMatch(/warning: none of the trace's 3 messages is on a topic the config's routes consume \(site 'yard': edgernn\/yard\/\+\/imu\); the trace's first topic is 'edgernn\/plant9\/d1\/imu'/);
  });
});
