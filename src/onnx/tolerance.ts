/**
 * Tolerances of ONNX comparisons, as named constants (docs/onnx.md says how they were measured).
 */

/** Float backends: the float reference (float64 inside) against a float32 oracle. */
export const FLOAT_ATOL = 1e-5;

/**
 * Integer kernels against the float model of the same (dequantized) weights: what the
 * fixed-point sigmoid/tanh and the int16 activations cost. Measured worst 2.9e-4 over 20 random
 * int8 models (test/onnx/export.test.ts); 4x headroom.
 */
export const INT8_KERNEL_ATOL = 1.2e-3;

/**
 * int8 backends (simd, scalar) against the float outputs of an ONNX test, after calibrating on
 * the test's inputs. Measured worst case 7.4e-3 (p99 7.1e-3, p50 1.1e-3) over 200 random
 * GRU/LSTM/RNN configurations with default activations (hidden <= 8, <= 7 steps) and 7.1e-3
 * over 100 larger ones (hidden <= 64, <= 40 steps); the official node tests stay below 1e-3.
 * 0.02 leaves 2.7x headroom. docs/onnx.md has the commands.
 */
export const INT8_ATOL = 0.02;
