/**
 * Synchronous .ern loading, for detectors that learn a model while a stream is running.
 *
 * The NAB detector contract (`AnomalyDetector.update`) is synchronous: a detector that trains
 * its model at the end of a series' probationary period must load it in the middle of an
 * `update` call, where it cannot await `Runtime.load()`. This is a thin wrapper over the
 * runtime's synchronous path (`createRuntimeSync`, `Runtime.loadSync`): same decoding,
 * validation, preparation, engines and golden check, so sessions behave exactly as after
 * `Runtime.load` (bit-identical int8 outputs on every backend).
 *
 * Node and workers: browsers allow synchronous compilation of the kernels only off the main thread.
 */
import { EdgeRnnError } from '../../errors.js';
import type { BackendName } from '../../runtime/engine.js';
import { createRuntimeSync, type Model, type Runtime } from '../../runtime/runtime.js';

export interface SyncModelLoaderOptions {
  /**
   * Backend for int8 models: 'simd' (default), 'scalar' or 'reference'. Float32 models always
   * run on the float reference. Nothing falls back: a backend this engine cannot run throws
   * BACKEND_UNAVAILABLE when the loader is created.
   */
  backend?: Exclude<BackendName, 'float'>;
}

/** Loads .ern bytes into runnable `Model`s synchronously; compiles the WASM kernels once. */
export class SyncModelLoader {
  /** The backend int8 models get. */
  readonly backend: Exclude<BackendName, 'float'>;
  private readonly rt: Runtime;

  constructor(options: SyncModelLoaderOptions = {}) {
    const backend = options.backend ?? 'simd';
    if (backend !== 'simd' && backend !== 'scalar' && backend !== 'reference') {
      throw new EdgeRnnError('BACKEND_UNAVAILABLE', `SyncModelLoader: backend must be simd, scalar or reference, got '${String(backend)}'`, { backend });
    }
    this.backend = backend;
    this.rt = createRuntimeSync({ backend });
  }

  /**
   * Decodes, validates, prepares and golden-checks `bytes`; `source` names the model in errors.
   * int8 models run on the loader's backend, float32 models on the float reference.
   */
  load(bytes: Uint8Array, source = 'model.ern'): Model {
    try {
      return this.rt.loadSync(bytes, { source });
    } catch (e) {
      if (e instanceof EdgeRnnError && e.code === 'BACKEND_UNAVAILABLE' && e.details.precision === 'float32') return this.rt.loadSync(bytes, { source, backend: 'float' });
      throw e;
    }
  }
}
