// Declarations for require('edgernn/runtime'), run after `tsc -p tsconfig.build.json`.
//
// The package is "type": "module", so TypeScript reads every .d.ts in it as an ES module, and a
// CommonJS consumer (`module: node16`, a .cts file or a "type": "commonjs" package) may not
// require it: TS1471 "The specifier only resolves to an ES module". The CommonJS condition needs
// declarations TypeScript reads as CommonJS: .d.cts files. This copies the runtime entry's
// declarations, and every declaration they import, to .d.cts files beside them, with relative
// imports pointing at the .cjs twins ('./runtime.js' -> './runtime.cjs', which TypeScript
// resolves to ./runtime.d.cts). package.json's "./runtime" "require" condition names the entry.
//
//   node scripts/build-cjs-types.mjs [DIST]     (DIST: where tsc wrote the .d.ts, default dist)
import fs from 'node:fs';
import path from 'node:path';

const dist = process.argv[2] ?? 'dist';
const entry = path.join(dist, 'runtime/index.d.ts');
// Relative specifiers in `from '...'` and `import('...')`; declarations import only with these.
const relativeImport = /(from\s+|import\()(['"])(\.{1,2}\/[^'"]+)\.js\2/g;

const todo = [entry];
const done = new Set();
while (todo.length > 0) {
  const file = todo.pop();
  if (done.has(file)) continue;
  done.add(file);
  if (!fs.existsSync(file)) throw new Error(`build-cjs-types: ${file} is imported but missing (run tsc -p tsconfig.build.json first)`);
  const text = fs.readFileSync(file, 'utf8');
  const cjs = text.replace(relativeImport, (_all, head, quote, stem) => {
    todo.push(path.join(path.dirname(file), `${stem}.d.ts`));
    return `${head}${quote}${stem}.cjs${quote}`;
  });
  fs.writeFileSync(file.replace(/\.d\.ts$/, '.d.cts'), cjs);
}
