/** Config validation: defaults, and a GATEWAY_CONFIG error naming the field for every defect. */
import { describe, expect, it } from 'vitest';
import { DEFAULTS, parseGatewayConfig } from '../../src/gateway/config.js';
import { Topics, devicePartition, fnv1a32 } from '../../src/gateway/topics.js';
import { topicMatches } from '../../src/gateway/transport.js';
import { errorMessage } from '../helpers/errors.js';

const base = { models: { imu: 'imu.ern' }, routes: [{ sensor: 'imu', model: 'imu' }] };

function configError(raw: unknown): string {
  return errorMessage(() => parseGatewayConfig(raw, 'gw.json'), 'GATEWAY_CONFIG');
}

describe('gateway config', () => {
  it('fills defaults', () => {
    const c = parseGatewayConfig(base);
    expect(c.broker.url).toBe('embedded');
    expect(c.broker.protocolVersion).toBe(4);
    expect(c.topics).toEqual(DEFAULTS.topics);
    expect(c.routes[0]).toMatchObject({ sensor: 'imu', model: 'imu', codec: 'json', nonFinite: 'deadLetter', evidenceFrames: 32 });
    expect(c.routes[0]!.detector).toMatchObject({ kind: 'threshold', on: 0.5, off: 0.5 });
    expect(c.limits).toEqual(DEFAULTS.limits);
    expect(c.limits.maxSavedStates).toBe(100_000);
    expect(parseGatewayConfig({ ...base, limits: { maxDevices: 250_000 } }).limits.maxSavedStates).toBe(250_000); // never below maxDevices
    expect(c.models.imu).toEqual({ path: 'imu.ern', backend: 'auto' });
    expect(parseGatewayConfig({ ...base, broker: { url: 'mqtts://broker:8883' } }).broker.protocolVersion).toBe(5);
    expect(c.broker).toMatchObject({ persistentSession: false, sensorQos: 0 });
    expect(parseGatewayConfig({ ...base, broker: { url: 'mqtt://b', persistentSession: true } }).broker.sensorQos).toBe(1);
  });

  it.each([
    [{ ...base, site: 'a/b' }, /gw.json: site must be a topic level/],
    [{ ...base, broker: { url: 'http://x' } }, /broker.url must be "embedded" or a mqtt/],
    [{ ...base, broker: { url: 'mqtt://x', cert: 'c.pem' } }, /broker.key must be given together with broker.cert/],
    [{ ...base, broker: { url: 'embedded', username: 'u' } }, /broker.url must be an external broker URL when credentials/],
    [{ ...base, broker: { url: 'mqtt://x', protocolVersion: 3 } }, /broker.protocolVersion must be one of 4, 5, got 3/],
    [{ ...base, broker: { url: 'mqtt://x', port: 70000 } }, /broker.port must be an integer in \[0, 65535\]/],
    [{ ...base, models: {} }, /models must be an object with at least one model/],
    [{ ...base, models: { imu: { path: 'a.ern', backend: 'gpu' } } }, /models.imu.backend must be one of auto, simd/],
    [{ ...base, routes: [] }, /routes must be a list of at least one route/],
    [{ ...base, routes: [{ sensor: 'imu', model: 'har' }] }, /routes\[0\].model must be one of the models \(imu\), got "har"/],
    [{ ...base, routes: [{ sensor: 'imu', model: 'imu', codec: 'xml' }] }, /routes\[0\].codec must be one of json, binary, csv, got "xml"/],
    [{ ...base, routes: [{ sensor: 'imu', model: 'imu', codc: 'json' }] }, /unknown field routes\[0\].codc/],
    [{ ...base, routes: [{ sensor: 'imu/x', model: 'imu' }] }, /routes\[0\].sensor must be a topic level/],
    [{ ...base, routes: [{ sensor: 'alerts', model: 'imu' }] }, /routes\[0\].sensor must be a name other than "alerts"/],
    [{ ...base, routes: [{ sensor: 'imu', model: 'imu' }, { sensor: 'imu', model: 'imu' }] }, /routes\[1\].sensor must be unique/],
    [{ ...base, routes: [{ sensor: 'imu', model: 'imu', detector: { kind: 'threshold' } }] }, /routes\[0\].detector.on must be a number/],
    [{ ...base, routes: [{ sensor: 'imu', model: 'imu', detector: { kind: 'threshold', on: 0.5, off: 0.9 } }] }, /routes\[0\].detector.off must be a number in \[-1e\+30, 0.5\]/],
    [{ ...base, routes: [{ sensor: 'imu', model: 'imu', detector: { kind: 'smoothing', window: 0 } }] }, /routes\[0\].detector.window must be an integer in \[1, 100000\]/],
    [{ ...base, routes: [{ sensor: 'imu', model: 'imu', nonFinite: 'ignore' }] }, /routes\[0\].nonFinite must be one of deadLetter, zero, hold/],
    [{ ...base, limits: { maxDevices: 0 } }, /limits.maxDevices must be an integer in \[1, 10000000\]/],
    [{ ...base, limits: { maxDevice: 5 } }, /unknown field limits.maxDevice/],
    [{ ...base, limits: { maxDevices: 50, maxSavedStates: 49 } }, /limits.maxSavedStates must be at least limits.maxDevices \(50\): stop\(\) saves every stream in memory, got 49/],
    [{ ...base, limits: { maxSavedStates: 1.5 } }, /limits.maxSavedStates must be an integer in \[1, 1000000000\], got 1.5/],
    [{ ...base, limits: { maxSavedStates: '100' } }, /limits.maxSavedStates must be an integer/],
    [{ ...base, topics: { sensor: 'edgernn/{site}/{device}' } }, /topics.sensor must be a template with a \{sensor\} level/],
    [{ ...base, topics: { alerts: 'a/#' } }, /topics.alerts must be a topic template without wildcards/],
    [{ ...base, topics: { status: 'x/{device}/status' } }, /topics.status must be a template using only \{prefix\} \{site\} \{gateway\}/],
    [{ ...base, cluster: {} }, /broker.url must be an external broker URL in cluster mode/],
    [{ ...base, cluster: {}, broker: { url: 'mqtt://x', protocolVersion: 4 } }, /broker.protocolVersion must be 5 in cluster mode/],
    [{ ...base, cluster: {}, broker: { url: 'mqtt://x' }, topics: { sensor: '{prefix}/{site}/{device}/{sensor}' } }, /topics.sensor must be a template with a \{partition\} level/],
    [{ ...base, board: { alertMs: 10 } }, /board must be an object naming at least one of led, piezo, relay/],
    [{ ...base, board: { led: 200 } }, /board.led must be an integer in \[0, 127\]/],
    [{ ...base, log: { level: 'loud' } }, /log.level must be one of debug, info, warn, error, silent/],
    [{ ...base, colour: 1 }, /unknown field colour/],
    ['nope', /\(top level\) must be an object/],
  ])('rejects %j', (raw, msg) => {
    expect(configError(raw)).toMatch(msg);
  });
});

describe('gateway config: defects found by probing every field', () => {
  const R = (o: Record<string, unknown>) => ({ ...base, routes: [{ sensor: 'imu', model: 'imu', ...o }] });
  const ext = { url: 'mqtt://broker:1883' };
  const clusterBase = { ...base, cluster: {}, broker: ext };

  it.each([
    // null silently meant "the default" (a section, a route field, a detector field)
    [{ ...base, site: null }, 'gw.json: site must be a topic level (no /, +, # or spaces), got null'],
    [{ ...base, broker: null }, 'gw.json: broker must be an object, got null'],
    [{ ...base, limits: null }, 'gw.json: limits must be an object, got null'],
    [{ ...base, limits: { maxDevices: null } }, 'gw.json: limits.maxDevices must be an integer in [1, 10000000], got null'],
    [{ ...base, outbox: { fsync: null } }, 'gw.json: outbox.fsync must be true or false, got null'],
    [{ ...base, stateDir: null }, 'gw.json: stateDir must be a non-empty string, got null'],
    [R({ codec: null }), 'gw.json: routes[0].codec must be one of json, binary, csv, got null'],
    [R({ detector: null }), 'gw.json: routes[0].detector must be an object, got null'],
    [R({ detector: { kind: 'threshold', on: 0.5, off: null } }), 'gw.json: routes[0].detector.off must be a number in [-1e+30, 0.5], got null'],
    [R({ detector: { kind: 'smoothing', background: null } }), 'gw.json: routes[0].detector.background must be a list of labels or output indices, got null'],
    // NaN and Infinity (JS configs) were shown as "got null"
    [R({ int16Scale: NaN }), 'gw.json: routes[0].int16Scale must be a number in [-1e+30, 1e+30], got NaN'],
    [{ ...base, limits: { batchDelayMs: Infinity } }, 'gw.json: limits.batchDelayMs must be a number in [0, 10000], got Infinity'],
    // broker URLs MQTT.js cannot use were retried forever
    [{ ...base, broker: { url: 'mqtt://broker:99999' } }, 'gw.json: broker.url must be a URL with a host name and, if any, a port in [1, 65535] (e.g. mqtt://broker:1883), got "mqtt://broker:99999"'],
    [{ ...base, broker: { url: 'mqtt:// broker' } }, 'gw.json: broker.url must be a URL with a host name and, if any, a port in [1, 65535] (e.g. mqtt://broker:1883), got "mqtt:// broker"'],
    // the embedded broker's host and port next to an external URL were silently unused
    [{ ...base, broker: { ...ext, port: 8883 } }, 'gw.json: broker.port must be absent (or 0) with an external broker: put the port in broker.url (mqtt://broker:1883), got 8883'],
    [{ ...base, broker: { ...ext, host: 'broker' } }, 'gw.json: broker.host must be absent with an external broker: put the host in broker.url (mqtt://broker:1883), got "broker"'],
    // MQTT 5 against the embedded (3.1.1) broker: "waiting for the broker" forever
    [{ ...base, broker: { protocolVersion: 5 } }, 'gw.json: broker.protocolVersion must be 4 (or absent) with the embedded broker, which speaks MQTT 3.1.1 only, got 5'],
    [{ ...base, broker: { password: 'pw' } }, 'gw.json: broker.url must be an external broker URL when credentials or TLS files are given, got "embedded"'],
    [{ ...base, broker: { persistentSession: true } }, 'gw.json: broker.persistentSession must be false with the embedded broker (its sessions end with the gateway process: nothing is queued while it is away), got true'],
    // topics
    [{ ...base, topics: { prefix: '$SYS' } }, 'gw.json: topics.prefix must be a topic level (no /, +, # or spaces) not starting with $ (reserved for the broker: $SYS, $share), got "$SYS"'],
    [{ ...base, topics: { sensor: '$share/g/{device}/{sensor}' } }, 'gw.json: topics.sensor must be a template whose first level does not start with $ (reserved for the broker: $SYS, $share), got "$share/g/{device}/{sensor}"'],
    [{ ...base, topics: { sensor: '{prefix}/{device}/{device}/{sensor}' } }, 'gw.json: topics.sensor must be a template using each placeholder at most once ({device} appears twice), got "{prefix}/{device}/{device}/{sensor}"'],
    [{ ...base, topics: { sensor: '{prefix}/site}/{device}/{sensor}' } }, 'gw.json: topics.sensor must be a template whose placeholders each fill a whole level, got "{prefix}/site}/{device}/{sensor}"'],
    [{ ...base, site: 'a\u0000b' }, 'gw.json: site must be a topic level (no /, +, # or spaces), got "a\\u0000b"'],
    // the gateway's own publications matching its sensor subscription came back as sensor data (dead letters looped)
    [{ ...base, topics: { deadLetter: '{prefix}/{site}/deadletter/imu' } }, 'gw.json: topics.deadLetter must be a topic the gateway does not subscribe to: it matches the sensor topic of routes[0] (sensor "imu"), so its messages would come back as sensor data, got "{prefix}/{site}/deadletter/imu"'],
    [{ ...base, topics: { alerts: '{prefix}/{site}/{device}/{sensor}' } }, 'gw.json: topics.alerts must be a topic the gateway does not subscribe to: it matches the sensor topic of routes[0] (sensor "imu"), so its messages would come back as sensor data, got "{prefix}/{site}/{device}/{sensor}"'],
    [{ ...base, topics: { status: '{prefix}/{site}/{gateway}/imu' } }, 'gw.json: topics.status must be a topic the gateway does not subscribe to: it matches the sensor topic of routes[0] (sensor "imu"), so its messages would come back as sensor data, got "{prefix}/{site}/{gateway}/imu"'],
    // cluster membership needs a status topic per gateway and one shared cluster topic
    [{ ...clusterBase, topics: { status: '{prefix}/{site}/status' } }, 'gw.json: topics.status must be a template with a {gateway} level in cluster mode (members are told apart by it), got "{prefix}/{site}/status"'],
    [{ ...clusterBase, topics: { cluster: '{prefix}/{site}/_cluster/{gateway}' } }, 'gw.json: topics.cluster must be a template without {gateway} in cluster mode (every member of the group uses the same cluster topics), got "{prefix}/{site}/_cluster/{gateway}"'],
    // 0 read as "no timeout" (checkpointIntervalMs 0 is "off"): every hand-off timed out at once, streams moved without their states
    [{ ...clusterBase, cluster: { handoffTimeoutMs: 0 } }, 'gw.json: cluster.handoffTimeoutMs must be an integer in [100, 3600000], got 0'],
    // models named after Object.prototype members passed, then crashed Gateway.create with a TypeError
    [{ ...base, routes: [{ sensor: 'imu', model: 'constructor' }] }, 'gw.json: routes[0].model must be one of the models (imu), got "constructor"'],
    [JSON.parse('{"models": {"__proto__": "a.ern"}, "routes": [{"sensor": "imu", "model": "__proto__"}]}'), 'gw.json: models.__proto__ must be named otherwise (__proto__ is reserved), got "__proto__"'],
    [{ ...base, models: { imu: 5 } }, 'gw.json: models.imu must be a path ("har.ern") or an object {"path", "backend"}, got 5'],
    // a scale of 0 silenced every binary int16 sample
    [R({ int16Scale: 0 }), 'gw.json: routes[0].int16Scale must be a number other than 0 (binary int16 samples are multiplied by it; default 1/32768), got 0'],
    // one pin driven as LED and piezo
    [{ ...base, board: { led: 3, piezo: 3 } }, "gw.json: board.piezo must be a pin other than board.led's (3), got 3"],
  ])('rejects %j', (raw, message) => {
    expect(configError(raw)).toBe(message);
  });

  it('accepts what it returns (Gateway.create parses a parsed config again), for embedded, external and cluster brokers', () => {
    for (const raw of [base, { ...base, broker: ext }, clusterBase, { ...base, broker: { url: 'mqtts://broker:8883', username: 'u', password: 'p' } }]) {
      const once = parseGatewayConfig(raw);
      expect(parseGatewayConfig(once)).toEqual(once);
    }
  });
});

describe('topics', () => {
  const t = new Topics(parseGatewayConfig({ ...base, site: 'plant', gatewayId: 'gw7' }));
  it('builds the documented topics', () => {
    expect(t.sensor('pump-1', 'imu')).toBe('edgernn/plant/pump-1/imu');
    expect(t.alerts('pump-1', 'imu')).toBe('edgernn/plant/pump-1/alerts');
    expect(t.status).toBe('edgernn/plant/_gateway/gw7/status');
    expect(t.deadLetter).toBe('edgernn/plant/_gateway/gw7/deadletter');
    expect(t.sensorFilter('imu')).toBe('edgernn/plant/+/imu');
    expect(t.alertsFilter()).toBe('edgernn/plant/+/alerts');
  });
  it('parses sensor topics and rejects others', () => {
    expect(t.sensorParser.parse('edgernn/plant/pump-1/imu')).toEqual({ device: 'pump-1', sensor: 'imu' });
    expect(t.sensorParser.parse('edgernn/other/pump-1/imu')).toBeNull();
    expect(t.sensorParser.parse('edgernn/plant/pump-1/imu/x')).toBeNull();
    expect(t.sensorParser.parse('edgernn/plant/_gateway/imu')).toBeNull();
  });
  it('partitions devices by FNV-1a', () => {
    // FNV-1a 32-bit test vectors (Fowler, Noll, Vo): "" -> 0x811c9dc5, "a" -> 0xe40c292c, "foobar" -> 0xbf9cf968.
    expect(fnv1a32('')).toBe(0x811c9dc5);
    expect(fnv1a32('a')).toBe(0xe40c292c);
    expect(fnv1a32('foobar')).toBe(0xbf9cf968);
    expect(devicePartition('foobar', 16)).toBe(`p${0xbf9cf968 % 16}`);
  });
  it('matches MQTT filters', () => {
    expect(topicMatches('a/+/c', 'a/b/c')).toBe(true);
    expect(topicMatches('a/#', 'a/b/c')).toBe(true);
    expect(topicMatches('$share/g/a/+/c', 'a/b/c')).toBe(true);
    expect(topicMatches('a/+', 'a/b/c')).toBe(false);
    expect(topicMatches('#', '$SYS/x')).toBe(false);
  });
});
