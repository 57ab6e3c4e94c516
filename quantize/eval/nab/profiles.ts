/**
 * NAB's application profiles (config/profiles.json) and probationary period (nab/util.py,
 * nab/sweeper.py). One table; everything else loops over it.
 */

export interface NabProfile {
  /** Profile name as NAB spells it (results files are named after it). */
  name: NabProfileName;
  /** Weight of a detected window (the earliest detection scores tpWeight exactly). */
  tpWeight: number;
  /** Weight of a false positive (scaled by the sigmoid of its distance past the preceding window). */
  fpWeight: number;
  /** Cost of a window with no detection. */
  fnWeight: number;
  /** Listed by NAB but unused by its scoring (true negatives score 0). */
  tnWeight: number;
}

export type NabProfileName = 'standard' | 'reward_low_FP_rate' | 'reward_low_FN_rate';

/** config/profiles.json of numenta/NAB (unchanged since v1.0). */
export const NAB_PROFILES: readonly NabProfile[] = [
  { name: 'standard', tpWeight: 1.0, fpWeight: 0.11, fnWeight: 1.0, tnWeight: 1.0 },
  { name: 'reward_low_FP_rate', tpWeight: 1.0, fpWeight: 0.22, fnWeight: 1.0, tnWeight: 1.0 },
  { name: 'reward_low_FN_rate', tpWeight: 1.0, fpWeight: 0.11, fnWeight: 2.0, tnWeight: 1.0 },
];

export function nabProfile(name: NabProfileName): NabProfile {
  return NAB_PROFILES.find((p) => p.name === name)!;
}

/** Share of every file that is not scored (NAB runner: probationaryPercent = 0.15). */
export const NAB_PROBATION_PERCENT = 0.15;

/**
 * Records at the start of a file that are not scored:
 * min(floor(percent * rows), percent * 5000), i.e. 15% capped at 750 records.
 * Computed with the same float operations as NAB so the edge cases agree.
 */
export function probationaryLength(rows: number, percent = NAB_PROBATION_PERCENT): number {
  return Math.min(Math.floor(percent * rows), percent * 5000);
}
