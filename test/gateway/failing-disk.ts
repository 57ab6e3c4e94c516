/**
 * Test rigs for a failing disk under the alert outbox: a real FileOutbox behind a switch that
 * makes its writes fail (a disk cannot be failed for real here: tests run as root), and the
 * in-process transport refusing alerts while the "broker" is away.
 */
import path from 'node:path';
import type { Model } from '../../src/index.js';
import { ManualClock } from '../../src/gateway/clock.js';
import { parseGatewayConfig, type GatewayConfigInput } from '../../src/gateway/config.js';
import { Gateway } from '../../src/gateway/gateway.js';
import { memoryLogger } from '../../src/gateway/logger.js';
import { FileOutbox, type Outbox } from '../../src/gateway/outbox.js';
import { TraceTransport, topicMatches, type PublishOptions } from '../../src/gateway/transport.js';
import { IMU_DETECTOR, tmpDir } from './fixtures.js';

/** A FileOutbox whose writes fail (EIO) while `sw.failing` is set; everything else is the FileOutbox's own. */
export function switchedOutbox(inner: FileOutbox): { outbox: Outbox; sw: { failing: boolean } } {
  const sw = { failing: false };
  const eio = () => Object.assign(new Error('EIO: i/o error, write'), { code: 'EIO' });
  const outbox = new Proxy(inner, {
    get(target, key) {
      if (key === 'add' && sw.failing) return () => { throw eio(); };
      if (key === 'commit' && sw.failing) return () => Promise.reject(eio());
      const v = Reflect.get(target, key, target) as unknown;
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
  return { outbox, sw };
}

/** The in-process transport, refusing alert publishes (as a broker's PUBACK with an error would) while `refuse` is set. */
export class RefusingTransport extends TraceTransport {
  refuse = false;
  refused = 0;
  /** Set to the gateway's topic filter for alerts. */
  alertsFilter = '';
  isAlert(topic: string): boolean {
    return topicMatches(this.alertsFilter, topic);
  }
  override publish(topic: string, payload: Uint8Array | string, opts: PublishOptions): Promise<void> {
    if (this.refuse && this.isAlert(topic)) {
      this.refused++;
      return Promise.reject(new Error('not authorized'));
    }
    return super.publish(topic, payload, opts);
  }
}

/**
 * A gateway on the IMU test model whose file outbox (in a fresh stateDir) fails while `sw.failing`
 * is set, on a manual clock, with a transport that refuses alerts while `tr.refuse` is set.
 */
export async function failingDiskRig(model: Model, config: Partial<GatewayConfigInput> = {}, opts: { drainTimeoutMs?: number } = {}) {
  const stateDir = tmpDir('edgernn-outbox-fail-');
  const inner = FileOutbox.open(path.join(stateDir, 'outbox'));
  const { outbox, sw } = switchedOutbox(inner);
  const clock = new ManualClock(1_700_000_000_000);
  const tr = new RefusingTransport();
  const logger = memoryLogger('debug');
  const cfg = parseGatewayConfig({ site: 's', models: { imu: 'x' }, routes: [{ sensor: 'imu', model: 'imu', codec: 'json', detector: IMU_DETECTOR }], stateDir, metrics: { intervalMs: 0 }, ...config });
  const gw = await Gateway.create({ config: cfg, models: { imu: model }, clock, transport: tr, logger, outbox, ...opts });
  tr.alertsFilter = gw.topics.alertsFilter();
  return { stateDir, inner, sw, clock, tr, logger, gw };
}
