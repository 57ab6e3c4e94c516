/**
 * edgernn: small int8 recurrent networks on edge gateways. Public surface; quantize/,
 * firmware-sim/ and examples/ import only from here.
 */
export { EdgeRnnError, ERROR_CODES, isEdgeRnnError, type ErrorCode } from './errors.js';
export * from './model/spec.js';
export { encodeModel, decodeModel, referenceEngine, type EncodeOptions, type DecodedModel } from './model/codec.js';
export type { ParsedManifest, GoldenSpec } from './model/manifest.js';
export { quantizeModel, calibrateAbsMax, inputScaleFromAbsMax, QUANT_SCHEME, type QuantRanges } from './model/quantize.js';
export { MANIFEST_FORMAT } from './model/manifest.js';
export { decodeErn, encodeErn, resealErn, ERN_FORMAT_MAJOR, ERN_FORMAT_MINOR, type ErnContainer, type ErnTensor, type ErnLayout, type TensorInput } from './format/ern.js';
export { DTYPES, type DType, type TypedArray } from './format/dtypes.js';
export { createRuntime, createRuntimeSync, loadModel, Runtime, Model, Session, kernelBinaries, type LoadOptions, type RuntimeOptions, type BackendChoice, type ModelSizes } from './runtime/runtime.js';
export { BACKENDS, type BackendName, type NonFinitePolicy, type Engine, type EngineState } from './runtime/engine.js';
export * as fixedPoint from './runtime/fixed-point.js';
export { Rng } from './util/rng.js';
export { WindowedGaussianDetector, RandomDetector, NullDetector, PythonRandom, AnomalyLikelihood, nabLikelihoodOptions, AlertHysteresis, DetectorRegistry, baselineDetectorRegistry, checkFiniteInput, type AnomalyDetector, type AnomalyDetectorFactory, type SeriesContext, type DetectorEntry, type WindowedGaussianOptions, type RandomDetectorOptions, type AnomalyLikelihoodOptions, type AlertHysteresisOptions, type AlertTransition } from './detectors/anomaly/index.js';
export { LabelSmoother, smoothingOptions, SMOOTHING_DEFAULTS, SMOOTHING_KINDS, createHarDetector, harDetectorOptions, HAR_DETECTOR_KIND, HAR_DETECTOR_DEFAULTS, HAR_DETECTORS, HarStream, fitDurationModel, parseDurationModel, durationModelOf, SEGMENT_DURATION_KEY, durationLogLikelihood, classifySegment, DURATION_SD_FLOOR, type DurationModel, type SmoothingKind, type SmoothingOptions, type SmootherState, type HarDetectorOptions, type HarStreamOptions, type HarWindowResult } from './detectors/har/index.js';
export { KwsDetector, checkKwsDetectorOptions, KWS_DETECTOR_DEFAULTS, KWS_EXTRA_KEY, kwsDetectorConfigOf, kwsTimeBaseOf, kwsDetectorOptionsOf, createKwsDetectorForModel, kwsDetectorFactory, type KwsDetectorConfig, type KwsDetectorOptions, type KwsDetectorState, type KwsEvent, type KwsManifestExtra } from './detectors/kws/index.js';
export { ErrorScorer, ERROR_SCORING_DEFAULTS, checkErrorScoringOptions, LearnedDetector, LEARNED_DETECTOR_DEFAULTS, SyncModelLoader, MaxCombinedDetector, type ErrorScoringOptions, type LearnedDetectorOptions, type LearnedTask, type LearnRequest, type SeriesLearner, type SyncLoader, type SyncModelLoaderOptions } from './detectors/anomaly/index.js';
export { StreamingLikelihood, STREAMING_LIKELIHOOD_DEFAULTS, ForecastAnomalyDetector, ForecastModelDetector, FORECAST_ANOMALY_DEFAULTS, anomalyDetectorFactory, seriesGatewayFrontEnd, forecastAnomalyOptionsOf, anomalyDetectorConfigOf, ANOMALY_EXTRA_KEY, type StreamingLikelihoodOptions, type StreamingLikelihoodState, type ForecastAnomalyOptions, type ForecastAnomalyOverrides, type ForecastAnomalyState, type AnomalyEvent } from './detectors/anomaly/index.js';
// The gateway interfaces the detector and front-end factories above return (types only: the
// gateway's code stays out of this entry).
export type { Detector, DetectorFactory, DetectorEvent, DetectorContext } from './gateway/detectors.js';
export type { FrontEnd, FrontEndFactory, FrontEndContext, FrameSink } from './gateway/frontend.js';
export { exportOnnx, exportOnnxModel, onnxInitialState, type ExportOptions } from './onnx/export.js';
export { dequantizeModel } from './onnx/dequantize.js';
export { readNpy, writeNpy, type NpyArray } from './io/npy.js';
export { prepareIntModel, type PreparedIntModel, type PreparedLayer, type PreparedRecurrent, type PreparedDense, type PreparedDirection } from './runtime/int/prepare.js';
export * from './features/index.js';
export type { StateWriter, StateReader } from './features/state.js';
export { readWav, readWavMono, readWavInfo, encodeWav, encodeWavHeader, floatToPcm16, type WavAudio, type WavInfo, type WavEncoding, type ReadWavMonoOptions } from './io/wav.js';
export { importOnnx, onnxToSpec, SUPPORTED_OPS, type ImportOptions, type OnnxImport, type OnnxOutput, type SpecOptions, type BoundTensor, type InputLayout } from './onnx/import.js';
export type { TimeSelect, AxisRole } from './onnx/values.js';
export { runNodeTest, CONFORMANCE_BACKENDS, type NodeTestCase, type NodeTestResult, type ConformanceBackend, type NodeTestDataSet, type ConformanceOptions, type OutputResult } from './onnx/conformance.js';
export { OrtWebModel, OrtWebSession, type OrtWebOptions, type OrtModule, type SequenceLayout } from './onnx/ort-web-backend.js';
export { decodeModelProto, encodeModelProto, decodeTensorProto, encodeTensorProto, type ModelProto, type TensorProto, type GraphProto, type NodeProto, type AttributeProto, type ValueInfoProto, type DimProto, type OpsetId, type MetadataEntry } from './onnx/proto.js';
