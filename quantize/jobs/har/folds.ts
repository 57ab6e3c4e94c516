/**
 * Leave-subjects-out folds: every volunteer's recordings land in exactly one test fold.
 *
 * Assignment is scikit-learn's GroupKFold rule, made deterministic: volunteers sorted by
 * recording count (descending; ties by id), each put into the fold holding the fewest
 * recordings so far (ties: the lowest fold index). With HMP's 16 volunteers and 8 folds this
 * leaves the largest volunteer (f1, 299 of the 775 nine-class recordings, 39 %) alone in fold 0,
 * as it does f4 (fold 1) and m1 (fold 2); the other 13 volunteers share folds 3-7, 2-3 each.
 */
import { EdgeRnnError } from '../../../src/index.js';

export interface Fold {
  /** 0-based fold index. */
  index: number;
  /** Held-out volunteers. */
  test: string[];
  /** Everyone else. */
  train: string[];
}

/** Splits volunteers (with their recording counts) into k folds. */
export function groupKFold(counts: ReadonlyMap<string, number>, k: number): Fold[] {
  const ids = [...counts.keys()];
  if (!(Number.isInteger(k) && k >= 2 && k <= ids.length)) {
    throw new EdgeRnnError('USAGE', `folds must be an integer in [2, ${ids.length}] (one volunteer at least per fold), got ${k}`, { expected: `2..${ids.length}`, got: k });
  }
  const order = ids.sort((a, b) => counts.get(b)! - counts.get(a)! || (a < b ? -1 : a > b ? 1 : 0));
  const load = new Array<number>(k).fill(0);
  const members: string[][] = Array.from({ length: k }, () => []);
  for (const id of order) {
    let f = 0;
    for (let j = 1; j < k; j++) if (load[j]! < load[f]!) f = j;
    load[f] = load[f]! + counts.get(id)!;
    members[f]!.push(id);
  }
  return members.map((test, index) => ({ index, test: [...test].sort(), train: ids.filter((v) => !test.includes(v)).sort() }));
}
