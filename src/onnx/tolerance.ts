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
