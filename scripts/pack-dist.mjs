// prepack: makes dist/ exactly what the build makes, so the tarball holds nothing else. Building
// over dist/ left what earlier builds put there: declarations of deleted sources, and the
// kernels-*.wasm that build-wasm.mjs writes (nothing reads them: the kernels are embedded).
//
// dist/ is never removed and rebuilt in place (tests and `npm start` read it while this runs):
// the bundles and declarations are built into a fresh folder beside it, then each file is renamed
// over its old copy (a rename replaces a file atomically), and the files the build did not make
// are deleted.
//
//   node scripts/pack-dist.mjs [OUT]     (OUT: default dist)
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Every file under `dir` (relative paths), and its folders deepest first (absolute). */
function walk(dir, rel = '', out = { files: [], dirs: [] }) {
  if (!fs.existsSync(path.join(dir, rel))) return out;
  for (const e of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
    const p = path.join(rel, e.name);
    if (e.isDirectory()) {
      walk(dir, p, out);
      out.dirs.push(path.join(dir, p));
    } else out.files.push(p);
  }
  return out;
}

/** Makes `to` hold exactly the files of `from` (moved there: `from` is left without files). */
export function syncDir(from, to) {
  const made = new Set(walk(from).files);
  for (const f of walk(to).files) if (!made.has(f)) fs.rmSync(path.join(to, f));
  for (const f of made) {
    fs.mkdirSync(path.dirname(path.join(to, f)), { recursive: true });
    fs.renameSync(path.join(from, f), path.join(to, f));
  }
  // Folders the removals emptied.
  for (const d of walk(to).dirs) if (fs.readdirSync(d).length === 0) fs.rmdirSync(d);
}

function main() {
  const out = path.resolve(root, process.argv[2] ?? 'dist');
  // Beside OUT, on the same file system, so the renames are renames.
  const staging = path.join(path.dirname(out), `.${path.basename(out)}-pack-${process.pid}`);
  fs.rmSync(staging, { recursive: true, force: true });
  try {
    const run = (...args) => execFileSync(process.execPath, args, { cwd: root, stdio: 'inherit' });
    run('scripts/build.mjs', staging);
    run(path.join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json', '--outDir', staging);
    run('scripts/build-cjs-types.mjs', staging);
    fs.mkdirSync(out, { recursive: true });
    syncDir(staging, out);
  } finally {
    fs.rmSync(staging, { recursive: true, force: true });
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main();
