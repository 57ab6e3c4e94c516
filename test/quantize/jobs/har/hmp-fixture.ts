/** Test helper: HMP-layout folders of recordings from the synthetic IMU generator (the real data may not be copied). */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { synthesizeRecording } from '../../../../firmware-sim/imu/generator.js';
import { afterAll } from 'vitest';
import { HMP_GENERATOR_MODEL } from '../../../../firmware-sim/imu/hmp-model.gen.js';

/** Folders written for the importing test file, removed after it (they piled up in /tmp). */
const written: string[] = [];
afterAll(() => {
  for (const d of written.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

const FOLDER: Record<string, string> = { walk: 'Walk', sitdown_chair: 'Sitdown_chair', drink_glass: 'Drink_glass', climb_stairs: 'Climb_stairs', pour_water: 'Pour_water', getup_bed: 'Getup_bed' };

/** Writes an HMP-layout folder of synthetic recordings: `perClass` files per activity and volunteer. */
export function writeSyntheticHmp(activities: string[], volunteers: string[], perClass: number, seed: number): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'edgernn-hmp-'));
  written.push(root);
  let k = 0;
  for (const a of activities) {
    fs.mkdirSync(path.join(root, FOLDER[a]!));
    for (const v of volunteers) {
      for (let i = 0; i < perClass; i++) {
        const codes = synthesizeRecording(HMP_GENERATOR_MODEL, a, seed + k);
        const lines: string[] = [];
        for (let t = 0; t < codes.length / 3; t++) lines.push(`${codes[t * 3]} ${codes[t * 3 + 1]} ${codes[t * 3 + 2]}`);
        const stamp = `2011-03-24-10-${String(10 + (k % 50)).padStart(2, '0')}-${String(k % 60).padStart(2, '0')}`;
        fs.writeFileSync(path.join(root, FOLDER[a]!, `Accelerometer-${stamp}-${a}-${v}.txt`), `${lines.join('\n')}\n`);
        k++;
      }
    }
  }
  return root;
}
