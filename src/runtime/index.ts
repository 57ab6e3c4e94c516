/**
 * The lean runtime entry (`edgernn/runtime`): what a gateway or a web page needs to run .ern
 * models, without the ONNX, feature, trainer-facing and tooling code of the full `edgernn` entry.
 */
export { EdgeRnnError, ERROR_CODES, isEdgeRnnError, type ErrorCode } from '../errors.js';
export { createRuntime, createRuntimeSync, loadModel, Runtime, Model, Session, kernelBinaries, type LoadOptions, type RuntimeOptions, type BackendChoice, type ModelSizes } from './runtime.js';
export { BACKENDS, type BackendName, type NonFinitePolicy } from './engine.js';
export type { ModelSpec, Layer, InputSpec, FrontendSpec } from '../model/spec.js';
