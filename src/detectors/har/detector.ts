/**
 * The activity-recognition detector for the MQTT gateway (src/gateway/detectors.ts interface):
 * one step per window (the gateway calls it on each window's last frame, FRAME_DETECT), the
 * model's softmax output smoothed by a LabelSmoother, and an event each time the announced
 * activity changes. Browser-safe (only types come from the gateway).
 *
 * Config (route `detector` object, validated here at Gateway.create()):
 *   { "kind": "har", "smoothing": "hmm" | "majority" | "none", "window": 5, "stay": 0.9,
 *     "temperature": 1, "floor": 1e-4, "prior": [...], "minSteps": 1, "minConfidence": 0,
 *     "background": ["label", ...] }
 *
 * Announcing: the smoothed label must differ from the announced one for `minSteps` consecutive
 * windows with confidence >= `minConfidence`; then it becomes the announced activity and an
 * event {label, score: confidence} fires, unless the label is in `background` (announced
 * silently: e.g. an idle class that should not alert).
 */
import { EdgeRnnError } from '../../errors.js';
import type { DetectorConfig } from '../../gateway/config.js';
import type { Detector, DetectorContext, DetectorEvent } from '../../gateway/detectors.js';
import { LabelSmoother, SMOOTHING_DEFAULTS, SMOOTHING_KINDS, type SmoothingKind, type SmootherState, type SmoothingOptions } from './smoothing.js';

/** The `kind` this detector registers under. */
export const HAR_DETECTOR_KIND = 'har';

export interface HarDetectorOptions {
  /** How window posteriors are smoothed (config fields smoothing → kind, window, stay, temperature, floor, prior). */
  smoothing: SmoothingOptions;
  /** Windows a new smoothed label must persist before it is announced (>= 1; default 1). */
  minSteps: number;
  /** Smallest smoother confidence that may announce a change, in [0, 1] (default 0). */
  minConfidence: number;
  /** Labels announced without an event (default none). */
  background: string[];
}

export const HAR_DETECTOR_DEFAULTS: Readonly<HarDetectorOptions> = { smoothing: { ...SMOOTHING_DEFAULTS }, minSteps: 1, minConfidence: 0, background: [] };

const FIELDS = ['kind', 'smoothing', 'window', 'stay', 'temperature', 'floor', 'prior', 'minSteps', 'minConfidence', 'background'] as const;

function configError(path: string, field: string, expected: string, got: unknown): EdgeRnnError {
  // NaN and ±Infinity as themselves: JSON prints them as null.
  const shown = String(JSON.stringify(got, (_k, x: unknown) => (typeof x === 'number' && !Number.isFinite(x) ? `\u0000${x}\u0000` : x))).replace(/"\\u0000(.*?)\\u0000"/g, '$1');
  return new EdgeRnnError('GATEWAY_CONFIG', `${path}.${field} must be ${expected}, got ${shown}`, { field: `${path}.${field}`, expected, got });
}

/** Reads and checks a route's detector config against the model (labels, output size). */
export function harDetectorOptions(cfg: DetectorConfig, ctx: DetectorContext): HarDetectorOptions {
  const o = cfg as Record<string, unknown>;
  const path = ctx.path;
  for (const k of Object.keys(o)) if (!(FIELDS as readonly string[]).includes(k)) throw configError(path, k, `absent (har detector fields: ${FIELDS.join(', ')})`, o[k]);
  if (ctx.outputSize < 2) throw configError(path, 'kind', `used with a classifier ("har" needs at least 2 outputs, this model has ${ctx.outputSize})`, o.kind);
  // Only an absent field takes the default: null is refused like any other wrong value (it silently meant the default).
  const num = (k: (typeof FIELDS)[number], d: number): number => {
    const v = o[k] === undefined ? d : o[k];
    if (typeof v !== 'number' || !Number.isFinite(v)) throw configError(path, k, 'a number', v);
    return v;
  };
  const smoothing = (o.smoothing === undefined ? SMOOTHING_DEFAULTS.kind : o.smoothing) as SmoothingKind;
  if (!(SMOOTHING_KINDS as readonly string[]).includes(smoothing)) throw configError(path, 'smoothing', `one of ${SMOOTHING_KINDS.join(', ')}`, o.smoothing);
  const minSteps = num('minSteps', HAR_DETECTOR_DEFAULTS.minSteps);
  if (!(Number.isInteger(minSteps) && minSteps >= 1 && minSteps <= 100000)) throw configError(path, 'minSteps', 'an integer in [1, 100000]', minSteps);
  const minConfidence = num('minConfidence', HAR_DETECTOR_DEFAULTS.minConfidence);
  if (!(minConfidence >= 0 && minConfidence <= 1)) throw configError(path, 'minConfidence', 'a number in [0, 1]', minConfidence);
  const background = o.background === undefined ? [] : o.background;
  if (!Array.isArray(background) || !background.every((b) => typeof b === 'string' && ctx.labels.includes(b))) {
    throw configError(path, 'background', `a list of the model's labels (${ctx.labels.join(', ')})`, o.background);
  }
  const sm: SmoothingOptions = {
    kind: smoothing,
    window: num('window', SMOOTHING_DEFAULTS.window),
    stay: num('stay', SMOOTHING_DEFAULTS.stay),
    temperature: num('temperature', SMOOTHING_DEFAULTS.temperature),
    floor: num('floor', SMOOTHING_DEFAULTS.floor),
  };
  if (o.prior !== undefined) sm.prior = o.prior as number[];
  // The smoother checks ranges (window, stay, prior length); restate its message with the config path.
  try {
    new LabelSmoother(ctx.outputSize, sm);
  } catch (e) {
    if (e instanceof EdgeRnnError) {
      const field = String(e.details.field ?? 'smoothing');
      throw configError(path, field === 'kind' ? 'smoothing' : field, String(e.details.expected), e.details.got);
    }
    throw e;
  }
  return { smoothing: sm, minSteps, minConfidence, background: background as string[] };
}

/** State saved with a device stream (JSON). */
interface HarDetectorState {
  smoother: SmootherState;
  announced: number;
  pending: number;
  pendingSteps: number;
}

/** The gateway detector factory: `Gateway.create({ config, detectors: { har: createHarDetector } })`. */
export function createHarDetector(cfg: DetectorConfig, ctx: DetectorContext): Detector {
  const o = harDetectorOptions(cfg, ctx);
  const C = ctx.outputSize;
  const smoother = new LabelSmoother(C, o.smoothing);
  const names = Array.from({ length: C }, (_, j) => ctx.labels[j] ?? `output${j}`);
  const quiet = new Uint8Array(C);
  for (const b of o.background) quiet[names.indexOf(b)] = 1;
  let announced = -1;
  let pending = -1;
  let pendingSteps = 0;
  return {
    get lastScore() {
      return smoother.confidence;
    },
    step(output: Float32Array): DetectorEvent | null {
      const label = smoother.push(output);
      const conf = smoother.confidence;
      if (label === announced) {
        pending = -1;
        pendingSteps = 0;
        return null;
      }
      // Only windows at or above minConfidence count toward minSteps, and a weaker one breaks
      // the run (it counted, so two weak windows and a confident one announced at minSteps 3).
      if (conf < o.minConfidence) {
        pending = -1;
        pendingSteps = 0;
        return null;
      }
      pendingSteps = label === pending ? pendingSteps + 1 : 1;
      pending = label;
      if (pendingSteps < o.minSteps) return null;
      announced = label;
      pending = -1;
      pendingSteps = 0;
      return quiet[label] ? null : { label: names[label]!, score: conf };
    },
    reset() {
      smoother.reset();
      announced = -1;
      pending = -1;
      pendingSteps = 0;
    },
    exportState(): HarDetectorState {
      return { smoother: smoother.exportState(), announced, pending, pendingSteps };
    },
    importState(s: unknown) {
      const st = s as Partial<HarDetectorState> | null;
      const shown = (v: unknown): string => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : JSON.stringify(v));
      const bad = (field: string, expected: string, got: unknown): EdgeRnnError =>
        new EdgeRnnError('GATEWAY_STATE', `har detector: cannot import state: ${field} must be ${expected}, got ${shown(got)}`, { field, expected, got });
      if (typeof st !== 'object' || st === null) throw new EdgeRnnError('GATEWAY_STATE', 'har detector: cannot import state: expected an object {smoother, announced, pending, pendingSteps} from exportState()');
      const okLabel = (v: unknown): v is number => Number.isInteger(v) && (v as number) >= -1 && (v as number) < C;
      if (!okLabel(st.announced)) throw bad('announced', `an integer in [-1, ${C})`, st.announced);
      if (!okLabel(st.pending)) throw bad('pending', `an integer in [-1, ${C})`, st.pending);
      // step() keeps a pending run below minSteps (at minSteps it is announced) and only for a label
      // other than the announced one: a run of minSteps or more (a state of a detector with a larger
      // minSteps, or a corrupt one) announced on the next window, and a count without a label was taken.
      if (st.pending === -1) {
        if (st.pendingSteps !== 0) throw bad('pendingSteps', '0 when no label is pending (pending -1)', st.pendingSteps);
      } else {
        if (st.pending === st.announced) throw bad('pending', `a label other than announced (${st.announced})`, st.pending);
        if (o.minSteps === 1) throw bad('pending', '-1 (with minSteps 1 a change is announced at once, nothing stays pending)', st.pending);
        if (!(Number.isInteger(st.pendingSteps) && st.pendingSteps! >= 1 && st.pendingSteps! < o.minSteps)) {
          throw bad('pendingSteps', `an integer in [1, ${o.minSteps - 1}] (below minSteps ${o.minSteps}) while a label is pending`, st.pendingSteps);
        }
      }
      smoother.importState(st.smoother);
      announced = st.announced;
      pending = st.pending;
      pendingSteps = st.pendingSteps!;
    },
  };
}

/** Detector kinds to merge into GatewayOptions.detectors. */
export const HAR_DETECTORS = { [HAR_DETECTOR_KIND]: createHarDetector } as const;
