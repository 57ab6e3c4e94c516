/**
 * Detectors by name, so benchmarks and the CLI (`edgernn nab --detector NAME`) can run any of
 * them and new ones (the GRU detectors) plug in with one `register` call. A registry is an
 * instance: no global list, no import-time registration. Browser-safe.
 */
import { EdgeRnnError } from '../../errors.js';
import type { AnomalyDetectorFactory } from './detector.js';
import { NullDetector } from './null.js';
import { RandomDetector } from './random.js';
import { WindowedGaussianDetector } from './windowed-gaussian.js';

export interface DetectorEntry {
  /** Name used on the command line and as NAB results folder (letters, digits, '_' and '-'). */
  name: string;
  /** One line for listings. */
  summary: string;
  /** Makes a fresh detector for one series. */
  create: AnomalyDetectorFactory;
}

const NAME_PATTERN = /^[A-Za-z][A-Za-z0-9_-]*$/;

export class DetectorRegistry {
  private readonly entries = new Map<string, DetectorEntry>();

  /** Adds a detector; names are unique. Returns the registry for chaining. */
  register(entry: DetectorEntry): this {
    if (!NAME_PATTERN.test(entry.name)) {
      throw new EdgeRnnError('DETECTOR_OPTION', `detector name '${entry.name}' must match ${NAME_PATTERN}`, { name: entry.name });
    }
    if (this.entries.has(entry.name)) {
      throw new EdgeRnnError('DETECTOR_OPTION', `detector '${entry.name}' is already registered`, { name: entry.name });
    }
    this.entries.set(entry.name, entry);
    return this;
  }

  /** The entry for `name`, or UNKNOWN_DETECTOR listing the known names. */
  get(name: string): DetectorEntry {
    const entry = this.entries.get(name);
    if (!entry) {
      throw new EdgeRnnError('UNKNOWN_DETECTOR', `unknown detector '${name}', expected one of: ${this.names().join(', ')}`, { name, known: this.names() });
    }
    return entry;
  }

  has(name: string): boolean {
    return this.entries.has(name);
  }

  /** Registered names in registration order. */
  names(): string[] {
    return [...this.entries.keys()];
  }

  list(): DetectorEntry[] {
    return [...this.entries.values()];
  }
}

/** A registry holding NAB's three baselines: null, random (seed 42) and windowedGaussian. */
export function baselineDetectorRegistry(): DetectorRegistry {
  return new DetectorRegistry()
    .register({ name: 'null', summary: 'NAB null baseline: constant 0.5 (the 0 of the normalized score)', create: () => new NullDetector() })
    .register({ name: 'random', summary: "NAB random baseline: CPython random.seed(42) per file, uniform(0, 1) per record", create: () => new RandomDetector() })
    .register({ name: 'windowedGaussian', summary: 'NAB windowed Gaussian: tail probability under a Gaussian fitted to the last 6400 values', create: () => new WindowedGaussianDetector() });
}
