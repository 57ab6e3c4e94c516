/**
 * The keyword detector of a keyword model: its settings come from the model manifest
 * (`extra.kws.detector`, written by the training job after tuning on validation data) and its
 * time base from the model's audio front end (`input.frontend.hopMs`, `frameMs`). Browser-safe.
 */
import { EdgeRnnError } from '../../errors.js';
import type { ModelSpec } from '../../model/spec.js';
import { checkKwsDetectorOptions, KwsDetector, type KwsDetectorConfig, type KwsDetectorOptions } from './detector.js';
import { checkObjectArgument } from '../../util/args.js';

/** Key of the keyword-spotting section in `ModelSpec.extra`. */
export const KWS_EXTRA_KEY = 'kws';

/** What the training job stores in `extra.kws` (metrics and provenance are free-form). */
export interface KwsManifestExtra {
  /** Tuned detector settings. */
  detector: KwsDetectorConfig;
  /** Labels that can fire, in output order. */
  keywords: string[];
  [field: string]: unknown;
}

function manifestError(spec: Pick<ModelSpec, 'name'>, field: string, expected: string, got: unknown): EdgeRnnError {
  return new EdgeRnnError('DETECTOR_OPTION', `model '${spec.name}': ${field} must be ${expected}, got ${JSON.stringify(got)}`, { field, expected, got });
}

/** The detector settings stored in a model's manifest; throws naming the field when absent or malformed. */
export function kwsDetectorConfigOf(spec: Pick<ModelSpec, 'name' | 'extra'>): KwsDetectorConfig {
  const kws = spec.extra?.[KWS_EXTRA_KEY] as Partial<KwsManifestExtra> | undefined;
  if (typeof kws !== 'object' || kws === null) throw manifestError(spec, `extra.${KWS_EXTRA_KEY}`, 'an object (a keyword model trained by quantize/jobs/kws)', kws);
  const d = kws.detector as Partial<KwsDetectorConfig> | undefined;
  if (typeof d !== 'object' || d === null) throw manifestError(spec, `extra.${KWS_EXTRA_KEY}.detector`, 'an object {windowMs, refractoryMs, rearm, thresholds}', d);
  for (const f of ['windowMs', 'refractoryMs', 'rearm'] as const) {
    if (typeof d[f] !== 'number') throw manifestError(spec, `extra.${KWS_EXTRA_KEY}.detector.${f}`, 'a number', d[f]);
  }
  if (typeof d.thresholds !== 'object' || d.thresholds === null) throw manifestError(spec, `extra.${KWS_EXTRA_KEY}.detector.thresholds`, 'an object {keyword: threshold}', d.thresholds);
  // A background that is not a list of labels was dropped, and the default (labels starting with _) used instead.
  if (d.background !== undefined && !(Array.isArray(d.background) && d.background.every((b) => typeof b === 'string'))) {
    throw manifestError(spec, `extra.${KWS_EXTRA_KEY}.detector.background`, 'a list of labels (or absent: every label starting with _)', d.background);
  }
  return {
    windowMs: d.windowMs!,
    refractoryMs: d.refractoryMs!,
    rearm: d.rearm!,
    thresholds: { ...d.thresholds },
    ...(Array.isArray(d.background) ? { background: [...d.background] } : {}),
  };
}

/**
 * The detector's time base for a model: one posterior per front-end hop (hopMs), whose frame
 * ends frameMs after it starts. With sliding windows (`input.frontend.windows`: the last F frames
 * every H, each from a reset state) one posterior per window: every H·hopMs, ending
 * (F − 1)·hopMs + frameMs after the window's first frame starts.
 */
export function kwsTimeBaseOf(spec: Pick<ModelSpec, 'name' | 'input'>): { hopMs: number; frameMs: number } {
  // A spec without input.frontend (hand-built) threw a bare TypeError reading its kind.
  const fe = (spec.input?.frontend ?? {}) as { kind?: unknown; hopMs?: unknown; frameMs?: unknown; windows?: { frames?: unknown; hop?: unknown } };
  if ((fe.kind !== 'logmel' && fe.kind !== 'mfcc') || typeof fe.hopMs !== 'number' || typeof fe.frameMs !== 'number') {
    throw manifestError(spec, 'input.frontend', 'an audio front end (kind logmel or mfcc with hopMs and frameMs)', spec.input?.frontend);
  }
  const w = fe.windows;
  if (w === undefined) return { hopMs: fe.hopMs, frameMs: fe.frameMs };
  const whole = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 1;
  if (typeof w !== 'object' || w === null || !whole(w.frames) || !whole(w.hop) || w.hop > w.frames) throw manifestError(spec, 'input.frontend.windows', 'an object {frames, hop} of whole numbers with 1 <= hop <= frames', w);
  return { hopMs: w.hop * fe.hopMs, frameMs: (w.frames - 1) * fe.hopMs + fe.frameMs };
}

/**
 * The manifest's thresholds without those of labels that are background in the options finally
 * used (`background` as given, else every label starting with '_'): an override may silence a
 * keyword by adding it to `background`, and the manifest's threshold for it must not then be
 * refused as a threshold for a non-keyword. Thresholds an override gives itself are not touched.
 */
export function manifestThresholdsFor(manifest: Readonly<Record<string, number>>, labels: readonly string[], background: unknown): Record<string, number> {
  const bg = Array.isArray(background) ? (background as unknown[]) : labels.filter((l) => l.startsWith('_'));
  return Object.fromEntries(Object.entries(manifest).filter(([k]) => !bg.includes(k)));
}

const OVERRIDE_FIELDS = ['windowMs', 'refractoryMs', 'rearm', 'thresholds', 'background'] as const;

/**
 * Full detector options for a model: manifest settings, overridden field by field. An override
 * that would not be used (a misspelt field, or a hopMs/frameMs other than the model's: overrides
 * read from a JSON file were silently dropped) is a DETECTOR_OPTION naming it, as the gateway's
 * route config refuses them.
 */
export function kwsDetectorOptionsOf(spec: Pick<ModelSpec, 'name' | 'labels' | 'input' | 'extra'>, overrides: Partial<KwsDetectorConfig> = {}): KwsDetectorOptions {
  const timeBase = kwsTimeBaseOf(spec);
  checkObjectArgument(overrides, 'kwsDetectorOptionsOf()', 'overrides {windowMs, refractoryMs, rearm, thresholds, background} (each optional)', []);
  for (const [k, v] of Object.entries(overrides)) {
    if (k === 'hopMs' || k === 'frameMs') {
      if (v !== timeBase[k]) throw manifestError(spec, `overrides.${k}`, `${timeBase[k]} (the model's time base, from its front end) or absent`, v);
    } else if (!(OVERRIDE_FIELDS as readonly string[]).includes(k)) {
      throw new EdgeRnnError('DETECTOR_OPTION', `model '${spec.name}': overrides.${k} is not a detector setting (${OVERRIDE_FIELDS.join(', ')})`, { field: `overrides.${k}`, expected: OVERRIDE_FIELDS, got: k });
    }
  }
  const o: KwsDetectorOptions = { ...kwsDetectorConfigOf(spec), ...overrides, labels: spec.labels, ...timeBase };
  o.thresholds = { ...manifestThresholdsFor(kwsDetectorConfigOf(spec).thresholds, spec.labels, o.background), ...overrides.thresholds };
  checkKwsDetectorOptions(o);
  return o;
}

/** A detector for one stream of a keyword model, with the model's tuned settings. */
export function createKwsDetectorForModel(spec: Pick<ModelSpec, 'name' | 'labels' | 'input' | 'extra'>, overrides: Partial<KwsDetectorConfig> = {}): KwsDetector {
  checkObjectArgument(spec, 'createKwsDetectorForModel()', "a model's spec (model.spec)", ['labels', 'input']);
  return new KwsDetector(kwsDetectorOptionsOf(spec, overrides));
}
