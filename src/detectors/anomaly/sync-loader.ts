/**
 * Synchronous .ern loading, for detectors that learn a model while a stream is running.
 *
 * The NAB detector contract (`AnomalyDetector.update`) is synchronous: a detector that trains
 * its model at the end of a series' probationary period must load it in the middle of an
 * `update` call, where it cannot await `Runtime.load()`. This loader does what `Runtime.load`
 * does, without promises:
 *
 *   decode + validate (decodeModel, sha256 in JavaScript) → prepare (prepareIntModel) →
 *   kernels (one WebAssembly.Instance per model, from a module compiled once per loader) →
 *   Model → golden check (verifyGolden)
 *
 * and returns the same public `Model` class, so sessions behave exactly as they do after
 * `Runtime.load` (same engines, bit-identical int8 outputs on every backend).
 *
 * Workaround note for the runtime owner: this duplicates the body of `Runtime.load` with the
 * synchronous WebAssembly constructors (`new WebAssembly.Module/Instance`). A
 * `Runtime.loadSync(bytes, opts)` in src/runtime would make this file unnecessary. Browsers
 * allow synchronous compilation of modules above 4 KB only off the main thread (workers); Node
 * allows it everywhere. Browser-safe otherwise.
 */
import { EdgeRnnError } from '../../errors.js';
import { decodeModel } from '../../model/codec.js';
import type { BackendName } from '../../runtime/engine.js';
import type { Engine } from '../../runtime/engine.js';
import { FloatEngine } from '../../runtime/float/engine.js';
import { IntEngine } from '../../runtime/int/engine.js';
import { prepareIntModel } from '../../runtime/int/prepare.js';
import { ReferenceKernels } from '../../runtime/int/reference-kernels.js';
import { kernelBinaries, Model } from '../../runtime/runtime.js';
import { WasmKernels, type KernelExports } from '../../runtime/wasm/kernels.js';

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
  private readonly module: WebAssembly.Module | null;

  constructor(options: SyncModelLoaderOptions = {}) {
    const backend = options.backend ?? 'simd';
    if (backend !== 'simd' && backend !== 'scalar' && backend !== 'reference') {
      throw new EdgeRnnError('BACKEND_UNAVAILABLE', `SyncModelLoader: backend must be simd, scalar or reference, got '${String(backend)}'`, { backend });
    }
    this.backend = backend;
    if (backend === 'reference') {
      this.module = null;
      return;
    }
    const bins = kernelBinaries();
    try {
      this.module = new WebAssembly.Module(bins[backend]);
    } catch (e) {
      throw new EdgeRnnError('BACKEND_UNAVAILABLE', `SyncModelLoader: this WebAssembly engine cannot compile the ${backend} kernels (${(e as Error).message}); use backend 'scalar' or 'reference'`, { backend });
    }
  }

  /** Decodes, validates, prepares and golden-checks `bytes`; `source` names the model in errors. */
  load(bytes: Uint8Array, source = 'model.ern'): Model {
    const decoded = decodeModel(bytes, source);
    let engine: Engine;
    try {
      engine = this.engine(decoded.spec.precision === 'float32' ? null : prepareIntModel(decoded.spec), decoded.spec);
    } catch (e) {
      if (e instanceof EdgeRnnError && !e.message.startsWith(source)) throw new EdgeRnnError(e.code, `${source}: ${e.message}`, { source, ...e.details });
      throw e;
    }
    const model = new Model(decoded, engine, 'error', source);
    model.verifyGolden();
    return model;
  }

  private engine(P: ReturnType<typeof prepareIntModel> | null, spec: Parameters<typeof prepareIntModel>[0]): Engine {
    if (P === null) return new FloatEngine(spec);
    if (this.module === null) return new IntEngine(P, new ReferenceKernels(P));
    const instance = new WebAssembly.Instance(this.module, {
      env: {
        abort: (_msg: number, _file: number, line: number, col: number) => {
          throw new EdgeRnnError('BACKEND_UNAVAILABLE', `WASM kernel aborted at ${line}:${col}`);
        },
      },
    });
    const backend = this.backend as 'simd' | 'scalar';
    return new IntEngine(P, new WasmKernels(instance.exports as unknown as KernelExports, backend, P));
  }
}
