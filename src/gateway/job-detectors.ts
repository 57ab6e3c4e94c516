/**
 * The detectors of the three jobs (src/detectors) as built-in gateway detector kinds, so a route
 * can say `"detector": {"kind": "kws" | "har" | "anomaly", ...}` with no code: `kws` and `anomaly`
 * take their tuned settings from the model's manifest (a route may override any field), `har`
 * smooths the label sequence of an activity model.
 */
import { anomalyDetectorFactory } from '../detectors/anomaly/gateway.js';
import { createHarDetector, HAR_DETECTOR_KIND } from '../detectors/har/detector.js';
import { kwsDetectorFactory } from '../detectors/kws/gateway.js';
import { KWS_EXTRA_KEY, kwsTimeBaseOf } from '../detectors/kws/model.js';
import { EdgeRnnError, isEdgeRnnError } from '../errors.js';
import type { ModelSpec } from '../model/spec.js';
import type { DetectorConfig } from './config.js';
import type { DetectorContext, DetectorFactory } from './detectors.js';

/**
 * What a model's outputs are, from its last layer: probabilities (softmax, or a dense sigmoid:
 * each in [0, 1]) or something else (logits, log-probabilities, a recurrent state), described.
 */
function nonProbabilityOutputs(spec: Pick<ModelSpec, 'layers'>): string | null {
  const last = spec.layers[spec.layers.length - 1];
  if (last === undefined) return 'no layers';
  if (last.kind === 'softmax') return null;
  if (last.kind === 'dense' && last.activation === 'sigmoid') return null;
  if (last.kind === 'dense') return `a dense layer with activation "${last.activation}" (logits, not probabilities)`;
  if (last.kind === 'logSoftmax') return 'a logSoftmax layer (log-probabilities)';
  return `a ${last.kind} layer`;
}

/**
 * Detectors that threshold posteriors need probabilities: on logits a kws route raised events with
 * scores like 7.3 (thresholds are in (0, 1]) and a har route announced "confidences" above 1.
 */
function requireProbabilities(ctx: DetectorContext, kind: string, why: string): void {
  if (ctx.spec === undefined) return;
  const what = nonProbabilityOutputs(ctx.spec);
  if (what === null) return;
  const expected = `a detector for this model: "${kind}" ${why}, and model '${ctx.spec.name}' ends in ${what}; end the model in softmax, or use "threshold"`;
  throw new EdgeRnnError('GATEWAY_CONFIG', `${ctx.path}.kind must be ${expected}, got "${kind}"`, { field: `${ctx.path}.kind`, expected, got: kind });
}

/** The time base of a model with an audio front end (see kwsTimeBaseOf), else undefined. */
function audioTimeBase(spec: ModelSpec): { hopMs: number; frameMs: number; windows?: { hop: number } } | undefined {
  const fe = spec.input?.frontend as { kind?: unknown; windows?: { hop: number } } | undefined;
  if (fe?.kind !== 'logmel' && fe?.kind !== 'mfcc') return undefined;
  return { ...kwsTimeBaseOf(spec), ...(fe.windows ? { windows: fe.windows } : {}) };
}

/** `kws`: a keyword model trained here carries its tuned settings; any other model needs them all in the route. */
const kwsJobDetector: DetectorFactory = (cfg, ctx) => {
  // A model without keyword settings (one trained by `edgernn train`): the route must give them
  // all. The detector's own message said "no model spec was given to kwsDetectorFactory".
  if (ctx.spec !== undefined && ctx.spec.extra?.[KWS_EXTRA_KEY] === undefined) {
    // An audio model's time base is its own: one decision per frame, or per window of a model
    // trained on clips (`edgernn train` on a WAV folder: every 100 ms). A route's "hopMs": 10 (the
    // front end's hop) on such a model counted windowMs and refractoryMs in 10 ms steps of 100 ms
    // decisions: a 300 ms smoothing window averaged 3 s, and no keyword ever fired.
    const base = audioTimeBase(ctx.spec);
    if (base !== undefined) {
      for (const f of ['hopMs', 'frameMs'] as const) {
        const got = (cfg as unknown as Record<string, unknown>)[f];
        if (got !== undefined && got !== base[f]) {
          const expected = `${base[f]} (the time base of model '${ctx.spec.name}', from its front end${f === 'hopMs' && base.windows ? `: a window every ${base.windows.hop} frames` : ''}) or absent`;
          throw new EdgeRnnError('GATEWAY_CONFIG', `${ctx.path}.${f} must be ${expected}, got ${JSON.stringify(got)}`, { field: `${ctx.path}.${f}`, expected, got });
        }
      }
      cfg = { ...cfg, hopMs: base.hopMs, frameMs: base.frameMs } as DetectorConfig;
    }
    const required = [...(base === undefined ? ['hopMs'] : []), 'windowMs', 'refractoryMs', 'rearm', 'thresholds'];
    const missing = required.filter((f) => (cfg as unknown as Record<string, unknown>)[f] === undefined);
    if (missing.length > 0) {
      const expected = `given in the route: model '${ctx.spec.name}' has no keyword settings (extra.${KWS_EXTRA_KEY}, written by edgernn train-kws), so a kws route needs ${required.join(', ')}; or use "smoothing" (posterior smoothing) or "threshold" on this model`;
      throw new EdgeRnnError('GATEWAY_CONFIG', `${ctx.path}.${missing[0]} must be ${expected}; missing: ${missing.join(', ')}`, { field: `${ctx.path}.${missing[0]}`, expected, got: undefined });
    }
  }
  let factory: DetectorFactory;
  try {
    factory = kwsDetectorFactory(ctx.spec?.extra?.[KWS_EXTRA_KEY] !== undefined ? ctx.spec : undefined);
  } catch (e) {
    // The model has an extra.kws the detector cannot read (no detector settings, no audio front end):
    // a config error of this route, at Gateway.create, not a bare DETECTOR_OPTION.
    if (!isEdgeRnnError(e, 'DETECTOR_OPTION')) throw e;
    throw new EdgeRnnError('GATEWAY_CONFIG', `${ctx.path}: a kws detector takes its settings from the model's manifest: ${e.message}`, { field: ctx.path, manifestField: e.details.field });
  }
  const detector = factory(cfg, ctx);
  requireProbabilities(ctx, 'kws', 'thresholds smoothed posteriors (in (0, 1])');
  return detector;
};

export const JOB_DETECTORS: Readonly<Record<string, DetectorFactory>> = {
  kws: kwsJobDetector,
  anomaly: (cfg, ctx) => anomalyDetectorFactory(ctx.spec)(cfg, ctx),
  [HAR_DETECTOR_KIND]: (cfg, ctx) => {
    // "majority" votes over argmaxes, which logits give as well; "hmm" and "none" read posteriors.
    const detector = createHarDetector(cfg, ctx);
    if ((cfg as { smoothing?: unknown }).smoothing !== 'majority') requireProbabilities(ctx, HAR_DETECTOR_KIND, 'with smoothing "hmm" or "none" reads class posteriors');
    return detector;
  },
};
