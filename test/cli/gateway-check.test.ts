/**
 * `edgernn gateway --print-config` as a config check before deploying (in CI):
 * - it printed broker.password (and a password in broker.url) in plain text;
 * - it checked only what the file's parser checks, and exited 0 for configs that then failed to
 *   start: a detector kind, a model file that does not decode, channels against the model's
 *   input, a TLS file that cannot be read;
 * - config errors raised at start (in Gateway.create) did not name the config file, those raised
 *   reading it did.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runtimeCommands } from '../../src/cli/commands/index.js';
import { encodeModel } from '../../src/index.js';
import { clipsClassifier } from '../helpers/classifier.js';
import { runCaptured } from '../helpers/cli.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'edgernn-gw-check-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const spec = clipsClassifier();
fs.writeFileSync(path.join(tmp, 'clips.ern'), encodeModel(spec));
fs.writeFileSync(path.join(tmp, 'junk.ern'), 'not a model');

/** A config for an external broker (never connected to) with one route; `route` and `top` change it. */
function writeConfig(name: string, route: Record<string, unknown> = {}, top: Record<string, unknown> = {}): string {
  const config = {
    broker: { url: 'mqtt://127.0.0.1:1', username: 'gw', password: 'hunter2' },
    models: { clips: 'clips.ern' },
    routes: [{ sensor: 'mic', model: 'clips', ...route }],
    stateDir: 'never-created',
    log: { level: 'silent' },
    ...top,
  };
  fs.writeFileSync(path.join(tmp, name), JSON.stringify(config));
  return name;
}

const run = (...args: string[]) => runCaptured(['gateway', ...args], runtimeCommands, tmp);

describe('--print-config hides secrets', () => {
  it('broker.password and a password in broker.url print as ***, the rest loads back', async () => {
    const file = writeConfig('secret.json', {}, { broker: { url: 'mqtts://gw:s3cret@127.0.0.1:8883', password: 'hunter2' } });
    const r = await run('--config', file, '--print-config');
    expect(r.code, r.err).toBe(0);
    expect(r.out).not.toContain('hunter2');
    expect(r.out).not.toContain('s3cret');
    const printed = JSON.parse(r.out);
    expect(printed.broker.password).toBe('***');
    expect(printed.broker.url).toBe('mqtts://gw:***@127.0.0.1:8883');
    // Round trip: the printed config is a config.
    fs.writeFileSync(path.join(tmp, 'printed.json'), r.out);
    const again = await run('--config', 'printed.json', '--print-config');
    expect(again.code, again.err).toBe(0);
    expect(JSON.parse(again.out)).toEqual(printed);
  });

  it('--password given as a flag is hidden too', async () => {
    const r = await run('--config', writeConfig('flag.json'), '--password', 'flagpass', '--print-config');
    expect(r.code, r.err).toBe(0);
    expect(r.out).not.toContain('flagpass');
  });

  it('--help says so', async () => {
    const r = await run('--help');
    expect(r.out).toMatch(/--print-config[\s\S]*password[\s\S]*\*\*\*/);
  });
});

describe('--print-config checks what start checks, short of the broker, stateDir and board', () => {
  it('a good config: exit 0, and stateDir is not created', async () => {
    const r = await run('--config', writeConfig('good.json'), '--print-config');
    expect(r.code, r.err).toBe(0);
    expect(JSON.parse(r.out).routes[0].detector.output).toBe('high');
    expect(fs.existsSync(path.join(tmp, 'never-created'))).toBe(false);
  });

  it.each([
    ['an unknown detector kind', () => writeConfig('kind.json', { detector: { kind: 'nope' } }), /^edgernn gateway: error \[GATEWAY_CONFIG\]: kind\.json: routes\[0\]\.detector\.kind must be one of .*got "nope"$/],
    ['a threshold on an output the model lacks', () => writeConfig('output.json', { detector: { kind: 'threshold', on: 0.5, output: 'loud' } }), /^edgernn gateway: error \[GATEWAY_CONFIG\]: output\.json: routes\[0\]\.detector\.output/],
    ['channels the model does not read', () => writeConfig('channels.json', { channels: 3 }), /^edgernn gateway: error \[GATEWAY_CONFIG\]: channels\.json: routes\[0\]/],
    ['a model file that is no model', () => writeConfig('junk.json', {}, { models: { clips: 'junk.ern' } }), /^edgernn gateway: error \[ERN_[A-Z_]+\]: .*junk\.ern/],
    ['a TLS CA file that does not exist', () => writeConfig('tls.json', {}, { broker: { url: 'mqtts://127.0.0.1:8883', ca: 'missing-ca.pem' } }), /^edgernn gateway: error \[GATEWAY_CONFIG\]: tls\.json: broker\.ca: cannot read .*missing-ca\.pem/],
  ])('%s: exit 1 naming it, nothing printed', async (_what, make, message) => {
    const r = await run('--config', make(), '--print-config');
    expect(r.code).toBe(1);
    expect(r.out).toBe('');
    expect(r.err.split('\n')[0]).toMatch(message);
  });
});

it('a config error raised at start names the config file', async () => {
  const r = await run('--config', writeConfig('start.json', { detector: { kind: 'nope' } }));
  expect(r.code).toBe(1);
  expect(r.err.split('\n')[0]).toMatch(/^edgernn gateway: error \[GATEWAY_CONFIG\]: start\.json: routes\[0\]\.detector\.kind must be one of /);
  expect(fs.existsSync(path.join(tmp, 'never-created'))).toBe(false);
});
