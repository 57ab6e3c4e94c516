/**
 * The detectors of the three jobs (src/detectors) as built-in gateway detector kinds, so a route
 * can say `"detector": {"kind": "kws" | "har" | "anomaly", ...}` with no code: `kws` and `anomaly`
 * take their tuned settings from the model's manifest (a route may override any field), `har`
 * smooths the label sequence of an activity model.
 */
import { anomalyDetectorFactory } from '../detectors/anomaly/gateway.js';
import { createHarDetector, HAR_DETECTOR_KIND } from '../detectors/har/detector.js';
import { kwsDetectorFactory } from '../detectors/kws/gateway.js';
import { KWS_EXTRA_KEY } from '../detectors/kws/model.js';
import type { DetectorFactory } from './detectors.js';

export const JOB_DETECTORS: Readonly<Record<string, DetectorFactory>> = {
  // A keyword model trained here carries its tuned settings; any other model needs them all in the route.
  kws: (cfg, ctx) => kwsDetectorFactory(ctx.spec?.extra?.[KWS_EXTRA_KEY] !== undefined ? ctx.spec : undefined)(cfg, ctx),
  anomaly: (cfg, ctx) => anomalyDetectorFactory(ctx.spec)(cfg, ctx),
  [HAR_DETECTOR_KIND]: createHarDetector,
};
