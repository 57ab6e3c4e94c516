/**
 * The forecast anomaly detector as a gateway detector kind, and the `series` front end as a
 * gateway front end (`src/gateway/`'s `DetectorFactory` and `FrontEndFactory`). Imports from
 * src/gateway are types, the FRAME_DETECT constant and forecastTargets (its frontend.ts and
 * detectors.ts touch nothing Node-specific), so this file stays browser-safe.
 *
 *   const spec = decodeModel(fs.readFileSync('models/anomaly.ern')).spec;
 *   await Gateway.create({
 *     config,                                   // route: "detector": {"kind": "anomaly"}
 *     detectors: { anomaly: anomalyDetectorFactory(spec) },
 *     frontends: { series: seriesGatewayFrontEnd },
 *   });
 *
 * Config fields (all optional; the model's manifest `extra.anomalyDetector` supplies defaults,
 * then FORECAST_ANOMALY_DEFAULTS): errorGain, channel, onThreshold, offThreshold, minHoldSteps,
 * learningPeriod, estimationSamples, averagingWindow, halfLifeRecords. Errors are GATEWAY_CONFIG
 * naming the field (`routes[0].detector.onThreshold`).
 */
import { EdgeRnnError, isEdgeRnnError } from '../../errors.js';
import type { DetectorConfig } from '../../gateway/config.js';
import { forecastTargets, type Detector, type DetectorContext, type DetectorFactory } from '../../gateway/detectors.js';
import { asGatewayDetector } from '../gateway-adapter.js';
import { FRAME_DETECT, type FrontEnd, type FrontEndContext } from '../../gateway/frontend.js';
import type { FrontendSpec, ModelSpec } from '../../model/spec.js';
import { validateSeriesSpec, type SeriesFrontendSpec } from '../../features/series.js';
import { checkForecastAnomalyOptions, FORECAST_ANOMALY_DEFAULTS, ForecastAnomalyDetector, type ForecastAnomalyOptions } from './streaming.js';

/** Key of the detector defaults in a model's manifest `extra`. */
export const ANOMALY_EXTRA_KEY = 'anomalyDetector';

const LIKELIHOOD_FIELDS = ['learningPeriod', 'estimationSamples', 'averagingWindow', 'halfLifeRecords'] as const;
const ALERT_FIELDS = ['onThreshold', 'offThreshold', 'minHoldSteps'] as const;
const CONFIG_FIELDS = ['kind', 'errorGain', 'channel', ...LIKELIHOOD_FIELDS, ...ALERT_FIELDS] as const;

/** Flat config (route config or manifest extra) → detector options over the defaults. */
export function forecastAnomalyOptionsOf(flat: Record<string, unknown>, base: ForecastAnomalyOptions = FORECAST_ANOMALY_DEFAULTS): ForecastAnomalyOptions {
  // A misspelt setting, or the constructor's nested form ({ alert: { onThreshold } }), was silently
  // dropped for the default. `kind` is allowed: route configs carry it.
  const fields = CONFIG_FIELDS.slice(1).join(', ');
  if (typeof flat !== 'object' || flat === null || Array.isArray(flat)) {
    throw new EdgeRnnError('DETECTOR_OPTION', `forecastAnomalyOptionsOf(): settings must be an object {${fields}} (flat, each optional), got ${shown(flat)}`, { field: 'settings', expected: fields, got: flat });
  }
  for (const k of Object.keys(flat)) {
    if ((CONFIG_FIELDS as readonly string[]).includes(k)) continue;
    const hint = k === 'likelihood' || k === 'alert' ? `; it reads flat settings ({ onThreshold: 0.6 }), new ForecastAnomalyDetector() takes { ${k}: {...} }` : '';
    throw new EdgeRnnError('DETECTOR_OPTION', `forecastAnomalyOptionsOf(): ${k} is not a setting (${fields})${hint}`, { field: k, expected: fields, got: k });
  }
  const o: ForecastAnomalyOptions = { ...base, likelihood: { ...base.likelihood }, alert: { ...base.alert } };
  if (flat.errorGain !== undefined) o.errorGain = flat.errorGain as number;
  if (flat.channel !== undefined) o.channel = flat.channel as number;
  for (const f of LIKELIHOOD_FIELDS) if (flat[f] !== undefined) o.likelihood[f] = flat[f] as number;
  for (const f of ALERT_FIELDS) if (flat[f] !== undefined) o.alert[f] = flat[f] as number;
  return o;
}

/** Detector defaults stored in a model (`extra.anomalyDetector`), flat; {} when absent. */
export function anomalyDetectorConfigOf(spec: Pick<ModelSpec, 'extra'>): Record<string, unknown> {
  const v = spec.extra?.[ANOMALY_EXTRA_KEY];
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

/** A value as shown in messages: JSON, but NaN and ±Infinity as themselves (JSON prints them as null). */
function shown(v: unknown): string {
  return typeof v === 'number' && !Number.isFinite(v) ? String(v) : String(JSON.stringify(v));
}

function configError(ctx: DetectorContext, field: string, message: string, details: Record<string, unknown> = {}): EdgeRnnError {
  const where = `${ctx.path}${field ? `.${field}` : ''}`;
  return new EdgeRnnError('GATEWAY_CONFIG', `${where}${field ? ' ' : ': '}${message}`, { field: where, ...details });
}

/**
 * Defaults for a model whose frames are raw values (its front end is not `series`, whose frames
 * are in running standard deviations) and whose manifest has no detector settings: a model
 * trained with `edgernn train` on a CSV. The shipped defaults were tuned on NAB with that front
 * end: errorGain 8 is 8 running stds, and raw scores averaged over 10 records dilute a spike of
 * one record tenfold; on a user's forecaster (errors of about 1 °C, +8 °C spikes) no alert ever
 * fired (highest score 0.24). Here errorGain is 8 training stds of the channel (the trainer's
 * extra.normalization.outputStd; 8 units without it), each record is scored on its own, and
 * the alert is raised at 0.8 (a tail probability of 1e-8, not 1e-5: scored one by one, the
 * ordinary errors of 1,000 records reached 1e-5 about once). Measured 2026-11-27 on a GRU 16
 * forecaster of temperature and vibration (2,000 rows to train; 1,000 to test with +8 °C spikes of
 * 1, 3 and 10 records at two places, with and without a drift past the training range; 3,000 clean
 * rows): both spikes found in every case, no other alert; the shipped defaults found the 10-record
 * spikes only.
 */
function rawUnitsDefaults(spec: AnomalyModelSpec | undefined, base: ForecastAnomalyOptions, channel: number): ForecastAnomalyOptions {
  if (spec === undefined || spec.extra?.[ANOMALY_EXTRA_KEY] !== undefined || spec.input === undefined || spec.input.frontend.kind === 'series') return base;
  const std = (spec.extra?.normalization as { outputStd?: unknown } | undefined)?.outputStd;
  const s = Array.isArray(std) ? std[channel] : undefined;
  const errorGain = typeof s === 'number' && Number.isFinite(s) && s > 0 ? base.errorGain * s : base.errorGain;
  return { ...base, errorGain, likelihood: { ...base.likelihood, averagingWindow: 1 }, alert: { ...base.alert, onThreshold: 0.8 } };
}

/** What the factory reads of a model: its name, manifest extras and (when given) its front end. */
export type AnomalyModelSpec = Pick<ModelSpec, 'name' | 'extra'> & { input?: Pick<ModelSpec['input'], 'frontend'> };

/**
 * A DetectorFactory for `{"kind": "anomaly", ...}` routes on a forecasting model (outputs predict
 * the next input frame). With a model spec, its manifest supplies the defaults. A model trained
 * with `edgernn train --target-columns` is scored on those columns (output k against its target
 * column); one trained with `--horizon` above 1 is refused (the threshold detector scores it).
 */
export function anomalyDetectorFactory(spec?: AnomalyModelSpec): DetectorFactory {
  return (cfg: DetectorConfig, ctx: DetectorContext): Detector => {
    const c = cfg as unknown as Record<string, unknown>;
    // The manifest's settings: a section that is not an object was dropped for the defaults, and an
    // unknown or non-numeric field in it was ignored or blamed on the route.
    const manifest = spec?.extra?.[ANOMALY_EXTRA_KEY];
    if (spec && manifest !== undefined) {
      const where = `model '${spec.name}': extra.${ANOMALY_EXTRA_KEY}`;
      if (typeof manifest !== 'object' || manifest === null || Array.isArray(manifest)) throw configError(ctx, '', `${where} must be an object {${CONFIG_FIELDS.slice(1).join(', ')}}, got ${shown(manifest)}`);
      for (const [k, v] of Object.entries(manifest)) {
        if (k === 'kind' || !(CONFIG_FIELDS as readonly string[]).includes(k)) throw configError(ctx, '', `${where}.${k} is not a field of an anomaly detector (it takes ${CONFIG_FIELDS.slice(1).join(', ')})`);
        if (typeof v !== 'number') throw configError(ctx, '', `${where}.${k} must be a number, got ${shown(v)}`);
      }
    }
    // Read after the check above, so a bad manifest is a GATEWAY_CONFIG naming the route.
    const base = spec ? forecastAnomalyOptionsOf(anomalyDetectorConfigOf(spec)) : FORECAST_ANOMALY_DEFAULTS;
    for (const k of Object.keys(c)) {
      if (!(CONFIG_FIELDS as readonly string[]).includes(k)) throw configError(ctx, k, `is not a field of an anomaly detector (it takes ${CONFIG_FIELDS.join(', ')})`);
    }
    for (const k of CONFIG_FIELDS) {
      if (k !== 'kind' && c[k] !== undefined && typeof c[k] !== 'number') throw configError(ctx, k, `must be a number, got ${shown(c[k])}`);
    }
    const channel = typeof c.channel === 'number' ? c.channel : base.channel;
    const o = forecastAnomalyOptionsOf(c, rawUnitsDefaults(spec, base, channel));
    // What the outputs predict (extra.data of a CSV-trained model): output k, input inputOf[k].
    const { horizon, inputOf } = forecastTargets(ctx, (why) => configError(ctx, '', `an anomaly detector needs a forecasting model whose outputs predict its next input: ${why}`));
    if ((ctx.spec?.input?.frontend as { windows?: unknown } | undefined)?.windows !== undefined) {
      throw configError(ctx, '', `an anomaly detector needs every frame's forecast, and model '${ctx.spec?.name ?? ''}' is served in windows (input.frontend.windows: the detector sees the last output of each)`);
    }
    if (horizon !== 1) {
      throw configError(ctx, '', `an anomaly detector scores next-frame forecasts, and model '${spec?.name ?? ''}' forecasts ${horizon} frames ahead (extra.data.horizon): use {"kind": "threshold", "score": "forecastError"}, which compares each forecast with the frame it predicted`);
    }
    if (o.channel >= ctx.outputSize) throw configError(ctx, 'channel', `must be < ${ctx.outputSize} (the model's ${ctx.outputSize === ctx.inputSize ? 'input' : 'output'} size), got ${o.channel}`);
    // AlertHysteresis names no field ("need finite offThreshold <= onThreshold, got off 0.3, on -1"):
    // its three fields are checked here first, each by name, with what was expected.
    const a = o.alert;
    const bad = (f: string, expected: string, got: unknown) => configError(ctx, f, `must be ${expected}, got ${shown(got)}`, { expected, got });
    if (!(a.onThreshold > 0 && a.onThreshold <= 1)) throw bad('onThreshold', 'a number in (0, 1] (the score is in [0, 1])', a.onThreshold);
    if (!(a.offThreshold > 0 && a.offThreshold <= a.onThreshold)) throw bad('offThreshold', `a number in (0, onThreshold = ${a.onThreshold}] (at 0 an alert never clears)`, a.offThreshold);
    if (!(Number.isInteger(a.minHoldSteps) && a.minHoldSteps >= 0)) throw bad('minHoldSteps', 'an integer >= 0', a.minHoldSteps);
    try {
      checkForecastAnomalyOptions(o);
    } catch (e) {
      if (isEdgeRnnError(e, 'DETECTOR_OPTION')) {
        // The message repeated the field ("routes[0].detector.halfLifeRecords halfLifeRecords must be ..."):
        // say it once, from the error's details.
        const field = String(e.details.field ?? '').replace(/^.*\./, '');
        if (field !== '' && e.details.expected !== undefined) throw bad(field, String(e.details.expected), e.details.got);
        throw configError(ctx, '', e.message.replace(/^[^:]*: /, ''));
      }
      throw e;
    }
    const detector = asGatewayDetector(new ForecastAnomalyDetector(o));
    if (inputOf.every((i, k) => i === k) && inputOf.length === ctx.inputSize) return detector;
    // Target columns: the detector sees, for output k, the input column it forecasts.
    const targets = new Float32Array(inputOf.length);
    const step = detector.step;
    detector.step = (output, input) => {
      for (let k = 0; k < inputOf.length; k++) targets[k] = input[inputOf[k]!]!;
      return step(output, targets);
    };
    return detector;
  };
}

/**
 * The `series` front end (src/features/series.ts) as a gateway FrontEnd: one frame per sample,
 * with its online-normalization state in exportState() so an evicted or handed-off stream
 * continues exactly (a restarted running mean/std would make the next predictions look
 * anomalous). The built-in `series` front end (`frontEndFromStreaming` over SeriesFrontend, what
 * `edgernn gateway` and `edgernn replay` use) now carries that state too.
 *
 * Per channel c, the same arithmetic as SeriesFrontend, in the same order (tested bit for bit):
 *   z = (x - shift[c]) · gain[c];  y = t = 0 ? 0 : (z - m) / √(v + ε)
 *   w = max(α, 1/(t + 1));  d = z - m;  m += w·d;  v = (1 - w)(v + w·d²);  y clipped to ±clip
 * State bytes: float64 [t, m[0..C), v[0..C)].
 */
export function seriesGatewayFrontEnd(spec: FrontendSpec, ctx: FrontEndContext): FrontEnd {
  let s: SeriesFrontendSpec;
  try {
    s = validateSeriesSpec(spec);
  } catch (e) {
    if (isEdgeRnnError(e, 'FRONTEND_SPEC')) throw new EdgeRnnError('GATEWAY_CONFIG', `${ctx.path}.model: ${e.message}`, { field: `${ctx.path}.model` });
    throw e;
  }
  const C = s.channels;
  if (ctx.channels !== 0 && ctx.channels !== C) {
    throw new EdgeRnnError('GATEWAY_CONFIG', `${ctx.path}.channels must be ${C} (the model's series front end), got ${ctx.channels}`, { field: `${ctx.path}.channels`, expected: C, got: ctx.channels });
  }
  if (ctx.inputSize !== C) throw new EdgeRnnError('GATEWAY_CONFIG', `${ctx.path}: the series front end makes ${C}-value frames, the model needs ${ctx.inputSize}`, { field: `${ctx.path}.model` });
  const shift = new Float64Array(C);
  const gain = new Float64Array(C).fill(1);
  if (s.scaling.kind === 'standard') {
    for (let c = 0; c < C; c++) {
      shift[c] = s.scaling.mean[c]!;
      gain[c] = 1 / s.scaling.std[c]!;
    }
  } else if (s.scaling.kind === 'minmax') {
    for (let c = 0; c < C; c++) {
      shift[c] = s.scaling.min[c]!;
      gain[c] = 1 / (s.scaling.max[c]! - s.scaling.min[c]!);
    }
  }
  const ad = s.adaptive;
  const clip = s.clip;
  // state[0] = t, state[1 + c] = m[c], state[1 + C + c] = v[c]
  const state = new Float64Array(1 + 2 * C);
  const frame = new Float32Array(C);
  return {
    kind: 'series',
    channels: C,
    frameSize: C,
    sampleRateHz: s.rateHz ?? ctx.rateHz,
    hopSamples: 1,
    framesPerWindow: 1,
    push(samples, n, sink) {
      for (let i = 0; i < n; i++) {
        const t = state[0]!;
        for (let c = 0; c < C; c++) {
          const z = (samples[i * C + c]! - shift[c]!) * gain[c]!;
          let y = z;
          if (ad !== undefined) {
            const m = state[1 + c]!;
            const v = state[1 + C + c]!;
            y = t === 0 ? 0 : (z - m) / Math.sqrt(v + ad.epsilon);
            const w = Math.max(ad.alpha, 1 / (t + 1));
            const d = z - m;
            state[1 + c] = m + w * d;
            state[1 + C + c] = (1 - w) * (v + w * d * d);
          }
          if (clip !== undefined) y = y > clip ? clip : y < -clip ? -clip : y;
          frame[c] = y;
        }
        state[0] = t + 1;
        sink(frame, i, FRAME_DETECT);
      }
    },
    reset() {
      state.fill(0);
    },
    exportState() {
      return new Uint8Array(state.slice().buffer);
    },
    importState(bytes) {
      if (bytes.length !== state.byteLength) {
        throw new EdgeRnnError('GATEWAY_STATE', `series front end: state must be ${state.byteLength} bytes (${C} channels), got ${bytes.length}`, { expected: state.byteLength, got: bytes.length });
      }
      // A copy of exactly these bytes: a Node Buffer's slice() is a view of its whole (pooled) memory.
      const restored = new Float64Array(Uint8Array.from(bytes).buffer);
      if (!restored.every(Number.isFinite) || !(restored[0]! >= 0) || !Number.isInteger(restored[0]!)) {
        throw new EdgeRnnError('GATEWAY_STATE', 'series front end: state holds a negative or fractional sample count or non-finite statistics');
      }
      for (let c = 0; c < C; c++) {
        if (!(restored[1 + C + c]! >= 0)) throw new EdgeRnnError('GATEWAY_STATE', `series front end: variance of channel ${c} is negative in the saved state`);
      }
      state.set(restored);
    },
  };
}
