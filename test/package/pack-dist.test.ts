/**
 * prepack (scripts/pack-dist.mjs) makes dist/ exactly what the build makes: building over dist/
 * shipped whatever earlier builds had left there (declarations of deleted sources, kernels-*.wasm).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const { syncDir } = (await import(pathToFileURL(path.join(root, 'scripts/pack-dist.mjs')).href)) as { syncDir: (from: string, to: string) => void };
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'edgernn-pack-dist-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function write(dir: string, files: Record<string, string>): void {
  for (const [f, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
    fs.writeFileSync(path.join(dir, f), text);
  }
}

function list(dir: string): Record<string, string> {
  return Object.fromEntries(
    fs
      .readdirSync(dir, { recursive: true, withFileTypes: true })
      .filter((e) => !e.isDirectory())
      .map((e) => path.join(e.parentPath, e.name))
      .map((f) => [path.relative(dir, f), fs.readFileSync(f, 'utf8')])
      .sort(),
  );
}

describe('prepack: dist/ as the build makes it', () => {
  it('package.json prepack runs scripts/pack-dist.mjs (it built over dist/, keeping stale files)', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    expect(pkg.scripts.prepack).toBe('node scripts/pack-dist.mjs');
  });

  it('syncDir leaves exactly the files built: stale declarations, wasm and emptied folders go, the rest is replaced', () => {
    const built = path.join(tmp, 'built');
    const dist = path.join(tmp, 'dist');
    write(built, { 'index.js': 'new', 'index.d.ts': 'new types', 'io/npy.d.ts': 'npy' });
    write(dist, { 'index.js': 'old', 'kernels-simd.wasm': 'stale', 'io/npy.d.ts': 'old npy', 'io/deleted.d.ts': 'stale', 'gone/x.d.ts': 'stale' });
    syncDir(built, dist);
    expect(list(dist)).toEqual({ 'index.d.ts': 'new types', 'index.js': 'new', [path.join('io', 'npy.d.ts')]: 'npy' });
    expect(fs.existsSync(path.join(dist, 'gone'))).toBe(false);
  });
});
