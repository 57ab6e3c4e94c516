/**
 * A pre-trained forecasting model (e.g. models/anomaly.ern) as a NAB `AnomalyDetector`, through
 * exactly the path the gateway runs: the model's own `series` front end (manifest
 * `input.frontend`), one session step per record, and `ForecastAnomalyDetector` (streaming
 * likelihood) on the model's prediction error. The score of record t is that detector's
 * `lastScore`. Nothing is learned per series: the same model and options for every file.
 * Browser-safe.
 */
import { EdgeRnnError } from '../../errors.js';
import { SeriesFrontend, validateSeriesSpec } from '../../features/series.js';
import type { Model, Session } from '../../runtime/runtime.js';
import { checkFiniteInput, type AnomalyDetector } from './detector.js';
import { anomalyDetectorConfigOf, forecastAnomalyOptionsOf } from './gateway.js';
import { ForecastAnomalyDetector, type ForecastAnomalyOverrides } from './streaming.js';
import { checkObjectArgument } from '../../util/args.js';

export class ForecastModelDetector implements AnomalyDetector {
  readonly name: string;
  private readonly frontend: SeriesFrontend;
  private readonly session: Session;
  private readonly detector: ForecastAnomalyDetector;
  private readonly sample = new Float64Array(1);
  /** Front-end callback, made once (no closure per record). */
  private readonly onFrame = (frame: Float32Array): void => {
    this.detector.step(this.session.step(frame), frame);
  };

  /**
   * @param model a loaded forecasting model with a one-channel `series` front end whose outputs predict its next frame
   * @param options detector options over the model's own (manifest `extra.anomalyDetector`, as the
   *   gateway's `anomaly` detector kind reads them), then FORECAST_ANOMALY_DEFAULTS
   */
  constructor(name: string, model: Model, options: ForecastAnomalyOverrides = {}) {
    checkObjectArgument(model, 'new ForecastModelDetector()', 'a loaded Model (runtime.load())', ['spec', 'session']);
    this.name = name;
    const fe = model.spec.input.frontend;
    if (fe.kind !== 'series') throw new EdgeRnnError('UNSUPPORTED_MODEL', `${name}: model '${model.name}' has front end '${fe.kind}', expected 'series'`, { expected: 'series', got: fe.kind });
    const spec = validateSeriesSpec(fe);
    if (spec.channels !== 1 || model.inputSize !== 1 || model.outputSize !== 1) {
      throw new EdgeRnnError('UNSUPPORTED_MODEL', `${name}: needs a one-channel forecaster (1 input, 1 output), model '${model.name}' has ${model.inputSize} inputs and ${model.outputSize} outputs`, {
        inputs: model.inputSize,
        outputs: model.outputSize,
      });
    }
    this.frontend = new SeriesFrontend(spec);
    this.session = model.session();
    const own = forecastAnomalyOptionsOf(anomalyDetectorConfigOf(model.spec));
    this.detector = new ForecastAnomalyDetector({
      ...own,
      ...options,
      likelihood: { ...own.likelihood, ...options.likelihood },
      alert: { ...own.alert, ...options.alert },
    });
  }

  update(_timestampMs: number, value: number): number {
    checkFiniteInput(this.name, value);
    this.sample[0] = value;
    this.frontend.push(this.sample, this.onFrame);
    return this.detector.lastScore;
  }
}
