/**
 * The MQTT gateway's public surface (Node-only: not exported from src/index.ts, which stays
 * browser-safe). See docs/gateway.md.
 *
 *   import { Gateway, parseGatewayConfig } from 'edgernn/gateway';
 *   const gw = await Gateway.create({ config: parseGatewayConfig(json) });
 */
export { Gateway, GATEWAY_VERSION, type GatewayOptions, type GatewayEvents, type DeadLetter } from './gateway.js';
export {
  parseGatewayConfig,
  resolveConfigPaths,
  DEFAULTS as GATEWAY_DEFAULTS,
  CODECS,
  type GatewayConfig,
  type GatewayConfigInput,
  type BrokerConfig,
  type TopicConfig,
  type ModelConfig,
  type RouteConfig,
  type LimitsConfig,
  type OutboxConfig,
  type MetricsConfig,
  type BoardConfig,
  type ClusterConfig,
  type DetectorConfig,
  type ThresholdDetectorConfig,
  type SmoothingDetectorConfig,
  type CustomDetectorConfig,
  type CodecName,
  type NonFiniteSamplePolicy,
} from './config.js';
export { loadGatewayConfig, type ConfigOverrides } from './load-config.js';
export { Topics, SensorTopicParser, fillTopic, topicFilter, fnv1a32, devicePartition, type TopicVars, type SensorTopicMatch } from './topics.js';
export { DECODERS, ENCODERS, decodeJson, decodeBinary, decodeCsv, encodeJson, encodeBinary, encodeCsv, applyNonFinite, BINARY_HEADER_BYTES, type SampleBatch, type DecodeOptions, type EncodeFields } from './codecs.js';
export { BUILTIN_DETECTORS, createThresholdDetector, createSmoothingDetector, resolveOutput, type Detector, type DetectorEvent, type DetectorContext, type DetectorFactory } from './detectors.js';
export { BUILTIN_FRONTENDS, createNoneFrontEnd, frontEndFromStreaming, LinearResampler, FRAME_RESET, FRAME_DETECT, type FrontEnd, type FrontEndFactory, type FrontEndContext, type FrameSink, type StreamingFrontendLike, type BlockTiming } from './frontend.js';
export { FEATURE_FRONTENDS } from './feature-frontends.js';
export { alertId, type Alert, type AlertEvidence, type AlertIdParts } from './alert.js';
export { FileOutbox, MemoryOutbox, crc32, type Outbox, type FileOutboxOptions, type OutboxOpenReport, type OutboxBounds } from './outbox.js';
export { fileStateStore, memoryStateStore, type StateStore, type StateStoreOptions, type StateSaveFailure } from './state-store.js';
export { systemClock, ManualClock, type Clock, type TimerHandle } from './clock.js';
export { jsonLogger, memoryLogger, LOG_LEVELS, type Logger, type LogLevel, type LogFields, type JsonLoggerOptions } from './logger.js';
export { Metrics, LatencyWindow, COUNTERS, GAUGES, type MetricsSnapshot, type CounterName, type GaugeName, type DelaySource } from './metrics.js';
export { mqttTransport, TraceTransport, topicMatches, type GatewayTransport, type MqttTransport, type MqttTransportOptions, type TransportHandlers, type PublishOptions } from './transport.js';
export { startEmbeddedBroker, type EmbeddedBroker, type EmbeddedBrokerOptions } from './broker.js';
export { createBoardSink, type AlertSink, type BoardSinkOptions } from './sinks.js';
export { partitionOwner } from './cluster.js';
export { parseTrace, recordTrace, replayTrace, scoreAlerts, parseTruth, TRACE_FORMAT, type ParseTraceOptions, type TraceRecord, type TraceHeader, type RecordOptions, type ReplayOptions, type ReplayResult, type TruthEvent, type AlertScore } from './trace.js';
