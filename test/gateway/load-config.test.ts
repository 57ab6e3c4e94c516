/**
 * loadGatewayConfig, as `edgernn gateway --config FILE [flags]` uses it: unreadable, non-JSON and
 * non-object files are GATEWAY_CONFIG errors naming the file; flags override the file; paths in
 * the file resolve against its folder, paths in flags against the working directory; the
 * --model quick start builds one route and refuses to mix with a config's routes.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadGatewayConfig } from '../../src/gateway/load-config.js';
import { tmpDir } from './fixtures.js';
import { errorOf } from '../helpers/errors.js';

describe('loadGatewayConfig', () => {
  const dir = tmpDir('edgernn-config-');
  const write = (name: string, text: string) => {
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    fs.writeFileSync(path.join(dir, name), text);
    return name;
  };
  const routes = { models: { m: 'models/m.ern' }, routes: [{ sensor: 'temp', model: 'm', detector: { kind: 'threshold', on: 0.5 } }] };

  it('a bad value given by a flag is a usage error naming the flag (it was GATEWAY_CONFIG naming "(flags)" or the file, exit 1)', () => {
    const cases: [string | undefined, Parameters<typeof loadGatewayConfig>[1], RegExp][] = [
      [undefined, { model: 'm.ern', sensor: '#' }, /^--sensor must be a topic level \(no \/, \+, # or spaces\), got "#"$/],
      [undefined, { model: 'm.ern', site: 'a/b' }, /^--site must be a topic level .*, got "a\/b"$/],
      [undefined, { model: 'm.ern', gatewayId: 'a+b' }, /^--id must be .*, got "a\+b"$/],
      [undefined, { model: 'm.ern', broker: 'ftp://x' }, /^--broker must be "embedded" or a mqtt:\/\/.*, got "ftp:\/\/x"$/],
      [write('flags.json', JSON.stringify({ site: 'plant', ...routes })), { site: 'a b' }, /^--site must be a topic level .*, got "a b"$/],
    ];
    for (const [file, flags, message] of cases) {
      const e = errorOf(() => loadGatewayConfig(file, flags, dir));
      expect(e.code, JSON.stringify(flags)).toBe('USAGE');
      expect(e.message).toMatch(message);
    }
    // The same value in the file stays a config error naming the file.
    const e = errorOf(() => loadGatewayConfig(write('site.json', JSON.stringify({ site: 'a/b', ...routes })), {}, dir));
    expect([e.code, e.message]).toEqual(['GATEWAY_CONFIG', expect.stringMatching(/^site\.json: site must be a topic level/)]);
  });

  it('names the file when it cannot be read, is not JSON, or is not an object', () => {
    const cases: [string, RegExp][] = [
      ['missing.json', /cannot read the config file missing\.json: ENOENT/],
      [write('bad.json', '{"site": "x",'), /bad\.json is not valid JSON/],
      [write('array.json', '[1, 2]'), /array\.json: the top level must be an object/],
      [write('null.json', 'null'), /null\.json: the top level must be an object/],
    ];
    for (const [file, message] of cases) {
      const e = errorOf(() => loadGatewayConfig(file, {}, dir));
      expect(e.code, file).toBe('GATEWAY_CONFIG');
      expect(e.message).toMatch(message);
    }
    // A field error names the file too (the validator's own message).
    const e = errorOf(() => loadGatewayConfig(write('field.json', JSON.stringify({ ...routes, site: 7 })), {}, dir));
    expect(e.code).toBe('GATEWAY_CONFIG');
    expect(e.message).toMatch(/field\.json/);
    expect(e.message).toMatch(/site/);
  });

  it('flags override the file; file paths resolve against its folder, flag paths against the working directory', () => {
    const file = write('sub/gw.json', JSON.stringify({ ...routes, site: 'plant', broker: { url: 'mqtt://file:1883', ca: 'certs/ca.pem' }, stateDir: 'state' }));
    const fromFile = loadGatewayConfig(file, {}, dir);
    expect(fromFile.site).toBe('plant');
    expect(fromFile.broker.url).toBe('mqtt://file:1883');
    expect(fromFile.broker.ca).toBe(path.join(dir, 'sub/certs/ca.pem'));
    expect(fromFile.stateDir).toBe(path.join(dir, 'sub/state'));
    expect(fromFile.models.m!.path).toBe(path.join(dir, 'sub/models/m.ern'));
    const cwd = path.join(dir, 'elsewhere');
    const o = loadGatewayConfig(path.join(dir, file), { site: 'lab', broker: 'mqtt://flag:1884', ca: 'my/ca.pem', stateDir: 'st', logLevel: 'debug', metricsPort: 9100 }, cwd);
    expect(o.site).toBe('lab');
    expect(o.broker.url).toBe('mqtt://flag:1884');
    expect(o.broker.ca).toBe(path.join(cwd, 'my/ca.pem'));
    expect(o.stateDir).toBe(path.join(cwd, 'st'));
    expect(o.log.level).toBe('debug');
    expect(o.metrics.httpPort).toBe(9100);
    expect(loadGatewayConfig(file, { stateDir: '' }, dir).stateDir).toBe('');
  });

  it('--broker with a broker URL overrides a config for the embedded broker on a fixed address (it was refused: broker.port must be absent)', () => {
    const file = write('embedded.json', JSON.stringify({ ...routes, broker: { url: 'embedded', host: '0.0.0.0', port: 1884 } }));
    const o = loadGatewayConfig(file, { broker: 'mqtt://pi:1883' }, dir);
    expect(o.broker.url).toBe('mqtt://pi:1883');
    expect(o.broker).toMatchObject({ host: '127.0.0.1', port: 0 }); // the defaults, unused
    // --port is the embedded broker's: with a broker URL it is still a mistake.
    expect(errorOf(() => loadGatewayConfig(file, { broker: 'mqtt://pi:1883', port: 1999 }, dir))).toMatchObject({ code: 'USAGE', message: expect.stringMatching(/^--port must be absent.*, got "1999"$/) });
    expect(loadGatewayConfig(file, { broker: 'embedded' }, dir).broker).toMatchObject({ url: 'embedded', host: '0.0.0.0', port: 1884 });
  });

  it('a section that is null is refused, with or without a flag for it (spread into {}, it silently became the defaults)', () => {
    const cases: Array<[string, Parameters<typeof loadGatewayConfig>[1], string]> = [
      ['broker', {}, 'broker must be an object, got null'],
      ['broker', { broker: 'mqtt://flag:1884' }, 'broker must be an object, got null'],
      ['metrics', { metricsPort: 9100 }, 'metrics must be an object, got null'],
      ['log', { logLevel: 'debug' }, 'log must be an object, got null'],
    ];
    for (const [section, flags, message] of cases) {
      const file = write(`null-${section}.json`, JSON.stringify({ ...routes, [section]: null }));
      const e = errorOf(() => loadGatewayConfig(file, flags, dir));
      expect(e.code, section).toBe('GATEWAY_CONFIG');
      expect(e.message, section).toBe(`${file}: ${message}`);
    }
  });

  it('loads the shipped example configs', () => {
    const examples = path.resolve(import.meta.dirname, '../../examples/gateway');
    const files = fs.readdirSync(examples).filter((f) => f.endsWith('.json'));
    expect(files.length).toBeGreaterThan(0);
    for (const f of files) expect(() => loadGatewayConfig(path.join(examples, f), {}, dir), f).not.toThrow();
  });

  it('--model is a one-route quick start, refused beside a config that has routes', () => {
    const q = loadGatewayConfig(undefined, { model: 'models/kws.ern', sensor: 'mic', codec: 'binary', threshold: 0.8 }, dir);
    expect(Object.keys(q.models)).toEqual(['model']);
    expect(q.models.model!.path).toBe(path.join(dir, 'models/kws.ern'));
    expect(q.routes).toHaveLength(1);
    expect(q.routes[0]).toMatchObject({ sensor: 'mic', model: 'model', codec: 'binary' });
    const file = write('routes.json', JSON.stringify(routes));
    expect(errorOf(() => loadGatewayConfig(file, { model: 'x.ern' }, dir))).toMatchObject({ code: 'USAGE', message: expect.stringMatching(/--model is a quick start without a config file/) });
    expect(errorOf(() => loadGatewayConfig(file, { sensor: 'mic' }, dir))).toMatchObject({ code: 'USAGE', message: expect.stringMatching(/go with --model/) });
  });
});
