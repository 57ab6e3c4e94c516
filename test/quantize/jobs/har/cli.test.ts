/** `edgernn har` (npm run train:har / eval:har): usage errors exit 2, a missing dataset exits 1 saying where to get it. */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { synthesizeRecording } from '../../../../firmware-sim/imu/generator.js';
import { HMP_GENERATOR_MODEL } from '../../../../firmware-sim/imu/hmp-model.gen.js';
import { harCommand } from '../../../../quantize/jobs/har/cli.js';
import { defaultCacheDir } from '../../../../quantize/jobs/har/cv.js';
import { defaultHmpRoot } from '../../../../quantize/jobs/har/hmp.js';
import { evalCommand } from '../../../../quantize/cli/eval.js';
import { writeSyntheticHmp } from './hmp-fixture.js';
import { runCaptured } from '../../../helpers/cli.js';

function run(...args: string[]): ReturnType<typeof runCaptured> {
  return runCaptured(['har', ...args], [harCommand], process.cwd());
}

describe('edgernn har', () => {
  it('usage errors exit 2 and show the help', async () => {
    const none = await run();
    expect(none.code).toBe(2);
    expect(none.err).toMatch(/missing an action/);
    const bad = await run('fly');
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/unknown action 'fly': expected stats, train, eval or fit-generator/);
    const flag = await run('eval', '--folds', '1');
    expect(flag.code).toBe(2);
    expect(flag.err).toMatch(/--folds needs an integer >= 2/);
    const notJson = await run('eval', '--recipe', '{hidden:3}');
    expect(notJson.code).toBe(2);
    expect(notJson.err).toMatch(/--recipe must be a JSON object, got "\{hidden:3\}"/);
    const unknown = await run('eval', '--recipe', '{"hiden":48}');
    expect(unknown.code).toBe(2);
    expect(unknown.err).toMatch(/--recipe: unknown field 'hiden': expected one of rateHz, windowSize, .*hidden/);
    const wrongType = await run('train', '--recipe', '{"hidden":"48"}');
    expect(wrongType.code).toBe(2);
    expect(wrongType.err).toMatch(/--recipe: field 'hidden' must be number, got "48"/);
    const oneSeed = await run('eval', '--seeds', '3');
    expect(oneSeed.code).toBe(2);
    expect(oneSeed.err).toMatch(/--seeds needs two or more different integers, got '3'/);
    const badSeed = await run('eval', '--seeds', '1,x');
    expect(badSeed.code).toBe(2);
    expect(badSeed.err).toMatch(/--seeds needs an integer/);
    // Checked before the dataset is looked for (and before an hour of training).
    const created = await run('train', '--data', '/nonexistent/hmp', '--created-at', 'yesterday');
    expect(created.code).toBe(2);
    expect(created.err).toMatch(/--created-at needs an ISO date, got 'yesterday'/);
    const foldsNoData = await run('eval', '--data', '/nonexistent/hmp', '--folds', '1');
    expect(foldsNoData.code).toBe(2);
    const optionalType = await run('train', '--recipe', '{"bidirectional":1}');
    expect(optionalType.code).toBe(2);
    expect(optionalType.err).toMatch(/--recipe: field 'bidirectional' must be boolean, got 1/);
  });

  it('a flag its action does not read is a usage error, before the dataset is read', async () => {
    // train --seeds used to train the recipe's one seed for an hour, without a word
    const seeds = await run('train', '--seeds', '1,2', '--data', '/nonexistent/hmp');
    expect(seeds.code).toBe(2);
    expect(seeds.err).toMatch(/--seeds does not apply to train: it takes --data, --out, --folds, --only, --skip-cv, --cache, --recipe, --created-at, --json/);
    const out = await run('eval', '--out', 'x.ern', '--data', '/nonexistent/hmp');
    expect(out.code).toBe(2);
    expect(out.err).toMatch(/--out does not apply to eval/);
    expect((await run('stats', '--recipe', '{}', '--data', '/nonexistent/hmp')).err).toMatch(/--recipe does not apply to stats: it takes --data, --json/);
    expect((await run('fit-generator', '--synthetic', '--data', '/nonexistent/hmp')).code).toBe(2);
  });

  it('fit-generator checks --out before the dataset is read (exit 2)', async () => {
    // it was a plain error (exit 1) after reading and fitting the whole dataset
    const notDir = fs.mkdtempSync(path.join(os.tmpdir(), 'edgernn-har-out-'));
    fs.writeFileSync(path.join(notDir, 'a-file'), 'x');
    const genOut = await run('fit-generator', '--data', '/nonexistent/hmp', '--out', path.join(notDir, 'a-file', 'm.gen.ts'));
    expect(genOut.code).toBe(2);
    expect(genOut.err).toMatch(/--out .*a-file is a file, not a folder/);
    const genDir = await run('fit-generator', '--data', '/nonexistent/hmp', '--out', `${notDir}/`);
    expect(genDir.code).toBe(2);
    expect(genDir.err).toMatch(/--out .* is a folder, expected a file/);
    fs.rmSync(notDir, { recursive: true, force: true });
  });

  it('optional recipe fields (syntheticMix, bidirectional) are accepted and typed', async () => {
    const { recipeFrom } = await import('../../../../quantize/jobs/har/cli.js');
    expect(recipeFrom('{"bidirectional":true,"syntheticMix":1}')).toMatchObject({ bidirectional: true, syntheticMix: 1, hidden: 32 });
    expect(recipeFrom(undefined)).not.toHaveProperty('bidirectional');
  });

  it('a missing dataset exits 1 with DATASET_MISSING and where to download it', async () => {
    const r = await run('train', '--data', '/nonexistent/hmp');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/error \[DATASET_MISSING\]: HMP dataset not found at \/nonexistent\/hmp: download .*UCI.*--data/);
  });

  it('stats prints recordings per activity and volunteer', async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'edgernn-hmp-cli-'));
    fs.mkdirSync(path.join(root, 'Walk'));
    for (const [i, v] of ['f1', 'f1', 'm3'].entries()) {
      const c = synthesizeRecording(HMP_GENERATOR_MODEL, 'walk', i, 64);
      const lines = Array.from({ length: 64 }, (_, t) => `${c[t * 3]} ${c[t * 3 + 1]} ${c[t * 3 + 2]}`);
      fs.writeFileSync(path.join(root, 'Walk', `Accelerometer-2011-03-24-10-00-0${i}-walk-${v}.txt`), lines.join('\n'));
    }
    const r = await run('stats', '--data', root);
    fs.rmSync(root, { recursive: true, force: true });
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/\| activity \| f1 \| m3 \| recordings \| volunteers \| median s \| total min \|/);
    expect(r.out).toMatch(/\| \*\*walk\*\* \| 2 \| 1 \| 3 \| 2 \| 2\.0 \| 0\.1 \|/);
  });

  it('edgernn eval models/har.ern on an HMP folder says which folders it skipped (stderr, --json intact)', async () => {
    const root = writeSyntheticHmp(['walk', 'drink_glass'], ['f1'], 1, 7);
    try {
      for (const [folder, activity] of [['Brush_teeth', 'brush_teeth'], ['Jump', 'jump']]) {
        fs.mkdirSync(path.join(root, folder!));
        fs.copyFileSync(path.join(root, 'Walk', fs.readdirSync(path.join(root, 'Walk'))[0]!), path.join(root, folder!, `Accelerometer-2011-03-24-10-00-00-${activity}-f1.txt`));
      }
      const model = path.resolve(import.meta.dirname, '../../../../models/har.ern');
      const r = await runCaptured(['eval', model, '--data', root, '--json'], [evalCommand], process.cwd());
      expect(r.code, r.err).toBe(0);
      expect((JSON.parse(r.out) as { samples: number }).samples).toBe(2);
      expect(r.err).toMatch(/skipped 2 folders not among the model's classes: brush_teeth, jump/);
      // The backend that ran, not 'auto'; and float on this int8 model is refused (it ran int8).
      expect((JSON.parse(r.out) as { backend: string }).backend).toMatch(/^(simd|scalar)$/);
      const float = await runCaptured(['eval', model, '--data', root, '--backend', 'float', '--json'], [evalCommand], process.cwd());
      expect(float.code).toBe(1);
      expect(float.err).toMatch(/BACKEND_UNAVAILABLE.*'har' is an int8 model: use backend simd, scalar or reference/);
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('the default dataset and cache folders', () => {
  const ROOT = path.resolve(import.meta.dirname, '../../../..');
  const shared = path.resolve(ROOT, '../shared/datasets/har/hmp');

  it('are the shared copy beside the repository and .cache/har in it', () => {
    expect(defaultHmpRoot()).toBe(shared);
    expect(defaultCacheDir()).toBe(path.join(ROOT, '.cache/har'));
  });

  // Bundled into dist/cli.js the module lives in dist/, not quantize/jobs/har/: the default
  // dataset path was resolved a fixed number of folders up from it, and pointed at /shared/...
  const bin = path.join(ROOT, 'dist/cli.js');
  it.skipIf(!fs.existsSync(bin))('are the same for the built executable, run from any folder', () => {
    const r = spawnSync(process.execPath, [bin, 'har', 'stats', '--json'], { encoding: 'utf8', cwd: os.tmpdir() });
    if (fs.existsSync(shared)) {
      expect(r.stderr).not.toContain('DATASET_MISSING');
      expect(r.status).toBe(0);
    } else {
      expect(r.status).toBe(1);
      expect(r.stderr).toContain(`HMP dataset not found at ${shared} `);
    }
  });
});
