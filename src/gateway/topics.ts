/**
 * The topic schema (Node-only module). Templates from the config, e.g.
 *   sensor  {prefix}/{site}/{device}/{sensor}          edgernn/plant1/pump-7/imu
 *   alerts  {prefix}/{site}/{device}/alerts            edgernn/plant1/pump-7/alerts
 *   status  {prefix}/{site}/_gateway/{gateway}/status
 * In cluster mode the sensor topic has a {partition} level: p<k>, k = fnv1a32(device) mod P,
 * so a gateway subscribes to exactly the partitions it owns.
 */
import type { GatewayConfig, TopicConfig } from './config.js';

export type TopicVars = Partial<Record<'prefix' | 'site' | 'device' | 'sensor' | 'partition' | 'gateway', string>>;

/** The longest topic MQTT can carry: its length is a u16 (MQTT-1.5.4). */
export const MAX_TOPIC_BYTES = 65_535;

/** Fills a template's placeholders. Every placeholder must have a value. */
export function fillTopic(template: string, vars: TopicVars): string {
  return template.replace(/\{([a-z]+)\}/g, (_m, k: string) => {
    const v = vars[k as keyof TopicVars];
    if (v === undefined) throw new Error(`topic template ${template}: no value for {${k}}`);
    return v;
  });
}

/** A subscription filter: given placeholders filled, the others become '+'. */
export function topicFilter(template: string, vars: TopicVars): string {
  return template.replace(/\{([a-z]+)\}/g, (_m, k: string) => vars[k as keyof TopicVars] ?? '+');
}

/** 32-bit FNV-1a of the UTF-8 bytes of s. Devices and gateways must agree on it (documented in docs/gateway.md). */
export function fnv1a32(s: string): number {
  const bytes = new TextEncoder().encode(s);
  let h = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ bytes[i]!, 0x01000193) >>> 0;
  return h >>> 0;
}

/** The partition level of a device's topics: "p" + (fnv1a32(device) mod partitions). */
export function devicePartition(device: string, partitions: number): string {
  return `p${fnv1a32(device) % partitions}`;
}

/**
 * Why `name` cannot be a device's level in a topic, or null when it can: a valid MQTT topic level
 * without wildcards. Not empty, no "/" (a level separator), no "+" or "#" (wildcards: not allowed
 * in a topic name, MQTT-4.7.1-1; a device named so has its alerts published to a wildcard topic),
 * no U+0000 (MQTT-4.7.3-2).
 */
export function deviceNameError(name: string): string | null {
  if (name.length === 0) return 'an empty name';
  if (name === '+' || name === '#') return 'a wildcard';
  if (/[+#]/.test(name)) return 'a name with a wildcard character ("+" or "#") in it';
  if (name.includes('/')) return 'a name with "/" (a level separator) in it';
  if (name.includes('\u0000')) return 'a name with U+0000 in it';
  return null;
}

export interface SensorTopicMatch {
  device: string;
  sensor: string;
  partition?: string;
}

/**
 * Matches incoming topics against the sensor template, level by level. Literal levels and
 * {prefix}/{site} must be equal; {device}, {sensor} and {partition} capture.
 */
export class SensorTopicParser {
  private readonly levels: Array<{ literal: string } | { capture: 'device' | 'sensor' | 'partition' }>;

  constructor(template: string, vars: TopicVars) {
    this.levels = template.split('/').map((lv) => {
      const m = /^\{([a-z]+)\}$/.exec(lv);
      if (m && (m[1] === 'device' || m[1] === 'sensor' || m[1] === 'partition')) return { capture: m[1] };
      return { literal: m ? (vars[m[1] as keyof TopicVars] ?? lv) : lv };
    });
  }

  parse(topic: string): SensorTopicMatch | null {
    const parts = topic.split('/');
    if (parts.length !== this.levels.length) return null;
    const out: { device?: string; sensor?: string; partition?: string } = {};
    for (let i = 0; i < parts.length; i++) {
      const lv = this.levels[i]!;
      const part = parts[i]!;
      if ('literal' in lv) {
        if (lv.literal !== part) return null;
      } else {
        if (part.length === 0) return null;
        out[lv.capture] = part;
      }
    }
    if (out.device === undefined || out.sensor === undefined) return null;
    // Names starting with "_" are reserved for the gateway's own topics.
    if (out.device.startsWith('_')) return null;
    return out as SensorTopicMatch;
  }
}

/** The gateway's resolved topics. */
export class Topics {
  readonly vars: TopicVars;
  readonly status: string;
  readonly metrics: string;
  readonly deadLetter: string;
  readonly cluster: string;
  readonly sensorParser: SensorTopicParser;
  private readonly t: TopicConfig;
  /** The alerts topic's bytes without {device} and {sensor}, and whether it has them (each at most once: config.ts). */
  private readonly alertsLength: { fixed: number; device: boolean; sensor: boolean };

  constructor(cfg: Pick<GatewayConfig, 'topics' | 'site' | 'gatewayId'>) {
    this.t = cfg.topics;
    this.vars = { prefix: cfg.topics.prefix, site: cfg.site, gateway: cfg.gatewayId };
    this.status = fillTopic(this.t.status, this.vars);
    this.metrics = fillTopic(this.t.metrics, this.vars);
    this.deadLetter = fillTopic(this.t.deadLetter, this.vars);
    this.cluster = fillTopic(this.t.cluster, this.vars);
    this.sensorParser = new SensorTopicParser(this.t.sensor, this.vars);
    const a = this.t.alerts;
    this.alertsLength = { fixed: Buffer.byteLength(fillTopic(a, { ...this.vars, device: '', sensor: '' })), device: a.includes('{device}'), sensor: a.includes('{sensor}') };
  }

  /** Sensor topic of one device (devices and tests use it to publish). */
  sensor(device: string, sensor: string, partition?: string): string {
    return fillTopic(this.t.sensor, { ...this.vars, device, sensor, ...(partition !== undefined ? { partition } : {}) });
  }

  /** Subscription filter for one sensor (and, in cluster mode, one partition). */
  sensorFilter(sensor: string, partition?: string): string {
    return topicFilter(this.t.sensor, { ...this.vars, sensor, ...(partition !== undefined ? { partition } : {}) });
  }

  alerts(device: string, sensor: string): string {
    return fillTopic(this.t.alerts, { ...this.vars, device, sensor });
  }

  /** UTF-8 bytes of `alerts(device, sensor)`, without building it (checked for every message). */
  alertsBytes(device: string, sensor: string): number {
    const a = this.alertsLength;
    return a.fixed + (a.device ? Buffer.byteLength(device) : 0) + (a.sensor ? Buffer.byteLength(sensor) : 0);
  }

  /** A subscription filter for all alerts of this site (consumers). */
  alertsFilter(): string {
    return topicFilter(this.t.alerts, { prefix: this.vars.prefix!, site: this.vars.site! });
  }
}
