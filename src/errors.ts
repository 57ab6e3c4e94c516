/**
 * Every error edgernn throws on purpose is an `EdgeRnnError` with a stable `code` from this
 * table. Messages name the offending thing and say what was expected and what was found.
 * Codes are part of the public API: add new ones, never renumber or reuse a removed one.
 */
export const ERROR_CODES = {
  // .ern model files
  ERN_TRUNCATED: 'file is shorter than its header says, or shorter than a header',
  ERN_TRAILING_DATA: 'file is longer than its header says',
  ERN_BAD_MAGIC: 'not an .ern file (wrong magic bytes)',
  ERN_UNSUPPORTED_VERSION: 'file format version this runtime cannot read',
  ERN_BAD_HEADER: 'header fields are inconsistent (offsets, sizes, alignment)',
  ERN_CHECKSUM: 'sha256 over the content does not match the header',
  ERN_MANIFEST: 'manifest is not valid JSON or does not follow the schema',
  ERN_TENSOR: 'a tensor is missing, out of bounds, misaligned, has the wrong type or shape, or holds NaN or an infinity',
  ERN_QUANT_PARAMS: 'quantization parameters are invalid or would overflow the integer kernels',
  ERN_GOLDEN_MISMATCH: 'the model does not reproduce its own golden test vector',
  // runtime
  BACKEND_UNAVAILABLE: 'the requested backend cannot run here or cannot run this model',
  UNSUPPORTED_MODEL: 'the model uses a feature this backend does not implement',
  SHAPE_MISMATCH: 'an input has the wrong length or shape',
  INVALID_ARGUMENT: 'an API argument has the wrong type (the message names it)',
  NON_FINITE_INPUT: 'an input holds NaN or an infinity',
  NOT_STREAMABLE: 'the model needs the whole sequence (bidirectional): use run()',
  STATE_MISMATCH: 'exported state does not belong to this model or is corrupt',
  SESSION_DISPOSED: 'the session was disposed',
  INPUT_FRAME_STALE: 'the zero-copy input frame was never requested, or kernel memory grew since: call model.inputFrame() again',
  KERNEL_MEMORY: 'the WebAssembly kernels cannot get the memory they need (a sequence, batch or session count beyond what a 4 GiB wasm32 memory, or the engine, allows; or no memory for another model: a browser tab holds about 125, dispose() the models you replace)',
  // input files (npy, json)
  BAD_INPUT_FILE: 'an input file is malformed',
  BAD_DATA: 'a training/evaluation data file is malformed (the message names the file and line)',
  TRAINING_DIVERGED: 'training produced a non-finite loss (learning rate too high, or bad data)',
  // front ends (src/features)
  FRONTEND_SPEC: 'front-end parameters are missing, out of range or inconsistent',
  FRONTEND_STATE: 'a saved front-end state is truncated, corrupt, of another version, or belongs to another front-end kind or parameters',
  EXTERNAL_TOOL: 'an external program (espeak-ng, flite, sox) is missing or failed',
  DATASET_INTEGRITY: 'a generated dataset breaks its own rules (a held-out voice in training data, a clip outside its split)',
  DATASET_MISSING: 'a dataset a job needs is not at the given path (the message says where to get it)',
  DATASET_BUSY: 'another process is building the same dataset folder right now (the message names it)',
  // ONNX interop (src/onnx)
  ONNX_PARSE: 'an .onnx or .pb file is not valid protobuf, or not an ONNX ModelProto/TensorProto',
  ONNX_UNSUPPORTED: 'the ONNX graph uses operators or attributes edgernn cannot compile (the onnxruntime-web backend can run it)',
  ONNX_INVALID: 'the ONNX graph breaks the ONNX spec: a missing input, a bad attribute value, inconsistent shapes',
  // command line
  USAGE: 'bad command-line arguments',
  // anomaly detection and the NAB benchmark (src/detectors/anomaly, quantize/eval/nab)
  DETECTOR_OPTION: 'a detector or helper option is out of range or inconsistent (the message names it)',
  UNKNOWN_DETECTOR: 'no anomaly detector is registered under that name',
  NAB_WINDOWS: 'anomaly windows do not fit the data (unknown file, timestamp not in the series, unsorted or overlapping)',
  ANOMALY_SCORE: 'an anomaly score is outside [0, 1] or not a number, or the score count does not match the series',
  // gateway
  GATEWAY_CONFIG: 'gateway configuration is invalid (the message names the field)',
  PAYLOAD_DECODE: 'a sensor payload could not be decoded (malformed, oversized, wrong shape, non-finite)',
  GATEWAY_OUTBOX: 'the durable alert outbox could not be opened, read or written',
  GATEWAY_TRANSPORT: 'the MQTT transport failed (connect, subscribe, publish) or the broker refused',
  GATEWAY_STOPPED: 'the gateway was asked to stop (a signal) before it had started',
  GATEWAY_TRACE: 'a recorded trace file is malformed',
  GATEWAY_STATE: 'a saved device stream state is corrupt or belongs to another model',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

/**
 * Marks an EdgeRnnError from any copy of this class. Each bundle of the package (`edgernn`,
 * `edgernn/runtime` as ESM and CommonJS, `edgernn/gateway`, the CLI) carries its own copy, so a
 * plain `instanceof` saw only its own bundle's errors: one thrown by `edgernn/gateway` was no
 * EdgeRnnError to `isEdgeRnnError` imported from `edgernn`. The registry symbol is the same in
 * every copy (and every realm).
 */
const ERROR_BRAND: unique symbol = Symbol.for('edgernn.EdgeRnnError');

export class EdgeRnnError extends Error {
  readonly code: ErrorCode;
  /** Structured facts about the failure (expected/got, tensor name, byte offset...). */
  readonly details: Readonly<Record<string, unknown>>;
  readonly [ERROR_BRAND] = true;

  constructor(code: ErrorCode, message: string, details: Record<string, unknown> = {}) {
    super(message);
    this.name = 'EdgeRnnError';
    this.code = code;
    this.details = details;
  }

  /** `e instanceof EdgeRnnError` holds for an error from any copy of the class (ERROR_BRAND). */
  static override [Symbol.hasInstance](value: unknown): value is EdgeRnnError {
    // A subclass (static methods are inherited) keeps the ordinary prototype-chain test.
    if (this !== EdgeRnnError) return Function.prototype[Symbol.hasInstance].call(this, value);
    return typeof value === 'object' && value !== null && (value as { [ERROR_BRAND]?: unknown })[ERROR_BRAND] === true;
  }
}

export function isEdgeRnnError(e: unknown, code?: ErrorCode): e is EdgeRnnError {
  return e instanceof EdgeRnnError && (code === undefined || e.code === code);
}
