/**
 * The npm package as a user who installs it sees it: every path package.json names is shipped
 * (`files`) and built, and strict TypeScript consumers (ES module and CommonJS; moduleResolution
 * node16 and bundler) compile against the declarations `prepack` makes (tsc -p
 * tsconfig.build.json, then scripts/build-cjs-types.mjs).
 *
 * The package is assembled in a temp folder as node_modules/edgernn: package.json, models, the
 * bundles of `npm run build` (dist/, as `npm test` builds it first) and declarations built here;
 * its dependencies are links to this repository's node_modules (no network, no npm install).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const pkgJson = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as {
  main: string;
  types: string;
  bin: Record<string, string>;
  files: string[];
  exports: Record<string, unknown>;
  dependencies: Record<string, string>;
};
const tsc = path.join(root, 'node_modules/.bin/tsc');

let tmp = '';
let pkgDir = '';

/** Every file path in an exports value (nested conditions included). */
function exportTargets(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (value !== null && typeof value === 'object') return Object.values(value).flatMap(exportTargets);
  return [];
}

/** tsc on a consumer project in tmp; the compiler's output when it fails. */
function compile(tsconfig: object, name: string): { ok: boolean; output: string } {
  const file = path.join(tmp, `tsconfig.${name}.json`);
  fs.writeFileSync(file, JSON.stringify(tsconfig, null, 2));
  try {
    execFileSync(tsc, ['-p', file], { cwd: tmp, encoding: 'utf8', stdio: 'pipe' });
    return { ok: true, output: '' };
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string };
    return { ok: false, output: `${err.stdout ?? ''}${err.stderr ?? ''}` };
  }
}

// Strict, and no skipLibCheck: an error inside the package's declarations must show.
const strict = { target: 'ES2022', strict: true, exactOptionalPropertyTypes: true, noUncheckedIndexedAccess: true, noEmit: true, types: ['node'], skipLibCheck: false };

// Uses the main types of every entry; each @ts-expect-error fails the build if the type it
// checks had become `any` (an unused directive is an error).
const esmConsumer = `
import { createRuntime, createRuntimeSync, isEdgeRnnError, type Model, type Session, type Runtime, type ErrorCode, type ModelSpec } from 'edgernn';
import * as lean from 'edgernn/runtime';
import { importCachedRuntime } from 'edgernn/runtime/cached';
import { Gateway, parseGatewayConfig, memoryLogger, type GatewayConfig, type GatewayConfigInput, type GatewayOptions, type Alert, type EmbeddedBroker } from 'edgernn/gateway';

export async function use(bytes: Uint8Array): Promise<number> {
  const rt: Runtime = await createRuntime({ backend: 'auto' });
  const model: Model = await rt.load(bytes, { source: 'har.ern' });
  const s: Session = model.session();
  const y: Float32Array = s.step(new Float32Array(3));
  // @ts-expect-error: step() returns a Float32Array
  const wrong: string = s.step(new Float32Array(3));
  const spec: ModelSpec = model.spec;
  const again: Model = createRuntimeSync().loadSync(bytes);
  const leanModel: lean.Model = await (await lean.createRuntime()).load(bytes);
  const cached = importCachedRuntime();
  const state: 'hit' | 'miss' | 'rejected' | 'off' = cached.codeCache.state;
  try { rt.loadSync(new Uint8Array(4)); } catch (e) { if (isEdgeRnnError(e)) { const code: ErrorCode = e.code; void code; } }
  const input: GatewayConfigInput = { broker: { url: 'embedded' }, models: { har: 'har.ern' }, routes: [{ sensor: 'imu', model: 'har', codec: 'json' }] };
  const config: GatewayConfig = parseGatewayConfig(input);
  const opts: GatewayOptions = { config, logger: memoryLogger() };
  const gw = await Gateway.create(opts);
  gw.on('alert', (a: Alert) => void a.id);
  const broker: EmbeddedBroker | null = gw.broker;
  await gw.stop();
  void wrong; void again; void leanModel; void state; void broker;
  return y.length + spec.layers.length;
}
`;

const cjsConsumer = `
import rt = require('edgernn/runtime');
export function use(bytes: Uint8Array): number {
  const runtime: rt.Runtime = rt.createRuntimeSync();
  const model: rt.Model = runtime.loadSync(bytes);
  const s: rt.Session = model.session();
  // @ts-expect-error: step() returns a Float32Array
  const wrong: string = s.step(new Float32Array(3));
  void wrong;
  return s.step(new Float32Array(3)).length;
}
`;

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'edgernn-package-'));
  pkgDir = path.join(tmp, 'node_modules/edgernn');
  fs.mkdirSync(path.join(pkgDir, 'dist'), { recursive: true });
  fs.copyFileSync(path.join(root, 'package.json'), path.join(pkgDir, 'package.json'));
  fs.cpSync(path.join(root, 'models'), path.join(pkgDir, 'models'), { recursive: true });
  // The bundles (npm run build), without their source maps.
  for (const f of fs.readdirSync(path.join(root, 'dist'))) {
    if (/\.(js|cjs)$/.test(f)) fs.copyFileSync(path.join(root, 'dist', f), path.join(pkgDir, 'dist', f));
  }
  // The declarations as prepack builds them.
  execFileSync(tsc, ['-p', 'tsconfig.build.json', '--outDir', path.join(pkgDir, 'dist')], { cwd: root, stdio: 'pipe' });
  execFileSync(process.execPath, ['scripts/build-cjs-types.mjs', path.join(pkgDir, 'dist')], { cwd: root, stdio: 'pipe' });
  // Dependencies (their declarations are imported by ours) and @types/node, linked.
  const linked = new Set([...Object.keys(pkgJson.dependencies), '@types/node'].map((d) => (d.startsWith('@') ? d.split('/')[0]! : d)));
  for (const name of linked) fs.symlinkSync(path.join(root, 'node_modules', name), path.join(tmp, 'node_modules', name), 'dir');
  fs.writeFileSync(path.join(tmp, 'esm.mts'), esmConsumer);
  fs.writeFileSync(path.join(tmp, 'cjs.cts'), cjsConsumer);
}, 60_000);

afterAll(() => {
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

describe('the npm package', () => {
  it('ships and builds every path package.json names', () => {
    const targets = [pkgJson.main, pkgJson.types, ...Object.values(pkgJson.bin), ...Object.values(pkgJson.exports).flatMap(exportTargets)];
    for (const target of targets) {
      const rel = path.posix.normalize(target);
      // npm packs package.json whatever "files" says.
      const shipped = rel === 'package.json' || pkgJson.files.some((f) => rel === f || rel.startsWith(`${f}/`));
      expect(shipped, `${target} is outside "files"`).toBe(true);
      if (rel.includes('*')) continue; // a pattern: resolved below
      expect(fs.existsSync(path.join(pkgDir, rel)), `${target} is not built`).toBe(true);
    }
  });

  it("ships what the README links to (npm shows the README; its links point into the package)", () => {
    const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8');
    const links = [...readme.matchAll(/\]\(([^)#:]+)(?:#[^)]*)?\)/g)].map((m) => path.posix.normalize(m[1]!));
    expect(links.length).toBeGreaterThan(0);
    for (const link of links) {
      expect(pkgJson.files.some((f) => link === f || link.startsWith(`${f}/`)), `README links to ${link}, which "files" leaves out`).toBe(true);
    }
  });

  it('resolves the shipped models and package.json through exports', () => {
    const req = createRequire(path.join(tmp, 'consumer.cjs'));
    expect(req.resolve('edgernn/models/har.ern')).toBe(path.join(pkgDir, 'models/har.ern'));
    expect(req.resolve('edgernn/package.json')).toBe(path.join(pkgDir, 'package.json'));
  });

  it('works without its optional peer onnxruntime-web: .ern models run, and the ONNX fallback says how to install it', () => {
    const req = createRequire(path.join(tmp, 'consumer.cjs'));
    expect(() => req.resolve('onnxruntime-web')).toThrow(/Cannot find module/);
    fs.writeFileSync(
      path.join(tmp, 'no-ort.mjs'),
      `import fs from 'node:fs';
import { createRuntime, exportOnnx, OrtWebModel } from 'edgernn';
const bytes = fs.readFileSync('node_modules/edgernn/models/har.ern');
const model = await (await createRuntime()).load(bytes);
const y = model.session().step(new Float32Array(model.inputSize));
let error = null;
try {
  await OrtWebModel.create(exportOnnx(model.spec));
} catch (e) {
  error = { code: e.code, message: e.message };
}
console.log(JSON.stringify({ outputs: y.length, error }));
`,
    );
    const out = JSON.parse(execFileSync(process.execPath, ['no-ort.mjs'], { cwd: tmp, encoding: 'utf8' })) as { outputs: number; error: { code: string; message: string } | null };
    expect(out.outputs).toBeGreaterThan(0);
    expect(out.error?.code).toBe('BACKEND_UNAVAILABLE');
    expect(out.error?.message).toMatch(/onnxruntime-web did not load \(.*\): install it beside edgernn \(npm install onnxruntime-web: an optional peer dependency\)/);
  });

  it("require('edgernn/runtime') is typed for a CommonJS TypeScript file (node16)", () => {
    const r = compile({ compilerOptions: { ...strict, module: 'node16', moduleResolution: 'node16' }, files: ['cjs.cts'] }, 'cjs');
    expect(r.output).toBe('');
    expect(r.ok).toBe(true);
  });

  it.each([
    ['node16', { module: 'node16', moduleResolution: 'node16' }],
    ['bundler', { module: 'esnext', moduleResolution: 'bundler' }],
  ])('an ES module consumer compiles with moduleResolution %s', (name, resolution) => {
    const r = compile({ compilerOptions: { ...strict, ...resolution }, files: ['esm.mts'] }, `esm-${name}`);
    expect(r.output).toBe('');
    expect(r.ok).toBe(true);
  });
});
