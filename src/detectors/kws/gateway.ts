/**
 * The keyword detector as a gateway detector kind (`src/gateway/detectors.ts`'s `Detector` and
 * `DetectorFactory`; type-only imports, so this file stays browser-safe).
 *
 * The gateway's DetectorContext carries the model's labels and sizes but not its manifest, so the
 * tuned settings come in one of two ways:
 *
 *   // 1. from the model file (recommended): the factory is bound to the model's spec
 *   const spec = decodeModel(fs.readFileSync('models/kws.ern')).spec;
 *   await Gateway.create({ config, detectors: { kws: kwsDetectorFactory(spec) } });
 *   // route config: "detector": {"kind": "kws"}  (fields given there override the manifest)
 *
 *   // 2. everything in the route config: kwsDetectorFactory() with
 *   // "detector": {"kind": "kws", "hopMs": 10, "frameMs": 25, "windowMs": 300, "refractoryMs": 1000,
 *   //              "rearm": 1, "thresholds": {"yes": 0.8, ...}}
 *
 * Config fields: windowMs, refractoryMs, rearm, thresholds (all or some keywords), background,
 * hopMs, frameMs. Errors are GATEWAY_CONFIG naming the field (`routes[0].detector.thresholds.yes`).
 */
import { EdgeRnnError, isEdgeRnnError } from '../../errors.js';
import type { DetectorConfig } from '../../gateway/config.js';
import type { Detector, DetectorContext, DetectorFactory } from '../../gateway/detectors.js';
import { asGatewayDetector } from '../gateway-adapter.js';
import type { ModelSpec } from '../../model/spec.js';
import { checkKwsDetectorOptions, KwsDetector, type KwsDetectorConfig, type KwsDetectorOptions } from './detector.js';
import { kwsDetectorConfigOf, kwsTimeBaseOf, manifestThresholdsFor } from './model.js';

const CONFIG_FIELDS = ['kind', 'windowMs', 'refractoryMs', 'rearm', 'thresholds', 'background', 'hopMs', 'frameMs'] as const;

/** A value as shown in messages: JSON, but NaN and ±Infinity as themselves (JSON prints them as null). */
function shown(v: unknown): string {
  return String(JSON.stringify(v, (_k, x: unknown) => (typeof x === 'number' && !Number.isFinite(x) ? `\u0000${x}\u0000` : x))).replace(/"\\u0000(.*?)\\u0000"/g, '$1');
}

function configError(ctx: DetectorContext, field: string, message: string, details: Record<string, unknown> = {}): EdgeRnnError {
  const where = `${ctx.path}${field ? `.${field}` : ''}`;
  return new EdgeRnnError('GATEWAY_CONFIG', `${where}${field ? ' ' : ': '}${message}`, { field: where, ...details });
}

/**
 * A DetectorFactory for `{"kind": "kws", ...}` routes. With a model spec, its manifest supplies
 * every setting the route config leaves out; without one, the route config must give them all.
 */
export function kwsDetectorFactory(spec?: Pick<ModelSpec, 'name' | 'labels' | 'input' | 'extra'>): DetectorFactory {
  const base: Partial<KwsDetectorOptions> = spec ? { ...kwsDetectorConfigOf(spec), ...kwsTimeBaseOf(spec) } : {};
  return (cfg: DetectorConfig, ctx: DetectorContext): Detector => {
    const c = cfg as unknown as Record<string, unknown>;
    for (const k of Object.keys(c)) {
      if (!(CONFIG_FIELDS as readonly string[]).includes(k)) throw configError(ctx, k, `is not a field of a kws detector (it takes ${CONFIG_FIELDS.join(', ')})`);
    }
    if (spec && spec.labels.join('\u0000') !== ctx.labels.join('\u0000')) {
      throw configError(ctx, '', `the detector was made for model '${spec.name}' (labels ${spec.labels.join(', ')}), this route's model has labels ${ctx.labels.join(', ')}`);
    }
    if (ctx.labels.length !== ctx.outputSize) throw configError(ctx, '', `a kws detector needs one label per model output: ${ctx.outputSize} outputs, ${ctx.labels.length} labels`);
    // null is not "absent": a "background": null silently meant the default background.
    if (c.background === null) throw configError(ctx, 'background', 'must be a list of labels (leave it out for the default: every label starting with _), got null', { expected: 'a list of labels', got: null });
    // The time base is the model's (its front end's hop, or its windows'): a route's other hopMs or
    // frameMs silently rescaled the smoothing window, the refractory period and every event time.
    if (spec) {
      for (const f of ['hopMs', 'frameMs'] as const) {
        if (c[f] !== undefined && c[f] !== base[f]) {
          throw configError(ctx, f, `must be ${base[f]} (the time base of model '${spec.name}', from its front end) or absent, got ${shown(c[f])}`, { expected: base[f], got: c[f] });
        }
      }
    }
    const { kind: _kind, thresholds, ...rest } = c;
    const o = { ...base, ...rest, labels: ctx.labels } as KwsDetectorOptions;
    // A route that adds a keyword to `background` silences it: the manifest's threshold for it goes.
    if (base.thresholds) o.thresholds = manifestThresholdsFor(base.thresholds, ctx.labels, o.background);
    if (thresholds !== undefined) {
      if (typeof thresholds !== 'object' || thresholds === null || Array.isArray(thresholds)) throw configError(ctx, 'thresholds', `must be an object {keyword: threshold}, got ${shown(thresholds)}`);
      o.thresholds = { ...o.thresholds, ...(thresholds as Record<string, number>) };
    }
    for (const f of ['hopMs', 'windowMs', 'refractoryMs', 'rearm', 'thresholds'] as const) {
      if (o[f] === undefined) throw configError(ctx, f, `is required (not in the route config${spec ? ` nor in model '${spec.name}'` : ', and no model spec was given to kwsDetectorFactory'})`);
    }
    try {
      checkKwsDetectorOptions(o);
    } catch (e) {
      if (isEdgeRnnError(e, 'DETECTOR_OPTION')) {
        const field = String(e.details.field ?? '');
        throw configError(ctx, field, `must be ${String(e.details.expected)}, got ${shown(e.details.got)}`, { expected: e.details.expected, got: e.details.got });
      }
      throw e;
    }
    return asGatewayDetector(new KwsDetector(o));
  };
}

export type { KwsDetectorConfig };
