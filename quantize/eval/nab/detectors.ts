/**
 * The detectors `edgernn nab --detector NAME` and the NAB benchmarks can run. NAB's baselines
 * come from src/; the GRU detectors plug in here with one `.register({ name, summary, create })`
 * each, and every tool that calls this picks them up by name.
 */
import { baselineDetectorRegistry, type DetectorRegistry } from '../../../src/index.js';
import { gruDetectorEntries } from '../../jobs/anomaly/detectors.js';

export function nabDetectorRegistry(): DetectorRegistry {
  const registry = baselineDetectorRegistry();
  for (const entry of gruDetectorEntries()) registry.register(entry);
  return registry;
}
