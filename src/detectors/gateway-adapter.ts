/**
 * Shared by the job detectors (anomaly, kws): a detector object with its own state export/import
 * seen through the gateway's `Detector` interface. Type-only gateway imports keep it browser-safe.
 */
import { EdgeRnnError, isEdgeRnnError } from '../errors.js';
import type { Detector, DetectorEvent } from '../gateway/detectors.js';

export interface StatefulDetector {
  readonly lastScore: number;
  step(output: Float32Array, input: Float32Array): DetectorEvent | null;
  reset(): void;
  exportState(): unknown;
  /** Throws STATE_MISMATCH for a state it cannot take. */
  importState(state: unknown): void;
}

/** `d` as a gateway detector: a state it refuses is reported as GATEWAY_STATE (the gateway's code). */
export function asGatewayDetector(d: StatefulDetector): Detector {
  return {
    get lastScore() {
      return d.lastScore;
    },
    step: (output, input) => d.step(output, input),
    reset: () => d.reset(),
    exportState: () => d.exportState(),
    importState(state) {
      try {
        d.importState(state);
      } catch (e) {
        if (isEdgeRnnError(e, 'STATE_MISMATCH')) throw new EdgeRnnError('GATEWAY_STATE', e.message);
        throw e;
      }
    },
  };
}
