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
import { EdgeRnnError, isEdgeRnnError } from '../errors.js';
import type { DetectorFactory } from './detectors.js';

/** `kws`: a keyword model trained here carries its tuned settings; any other model needs them all in the route. */
const kwsJobDetector: DetectorFactory = (cfg, ctx) => {
  let factory: DetectorFactory;
  try {
    factory = kwsDetectorFactory(ctx.spec?.extra?.[KWS_EXTRA_KEY] !== undefined ? ctx.spec : undefined);
  } catch (e) {
    // The model has an extra.kws the detector cannot read (no detector settings, no audio front end):
    // a config error of this route, at Gateway.create, not a bare DETECTOR_OPTION.
    if (!isEdgeRnnError(e, 'DETECTOR_OPTION')) throw e;
    throw new EdgeRnnError('GATEWAY_CONFIG', `${ctx.path}: a kws detector takes its settings from the model's manifest: ${e.message}`, { field: ctx.path, manifestField: e.details.field });
  }
  return factory(cfg, ctx);
};

export const JOB_DETECTORS: Readonly<Record<string, DetectorFactory>> = {
  kws: kwsJobDetector,
  anomaly: (cfg, ctx) => anomalyDetectorFactory(ctx.spec)(cfg, ctx),
  [HAR_DETECTOR_KIND]: createHarDetector,
};
