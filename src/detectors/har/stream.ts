/**
 * A live activity-recognition stream without the gateway: raw sensor samples in (the model's
 * front end, `input.frontend`, from its manifest: decoding, resampling, normalization, windows
 * with hop), one classification per window (the model runs each window from a reset state, as
 * trained), smoothed labels out. Browser-safe.
 */
import { EdgeRnnError } from '../../errors.js';
import { createFrontendForInput } from '../../features/registry.js';
import type { ImuFrontendSpec } from '../../features/imu.js';
import type { StreamingFrontend } from '../../features/types.js';
import type { FrontendSpec } from '../../model/spec.js';
import type { Model, Session } from '../../runtime/runtime.js';
import { LabelSmoother, SMOOTHING_OPTION_FIELDS, type SmoothingOptions } from './smoothing.js';
import { checkObjectArgument } from '../../util/args.js';

export interface HarWindowResult {
  /** Window index since the start (or reset). */
  index: number;
  /** argmax of this window's posterior (unsmoothed). */
  raw: number;
  /** Smoothed label. */
  label: number;
  /** Smoother confidence of `label`. */
  confidence: number;
  /** The window's posterior (a view reused by the next window: copy it to keep it). */
  posterior: Float32Array;
}

export interface HarStreamOptions {
  /** Smoothing of the per-window labels (default: SMOOTHING_DEFAULTS, an HMM filter). */
  smoothing?: Partial<SmoothingOptions>;
  /**
   * The front end to read samples with instead of the manifest's (`input.frontend`): the same
   * model on another sensor, e.g. `{ ...validateImuSpec(model.spec.input.frontend), inputRateHz:
   * 50, channels: [{ name: 'ax', unit: 'm/s2' }, ...] }` (docs/har.md, "Another sensor"; the
   * manifest's spec is untyped JSON, `validateImuSpec` checks and types it). The sample side
   * (inputRateHz, resampler, channels' units and decoding) and the hop may change; what the model
   * was trained on (rateHz, windowSize, accelUnit, gyroUnit, normalization) must stay, or it is a
   * FRONTEND_SPEC error naming the field.
   */
  frontend?: ImuFrontendSpec;
}

/** Fields of an imu front end that define the frames the model reads (a replacement keeps them). */
const MODEL_SIDE = ['kind', 'rateHz', 'windowSize', 'accelUnit', 'gyroUnit', 'normalization'] as const;

function frontendFor(model: Model, replacement: ImuFrontendSpec | undefined): StreamingFrontend {
  if (replacement === undefined) return createFrontendForInput(model.spec.input);
  const own = model.spec.input.frontend as Record<string, unknown> | undefined;
  const given = replacement as unknown as Record<string, unknown>;
  if (own?.kind !== 'imu') throw new EdgeRnnError('FRONTEND_SPEC', `${model.name}: opts.frontend replaces an imu front end, and the model has ${String(own?.kind ?? 'none')}`, { field: 'frontend' });
  // normalization compared as [mean, std], whatever order its fields were written in.
  const canon = (k: string, v: unknown): string => JSON.stringify(k === 'normalization' && typeof v === 'object' && v !== null ? [(v as ImuFrontendSpec['normalization'])!.mean, (v as ImuFrontendSpec['normalization'])!.std] : v);
  for (const k of MODEL_SIDE) {
    if (canon(k, given?.[k]) !== canon(k, own[k])) {
      throw new EdgeRnnError('FRONTEND_SPEC', `${model.name}: opts.frontend.${k} must be the model's ${JSON.stringify(own[k])} (what it was trained on), got ${JSON.stringify(given?.[k])}`, { field: `frontend.${k}`, expected: own[k], got: given?.[k] });
    }
  }
  return createFrontendForInput({ size: model.spec.input.size, frontend: replacement as unknown as FrontendSpec });
}

/**
 * The har route config is flat (`{"smoothing": "hmm", "stay": 0.9}`); written so here, its fields
 * were dropped for the defaults: each is refused by name (LabelSmoother checks `smoothing` itself).
 */
function checkStreamOptions(name: string, opts: HarStreamOptions): void {
  if (typeof opts !== 'object' || opts === null) throw new EdgeRnnError('DETECTOR_OPTION', `${name}: HarStream options must be an object {smoothing, frontend}, got ${opts === null ? 'null' : typeof opts}`, { field: 'opts' });
  for (const [k, v] of Object.entries(opts)) {
    if (k === 'smoothing' || k === 'frontend') continue;
    const smoothing = (SMOOTHING_OPTION_FIELDS as readonly string[]).includes(k);
    const message = smoothing ? `opts.${k} is a smoothing option ({ smoothing: { ${k}: ${JSON.stringify(v)} } })` : `opts.${k} is not an option of HarStream (smoothing, frontend)`;
    throw new EdgeRnnError('DETECTOR_OPTION', `${name}: ${message}`, { field: `opts.${k}` });
  }
}

export class HarStream {
  readonly model: Model;
  readonly frontend: StreamingFrontend;
  readonly smoother: LabelSmoother;
  /** Class names (the model's labels). */
  readonly labels: readonly string[];
  private readonly session: Session;
  private readonly posterior: Float32Array;
  private readonly onBlock: (block: Float32Array, index: number) => void;
  private sink: ((w: HarWindowResult) => void) | undefined;
  private readonly result: HarWindowResult;

  constructor(model: Model, opts: HarStreamOptions = {}) {
    checkObjectArgument(model, 'new HarStream()', 'a loaded Model (runtime.load())', ['spec', 'session', 'outputSize']);
    if (model.outputSize < 2 || model.labels.length !== model.outputSize) {
      throw new EdgeRnnError('UNSUPPORTED_MODEL', `${model.name}: a HAR stream needs a classifier with one label per output, got ${model.outputSize} outputs and ${model.labels.length} labels`, { outputs: model.outputSize, labels: model.labels.length });
    }
    checkStreamOptions(model.name, opts);
    this.model = model;
    this.labels = model.labels;
    this.frontend = frontendFor(model, opts.frontend);
    this.smoother = new LabelSmoother(model.outputSize, opts.smoothing ?? {});
    // 'hmm' and 'none' read posteriors (as the gateway's har route requires): on logits the hmm
    // floored every negative value and filtered noise, and `posterior` held no probabilities.
    const last = model.spec.layers[model.spec.layers.length - 1];
    const probabilities = last?.kind === 'softmax' || (last?.kind === 'dense' && last.activation === 'sigmoid');
    if (!probabilities && this.smoother.options.kind !== 'majority') {
      throw new EdgeRnnError('UNSUPPORTED_MODEL', `${model.name}: smoothing '${this.smoother.options.kind}' reads class posteriors, and the model ends in ${last ? `a ${last.kind} layer${last.kind === 'dense' ? ` (activation ${last.activation}: logits)` : ''}` : 'no layer'}; end it in softmax, or use smoothing 'majority'`, { expected: 'softmax', got: last?.kind });
    }
    this.session = model.session();
    this.posterior = new Float32Array(model.outputSize);
    this.result = { index: 0, raw: -1, label: -1, confidence: 0, posterior: this.posterior };
    this.onBlock = (block, index) => this.window(block, index);
  }

  private window(block: Float32Array, index: number): void {
    const C = this.model.outputSize;
    this.session.reset();
    const y = this.session.run(block);
    this.posterior.set(y.subarray(y.length - C));
    let raw = 0;
    for (let j = 1; j < C; j++) if (this.posterior[j]! > this.posterior[raw]!) raw = j;
    const r = this.result;
    r.index = index;
    r.raw = raw;
    r.label = this.smoother.push(this.posterior);
    r.confidence = this.smoother.confidence;
    this.sink?.(r);
  }

  /** Feeds interleaved samples (any chunking); calls onWindow per completed window; returns windows completed. */
  push(samples: ArrayLike<number>, onWindow?: (w: HarWindowResult) => void): number {
    this.sink = onWindow;
    try {
      return this.frontend.push(samples, this.onBlock);
    } finally {
      this.sink = undefined;
    }
  }

  /** A new stream: front end, model state and smoother back to the start. */
  reset(): void {
    this.frontend.reset();
    this.session.reset();
    this.smoother.reset();
  }

  dispose(): void {
    this.session.dispose();
  }
}
