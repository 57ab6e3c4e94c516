/** The HAR job's markdown tables on hand-made recordings whose numbers are known. */
import { describe, expect, it } from 'vitest';
import type { HmpRecording } from '../../../../quantize/jobs/har/hmp.js';
import { statsTable } from '../../../../quantize/jobs/har/report.js';

const rec = (activity: string, volunteer: string, samples: number): HmpRecording => ({ activity, volunteer, file: `${activity}/${volunteer}-${samples}.txt`, startTime: '2011-01-01-00-00-00', codes: new Uint8Array(samples * 3), samples });

describe('statsTable', () => {
  it('median length of an even number of recordings is the mean of the two middle ones', () => {
    // walk: 1 s, 2 s, 4 s, 10 s at 32 Hz: median 3.0 s (the upper middle one, 4.0 s, before); total 17 s = 0.3 min
    const recs = [rec('walk', 'f1', 32), rec('walk', 'f1', 64), rec('walk', 'm2', 128), rec('walk', 'm2', 320), rec('pour_water', 'm2', 96)];
    const t = statsTable(recs, 32);
    expect(t).toMatch(/\| \*\*walk\*\* \| 2 \| 2 \| 4 \| 2 \| 3\.0 \| 0\.3 \|/);
    expect(t).toMatch(/\| \*\*pour_water\*\* \| · \| 1 \| 1 \| 1 \| 3\.0 \| 0\.1 \|/);
  });
});
