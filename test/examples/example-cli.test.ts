/**
 * examples/README.md: the scripts "run unchanged in a project that installed" edgernn, and
 * example-cli.mjs is copied along with an example. A copy in a project's own folder looked for
 * its default model beside itself (`../models/anomaly.ern`, from the script's URL) and ended in
 * "file:///project/models/anomaly.ern: ENOENT" unless given MODEL.ern: the default is now the
 * installed package's model (`edgernn/models/...`) when the repository's is not there.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { tmpDir } from '../gateway/fixtures.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const project = tmpDir('edgernn-example-copy-');
afterAll(() => fs.rmSync(project, { recursive: true, force: true }));

it('a copied example runs on the installed package\'s model by default', () => {
  // A project with edgernn installed (a link to this repository) and the two files copied in.
  fs.mkdirSync(path.join(project, 'node_modules'));
  fs.symlinkSync(ROOT, path.join(project, 'node_modules', 'edgernn'), 'dir');
  for (const f of ['anomaly-csv.mjs', 'example-cli.mjs']) fs.copyFileSync(path.join(ROOT, 'examples', f), path.join(project, f));
  const series = 'timestamp,value\n' + Array.from({ length: 20 }, (_, i) => `2014-02-01 00:${String(i).padStart(2, '0')}:00,${10 + (i % 3)}`).join('\n') + '\n';
  fs.writeFileSync(path.join(project, 'series.csv'), series);
  const r = spawnSync(process.execPath, ['anomaly-csv.mjs', 'series.csv', '--json'], { encoding: 'utf8', cwd: project });
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  expect(JSON.parse(r.stdout)).toMatchObject({ file: 'series.csv', records: 20, alerts: [] });
  // A model named on the command line is still the one used (and a missing one still said so).
  const missing = spawnSync(process.execPath, ['anomaly-csv.mjs', 'series.csv', 'none.ern'], { encoding: 'utf8', cwd: project });
  expect(missing.status).toBe(1);
  expect(missing.stderr).toMatch(/^none\.ern: ENOENT/);
});
