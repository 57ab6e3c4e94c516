/**
 * The npm package as a user who installs it sees it: every path package.json names is shipped
 * (`files`) and built, nothing else big or stray is (`npm pack --dry-run`), and strict TypeScript
 * consumers (ES module and CommonJS; moduleResolution node16, nodenext and bundler; a Node project
 * without the DOM lib, a web page without @types/node) compile against the declarations
 * `prepack` makes (tsc -p tsconfig.build.json, then scripts/build-cjs-types.mjs). The README's
 * runtime example compiles and runs, and esbuild bundles edgernn/runtime and edgernn for a browser.
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
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as esbuild from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const pkgJson = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as {
  main: string;
  types: string;
  bin: Record<string, string>;
  files: string[];
  exports: Record<string, unknown>;
  typesVersions: Record<string, Record<string, string[]>>;
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

// Strict, and no skipLibCheck: an error inside the package's declarations (or in a dependency's
// that they import) must show.
const strict = { target: 'ES2022', strict: true, exactOptionalPropertyTypes: true, noUncheckedIndexedAccess: true, noEmit: true, skipLibCheck: false };
// A Node project: no DOM lib. The declarations named WebAssembly.Module (a DOM lib name), and
// imported onnxruntime-common's and MQTT.js's types, which need ImageData, Worker, MessagePort.
const nodeProject = { ...strict, lib: ['ES2022'], types: ['node'] };
// A web page's project: the DOM lib, no @types/node (edgernn/runtime and edgernn run in browsers).
const webProject = { ...strict, lib: ['ES2022', 'DOM'], types: [] };
const resolutions = {
  node16: { module: 'node16', moduleResolution: 'node16' },
  nodenext: { module: 'nodenext', moduleResolution: 'nodenext' },
  bundler: { module: 'esnext', moduleResolution: 'bundler' },
};

// Uses the main types of every entry; each @ts-expect-error fails the build if the type it
// checks had become `any` (an unused directive is an error).
const esmConsumer = `
import { createRuntime, createRuntimeSync, isEdgeRnnError, type Model, type Session, type Runtime, type ErrorCode, type ModelSpec } from 'edgernn';
import * as lean from 'edgernn/runtime';
import { importCachedRuntime } from 'edgernn/runtime/cached';
import { Gateway, parseGatewayConfig, memoryLogger, mqttTransport, type GatewayConfig, type GatewayConfigInput, type GatewayOptions, type Alert, type EmbeddedBroker, type MqttTransport } from 'edgernn/gateway';

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
  const transport: MqttTransport = mqttTransport({ broker: config.broker, url: 'mqtt://127.0.0.1:1883', clientId: 'consumer' });
  const opts: GatewayOptions = { config, logger: memoryLogger(), transport };
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

// A web page's module: the browser-safe entries only.
const webConsumer = `
import { createRuntime, isEdgeRnnError, type Model } from 'edgernn/runtime';
import { createRuntime as createFullRuntime, OrtWebModel, type OrtWebOptions, type OrtModule } from 'edgernn';

export async function use(url: string): Promise<number> {
  const bytes = new Uint8Array(await (await fetch(url)).arrayBuffer());
  const model: Model = await (await createRuntime()).load(bytes, { source: url });
  // @ts-expect-error: step() returns a Float32Array
  const wrong: string = model.session().step(new Float32Array(model.inputSize));
  const opts: OrtWebOptions = { threads: 1 };
  const ort: OrtModule | undefined = opts.ort;
  try { await OrtWebModel.create(bytes, opts); } catch (e) { if (isEdgeRnnError(e, 'BACKEND_UNAVAILABLE')) return 0; }
  void wrong; void ort;
  return model.outputSize + (await createFullRuntime()).intBackend.length;
}
`;

/**
 * The README's "Using the runtime" block as a module: its lines unchanged, after the names it
 * leaves to the reader (bytes, frame, frames; sessions and flat just before their line).
 */
function readmeExample(): string {
  const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8');
  const block = /## Using the runtime\s+```ts\n([\s\S]*?)```/.exec(readme)?.[1];
  if (block === undefined) throw new Error('README.md: no ```ts block under "## Using the runtime"');
  const lines = block.split('\n').flatMap((line) =>
    line.startsWith('model.stepMany(') ? ['const sessions: Session[] = [s, model.session()];', 'const flat = new Float32Array(2 * model.inputSize).fill(0.5);', line] : [line],
  );
  return [
    "import fs from 'node:fs';",
    "import type { Session } from 'edgernn/runtime';",
    "const bytes = fs.readFileSync('node_modules/edgernn/models/har.ern');",
    'const frame = new Float32Array(3).fill(0.25);',
    'const frames = [[0.1, 0.2, 0.3], [0.3, 0.2, 0.1]];',
    ...lines,
    'console.log(JSON.stringify({ outputs: y.length, saved: saved.length }));',
  ].join('\n');
}

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
  fs.writeFileSync(path.join(tmp, 'web.mts'), webConsumer);
  fs.writeFileSync(path.join(tmp, 'readme.mts'), readmeExample());
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

  it('typesVersions gives moduleResolution node10 (TypeScript 5 and 6, which read no exports) the types exports gives', () => {
    const fromExports = Object.entries(pkgJson.exports).flatMap(([subpath, value]) => {
      const types = exportTargets(value).find((t) => t.endsWith('.d.ts'));
      return subpath === '.' || types === undefined ? [] : [[subpath.slice(2), [path.posix.normalize(types)]] as const];
    });
    expect(pkgJson.typesVersions['*']).toEqual(Object.fromEntries(fromExports));
    expect(pkgJson.types).toBe(path.posix.normalize((pkgJson.exports['.'] as { types: string }).types));
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

  it.each(['node16', 'nodenext'] as const)('a Node project without the DOM lib compiles, ES module and CommonJS (moduleResolution %s)', (name) => {
    const r = compile({ compilerOptions: { ...nodeProject, ...resolutions[name] }, files: ['esm.mts', 'cjs.cts'] }, `node-${name}`);
    expect(r.output).toBe('');
    expect(r.ok).toBe(true);
  });

  it('a Node project without the DOM lib compiles (moduleResolution bundler)', () => {
    const r = compile({ compilerOptions: { ...nodeProject, ...resolutions.bundler }, files: ['esm.mts'] }, 'node-bundler');
    expect(r.output).toBe('');
    expect(r.ok).toBe(true);
  });

  it('a web project without @types/node compiles against edgernn/runtime (ES module and require) and edgernn (nodenext)', () => {
    const r = compile({ compilerOptions: { ...webProject, ...resolutions.nodenext }, files: ['web.mts', 'cjs.cts'] }, 'web-nodenext');
    expect(r.output).toBe('');
    expect(r.ok).toBe(true);
  });

  it('a web project without @types/node compiles against edgernn/runtime and edgernn (bundler)', () => {
    const r = compile({ compilerOptions: { ...webProject, ...resolutions.bundler }, files: ['web.mts'] }, 'web-bundler');
    expect(r.output).toBe('');
    expect(r.ok).toBe(true);
  });

  it("the README's runtime example compiles (strict, no DOM lib) and runs on the shipped model", async () => {
    const r = compile({ compilerOptions: { ...nodeProject, ...resolutions.nodenext }, files: ['readme.mts'] }, 'readme');
    expect(r.output).toBe('');
    const js = await esbuild.transform(fs.readFileSync(path.join(tmp, 'readme.mts'), 'utf8'), { loader: 'ts', format: 'esm' });
    fs.writeFileSync(path.join(tmp, 'readme.mjs'), js.code);
    const out = JSON.parse(execFileSync(process.execPath, ['readme.mjs'], { cwd: tmp, encoding: 'utf8' })) as { outputs: number; saved: number };
    expect(out.outputs).toBe(9); // har.ern: nine activities
    expect(out.saved).toBeGreaterThan(0);
  });

  it.each([
    ['import', "import { createRuntime } from 'edgernn/runtime';\nexport default createRuntime;\n", 'dist/runtime.js'],
    ['require', "const { createRuntime } = require('edgernn/runtime');\nmodule.exports = createRuntime;\n", 'dist/runtime.cjs'],
  ])('esbuild bundles edgernn/runtime (%s) for a browser: its bundle alone, no Node built-in', async (how, source, bundle) => {
    const entry = path.join(tmp, `web-entry-${how}.js`);
    fs.writeFileSync(entry, source);
    // platform 'browser' fails on any Node built-in (node:fs ...) the bundle would import.
    const r = await esbuild.build({ entryPoints: [entry], bundle: true, platform: 'browser', format: 'esm', write: false, metafile: true, logLevel: 'silent', absWorkingDir: tmp });
    expect(Object.keys(r.metafile.inputs).sort()).toEqual([`node_modules/edgernn/${bundle}`, path.basename(entry)].sort());
    expect(Object.values(r.metafile.outputs).flatMap((o) => o.imports)).toEqual([]);
  });

  it('esbuild bundles edgernn for a browser: no Node built-in, and onnxruntime-web (an optional peer) left to load on use', async () => {
    const entry = path.join(tmp, 'web-entry-main.js');
    fs.writeFileSync(entry, "import { createRuntime, OrtWebModel } from 'edgernn';\nexport default [createRuntime, OrtWebModel];\n");
    const r = await esbuild.build({ entryPoints: [entry], bundle: true, platform: 'browser', format: 'esm', write: false, metafile: true, logLevel: 'silent', absWorkingDir: tmp });
    expect(Object.keys(r.metafile.inputs)).toContain('node_modules/edgernn/dist/index.js');
    // Not installed here: esbuild leaves the import() (inside a try) to fail at run time, typed.
    expect(Object.values(r.metafile.outputs).flatMap((o) => o.imports)).toEqual([{ path: 'onnxruntime-web', kind: 'dynamic-import', external: true }]);
  });

  it("a library built on edgernn emits declarations for what each entry's functions return: every type they name is exported by that entry", async () => {
    // Declared types that no entry exports failed a consumer's declaration emit: "TS2883: The
    // inferred type of 'trace' cannot be named without a reference to 'TraceHeader' from
    // '../node_modules/edgernn/dist/gateway/trace.js'"; nor could the consumer name it itself.
    const entries = { main: ['edgernn', 'index.js'], lean: ['edgernn/runtime', 'runtime.js'], gateway: ['edgernn/gateway', 'gateway.js'] } as const;
    // Members that return more of them.
    const extra: Record<keyof typeof entries, string[]> = {
      main: ['export const ernTensors = ret(m.decodeErn).tensors;'],
      lean: ['export const labels = ret(m.createRuntimeSync).loadSync(new Uint8Array(0)).labels;'],
      gateway: ['export const outboxReport = ret(m.FileOutbox.open).report;', 'export const counters = new m.Metrics(0).counters;'],
    };
    fs.mkdirSync(path.join(tmp, 'lib'), { recursive: true });
    for (const [name, [entry, bundle]] of Object.entries(entries) as [keyof typeof entries, readonly [string, string]][]) {
      const mod = (await import(pathToFileURL(path.join(pkgDir, 'dist', bundle)).href)) as Record<string, unknown>;
      const functions = Object.keys(mod).filter((k) => typeof mod[k] === 'function' && !/^class\b/.test(Function.prototype.toString.call(mod[k])));
      expect(functions.length).toBeGreaterThan(0);
      const lines = [
        `import * as m from '${entry}';`,
        'type Ret<F> = F extends (...args: never[]) => infer R ? R : never;',
        'declare function ret<F>(f: F): Ret<F>;',
        ...functions.map((f) => `export const ${f} = ret(m.${f});`),
        ...extra[name],
      ];
      fs.writeFileSync(path.join(tmp, 'lib', `${name}.mts`), lines.join('\n'));
    }
    const outDir = path.join(tmp, 'lib-out');
    const libOptions = { ...nodeProject, ...resolutions.nodenext, noEmit: false, declaration: true, emitDeclarationOnly: true, rootDir: 'lib', outDir };
    const r = compile({ compilerOptions: libOptions, files: Object.keys(entries).map((n) => `lib/${n}.mts`) }, 'lib');
    expect(r.output).toBe('');
    for (const [name, [entry]] of Object.entries(entries)) {
      const dts = fs.readFileSync(path.join(outDir, `${name}.d.mts`), 'utf8');
      const others = [...dts.matchAll(/import\("([^"]+)"\)\.\w+/g)].filter((m) => m[1] !== entry).map((m) => m[0]);
      expect(others, `${entry}: types named through another entry`).toEqual([]);
    }
  });

  it('packs no stray or large files (npm pack --dry-run)', () => {
    const [pack] = JSON.parse(execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })) as [
      { unpackedSize: number; files: { path: string; size: number }[] },
    ];
    const paths = pack.files.map((f) => f.path);
    // What `npm run build` makes and the package needs at run time (declarations come from prepack).
    for (const needed of ['dist/index.js', 'dist/runtime.js', 'dist/runtime.cjs', 'dist/runtime-cached.js', 'dist/gateway.js', 'dist/cli.js', 'dist/edgernn.browser.js', 'models/har.ern', 'models/kws.ern', 'models/anomaly.ern', 'README.md', 'LICENSE']) {
      expect(paths, needed).toContain(needed);
    }
    const stray = paths.filter((p) => /(^|\/)(test|tests|__tests__|coverage|node_modules|\.cache|out)\/|\.(test|spec)\.[cm]?[jt]s$|\.(tsbuildinfo|v8cache|log|tgz)$|^(src|quantize|scripts)\/|(?<!\.d)\.[cm]?ts$/.test(p));
    expect(stray).toEqual([]);
    // 12.2 MB on 2026-11-27, 7.6 MB of it the bundles' source maps.
    const largest = [...pack.files].sort((a, b) => b.size - a.size).slice(0, 5).map((f) => `${f.path} ${(f.size / 1e6).toFixed(1)} MB`);
    expect(pack.unpackedSize, `unpacked ${(pack.unpackedSize / 1e6).toFixed(1)} MB; largest: ${largest.join(', ')}`).toBeLessThan(16e6);
  });
});
