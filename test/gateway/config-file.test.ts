/**
 * Config files as users write them (loadGatewayConfig):
 * - a threshold route that names no output (no detector, or a threshold detector without
 *   "output") watched output 0, which on a classifier trained on a WAV folder is `_silence_`
 *   (labels sort, '_' first): the route alerted on silence. It now watches the first label not
 *   starting with '_', as the quick start does (`edgernn gateway --model M --threshold X`);
 * - the mistakes JSON does not forgive (comments, trailing commas, a YAML file, a byte-order mark,
 *   a key given twice) are named with their line and column, not V8's bare "Unexpected token".
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadGatewayConfig, loadGatewayConfigDetailed } from '../../src/gateway/load-config.js';
import { defaultActivations, encodeModel, type ModelSpec } from '../../src/index.js';
import { tmpDir } from './fixtures.js';
import { errorOf } from '../helpers/errors.js';

const dir = tmpDir('edgernn-config-file-');
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
const write = (name: string, text: string) => {
  fs.writeFileSync(path.join(dir, name), text);
  return name;
};

/** A 3-class clip classifier whose labels sort as a WAV folder's do: background first. */
function clipsModel(labels: string[]): Uint8Array {
  const H = 4;
  const n = labels.length;
  const spec: ModelSpec = {
    name: 'clips',
    version: '1.0.0',
    task: 'classify',
    labels,
    input: { size: 2, frontend: { kind: 'none' } },
    precision: 'float32',
    layers: [
      { kind: 'gru', inputSize: 2, hiddenSize: H, direction: 'forward', activations: defaultActivations('gru', 1), linearBeforeReset: false, float: { W: new Float32Array(3 * H * 2).fill(0.1), R: new Float32Array(3 * H * H), B: new Float32Array(6 * H) } },
      { kind: 'dense', inputSize: H, outputSize: n, activation: 'none', float: { W: new Float32Array(n * H).fill(0.1), B: new Float32Array(n) } },
      { kind: 'softmax', size: n },
    ],
    training: {},
  };
  return encodeModel(spec);
}

describe('a threshold route that names no output', () => {
  fs.writeFileSync(path.join(dir, 'clips.ern'), clipsModel(['_silence_', '_unknown_', 'high', 'low']));
  fs.writeFileSync(path.join(dir, 'bg.ern'), clipsModel(['_a', '_b']));
  const har = path.resolve(import.meta.dirname, '../../models/har.ern');
  const kws = path.resolve(import.meta.dirname, '../../models/kws.ern');
  const anomaly = path.resolve(import.meta.dirname, '../../models/anomaly.ern');
  const config = (model: string, detector?: unknown) => write('routes.json', JSON.stringify({ models: { m: model }, routes: [{ sensor: 's', model: 'm', ...(detector !== undefined ? { detector } : {}) }] }));

  it('watches the first label not starting with _, not _silence_, and says so', () => {
    for (const detector of [undefined, { kind: 'threshold', on: 0.7 }]) {
      const { config: cfg, defaultOutputs } = loadGatewayConfigDetailed(config('clips.ern', detector), {}, dir);
      expect(cfg.routes[0]!.detector).toMatchObject({ kind: 'threshold', output: 'high' });
      expect(defaultOutputs).toEqual([{ route: 0, index: 2, label: 'high' }]);
    }
  });

  it('an output the config names is kept, and so is output 0 of a model without labels or with background labels only', () => {
    for (const output of [0, '_silence_', 'low']) {
      const { config: cfg, defaultOutputs } = loadGatewayConfigDetailed(config('clips.ern', { kind: 'threshold', on: 0.7, output }), {}, dir);
      expect(cfg.routes[0]!.detector).toMatchObject({ output });
      expect(defaultOutputs).toEqual([]);
    }
    expect(loadGatewayConfig(config('bg.ern'), {}, dir).routes[0]!.detector).toMatchObject({ output: 0 });
    expect(loadGatewayConfig(config(anomaly, { kind: 'threshold', on: 2 }), {}, dir).routes[0]!.detector).toMatchObject({ output: 0 });
    // Error scores do not read an output.
    expect(loadGatewayConfigDetailed(config('clips.ern', { kind: 'threshold', on: 0.7, score: 'forecastError' }), {}, dir).defaultOutputs).toEqual([]);
  });

  it('the shipped models watch the output they did: har climb_stairs and kws yes are output 0', () => {
    expect(loadGatewayConfigDetailed(config(har), {}, dir).defaultOutputs).toEqual([{ route: 0, index: 0, label: 'climb_stairs' }]);
    expect(loadGatewayConfigDetailed(config(kws), {}, dir).defaultOutputs).toEqual([{ route: 0, index: 0, label: 'yes' }]);
  });

  it('no detector on a model whose outputs are predictions (a forecaster) is refused: the default compared a predicted value with 0.5', () => {
    const e = errorOf(() => loadGatewayConfig(config(anomaly), {}, dir));
    expect(e.code).toBe('GATEWAY_CONFIG');
    expect(e.message).toBe(`routes.json: routes[0].detector must be given for model 'm' (task anomaly: its outputs are predictions, not scores), e.g. {"kind": "anomaly"}, got nothing`);
  });

  it('a model that cannot be read is left to the gateway to name (models.m.path at start)', () => {
    expect(loadGatewayConfig(config('missing.ern'), {}, dir).routes[0]!.detector).toMatchObject({ output: 0 });
  });
});

it('a route without its model key names the models it may use', () => {
  const e = errorOf(() => loadGatewayConfig(write('nomodel.json', JSON.stringify({ models: { har: 'har.ern', kws: 'kws.ern' }, routes: [{ sensor: 'imu' }] })), {}, dir));
  expect(e.message).toBe('nomodel.json: routes[0].model must be one of the models (har, kws), got nothing');
});

it('an ONNX model in a config is refused naming the conversion (it was ERN_BAD_MAGIC at start)', () => {
  const e = errorOf(() => loadGatewayConfig(write('onnx.json', JSON.stringify({ models: { net: { path: 'nets/net.onnx' } }, routes: [{ sensor: 's', model: 'net' }] })), {}, dir));
  expect(e.message).toBe('onnx.json: models.net.path must be an .ern model (convert it first: edgernn convert nets/net.onnx -o nets/net.ern), got "nets/net.onnx"');
});

describe('JSON mistakes are named with their line and column', () => {
  const good = '{"models": {"m": "m.ern"}, "routes": [{"sensor": "s", "model": "m"}]}';
  const cases: [string, string, RegExp][] = [
    ['comment.json', '{\n  // the site\n  "site": "a",\n' + good.slice(1), /^comment\.json is not valid JSON at line 2, column 3: a comment \(JSON has none: remove it\)$/],
    ['block.json', '{"site": "a", /* x */\n' + good.slice(1), /^block\.json is not valid JSON at line 1, column 15: a comment \(JSON has none: remove it\)$/],
    ['trailing.json', '{"models": {"m": "m.ern",},\n "routes": []}', /^trailing\.json is not valid JSON at line 1, column 25: a comma before } or \] \(JSON allows none: remove it\)$/],
    ['gateway.yaml', 'models:\n  m: m.ern\n', /^gateway\.yaml is not valid JSON: it looks like YAML, and the config file is JSON \(docs\/gateway\.md "Configuration"\)$/],
    ['noext', '# gateway\nsite: a\nbroker:\n  url: mqtt://host:1883\n', /^noext is not valid JSON: it looks like YAML/],
    ['gw.yml', 'broker:\n  url: mqtt://host:1883 # not a JSON comment\n', /^gw\.yml is not valid JSON: it looks like YAML/],
    ['other.json', '{\n  "site": "a"\n  "gatewayId": "b"\n}', /^other\.json is not valid JSON at line 3, column 3: Expected ',' or '}' after property value/],
    ['first.json', '{"site": "a"\n "gatewayId": "b", // the id\n}', /^first\.json is not valid JSON at line 2, column 2: Expected ',' or '}' after property value$/],
    ['empty.json', ' \n', /^empty\.json is not valid JSON: the file is empty$/],
    ['twice.json', '{"site": "a",\n "broker": {"port": 1}, "broker": {"url": "embedded"}, ' + good.slice(1), /^twice\.json at line 2, column 25: "broker" is given twice in one object \(JSON keeps the last, silently\): remove one$/],
  ];
  it.each(cases)('%s', (name, text, message) => {
    const e = errorOf(() => loadGatewayConfig(write(name, text), {}, dir));
    expect(e.code).toBe('GATEWAY_CONFIG');
    expect(e.message).toMatch(message);
  });

  it('a UTF-8 byte-order mark (Windows Notepad) is read past', () => {
    expect(loadGatewayConfig(write('bom.json', `\ufeff${good}`), {}, dir).models.m!.path).toBe(path.join(dir, 'm.ern'));
  });

  it('a string holding // or a comma before } is no comment', () => {
    const cfg = loadGatewayConfig(write('url.json', '{"broker": {"url": "mqtt://host:1883"}, "gatewayId": "a", "stateDir": "x\\\\\\"y,}", ' + good.slice(1)), {}, dir);
    expect(cfg.broker.url).toBe('mqtt://host:1883');
    expect(cfg.stateDir).toBe(path.join(dir, 'x\\"y,}'));
    // Nor is a key of another object a key given twice.
    const two = '{"models": {"a": {"path": "a.ern"}, "m": {"path": "m.ern"}}, "routes": [{"sensor": "s", "model": "m"}, {"sensor": "t", "model": "a"}]}';
    expect(Object.keys(loadGatewayConfig(write('nested.json', two), {}, dir).models)).toEqual(['a', 'm']);
  });
});
