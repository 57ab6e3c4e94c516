// Bundles the library and the CLI with esbuild (fast enough to run before every test).
//   dist/index.js          library, ESM, platform-neutral (Node 20 and browsers); kernels embedded
//   dist/runtime.js        the lean runtime entry (edgernn/runtime): load and run .ern models
//   dist/runtime.cjs       the same runtime as CommonJS (require('edgernn/runtime'))
//   dist/runtime-cached.js the runtime compiled with a V8 code cache (edgernn/runtime/cached, Node)
//   dist/gateway.js        the MQTT gateway (edgernn/gateway, Node)
//   dist/edgernn.browser.js  same, with its dependencies bundled, for a <script type="module">
//   dist/cli.js            the `edgernn` command (Node)
//
//   node scripts/build.mjs [OUT]     (OUT: the folder to write, default dist; prepack builds into a
//                                     fresh one: scripts/pack-dist.mjs)
import * as esbuild from 'esbuild';
import fs from 'node:fs';

const out = process.argv[2] ?? 'dist';

const common = { bundle: true, format: 'esm', target: 'es2022', logLevel: 'warning', sourcemap: true };
await Promise.all([
  esbuild.build({ ...common, entryPoints: ['src/index.ts'], outfile: `${out}/index.js`, platform: 'neutral', packages: 'external' }),
  // Self-contained (no imports left): the checksum is hashed in the kernels, so no @noble/hashes.
  esbuild.build({ ...common, entryPoints: ['src/runtime/index.ts'], outfile: `${out}/runtime.js`, platform: 'neutral', minify: true }),
  esbuild.build({ ...common, entryPoints: ['src/runtime/index.ts'], outfile: `${out}/runtime.cjs`, platform: 'neutral', minify: true, format: 'cjs' }),
  esbuild.build({ ...common, entryPoints: ['src/index.ts'], outfile: `${out}/edgernn.browser.js`, platform: 'browser', external: ['onnxruntime-web'] }),
  esbuild.build({ ...common, entryPoints: ['src/gateway/index.ts'], outfile: `${out}/gateway.js`, platform: 'node', packages: 'external' }),
  esbuild.build({
    ...common,
    entryPoints: ['bin/edgernn.ts'],
    outfile: `${out}/cli.js`,
    platform: 'node',
    packages: 'external',
    banner: { js: '#!/usr/bin/env node' },
  }),
]);
// The cached entry checks that runtime.cjs is the length it was built with (its cache file is keyed
// on the bytes it reads: src/runtime/code-cache.ts).
const runtimeCjs = fs.readFileSync(`${out}/runtime.cjs`);
const fingerprint = { bytes: runtimeCjs.length };
await esbuild.build({
  ...common,
  entryPoints: ['src/runtime/code-cache.ts'],
  outfile: `${out}/runtime-cached.js`,
  platform: 'node',
  packages: 'external',
  define: { __EDGERNN_RUNTIME_CJS__: JSON.stringify(fingerprint) },
});
// esbuild keeps the entry's own shebang line too; leave exactly one.
const cli = fs.readFileSync(`${out}/cli.js`, 'utf8').replace(/^(#!.*\n)(#!.*\n)/, '$1');
fs.writeFileSync(`${out}/cli.js`, cli);
fs.chmodSync(`${out}/cli.js`, 0o755);
