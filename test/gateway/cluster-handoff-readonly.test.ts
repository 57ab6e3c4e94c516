/**
 * A partition handed off from a member whose disk went read-only: the saved state of an evicted
 * stream is read, but cannot be deleted. It is handed off all the same (with a warning), as
 * streamFor restores such a state: load() and delete() shared one try block, so the hand-off of a
 * state that was read was skipped, logged as "could not be read", and the device started fresh on
 * its new owner. Skipped, with the reason, without mosquitto.
 */
import { describe, expect, it } from 'vitest';
import type { Model } from '../../src/index.js';
import { partitionOwner } from '../../src/gateway/cluster.js';
import { Gateway } from '../../src/gateway/gateway.js';
import { memoryLogger } from '../../src/gateway/logger.js';
import { memoryStateStore } from '../../src/gateway/state-store.js';
import { devicePartition } from '../../src/gateway/topics.js';
import { imuGatewayConfig, type Mosquitto, mosquittoAndImuModel, mosquittoAvailable, waitFor } from './fixtures.js';

const SKIP = mosquittoAvailable();
if (SKIP) console.log(`test/gateway/cluster-handoff-readonly.test.ts skipped: ${SKIP}`);

const P = 4;

describe.skipIf(SKIP !== null)('cluster hand-off from a read-only state store', () => {
  let mq: Mosquitto;
  let model: Model;
  mosquittoAndImuModel((m, md) => ((mq = m), (model = md)));

  it('hands off a saved state it can read but not delete, and warns', { timeout: 60_000 }, async () => {
    const configOf = (id: string) =>
      imuGatewayConfig(mq.url, { site: 'ro', gatewayId: id, cluster: { group: 'ro', partitions: P, handoffTimeoutMs: 10_000, checkpointIntervalMs: 0 }, stateDir: '' });
    const device = Array.from({ length: 64 }, (_, i) => `ro-${i}`).find((d) => partitionOwner(devicePartition(d, P), ['gw-a', 'gw-b']) === 'gw-b')!;
    const key = `${device}/imu`;
    const state = new Uint8Array([1, 2, 3, 4]);
    // gw-a's store: the state of an evicted stream, on a disk that now refuses writes.
    const inner = memoryStateStore();
    inner.save(key, state);
    const readOnly = { ...inner, delete: () => {
      throw Object.assign(new Error(`EROFS: read-only file system, unlink '${key}'`), { code: 'EROFS' });
    } };
    const logA = memoryLogger('warn');
    const gwA = await Gateway.create({ config: configOf('gw-a'), models: { imu: model }, stateStore: readOnly, logger: logA });
    let gwB: Gateway | null = null;
    try {
      await waitFor(() => gwA.cluster!.owned().length === P, 'gw-a to own every partition', 8000);
      gwB = await Gateway.create({ config: configOf('gw-b'), models: { imu: model }, stateStore: memoryStateStore(), logger: memoryLogger('silent') });
      const b = gwB;
      await waitFor(() => b.cluster!.owned().includes(devicePartition(device, P)), 'gw-b to own the device\'s partition', 8000);
      expect(b.stateStore.load(key)).toEqual(state);
      // The copy is deleted once the broker has taken the whole hand-off (its DONE acknowledged).
      await waitFor(() => logA.lines.some((l) => l.level === 'warn' && l.msg.includes('not deleted') && l.key === key), 'the warning that the copy stays', 8000);
      expect(logA.lines.some((l) => l.msg.includes('could not be read'))).toBe(false);
    } finally {
      await gwB?.stop();
      await gwA.stop();
    }
  });
});
