/** Shapes every front end shares: the streaming object and the batch result. */

export const FRONTEND_KINDS = ['none', 'logmel', 'mfcc', 'imu', 'series'] as const;
export type FrontendKind = (typeof FRONTEND_KINDS)[number];

/**
 * Receives one output block. `output` is the front end's own buffer, reused for the next block:
 * copy it if you keep it past the callback. `index` counts blocks since construction or reset().
 */
export type OutputCallback = (output: Float32Array, index: number) => void;

/**
 * Samples in: a typed array or plain array, channel-interleaved when a front end has several
 * input channels ([s0c0, s0c1, ..., s1c0, ...]). Audio front ends read an Int16Array as PCM
 * codes (divided by 32768) and a float or plain array as float samples in [-1, 1); any other
 * integer typed array (a Node Buffer of raw bytes) is INVALID_ARGUMENT there.
 */
export type SampleArray = ArrayLike<number>;

export interface StreamingFrontend {
  readonly kind: FrontendKind;
  /** Interleaved values per input sample (1 for audio). */
  readonly inputChannels: number;
  /** Values per model frame: the model's `input.size`. */
  readonly featureSize: number;
  /** Model frames per output block: 1, or the window length for `imu`. */
  readonly framesPerOutput: number;
  /** Model frames per second after the front end (audio: 1000 / hopMs; imu: rateHz); undefined when the input has no fixed rate. */
  readonly frameRateHz: number | undefined;
  /**
   * Feeds samples in any chunking; calls `onOutput` for each block that completes, in order.
   * Returns the number of blocks produced. The whole chunk is checked (length, finite values)
   * before any state changes, so a rejected chunk leaves the stream as it was.
   */
  push(samples: SampleArray, onOutput: OutputCallback): number;
  /** Back to the state right after construction. */
  reset(): void;
  /**
   * The stream position as bytes: the samples buffered toward the next block and every filter
   * memory (pre-emphasis, resampler history, adaptive statistics), after a header naming the
   * kind and a fingerprint of the spec (format in state.ts). Importing it into a front end built
   * from the same spec continues the stream bit for bit as if it had never stopped.
   */
  exportState(): Uint8Array;
  /**
   * Continues from exportState() bytes. A state of another kind, of a front end with other
   * parameters, of another format version, truncated or corrupt is refused with a FRONTEND_STATE
   * error (details.reason names the problem) and changes nothing.
   */
  importState(bytes: Uint8Array): void;
  /** The whole recording at once; the same numbers, bit for bit, as pushing it in any chunks. */
  batch(samples: SampleArray): FeatureBatch;
}

export interface FeatureBatch {
  /** count · framesPerOutput · featureSize values, block-major then frame-major. */
  data: Float32Array;
  /** Output blocks. */
  count: number;
  featureSize: number;
  framesPerOutput: number;
}
