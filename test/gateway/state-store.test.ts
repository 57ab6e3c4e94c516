/**
 * The file state store (stateDir/streams) on a real file system: keys of any characters round
 * trip, writes leave no temporary files; and a state the gateway cannot read (a directory in the
 * place of the file: EISDIR even as root) does not stop its device: counted, logged, fresh stream.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createRuntime } from '../../src/index.js';
import { ManualClock } from '../../src/gateway/clock.js';
import { encodeJson } from '../../src/gateway/codecs.js';
import { parseGatewayConfig } from '../../src/gateway/config.js';
import { Gateway } from '../../src/gateway/gateway.js';
import { memoryLogger } from '../../src/gateway/logger.js';
import { fileStateStore } from '../../src/gateway/state-store.js';
import { TraceTransport } from '../../src/gateway/transport.js';
import { IMU_CHANNELS, IMU_DETECTOR, imuModelBytes, imuSignal, tmpDir } from './fixtures.js';

const gateways: Gateway[] = [];
afterEach(async () => {
  for (const g of gateways.splice(0)) await g.stop();
});

describe('fileStateStore', () => {
  it('round-trips keys of any characters, lists and deletes them, leaves no temporary files', () => {
    const dir = path.join(tmpDir('edgernn-states-'), 'streams');
    const st = fileStateStore(dir);
    const keys = ['dev-1/imu', 'halle/3/ü€', '../escape', 'a'.repeat(150)];
    keys.forEach((k, i) => st.save(k, Uint8Array.of(i, 1, 2, 3)));
    st.save(keys[0]!, Uint8Array.of(9)); // overwritten in place
    expect(st.keys().sort()).toEqual([...keys].sort());
    expect(Array.from(st.load(keys[0]!)!)).toEqual([9]);
    expect(Array.from(st.load(keys[1]!)!)).toEqual([1, 1, 2, 3]);
    expect(st.load('never/saved')).toBeUndefined();
    st.delete(keys[1]!);
    st.delete('never/saved');
    expect(st.keys().sort()).toEqual([keys[0], keys[2], keys[3]].sort());
    expect(fs.readdirSync(dir).every((f) => f.endsWith('.state'))).toBe(true);
    expect(fs.readdirSync(path.dirname(dir))).toEqual(['streams']); // nothing escaped the folder
  });
});

describe('a saved stream state the gateway cannot read', () => {
  it('is counted and logged, and the device starts a fresh stream; other devices are untouched', async () => {
    const model = await (await createRuntime()).load(imuModelBytes());
    const stateDir = tmpDir('edgernn-unreadable-');
    // A directory where the state of d1/imu would be: reading it fails with EISDIR.
    const streams = path.join(stateDir, 'streams');
    fs.mkdirSync(path.join(streams, `${Buffer.from('d1/imu').toString('base64url')}.state`), { recursive: true });
    const clock = new ManualClock(1_700_000_000_000);
    const tr = new TraceTransport();
    const logger = memoryLogger('info');
    const config = parseGatewayConfig({ site: 's', models: { imu: 'x' }, routes: [{ sensor: 'imu', model: 'imu', codec: 'json', detector: IMU_DETECTOR }], stateDir, metrics: { intervalMs: 0 } });
    const gw = await Gateway.create({ config, models: { imu: model }, clock, transport: tr, logger });
    gateways.push(gw);
    const x = imuSignal(40, 3);
    for (const device of ['d1', 'd2']) {
      for (let m = 0; m < 4; m++) tr.deliver(gw.topics.sensor(device, 'imu'), encodeJson(x.subarray(m * 10 * IMU_CHANNELS, (m + 1) * 10 * IMU_CHANNELS), IMU_CHANNELS, { seq: m }));
    }
    clock.advance(5);
    const c = gw.metrics.counters;
    expect(c.state_errors_total).toBe(1);
    expect(c.frames_total).toBe(80); // both devices, every frame
    expect(gw.streams.size).toBe(2);
    const warn = logger.lines.find((l) => l.msg === 'saved stream state not used');
    expect(warn).toMatchObject({ device: 'd1', sensor: 'imu' });
    expect(String(warn!.error)).toMatch(/cannot read it: EISDIR/);
    expect(logger.lines.some((l) => l.msg === 'message handler failed')).toBe(false);
    model.dispose();
  });
});
