import { describe, expect, it } from 'vitest';
import { median } from '../../src/util/stats.js';

describe('median', () => {
  it('is the middle value of an odd count and the mean of the two middle ones of an even count, in any order', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([7])).toBe(7);
  });

  it('leaves its input as it was and is NaN for no values', () => {
    const v = [3, 1, 2];
    median(v);
    expect(v).toEqual([3, 1, 2]);
    expect(median([])).toBeNaN();
  });
});
