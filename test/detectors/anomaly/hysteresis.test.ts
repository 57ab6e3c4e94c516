import { describe, expect, it } from 'vitest';
import { AlertHysteresis, isEdgeRnnError } from '../../../src/index.js';

describe('AlertHysteresis', () => {
  it('raises at onThreshold, holds for minHoldSteps, clears below offThreshold, ignores the dead band', () => {
    const a = new AlertHysteresis({ onThreshold: 0.8, offThreshold: 0.5, minHoldSteps: 3 });
    const scores = [0.1, 0.85, 0.2, 0.2, 0.2, 0.6, 0.79, 0.8, 0.6, 0.6, 0.49];
    const states = scores.map((s) => [a.update(s), a.transition]);
    expect(states).toEqual([
      [false, 'none'],
      [true, 'raised'], // >= 0.8
      [true, 'none'], // below off, but held 1 < 3
      [true, 'none'], // held 2 < 3
      [false, 'cleared'], // held 3: may clear
      [false, 'none'], // dead band: no raise
      [false, 'none'],
      [true, 'raised'], // exactly the on threshold
      [true, 'none'], // dead band: stays on
      [true, 'none'],
      [false, 'cleared'], // below 0.5 after 3 records
    ]);
  });

  it('clears on the next low score without a hold, and reset() turns it off', () => {
    const a = new AlertHysteresis({ onThreshold: 0.5, offThreshold: 0.5, minHoldSteps: 0 });
    expect(a.update(0.9)).toBe(true);
    expect(a.update(0.4)).toBe(false);
    a.update(0.9);
    a.reset();
    expect(a.active).toBe(false);
    expect(a.transition).toBe('none');
  });

  it('rejects inconsistent options', () => {
    for (const o of [{ onThreshold: 0.5, offThreshold: 0.6, minHoldSteps: 0 }, { onThreshold: NaN, offThreshold: 0, minHoldSteps: 0 }, { onThreshold: 1, offThreshold: 0, minHoldSteps: -1 }]) {
      try {
        new AlertHysteresis(o);
        expect.unreachable();
      } catch (e) {
        expect(isEdgeRnnError(e, 'DETECTOR_OPTION')).toBe(true);
      }
    }
  });
});
