/**
 * The public runtime: createRuntime() compiles the kernels once, runtime.load() turns .ern bytes
 * into a Model (validated, golden-checked), model.session() gives a stream its state.
 *
 *   const rt = await createRuntime();             // picks SIMD when the engine validates it
 *   const model = await rt.load(bytes);
 *   const s = model.session();
 *   const y = s.step(frame);                      // Float32Array, reused: copy to keep
 */
import { EdgeRnnError, isEdgeRnnError } from '../errors.js';
import { fileBytes } from '../util/bytes.js';
import { ERN_HEADER_BYTES, ERN_SHA256_OFFSET } from '../format/ern.js';
import { decodeModelWith, type DecodedModel } from '../model/codec.js';
import type { ModelSpec } from '../model/spec.js';
import { KERNELS_SCALAR_BASE64, KERNELS_SIMD_BASE64 } from './kernels/wasm.gen.js';
import { BACKENDS, firstNonFinite, type BackendName, type Engine, type EngineState, type NonFinitePolicy } from './engine.js';
import { FloatEngine } from './float/engine.js';
import { IntEngine } from './int/engine.js';
import { prepareIntModel } from './int/prepare.js';
import { ReferenceKernels } from './int/reference-kernels.js';
import { WasmKernels, instantiateKernels, instantiateKernelsSync, type KernelExports } from './wasm/kernels.js';
import { growthText } from './wasm/arena.js';

export type BackendChoice = BackendName | 'auto';

export interface RuntimeOptions {
  /** Default backend for models loaded by this runtime ('auto': simd if supported, else scalar). */
  backend?: BackendChoice;
  /**
   * Feature probe for the SIMD build (default: the engine compiles it, which also validates it).
   * Tests inject an engine without SIMD through it; there is no other switch.
   */
  validate?: (bytes: Uint8Array<ArrayBuffer>) => boolean;
}

export interface LoadOptions {
  /** Overrides the runtime's default backend for this model. */
  backend?: BackendChoice;
  /** Name used in error messages (a file path). */
  source?: string;
  /** What sessions do with NaN/±Infinity in frames (default 'error'). */
  nonFinite?: NonFinitePolicy;
  /**
   * WASM weight storage: 'auto' (default) stores a matrix block-sparse when enough of its 4x8
   * tiles are zero; 'dense' and 'sparse' force one layout (benchmarks, tests). Results are
   * identical either way.
   */
  weightStorage?: 'auto' | 'dense' | 'sparse';
}

export function decodeBase64(s: string): Uint8Array<ArrayBuffer> {
  // Node's Buffer decodes natively (a cold atob + charCodeAt loop costs about a millisecond);
  // browsers take the atob path.
  const B = (globalThis as { Buffer?: { from(s: string, enc: string): Uint8Array } }).Buffer;
  if (B) {
    const b = B.from(s, 'base64');
    const out = new Uint8Array(b.length);
    out.set(b);
    return out;
  }
  // An AudioWorkletGlobalScope has no atob (nor TextDecoder): decode by hand there.
  if (typeof atob !== 'function') return decodeBase64Js(s);
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

const BASE64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/** decodeBase64() without atob: 4 characters to 3 bytes ('=' padding, no whitespace). */
function decodeBase64Js(s: string): Uint8Array<ArrayBuffer> {
  const body = s.replace(/=+$/, '');
  const out = new Uint8Array(Math.floor((body.length * 3) / 4));
  let acc = 0;
  let bits = 0;
  let n = 0;
  for (let i = 0; i < body.length; i++) {
    acc = ((acc << 6) | BASE64.indexOf(body[i]!)) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[n++] = (acc >> bits) & 0xff;
    }
  }
  return out;
}

/** The kernel binaries shipped with this build. */
export function kernelBinaries(): { simd: Uint8Array<ArrayBuffer>; scalar: Uint8Array<ArrayBuffer> } {
  return { simd: decodeBase64(KERNELS_SIMD_BASE64), scalar: decodeBase64(KERNELS_SCALAR_BASE64) };
}

const NON_FINITE_POLICIES: readonly NonFinitePolicy[] = ['error', 'zero'];

/** An option value as the caller wrote it, for a message (JSON.stringify throws on a BigInt or a cycle). */
function shown(v: unknown): string {
  if (typeof v === 'bigint') return `${v}n`;
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return describe(v);
  }
}

/** A nonFinite option, checked (a typo must not pass as some policy). */
function checkNonFinite(v: unknown, where: string): NonFinitePolicy {
  if (!NON_FINITE_POLICIES.includes(v as NonFinitePolicy)) throw new EdgeRnnError('INVALID_ARGUMENT', `${where}: nonFinite must be 'error' or 'zero', got ${shown(v)}`, { got: v });
  return v as NonFinitePolicy;
}

/** Load options, checked before any work: an unknown backend, policy or storage is named. */
function checkLoadOptions(opts: LoadOptions, source: string): void {
  if (opts.backend !== undefined && opts.backend !== 'auto' && !BACKENDS.includes(opts.backend)) {
    throw new EdgeRnnError('BACKEND_UNAVAILABLE', `${source}: unknown backend '${String(opts.backend)}': expected auto, ${BACKENDS.join(', ')}`, { backend: opts.backend });
  }
  if (opts.nonFinite !== undefined) checkNonFinite(opts.nonFinite, source);
  if (opts.weightStorage !== undefined && !['auto', 'dense', 'sparse'].includes(opts.weightStorage)) {
    throw new EdgeRnnError('INVALID_ARGUMENT', `${source}: weightStorage must be 'auto', 'dense' or 'sparse', got ${shown(opts.weightStorage)}`, { got: opts.weightStorage });
  }
}

/** The runtime's default backend, checked. */
function backendChoice(opts: RuntimeOptions): BackendChoice {
  optionsObject(opts, 'createRuntime()', RUNTIME_OPTIONS);
  // Called as a function further on: anything else was a TypeError from inside createRuntime().
  if (opts.validate !== undefined && typeof opts.validate !== 'function') {
    throw new EdgeRnnError('INVALID_ARGUMENT', `createRuntime(): validate is a function (bytes) => boolean, got ${describe(opts.validate)}`, { got: describe(opts.validate) });
  }
  const choice = opts.backend ?? 'auto';
  if (choice !== 'auto' && !BACKENDS.includes(choice)) {
    throw new EdgeRnnError('BACKEND_UNAVAILABLE', `unknown backend '${String(choice)}': expected auto, ${BACKENDS.join(', ')}`);
  }
  return choice;
}

/**
 * Every backend needs the kernels (they also checksum the file). An engine without WebAssembly
 * at all (node --jitless; a browser's lockdown or enhanced-security mode turns it off) threw
 * "ReferenceError: WebAssembly is not defined" from inside createRuntime().
 */
function checkWebAssembly(): void {
  if (typeof WebAssembly === 'undefined') {
    throw new EdgeRnnError('BACKEND_UNAVAILABLE', 'this JavaScript engine has no WebAssembly (node --jitless, or a browser mode that turns it off): every edgernn backend needs it, if only to checksum the model file');
  }
}

export async function createRuntime(opts: RuntimeOptions = {}): Promise<Runtime> {
  const choice = backendChoice(opts);
  checkWebAssembly();
  const bins = kernelBinaries();
  // Probe SIMD by compiling the SIMD build (compiling validates; a separate validate() pass
  // would cost a second walk over the module on every cold start).
  let simd: WebAssembly.Module | null = null;
  let simdSupported: boolean;
  if (opts.validate) {
    simdSupported = opts.validate(bins.simd);
  } else {
    try {
      simd = await WebAssembly.compile(bins.simd);
      simdSupported = true;
    } catch (e) {
      // No SIMD here, or no WebAssembly compilation at all (a page's Content-Security-Policy).
      const refused = compileRefused(e, bins.simd);
      if (refused) throw refused;
      simdSupported = false;
    }
  }
  if (choice === 'simd' && !simdSupported) {
    throw new EdgeRnnError('BACKEND_UNAVAILABLE', 'this WebAssembly engine does not validate the SIMD kernels: use backend "scalar" or "auto"');
  }
  // Compile only what the default backend needs now; the other build compiles on first use.
  const modules = new KernelModules(bins, simdSupported, simd);
  if (choice === 'scalar' || (!simdSupported && choice !== 'reference' && choice !== 'float')) await modules.get('scalar');
  return newRuntime(modules, simdSupported, choice);
}

/**
 * A kernel build the engine validates but will not compile: the embedder refused it, as a web
 * page does whose Content-Security-Policy lacks 'wasm-unsafe-eval' (Chromium throws a
 * CompileError naming the directive). Null when the build does not validate: the engine lacks
 * its features (SIMD), and the caller falls back. Every backend needs the kernels (they also
 * checksum the file), so this is said once, typed, instead of a false "no SIMD" and a bare
 * CompileError at the next compile.
 */
function compileRefused(e: unknown, build: Uint8Array<ArrayBuffer>): EdgeRnnError | null {
  if (!WebAssembly.validate(build)) return null;
  const why = e instanceof Error ? e.message : String(e);
  return new EdgeRnnError(
    'BACKEND_UNAVAILABLE',
    `this WebAssembly engine validates the kernels but refuses to compile them (${why}): in a web page, allow WebAssembly with 'wasm-unsafe-eval' in the Content-Security-Policy's script-src`,
    { reason: why },
  );
}

/** The two kernel builds, compiled once per runtime and on demand. */
class KernelModules {
  private readonly compiled = new Map<'simd' | 'scalar', Promise<WebAssembly.Module>>();
  private readonly ready = new Map<'simd' | 'scalar', WebAssembly.Module>();
  constructor(
    private readonly bins: { simd: Uint8Array<ArrayBuffer>; scalar: Uint8Array<ArrayBuffer> },
    private readonly simdSupported: boolean,
    simd: WebAssembly.Module | null,
  ) {
    if (simd) {
      this.ready.set('simd', simd);
      this.compiled.set('simd', Promise.resolve(simd));
    }
  }

  private check(build: 'simd' | 'scalar'): void {
    if (build === 'simd' && !this.simdSupported) throw new EdgeRnnError('BACKEND_UNAVAILABLE', 'SIMD is not supported by this WebAssembly engine');
  }

  get(build: 'simd' | 'scalar'): Promise<WebAssembly.Module> {
    this.check(build);
    let m = this.compiled.get(build);
    if (!m) {
      m = WebAssembly.compile(this.bins[build]).then(
        (mod) => {
          this.ready.set(build, mod);
          return mod;
        },
        (e: unknown) => {
          throw compileRefused(e, this.bins[build]) ?? e;
        },
      );
      this.compiled.set(build, m);
    }
    return m;
  }

  /** The compiled module now, compiling synchronously if needed (see Runtime.loadSync). */
  getSync(build: 'simd' | 'scalar'): WebAssembly.Module {
    this.check(build);
    let m = this.ready.get(build);
    if (!m) {
      try {
        m = new WebAssembly.Module(this.bins[build]);
      } catch (e) {
        throw compileRefused(e, this.bins[build]) ?? e;
      }
      this.ready.set(build, m);
      this.compiled.set(build, Promise.resolve(m));
    }
    return m;
  }
}

/** Runtime's private constructor, for createRuntime() and createRuntimeSync(). */
let newRuntime: (modules: KernelModules, simdSupported: boolean, choice: BackendChoice) => Runtime;

export class Runtime {
  static {
    keepClassName(this, 'Runtime');
    newRuntime = (modules, simdSupported, choice) => new Runtime(modules, simdSupported, choice);
  }
  readonly simdSupported: boolean;
  /** What 'auto' means for int8 models here. */
  readonly intBackend: 'simd' | 'scalar';
  private readonly modules: KernelModules;
  private readonly choice: BackendChoice;
  /**
   * A kernel instance that computed a file checksum and is not yet used by a model: the next
   * engine of the same build takes it over (its arena zeroes what it allocates), so a load
   * instantiates the kernels once, not twice.
   */
  private hasher: { build: 'simd' | 'scalar'; exports: KernelExports } | null = null;

  /**
   * Private (createRuntime() makes runtimes): a public one put KernelModules, and so the
   * WebAssembly namespace, in the published declarations, which a consumer without the DOM lib
   * (lib ES2022 and @types/node) could not compile.
   */
  private constructor(modules: KernelModules, simdSupported: boolean, choice: BackendChoice) {
    this.modules = modules;
    this.simdSupported = simdSupported;
    this.intBackend = simdSupported ? 'simd' : 'scalar';
    this.choice = choice;
  }

  /**
   * The .ern content sha256 (the file with its checksum field zeroed), computed by the kernel
   * module: no start-up cost, where WebCrypto needs ~10 ms to initialize in a fresh process.
   * Files too short for a header are left to the parser, which names the defect.
   */
  contentDigest(bytes: Uint8Array): Uint8Array | undefined {
    if (bytes.length < ERN_HEADER_BYTES) return undefined;
    const build = this.hashBuild();
    this.hasher ??= { build, exports: instantiateKernelsSync(this.modules.getSync(build)) };
    return this.hash(bytes);
  }

  /**
   * The digest in the hasher's memory. WASM memory never shrinks: a hasher that grew to hold a
   * big file (a float model, a file then refused) kept that size for the runtime's life, and the
   * next model to take it over held it for its own (a 29 KB model in 10 MB after a 10 MB float
   * model). Past HASHER_KEEP_BYTES the hasher is let go; the next load instantiates afresh.
   */
  private hash(bytes: Uint8Array): Uint8Array {
    const k = this.hasher!.exports;
    const digest = kernelSha256(k, bytes);
    if (k.memory.buffer.byteLength > HASHER_KEEP_BYTES) this.hasher = null;
    return digest;
  }

  /** The kernel build already compiled for this runtime's default backend. */
  private hashBuild(): 'simd' | 'scalar' {
    return this.choice === 'scalar' ? 'scalar' : this.intBackend;
  }

  /** contentDigest() with asynchronous compilation (what a page should use: it never blocks the main thread compiling). */
  async contentDigestAsync(bytes: Uint8Array): Promise<Uint8Array | undefined> {
    if (bytes.length < ERN_HEADER_BYTES) return undefined;
    const build = this.hashBuild();
    this.hasher ??= { build, exports: await instantiateKernels(await this.modules.get(build)) };
    return this.hash(bytes);
  }

  /** Resolves a choice to the backend that will run a model of this precision, or throws. */
  resolveBackend(spec: ModelSpec, choice: BackendChoice = this.choice): BackendName {
    if (spec.precision === 'float32') {
      if (choice === 'auto' || choice === 'float' || choice === 'reference') return 'float';
      throw new EdgeRnnError('BACKEND_UNAVAILABLE', `'${spec.name}' is a float32 model: it runs on the float reference (backend "float"); quantize it to int8 for "${choice}"`, {
        precision: 'float32',
        backend: choice,
      });
    }
    if (choice === 'auto') return this.intBackend;
    if (choice === 'float') throw new EdgeRnnError('BACKEND_UNAVAILABLE', `'${spec.name}' is an int8 model: use backend simd, scalar or reference`);
    if (choice === 'simd' && !this.simdSupported) throw new EdgeRnnError('BACKEND_UNAVAILABLE', 'SIMD is not supported by this WebAssembly engine');
    return choice;
  }

  /** The checksum's kernel instance when it is of this build (then it is no longer the hasher). */
  private takeHasher(build: 'simd' | 'scalar'): KernelExports | null {
    const h = this.hasher;
    if (h === null || h.build !== build) return null;
    this.hasher = null;
    return h.exports;
  }

  /** Builds an engine for a spec on a backend (no golden check: see load()). */
  async engine(spec: ModelSpec, backend: BackendName, weightStorage: LoadOptions['weightStorage'] = 'auto'): Promise<Engine> {
    if (backend === 'float') return new FloatEngine(spec);
    const P = prepareIntModel(spec);
    if (backend === 'reference') return new IntEngine(P, new ReferenceKernels(P));
    const exports = this.takeHasher(backend) ?? (await instantiateKernels(await this.modules.get(backend)));
    return new IntEngine(P, new WasmKernels(exports, backend, P, { storage: weightStorage }));
  }

  /** engine(), synchronously: compiles a kernel build on first use if it is not compiled yet. */
  engineSync(spec: ModelSpec, backend: BackendName, weightStorage: LoadOptions['weightStorage'] = 'auto'): Engine {
    if (backend === 'float') return new FloatEngine(spec);
    const P = prepareIntModel(spec);
    if (backend === 'reference') return new IntEngine(P, new ReferenceKernels(P));
    const exports = this.takeHasher(backend) ?? instantiateKernelsSync(this.modules.getSync(backend));
    return new IntEngine(P, new WasmKernels(exports, backend, P, { storage: weightStorage }));
  }

  /** Parses, validates, prepares and golden-checks a model. */
  async load(file: Uint8Array | ArrayBuffer | SharedArrayBuffer | ArrayBufferView, opts?: LoadOptions): Promise<Model> {
    opts = optionsObject(opts, 'load()', LOAD_OPTIONS);
    const source = opts.source ?? 'model.ern';
    // A private copy, taken now: the decoded model's tensors (the float engine's weights, the
    // spec, the golden vector) are views into these bytes, and a caller may reuse its buffer for
    // the next file, even before this load settles. (Not .slice(): on a Node Buffer it is a view.)
    const bytes = new Uint8Array(fileBytes(file, source, 'load()'));
    checkLoadOptions(opts, source);
    // The kernel's sha256, not WebCrypto: WebCrypto's first digest in a fresh process costs
    // 3-10 ms of start-up; resident memory grows alike either way (test/bench/runtime.ts).
    let digest: Uint8Array | undefined;
    try {
      digest = await this.contentDigestAsync(bytes);
    } catch (e) {
      // No kernel memory to checksum the file in: named with the file, as load()'s other errors
      // (an engine that cannot compile the kernels at all says so as it is, like createRuntime()).
      throw isEdgeRnnError(e, 'KERNEL_MEMORY') ? withSource(e, source) : e;
    }
    // Only a file shorter than a header has no digest, and the parser rejects it before asking.
    const decoded = decodeModelWith(bytes, source, () => digest ?? new Uint8Array(32));
    let engine: Engine;
    try {
      engine = await this.engine(decoded.spec, this.resolveBackend(decoded.spec, opts.backend ?? this.choice), opts.weightStorage ?? 'auto');
    } catch (e) {
      throw withSource(e, source);
    }
    return checkedModel(decoded, engine, opts, source);
  }

  /**
   * load(), synchronously, for code that cannot await (a detector that learns a model mid-stream).
   * Node, workers, and pages of browsers that compile a 14 KB module synchronously on the main
   * thread (Chromium does: it once refused anything over 4 KB there; test/browser checks it).
   * Pages should prefer load(): compiling blocks the page.
   */
  loadSync(file: Uint8Array | ArrayBuffer | SharedArrayBuffer | ArrayBufferView, opts?: LoadOptions): Model {
    opts = optionsObject(opts, 'loadSync()', LOAD_OPTIONS);
    const source = opts.source ?? 'model.ern';
    const bytes = new Uint8Array(fileBytes(file, source, 'loadSync()')); // a private copy, as load()'s
    checkLoadOptions(opts, source);
    const digest = (): Uint8Array => {
      try {
        return this.contentDigest(bytes) ?? new Uint8Array(32);
      } catch (e) {
        throw isEdgeRnnError(e, 'KERNEL_MEMORY') ? withSource(e, source) : e; // as load()'s
      }
    };
    const decoded = decodeModelWith(bytes, source, digest);
    let engine: Engine;
    try {
      engine = this.engineSync(decoded.spec, this.resolveBackend(decoded.spec, opts.backend ?? this.choice), opts.weightStorage ?? 'auto');
    } catch (e) {
      throw withSource(e, source);
    }
    return checkedModel(decoded, engine, opts, source);
  }
}

/**
 * createRuntime(), synchronously (Node, workers, pages: see Runtime.loadSync): compiles the SIMD
 * build now (or the scalar one where SIMD does not validate).
 */
export function createRuntimeSync(opts: RuntimeOptions = {}): Runtime {
  const choice = backendChoice(opts);
  checkWebAssembly();
  const bins = kernelBinaries();
  let simd: WebAssembly.Module | null = null;
  let simdSupported: boolean;
  if (opts.validate) simdSupported = opts.validate(bins.simd);
  else {
    try {
      simd = new WebAssembly.Module(bins.simd);
      simdSupported = true;
    } catch (e) {
      const refused = compileRefused(e, bins.simd); // as in createRuntime()
      if (refused) throw refused;
      simdSupported = false;
    }
  }
  if (choice === 'simd' && !simdSupported) throw new EdgeRnnError('BACKEND_UNAVAILABLE', 'this WebAssembly engine does not validate the SIMD kernels');
  return newRuntime(new KernelModules(bins, simdSupported, simd), simdSupported, choice);
}

/** Steps of a streamable model's golden vector per run() in Model.verifyGolden (even: projectPair takes steps two by two). */
const GOLDEN_PIECE = 8;

/** The largest kernel memory a runtime keeps for checksums (see Runtime.hash): a model's own arena is rarely smaller. */
const HASHER_KEEP_BYTES = 2 ** 20;

/** SHA-256 of an .ern file's content (checksum field zeroed) in a kernel instance's memory. */
function kernelSha256(k: KernelExports, bytes: Uint8Array): Uint8Array {
  const out = k.heap_base();
  const at = out + 32;
  const need = at + bytes.length;
  const have = k.memory.buffer.byteLength;
  if (need > have) {
    // The file is copied into kernel memory whole: an engine may refuse to grow it (a tab under
    // memory pressure; past 4 GiB), which was a bare RangeError out of load().
    try {
      k.memory.grow(Math.ceil((need - have) / 65536));
    } catch (e) {
      if (!(e instanceof RangeError)) throw e;
      throw new EdgeRnnError('KERNEL_MEMORY', `kernel memory cannot grow ${growthText(have, need)} to checksum a ${(bytes.length / 2 ** 20).toFixed(1)} MiB file (${e.message})`, { expected: need, got: have });
    }
  }
  const mem = new Uint8Array(k.memory.buffer);
  mem.set(bytes, at);
  mem.fill(0, at + ERN_SHA256_OFFSET, at + ERN_SHA256_OFFSET + 32);
  k.sha256(at, bytes.length, out);
  return mem.slice(out, out + 32);
}

/** Names the file in errors found while preparing a model (quantization parameters, overflow bounds). */
function withSource(e: unknown, source: string): unknown {
  if (e instanceof EdgeRnnError && !e.message.startsWith(source)) return new EdgeRnnError(e.code, `${source}: ${e.message}`, { source, ...e.details });
  return e;
}

function checkedModel(decoded: DecodedModel, engine: Engine, opts: LoadOptions, source: string): Model {
  const model = new Model(decoded, engine, opts.nonFinite ?? 'error', source);
  model.verifyGolden();
  return model;
}

/** Convenience: a runtime for one model. */
export async function loadModel(bytes: Uint8Array | ArrayBuffer | SharedArrayBuffer | ArrayBufferView, opts?: LoadOptions): Promise<Model> {
  opts = optionsObject(opts, 'loadModel()', LOAD_OPTIONS);
  const rt = await createRuntime(opts.backend !== undefined ? { backend: opts.backend } : {});
  return rt.load(bytes, opts);
}

const STATE_MAGIC = 0x534e5245; // "ERNS" little-endian
const STATE_VERSION = 1;
const STATE_HEADER = 32;

function fnv1a(bytes: Uint8Array, start: number, end: number, h = 0x811c9dc5): number {
  for (let i = start; i < end; i++) h = Math.imul(h ^ bytes[i]!, 0x01000193) >>> 0;
  return h >>> 0;
}

export interface ModelSizes {
  fileBytes: number;
  /** Weights and constants as the backend holds them (padded). */
  weightBytes: number;
  /** One stream's state. */
  stateBytes: number;
  /** Exported state (header + state). */
  exportedStateBytes: number;
}

export class Model {
  static {
    keepClassName(this, 'Model');
  }
  readonly spec: ModelSpec;
  readonly manifest: Readonly<Record<string, unknown>>;
  readonly backend: BackendName;
  readonly inputSize: number;
  readonly outputSize: number;
  readonly streamable: boolean;
  /** Hex sha256 of the file content: the model's identity. */
  readonly sha256: string;
  readonly sizes: ModelSizes;
  readonly source: string;
  /** @internal */ readonly engine: Engine;
  /** @internal */ readonly nonFinite: NonFinitePolicy;
  private readonly decoded: DecodedModel;
  private readonly id: Uint8Array;
  private batchOut = new Float32Array(0);
  private disposed = false;
  /** The last view inputFrame() handed out. */
  private frame: Float32Array | null = null;
  /**
   * Sessions dropped without dispose() give their state block back when the collector takes
   * them (a caller that forgets dispose() would otherwise leak kernel memory, a block per
   * session, for the model's lifetime). dispose() unregisters, so a block is freed once.
   */
  private readonly dropped = new FinalizationRegistry<EngineState>((s) => {
    if (!this.disposed) this.engine.freeState(s);
  });

  constructor(decoded: DecodedModel, engine: Engine, nonFinite: NonFinitePolicy, source: string) {
    this.decoded = decoded;
    this.spec = decoded.spec;
    this.manifest = decoded.container.manifest;
    this.engine = engine;
    this.backend = engine.backend;
    this.inputSize = engine.inputSize;
    this.outputSize = engine.outputSize;
    this.streamable = engine.streamable;
    this.sha256 = decoded.container.sha256;
    this.nonFinite = nonFinite;
    this.source = source;
    this.id = new Uint8Array(8);
    for (let i = 0; i < 8; i++) this.id[i] = parseInt(this.sha256.slice(2 * i, 2 * i + 2), 16);
    this.sizes = {
      fileBytes: decoded.container.byteLength,
      weightBytes: engine.weightBytes,
      stateBytes: engine.stateBytes,
      exportedStateBytes: STATE_HEADER + engine.stateBytes,
    };
  }

  get name(): string {
    return this.spec.name;
  }

  get version(): string {
    return this.spec.version;
  }

  get labels(): readonly string[] {
    return this.spec.labels;
  }

  /**
   * Zero-copy input, like TensorFlow Lite Micro's `interpreter.input(0)`: the frame buffer the
   * kernels read (float32 [inputSize], inside WASM memory on the simd and scalar backends).
   * Write a frame into it and call `session.step()` without an argument: nothing is copied or
   * allocated. One buffer per model, shared by its sessions; `step(frame)` overwrites it.
   * Creating sessions or running bigger batches and sequences can grow kernel memory, which
   * detaches the view: `step()` then throws INPUT_FRAME_STALE (so do step(view), run(view) and
   * stepMany(sessions, view) given the detached view); call inputFrame() again.
   */
  inputFrame(): Float32Array {
    this.assertLive();
    return (this.frame = this.engine.inputFrame());
  }

  /** @internal The view from inputFrame(), or an INPUT_FRAME_STALE error when it was detached or never requested. */
  liveFrame(): Float32Array {
    const f = this.frame;
    if (f === null) throw new EdgeRnnError('INPUT_FRAME_STALE', `model '${this.name}': step() without a frame reads model.inputFrame(), which was never requested`);
    if (f.length !== this.inputSize) {
      throw new EdgeRnnError('INPUT_FRAME_STALE', `model '${this.name}': kernel memory grew since inputFrame() (a new session or a bigger batch): the frame view is detached; call model.inputFrame() again and write the frame there`, {
        expected: this.inputSize,
        got: f.length,
      });
    }
    return f;
  }

  /** @internal The view inputFrame() last handed out, now detached by memory growth. */
  isStaleFrame(v: unknown): boolean {
    return v === this.frame && this.frame !== null && this.frame.length !== this.inputSize;
  }

  /** Replays the file's golden vector; throws ERN_GOLDEN_MISMATCH when the output differs. */
  verifyGolden(): void {
    this.assertLive();
    const g = this.decoded.golden;
    const s = this.engine.allocState();
    try {
      const out = new Float32Array(g.steps * this.outputSize);
      // Through run(), streamable or not (bit-exact with step(), tested): frame by frame, the
      // golden steps and the first session.step() ran the step path's matrix-vector function
      // (the kernels' project()) just past V8's tier-up budget, so most cold starts compiled it
      // with TurboFan and paged ~2.7 MiB of that compiler in (run() does the input projections
      // in projectPair(), which has its own budget). Measured in README "Benchmark".
      // A streamable model's golden vector goes through in pieces of GOLDEN_PIECE steps (the
      // state carries over, so the outputs are the same): kernel memory never shrinks, and a run
      // of every golden step left sequence buffers for all of them to a model only ever stepped
      // (a GRU 64 -> 512 with 49 golden steps: 27 pages of kernel memory, 19 in pieces).
      const I = this.inputSize;
      const O = this.outputSize;
      const piece = this.streamable ? GOLDEN_PIECE : g.steps;
      for (let t0 = 0; t0 < g.steps; t0 += piece) {
        const n = Math.min(piece, g.steps - t0);
        this.engine.run(s, g.inputData.subarray(t0 * I, (t0 + n) * I), n, out.subarray(t0 * O, (t0 + n) * O), 'zero');
      }
      let worst = 0;
      let at = 0;
      for (let i = 0; i < out.length; i++) {
        const d = Math.abs(out[i]! - g.outputData[i]!);
        if (!(d <= worst)) {
          worst = d;
          at = i;
        }
      }
      if (!(worst <= g.atol)) {
        const step = Math.floor(at / this.outputSize);
        throw new EdgeRnnError(
          'ERN_GOLDEN_MISMATCH',
          `${this.source}: backend ${this.backend} does not reproduce the golden output: step ${step} output ${at % this.outputSize} is ${out[at]}, expected ${g.outputData[at]} (max |diff| ${worst}, allowed ${g.atol})`,
          { backend: this.backend, step, output: at % this.outputSize, got: out[at], expected: g.outputData[at], maxDiff: worst },
        );
      }
    } finally {
      this.engine.freeState(s);
    }
  }

  session(opts?: { nonFinite?: NonFinitePolicy }): Session {
    this.assertLive();
    opts = optionsObject(opts, `model '${this.name}': session()`, ['nonFinite']);
    return new Session(this, opts.nonFinite);
  }

  /** @internal A new session's state block, freed when the session is collected undisposed. */
  trackSession(s: Session, state: EngineState): void {
    this.dropped.register(s, state, s);
  }

  /** @internal A session's dispose(): its state block is freed there, not again when collected. */
  forgetSession(s: Session): void {
    this.dropped.unregister(s);
  }

  /**
   * Steps many streams at once (one gateway, many devices): frames [n][inputSize] for n sessions
   * of this model, returns [n][outputSize] (a view reused by the next call). On a bad frame
   * nothing is stepped and the error names the session index. A session listed twice is stepped
   * twice, in list order (as two step() calls).
   */
  stepMany(sessions: readonly Session[], frames: ArrayLike<number>): Float32Array {
    this.assertLive();
    if (sessions === null || typeof sessions !== 'object' || typeof sessions.length !== 'number') {
      throw new EdgeRnnError('INVALID_ARGUMENT', `stepMany: sessions are an array of sessions of model '${this.name}', got ${describe(sessions)}`, { got: describe(sessions) });
    }
    const n = sessions.length;
    if (frames === null || typeof frames !== 'object' || isBigIntArray(frames)) {
      throw new EdgeRnnError('SHAPE_MISMATCH', `stepMany: frames are ${n * this.inputSize} numbers flat (a Float32Array or an array), got ${describe(frames)}`, { expected: n * this.inputSize, got: describe(frames) });
    }
    if (n > 0 && frames[0] !== null && typeof frames[0] === 'object') {
      throw new EdgeRnnError('SHAPE_MISMATCH', `stepMany: the frames go flat, session i's at [i * ${this.inputSize}, (i + 1) * ${this.inputSize}) (${n * this.inputSize} numbers for ${n} sessions); got an array of ${frames.length} arrays`, {
        expected: n * this.inputSize,
      });
    }
    if (this.isStaleFrame(frames)) this.liveFrame(); // a detached inputFrame() view, as in step(view)
    if (frames.length !== n * this.inputSize) {
      throw new EdgeRnnError('SHAPE_MISMATCH', `stepMany: ${n} sessions need ${n * this.inputSize} frame values (${this.inputSize} each), got ${frames.length}`, {
        expected: n * this.inputSize,
        got: frames.length,
      });
    }
    const I = this.inputSize;
    const values = numericValues(this, frames, n * I, (i) => `stepMany: session ${Math.floor(i / I)} feature ${i % I}`);
    if (!this.streamable) throw notStreamable(this);
    const states: EngineState[] = new Array(n);
    let policy = sessions[0]?.nonFinite ?? this.nonFinite;
    let mixed = false;
    for (let i = 0; i < n; i++) {
      const s = sessions[i]!;
      if (!(s instanceof Session)) throw new EdgeRnnError('INVALID_ARGUMENT', `stepMany: session ${i} is ${describe(s)}, not a session`, { index: i, got: describe(s) });
      // A session of a model replaced and disposed (an update) is SESSION_DISPOSED, as its step() is.
      if (s.model.isDisposed && s.model !== this) throw new EdgeRnnError('SESSION_DISPOSED', `stepMany: session ${i} is of a disposed model '${s.model.name}': create it again with this model's session()`, { index: i });
      if (s.model !== this) {
        // Two loads of one file are two models with the same name: say which mistake it is.
        const whose = s.model.name === this.name ? `another load of model '${this.name}' (a session steps with the Model object that created it)` : `model '${s.model.name}', not '${this.name}'`;
        throw new EdgeRnnError('STATE_MISMATCH', `stepMany: session ${i} belongs to ${whose}`, { index: i });
      }
      if (s.isDisposed) throw new EdgeRnnError('SESSION_DISPOSED', `stepMany: session ${i} was disposed`, { index: i });
      states[i] = s.engineState();
      if (s.nonFinite !== policy) mixed = true;
    }
    if (mixed) {
      // Sessions with different policies: each gets its own (an 'error' session's bad frame
      // throws before anything is stepped; the others' bad values are zeroed).
      for (let i = 0; i < n; i++) {
        if (sessions[i]!.nonFinite !== 'error') continue;
        const b = firstNonFinite(values, i * I, I);
        if (b >= 0) throw nonFinite(this, i, b, `session ${i}`, frames[i * I + b]);
      }
      policy = 'zero';
    }
    if (this.batchOut.length < n * this.outputSize) this.batchOut = new Float32Array(n * this.outputSize);
    const bad = this.engine.stepMany(states, values, this.batchOut, policy);
    if (bad >= 0) throw nonFinite(this, Math.floor(bad / this.inputSize), bad % this.inputSize, `session ${Math.floor(bad / this.inputSize)}`, frames[bad]);
    for (let i = 0; i < n; i++) sessions[i]!.countStep(1); // (an array-like of sessions is not iterable)
    return this.batchOut.subarray(0, n * this.outputSize);
  }

  /** @internal */
  stateId(): Uint8Array {
    return this.id;
  }

  /** Frees the kernel memory. Sessions of a disposed model throw SESSION_DISPOSED. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.engine.dispose();
    this.frame = null; // a view into kernel memory keeps that memory
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  private assertLive(): void {
    if (this.disposed) throw new EdgeRnnError('SESSION_DISPOSED', `model '${this.name}' was disposed`);
  }
}

/**
 * BigInt64Array and BigUint64Array: their values are not numbers (arithmetic on them throws a
 * TypeError). By tag, so one from another realm (a vm context, an iframe) counts too.
 */
function isBigIntArray(v: unknown): boolean {
  if (v instanceof BigInt64Array || v instanceof BigUint64Array) return true;
  if (!ArrayBuffer.isView(v)) return false;
  const tag = Object.prototype.toString.call(v);
  return tag === '[object BigInt64Array]' || tag === '[object BigUint64Array]';
}

/**
 * The runtime bundles (edgernn/runtime, its CommonJS build) are minified: without this a Model
 * printed as `me {...}` and a message said "session 0 is a ye, not a session".
 */
function keepClassName(cls: object, name: string): void {
  Object.defineProperty(cls, 'name', { value: name });
}

/**
 * A wrong argument, named for a message: 'null', 'a number', 'a BigInt64Array'. A Model,
 * Session or Runtime that is not this copy's comes from another entry point: each (edgernn,
 * edgernn/runtime, its require() build, edgernn/runtime/cached) bundles its own classes.
 */
function describe(v: unknown): string {
  if (v === null || v === undefined) return String(v);
  if (typeof v !== 'object') return `a ${typeof v}`;
  const name = (v as object).constructor?.name ?? 'object';
  const ours = v instanceof Model || v instanceof Session || v instanceof Runtime;
  if (!ours && (name === 'Model' || name === 'Session' || name === 'Runtime')) {
    return `a ${name} of another copy of edgernn (each entry point, edgernn, edgernn/runtime, require('edgernn/runtime') and edgernn/runtime/cached, has its own classes: use one)`;
  }
  return `a ${name}`;
}

/** A frame value that is not a number, named for a message: 'a string ("1.5")', 'an array', 'a bigint (3n)'. */
function describeValue(v: unknown): string {
  if (typeof v === 'string') return `a string (${JSON.stringify(v.length > 20 ? `${v.slice(0, 20)}...` : v)})`;
  if (typeof v === 'boolean') return `a boolean (${v})`;
  if (typeof v === 'bigint') return `a bigint (${v}n)`;
  if (Array.isArray(v)) return `an array of ${v.length} (frames nest one level: [steps][features])`;
  return describe(v);
}

/**
 * The values of a frame or flat sequence that is not a Float32Array, as the engines take them.
 * Typed arrays pass as they are (BigInt ones are refused before). A plain array (or array-like)
 * must hold numbers: null and undefined (a hole; JSON writes NaN as null) are a missing value,
 * NaN to the nonFinite policy, where converted they were stepped as 0 whatever the policy; any
 * other value (a string, a boolean, a nested array: a [batch][steps][features] sequence, a
 * BigInt) is SHAPE_MISMATCH, where converted it was stepped as some number, 0 or NaN, or threw a
 * TypeError. `where(i)` names value i in the message. Copies only when it meets null or undefined.
 */
function numericValues(m: Model, v: ArrayLike<unknown>, n: number, where: (i: number) => string): ArrayLike<number> {
  if (ArrayBuffer.isView(v)) return v as ArrayLike<number>;
  let copy: Float64Array | null = null;
  for (let i = 0; i < n; i++) {
    const x = v[i];
    if (typeof x === 'number') {
      if (copy !== null) copy[i] = x;
      continue;
    }
    if (x !== null && x !== undefined) {
      throw new EdgeRnnError('SHAPE_MISMATCH', `model '${m.name}': ${where(i)} is ${describeValue(x)}, not a number`, { index: i, got: describeValue(x) });
    }
    if (copy === null) {
      copy = new Float64Array(n);
      for (let j = 0; j < i; j++) copy[j] = v[j] as number;
    }
    copy[i] = NaN;
  }
  return copy ?? (v as ArrayLike<number>);
}

/**
 * Options objects: undefined means none; anything else that is not an object is a caller's bug,
 * and so is a key the call does not know (`{ weightstorage: 'dense' }` or `{ backed: 'scalar' }`
 * would pass as the default, unnoticed), unless its value is undefined.
 */
function optionsObject<T extends object>(opts: T | undefined, where: string, keys: readonly string[]): T {
  if (opts === undefined) return {} as T;
  if (opts === null || typeof opts !== 'object' || Array.isArray(opts)) {
    throw new EdgeRnnError('INVALID_ARGUMENT', `${where}: options are an object, got ${describe(opts)}`, { got: describe(opts) });
  }
  for (const k of Object.keys(opts)) {
    if (keys.includes(k) || (opts as Record<string, unknown>)[k] === undefined) continue;
    const near = keys.find((known) => known.toLowerCase() === k.toLowerCase());
    throw new EdgeRnnError('INVALID_ARGUMENT', `${where}: unknown option '${k}'${near ? ` (did you mean '${near}'?)` : ''}: the options are ${keys.join(', ')}`, { got: k, expected: keys });
  }
  return opts;
}

const LOAD_OPTIONS = ['backend', 'source', 'nonFinite', 'weightStorage'] as const satisfies readonly (keyof LoadOptions)[];
const RUNTIME_OPTIONS = ['backend', 'validate'] as const satisfies readonly (keyof RuntimeOptions)[];

function notStreamable(m: Model): EdgeRnnError {
  return new EdgeRnnError('NOT_STREAMABLE', `model '${m.name}' has bidirectional or reverse layers: it needs the whole sequence, use run()`);
}

/** No offending value at hand (a zero-copy frame). */
const NO_VALUE: unique symbol = Symbol('no value');

/** value: the offending input, or NO_VALUE (a finite one is beyond float32's range; null or undefined is missing). */
function nonFinite(m: Model, step: number, feature: number, where: string, value: unknown): EdgeRnnError {
  const what =
    value === null || value === undefined
      ? `is ${String(value)} (a missing value)`
      : typeof value === 'number' && Number.isFinite(value)
        ? `is ${value}, beyond float32's range`
        : 'is NaN or infinite';
  return new EdgeRnnError('NON_FINITE_INPUT', `model '${m.name}': ${where} feature ${feature} ${what}; nothing was changed (load with nonFinite: 'zero' to replace such values by 0)`, {
    step,
    feature,
  });
}

/** One stream's state. Create with model.session(). */
export class Session {
  static {
    keepClassName(this, 'Session');
  }
  readonly model: Model;
  readonly nonFinite: NonFinitePolicy;
  private state: EngineState | null;
  private readonly out: Float32Array;
  private stepCount = 0;

  /**
   * model.session() calls this; `new Session(model, policy?)` is the same: the model's policy by
   * default, a policy checked, a disposed model refused, the state freed when collected undisposed.
   */
  constructor(model: Model, policy?: NonFinitePolicy) {
    if (!(model instanceof Model)) throw new EdgeRnnError('INVALID_ARGUMENT', `new Session(): takes a Model (better: model.session()), got ${describe(model)}`, { got: describe(model) });
    if (model.isDisposed) throw new EdgeRnnError('SESSION_DISPOSED', `model '${model.name}' was disposed`);
    this.model = model;
    this.nonFinite = policy === undefined ? model.nonFinite : checkNonFinite(policy, `model '${model.name}': session()`);
    const state = model.engine.allocState();
    this.state = state;
    this.out = new Float32Array(model.outputSize);
    model.trackSession(this, state);
  }

  /** Steps taken since creation or the last reset() (imported with the state). */
  get steps(): number {
    return this.stepCount;
  }

  /** True after dispose(), or after its model's dispose(): every call but dispose() then throws SESSION_DISPOSED. */
  get isDisposed(): boolean {
    return this.state === null || this.model.isDisposed;
  }

  /** @internal */
  engineState(): EngineState {
    if (this.state === null || this.model.isDisposed) throw new EdgeRnnError('SESSION_DISPOSED', 'the session (or its model) was disposed');
    return this.state;
  }

  /** @internal */
  countStep(n: number): void {
    this.stepCount += n;
  }

  /**
   * One frame in, one output out. The returned array is reused by the next step(): copy it to
   * keep it. A frame of the wrong length or with NaN/±Infinity (policy 'error') throws and leaves
   * the state untouched. Without an argument, steps on the frame written into
   * model.inputFrame() (zero-copy; under policy 'zero' bad values there are zeroed in place).
   */
  step(frame?: ArrayLike<number>): Float32Array {
    const st = this.engineState();
    const m = this.model;
    if (frame === undefined || frame === null) {
      // An explicit undefined is a caller's bug (frames[t] past the end), not a zero-copy step.
      if (arguments.length > 0) throw new EdgeRnnError('SHAPE_MISMATCH', `model '${m.name}': a frame needs ${m.inputSize} values, got ${String(frame)}`, { expected: m.inputSize, got: String(frame) });
      m.liveFrame();
      if (!m.streamable) throw notStreamable(m);
      const bad = m.engine.stepInput(st, this.out, this.nonFinite);
      if (bad >= 0) throw nonFinite(m, this.stepCount, bad, `step ${this.stepCount}`, NO_VALUE);
      this.stepCount++;
      return this.out;
    }
    // A Float32Array of the right length is the hot path: everything else is checked aside.
    const x = frame instanceof Float32Array && frame.length === m.inputSize ? frame : this.frameValues(frame);
    if (!m.streamable) throw notStreamable(m);
    const bad = m.engine.step(st, x, 0, this.out, this.nonFinite);
    if (bad >= 0) throw nonFinite(m, this.stepCount, bad, `step ${this.stepCount}`, frame[bad]);
    this.stepCount++;
    return this.out;
  }

  /** A frame that is not a Float32Array of inputSize values: its values, or SHAPE_MISMATCH. */
  private frameValues(frame: ArrayLike<number>): ArrayLike<number> {
    const m = this.model;
    if (typeof frame !== 'object' || isBigIntArray(frame)) throw new EdgeRnnError('SHAPE_MISMATCH', `model '${m.name}': a frame is ${m.inputSize} numbers (a Float32Array or an array), got ${describe(frame)}`, { expected: m.inputSize, got: typeof frame });
    if (frame.length !== m.inputSize) {
      // step(view) with a view from model.inputFrame() that memory growth detached: say so, not "got 0 values".
      if (m.isStaleFrame(frame)) m.liveFrame();
      throw new EdgeRnnError('SHAPE_MISMATCH', `model '${m.name}': a frame needs ${m.inputSize} values, got ${frame.length}`, { expected: m.inputSize, got: frame.length });
    }
    return numericValues(m, frame, m.inputSize, (k) => `step ${this.stepCount} feature ${k}`);
  }

  /**
   * A sequence: frames as [steps][inputSize] nested arrays or flat. Returns [steps][outputSize]
   * flat. Streamable models continue from the current state (like repeated step()); models with
   * bidirectional layers start from the initial state each time.
   */
  run(frames: ArrayLike<number> | ArrayLike<ArrayLike<number>>): Float32Array {
    const st = this.engineState();
    const m = this.model;
    const I = m.inputSize;
    let flat: ArrayLike<number>;
    if (frames === null || typeof frames !== 'object' || isBigIntArray(frames)) {
      throw new EdgeRnnError('SHAPE_MISMATCH', `model '${m.name}': run() takes a sequence of frames ([steps][${I}] or ${I}·steps numbers flat), got ${isBigIntArray(frames) ? describe(frames) : frames === null ? 'null' : typeof frames}`, { expected: I, got: frames === null ? 'null' : typeof frames });
    }
    const first = frames.length > 0 ? (frames as ArrayLike<unknown>)[0] : undefined;
    const where = (i: number) => `step ${Math.floor(i / I)} of the sequence feature ${i % I}`;
    /** The value the caller gave at flat index i (for messages). */
    let given: (i: number) => unknown;
    if (first !== undefined && first !== null && typeof first === 'object') {
      const rows = frames as ArrayLike<ArrayLike<unknown>>;
      const f = new Float64Array(rows.length * I); // float64: a value beyond float32 is reported as given
      for (let t = 0; t < rows.length; t++) {
        const r = rows[t]!;
        if (r !== null && typeof r === 'object' && r.length > 0 && r[0] !== null && typeof r[0] === 'object') {
          throw new EdgeRnnError('SHAPE_MISMATCH', `model '${m.name}': frame ${t} is itself a sequence of ${r.length} frames: run() takes one sequence ([steps][${I}]); a batch [batch][steps][features] is one run() per sequence, each on its own session`, { step: t, expected: I, got: r.length });
        }
        if (r === null || typeof r !== 'object' || r.length !== I || isBigIntArray(r)) throw new EdgeRnnError('SHAPE_MISMATCH', `model '${m.name}': frame ${t} ${r !== null && typeof r === 'object' && !isBigIntArray(r) ? `has ${r.length} values, expected ${I}` : `is ${describe(r)}, expected ${I} values`}`, { step: t, expected: I, got: r?.length });
        for (let k = 0; k < I; k++) {
          // As numericValues: null and undefined are missing (NaN), other non-numbers refused.
          const v = r[k];
          if (typeof v === 'number') f[t * I + k] = v;
          else if (v === null || v === undefined) f[t * I + k] = NaN;
          else throw new EdgeRnnError('SHAPE_MISMATCH', `model '${m.name}': ${where(t * I + k)} is ${describeValue(v)}, not a number`, { step: t, feature: k, got: describeValue(v) });
        }
      }
      flat = f;
      given = (i) => rows[Math.floor(i / I)]![i % I];
    } else {
      const values = frames as ArrayLike<number>;
      if (m.isStaleFrame(values)) m.liveFrame(); // a detached inputFrame() view ran as 0 steps, silently
      if (values.length % I !== 0) {
        throw new EdgeRnnError('SHAPE_MISMATCH', `model '${m.name}': a flat sequence needs a multiple of ${I} values, got ${values.length}`, { expected: I, got: values.length });
      }
      flat = numericValues(m, values, values.length, where);
      given = (i) => values[i];
    }
    const T = flat.length / I;
    const out = new Float32Array(T * m.outputSize);
    const bad = m.engine.run(st, flat, T, out, this.nonFinite);
    if (bad >= 0) throw nonFinite(m, Math.floor(bad / I), bad % I, `step ${Math.floor(bad / I)} of the sequence`, given(bad));
    this.stepCount = m.streamable ? this.stepCount + T : T;
    return out;
  }

  /** Back to the model's initial state. */
  reset(): void {
    this.model.engine.resetState(this.engineState());
    this.stepCount = 0;
  }

  /**
   * The state as bytes: a 32-byte header (magic, version, state class, model id, size, step
   * count, checksum) and the raw state. Integer states move freely between simd, scalar and
   * reference backends of the same model.
   */
  exportState(): Uint8Array<ArrayBuffer> {
    const st = this.engineState();
    const m = this.model;
    const body = st.bytes();
    const out = new Uint8Array(STATE_HEADER + body.length);
    const dv = new DataView(out.buffer);
    dv.setUint32(0, STATE_MAGIC, true);
    dv.setUint16(4, STATE_VERSION, true);
    out[6] = m.engine.stateClass === 'int' ? 0 : 1;
    out.set(m.stateId(), 8);
    dv.setUint32(16, body.length, true);
    dv.setUint32(20, this.stepCount % 2 ** 32, true);
    dv.setUint32(24, Math.floor(this.stepCount / 2 ** 32), true);
    out.set(body, STATE_HEADER);
    dv.setUint32(28, fnv1a(out, STATE_HEADER, out.length, fnv1a(out, 0, 28)), true);
    return out;
  }

  /**
   * Restores a state from exportState() (a Uint8Array, Buffer, ArrayBuffer or any view of the
   * bytes); throws STATE_MISMATCH (and changes nothing) if it does not fit.
   */
  importState(state: Uint8Array | ArrayBuffer | SharedArrayBuffer | ArrayBufferView): void {
    const st = this.engineState();
    const m = this.model;
    const bytes = fileBytes(state, `model '${m.name}'`, 'importState()');
    const bad = (why: string) => new EdgeRnnError('STATE_MISMATCH', `model '${m.name}': cannot import state: ${why}`);
    if (bytes.length < STATE_HEADER) throw bad(`${bytes.length} bytes is shorter than the ${STATE_HEADER}-byte header`);
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
    if (dv.getUint32(0, true) !== STATE_MAGIC) throw bad('not an edgernn state (wrong magic)');
    if (dv.getUint16(4, true) !== STATE_VERSION) throw bad(`state version ${dv.getUint16(4, true)}, expected ${STATE_VERSION}`);
    // Classes 0 and 1 only: any other byte read as "float" (a forged or future state class).
    if (bytes[6]! > 1) throw bad(`state class ${bytes[6]}, expected 0 (int) or 1 (float)`);
    const cls = bytes[6] === 0 ? 'int' : 'float';
    if (cls !== m.engine.stateClass) throw bad(`it is ${cls === 'int' ? 'an int' : 'a float'} state, this ${m.backend} backend keeps ${m.engine.stateClass} states`);
    const id = m.stateId();
    for (let i = 0; i < 8; i++) if (bytes[8 + i] !== id[i]) throw bad('it was exported from a different model (model id differs)');
    const n = dv.getUint32(16, true);
    if (n !== m.engine.stateBytes || bytes.length !== STATE_HEADER + n) throw bad(`state has ${bytes.length - STATE_HEADER} bytes (header says ${n}), this model needs ${m.engine.stateBytes}`);
    if (dv.getUint32(28, true) !== fnv1a(bytes, STATE_HEADER, bytes.length, fnv1a(bytes, 0, 28))) throw bad('checksum mismatch: the state is corrupt');
    // Step counts are exact integers up to 2^53 - 1 (a high word past 2^21 - 1 is no count a session made).
    const high = dv.getUint32(24, true);
    if (high >= 2 ** 21) throw bad(`step count ${high} * 2^32 + ${dv.getUint32(20, true)} is past 2^53 - 1`);
    st.bytes().set(bytes.subarray(STATE_HEADER));
    this.stepCount = dv.getUint32(20, true) + high * 2 ** 32;
  }

  /** Returns the state's memory to the model. */
  dispose(): void {
    if (this.state === null) return;
    this.model.forgetSession(this);
    if (!this.model.isDisposed) this.model.engine.freeState(this.state);
    this.state = null;
  }
}
