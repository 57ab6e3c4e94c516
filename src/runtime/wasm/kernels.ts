/**
 * The WASM integer kernels behind the IntKernels interface (backends 'simd' and 'scalar').
 * One instance (one linear memory) per model; every session of the model lives in it and
 * shares the weights.
 */
import { EdgeRnnError } from '../../errors.js';
import type { EngineState } from '../engine.js';
import type { IntKernels } from '../int/engine.js';
import type { PreparedIntModel, PreparedRecurrent } from '../int/prepare.js';
import { WasmArena, type KernelMemory } from './arena.js';
import { directionInit, writeModel, type LayoutOptions, type ModelLayout } from './layout.js';

/** The kernel module's exports (src/runtime/kernels/assembly/index.ts). */
export interface KernelExports {
  memory: WebAssembly.Memory;
  heap_base(): number;
  model_step(model: number, state: number, x: number, out: number): number;
  model_step_many(model: number, states: number, n: number, x: number, xq: number, out: number): number;
  quantize_rows(model: number, x: number, T: number, xq: number): number;
  dequantize_rows(model: number, acc: number, T: number, out: number): void;
  layer_run(
    model: number,
    desc: number,
    d: number,
    h: number,
    c: number,
    x: number,
    xStride: number,
    T: number,
    reverse: number,
    y: number,
    yStride: number,
    yOff: number,
    pxSeq: number,
  ): void;
  dense_run(model: number, desc: number, x: number, xStride: number, T: number, y16: number, y32: number): void;
  activate_array(which: number, x: number, n: number, y: number): void;
  bench_matvec(tiles: number, groups: number, kb: number, x: number, out: number, reps: number): void;
  /** out[0..32) = SHA-256 of bytes [ptr, ptr + len). */
  sha256(ptr: number, len: number, out: number): void;
  /** Flags the non-zero 4x8 tiles of a padded int8 matrix; returns the count of all-zero ones. */
  tile_scan(src: number, rows: number, cols: number, flags: number): number;
  /** Copies a matrix's tiles (all, or the flagged ones with their index and group starts); returns the count. */
  tile_pack(src: number, rows: number, cols: number, flags: number, sparse: number, tiles: number, index: number, gstart: number): number;
}

const kernelImports = {
  env: {
    abort: (_msg: number, _file: number, line: number, col: number) => {
      throw new EdgeRnnError('BACKEND_UNAVAILABLE', `WASM kernel aborted at ${line}:${col}`);
    },
  },
};

export async function instantiateKernels(module: WebAssembly.Module): Promise<KernelExports> {
  try {
    const instance = await WebAssembly.instantiate(module, kernelImports);
    return instance.exports as unknown as KernelExports;
  } catch (e) {
    throw noKernelMemory(e);
  }
}

/** Synchronous twin (Node, workers, and pages whose browser allows it: see Runtime.loadSync). */
export function instantiateKernelsSync(module: WebAssembly.Module): KernelExports {
  try {
    return new WebAssembly.Instance(module, kernelImports).exports as unknown as KernelExports;
  } catch (e) {
    throw noKernelMemory(e);
  }
}

/**
 * An instance's memory refused (a RangeError): every loaded model holds one memory, and V8
 * reserves gigabytes of address space for each, so a browser tab runs out after about a hundred
 * live models (Node, built without V8's sandbox, far later). The cure is the caller's: dispose() models it dropped.
 */
function noKernelMemory(e: unknown): unknown {
  if (!(e instanceof RangeError)) return e;
  return new EdgeRnnError('KERNEL_MEMORY', `the WebAssembly engine cannot allocate kernel memory for another model (${e.message}): every loaded model holds one until model.dispose(); dispose the models no longer in use`, { reason: e.message });
}

/**
 * What a disposed model's kernels hold instead of their instance's memory. Not a new
 * WebAssembly.Memory: V8 reserves gigabytes of address space for every memory (a browser tab
 * fits about a hundred), and dispose() is what a page calls when none is left; allocating one
 * there threw a RangeError and kept the old memory.
 */
const RELEASED_MEMORY: KernelMemory = {
  buffer: new ArrayBuffer(0),
  grow(): number {
    throw new EdgeRnnError('SESSION_DISPOSED', 'the model was disposed: its kernel memory is released');
  },
};

interface WasmState extends EngineState {
  readonly ptr: number;
}

/**
 * Growable buffer in kernel memory. The arena cannot take the old region back, so a buffer grows
 * at least twofold: a batch that gains one session per call (devices joining a gateway one by
 * one) then costs twice its final size, not the sum of every size it passed through.
 */
class KernelBuffer {
  ptr = 0;
  bytes = 0;
  constructor(private readonly owner: { readonly arena: WasmArena }) {}
  ensure(bytes: number): number {
    if (bytes > this.bytes) {
      const size = Math.max(bytes, 2 * this.bytes);
      this.ptr = this.owner.arena.alloc(size);
      this.bytes = size;
    }
    return this.ptr;
  }
}

export class WasmKernels implements IntKernels {
  readonly backend: 'simd' | 'scalar';
  readonly weightBytes: number;
  arena: WasmArena;
  private x: KernelExports;
  private readonly P: PreparedIntModel;
  readonly layout: ModelLayout;
  private readonly stateBlock: number;
  private readonly inPtr: number;
  private readonly outPtr: number;
  private readonly batch: { in: KernelBuffer; q: KernelBuffer; out: KernelBuffer; states: KernelBuffer };
  private readonly seq: { in: KernelBuffer; q: KernelBuffer; acc: KernelBuffer; out: KernelBuffer; a: KernelBuffer; b: KernelBuffer; px: KernelBuffer; tmp: KernelBuffer };

  constructor(exports: KernelExports, backend: 'simd' | 'scalar', P: PreparedIntModel, layout: LayoutOptions = {}) {
    this.x = exports;
    this.backend = backend;
    this.P = P;
    this.arena = new WasmArena(exports.memory, exports.heap_base());
    this.layout = writeModel(this.arena, exports, P, layout);
    this.weightBytes = this.layout.weightBytes;
    this.stateBlock = Math.max(16, Math.ceil(P.stateBytes / 16) * 16);
    this.inPtr = this.arena.alloc(P.inputSize * 4);
    this.outPtr = this.arena.alloc(P.outputWidth * 4);
    const buf = () => new KernelBuffer(this);
    this.batch = { in: buf(), q: buf(), out: buf(), states: buf() };
    this.seq = { in: buf(), q: buf(), acc: buf(), out: buf(), a: buf(), b: buf(), px: buf(), tmp: buf() };
  }

  allocState(): EngineState {
    const ptr = this.arena.allocBlock(this.stateBlock);
    const n = this.P.stateBytes;
    const s: WasmState = { ptr, bytes: () => this.arena.u8().subarray(ptr, ptr + n) };
    return s;
  }

  freeState(s: EngineState): void {
    this.arena.freeBlock((s as WasmState).ptr, this.stateBlock);
  }

  // step() must not allocate: the frame views are cached and rebuilt only after memory growth.
  private viewBuffer: ArrayBufferLike | null = null;
  private inView = new Float32Array(0);
  private outView = new Float32Array(0);

  private refreshStepViews(): void {
    const buf = this.arena.memory.buffer;
    if (buf === this.viewBuffer) return;
    this.viewBuffer = buf;
    this.inView = new Float32Array(buf, this.inPtr, this.P.inputSize);
    this.outView = new Float32Array(buf, this.outPtr, this.P.outputWidth);
  }

  // A view detached by memory growth has length 0: cheaper to test than memory.buffer.
  stepIn(): Float32Array {
    if (this.inView.length === 0) this.refreshStepViews();
    return this.inView;
  }

  stepOut(): Float32Array {
    if (this.outView.length === 0) this.refreshStepViews();
    return this.outView;
  }

  step(s: EngineState): number {
    return this.x.model_step(this.layout.model, (s as WasmState).ptr, this.inPtr, this.outPtr);
  }

  /** Sizes every batch buffer at once, so views handed out stay valid through stepMany(). */
  private ensureBatch(n: number): void {
    const P = this.P;
    this.batch.in.ensure(n * P.inputSize * 4);
    this.batch.q.ensure(n * P.inputWidth * 2);
    this.batch.out.ensure(n * P.outputWidth * 4);
    this.batch.states.ensure(n * 4);
  }

  batchIn(n: number): Float32Array {
    this.ensureBatch(n);
    return new Float32Array(this.arena.memory.buffer, this.batch.in.ptr, n * this.P.inputSize);
  }

  batchOut(n: number): Float32Array {
    this.ensureBatch(n);
    return new Float32Array(this.arena.memory.buffer, this.batch.out.ptr, n * this.P.outputWidth);
  }

  stepMany(states: readonly EngineState[]): number {
    const n = states.length;
    this.ensureBatch(n);
    const sp = this.batch.states.ptr;
    const i32 = this.arena.i32();
    for (let i = 0; i < n; i++) i32[(sp >>> 2) + i] = (states[i] as WasmState).ptr;
    return this.x.model_step_many(this.layout.model, sp, n, this.batch.in.ptr, this.batch.q.ptr, this.batch.out.ptr);
  }

  /** Sizes every sequence buffer at once, so views handed out stay valid through runChunk(). */
  private ensureSeq(T: number): void {
    const P = this.P;
    const { maxRows, widest } = this.layout;
    this.seq.in.ensure(T * P.inputSize * 4);
    this.seq.q.ensure(T * P.inputWidth * 2);
    this.seq.out.ensure(T * P.outputWidth * 4);
    this.seq.acc.ensure(T * P.outputWidth * 4);
    this.seq.a.ensure(T * widest * 2);
    this.seq.b.ensure(T * widest * 2);
    this.seq.px.ensure(T * maxRows * 4);
    this.seq.tmp.ensure(maxRows * 6);
  }

  seqIn(T: number): Float32Array {
    this.ensureSeq(T);
    return new Float32Array(this.arena.memory.buffer, this.seq.in.ptr, T * this.P.inputSize);
  }

  seqOut(T: number): Float32Array {
    this.ensureSeq(T);
    return new Float32Array(this.arena.memory.buffer, this.seq.out.ptr, T * this.P.outputWidth);
  }

  /**
   * Layer by layer over the chunk: the input projection of all T steps is one pass over W
   * (inside layer_run), then the recurrence. Activations ping-pong between two buffers.
   */
  runChunk(s: EngineState, T: number): number {
    const P = this.P;
    this.ensureSeq(T);
    const xq = this.seq.q.ptr;
    const bad = this.x.quantize_rows(this.layout.model, this.seq.in.ptr, T, xq);
    if (bad !== 0) return bad;
    const { a: { ptr: a }, b: { ptr: b }, px: { ptr: px }, acc: { ptr: out } } = this.seq;
    let cur = xq;
    let stride = P.inputWidth;
    let flip = false;
    const statePtr = (s as WasmState).ptr;
    for (let li = 0; li < P.layers.length; li++) {
      const L = P.layers[li]!;
      const desc = this.layout.layers[li]!;
      const y = flip ? b : a;
      flip = !flip;
      if (L.kind === 'dense') {
        this.x.dense_run(this.layout.model, desc, cur, stride, T, y, out);
      } else {
        this.runRecurrent(L, li, desc, statePtr, cur, stride, T, y, px);
      }
      cur = y;
      stride = L.outWidth;
    }
    const last = P.layers[P.layers.length - 1]!;
    if (last.kind !== 'dense') {
      // The model ends in a recurrent layer: widen its int16 rows to the int32 output.
      const i16 = this.arena.i16();
      const i32 = this.arena.i32();
      const n = T * P.outputWidth;
      for (let i = 0; i < n; i++) i32[(out >>> 2) + i] = i16[(cur >>> 1) + i]!;
    }
    this.x.dequantize_rows(this.layout.model, out, T, this.seq.out.ptr);
    return 0;
  }

  private runRecurrent(L: PreparedRecurrent, li: number, desc: number, statePtr: number, x: number, xStride: number, T: number, y: number, px: number): void {
    for (let d = 0; d < L.directions.length; d++) {
      const h = this.directionStart(L, li, desc, d, statePtr);
      const reverse = d === 1 || L.direction === 'reverse';
      this.x.layer_run(this.layout.model, desc, d, h, h + 2 * L.Hp, x, xStride, T, reverse ? 1 : 0, y, L.outWidth, d * L.Hp, px);
    }
  }

  /**
   * Where direction d of a recurrent layer keeps h during a run, c (LSTM) following at h + 2·Hp:
   * a forward layer's own direction in the stream state; offline directions start from the
   * initial state in a temporary.
   */
  private directionStart(L: PreparedRecurrent, li: number, desc: number, d: number, statePtr: number): number {
    const off = this.P.stateOffsets[li]!;
    if (off >= 0 && d === 0) return statePtr + off;
    const h = this.seq.tmp.ptr;
    const c = h + 2 * L.Hp;
    const init = directionInit(this.arena, desc, d);
    const u8 = this.arena.u8();
    u8.copyWithin(h, init.h0, init.h0 + 2 * L.Hp);
    u8.copyWithin(c, init.c0, init.c0 + 4 * L.Hp);
    return h;
  }

  /**
   * A model with bidirectional or reverse layers over T steps with kernel scratch for `chunk`
   * steps. Layer by layer as runChunk(s, T), but each layer's whole input and output sequence
   * (int16 rows) lives in JavaScript memory, which the collector takes back after the call, and
   * passes through the kernels a chunk at a time: forward directions from the first chunk,
   * backward ones from the last, each carrying its h (and c) from chunk to chunk. Bit-exact
   * with runChunk(s, T): every step's projection and cell update are the same; only where the
   * kernel calls begin moves.
   */
  runOffline(s: EngineState, T: number, chunk: number, load: (t0: number, n: number) => void, take: (t0: number, n: number) => void): number {
    const P = this.P;
    const model = this.layout.model;
    this.ensureSeq(chunk); // load() and take() ask for no more: the pointers below stay valid
    const { in: { ptr: xin }, q: { ptr: xq }, a: { ptr: a }, b: { ptr: b }, px: { ptr: px }, acc: { ptr: acc }, out: { ptr: yout } } = this.seq;
    const chunks = Math.ceil(T / chunk);
    // Every frame is quantized (and checked) before any state changes; the rows are the first layer's input.
    let cur = new Int16Array(T * P.inputWidth);
    let stride = P.inputWidth;
    for (let i = 0; i < chunks; i++) {
      const t0 = i * chunk;
      const n = Math.min(chunk, T - t0);
      load(t0, n);
      const bad = this.x.quantize_rows(model, xin, n, xq);
      if (bad !== 0) return t0 + bad;
      this.rowsOut(xq, cur, t0 * stride, n * stride);
    }
    const statePtr = (s as WasmState).ptr;
    for (let li = 0; li < P.layers.length; li++) {
      const L = P.layers[li]!;
      const desc = this.layout.layers[li]!;
      const w = L.outWidth;
      const next = new Int16Array(L.kind === 'dense' && L.final ? 0 : T * w);
      if (L.kind === 'dense') {
        for (let i = 0; i < chunks; i++) {
          const t0 = i * chunk;
          const n = Math.min(chunk, T - t0);
          this.rowsIn(cur, t0 * stride, n * stride, a);
          this.x.dense_run(model, desc, a, stride, n, b, acc);
          if (!L.final) this.rowsOut(b, next, t0 * w, n * w);
          else {
            // The last layer: its accumulators are the model's outputs.
            this.x.dequantize_rows(model, acc, n, yout);
            take(t0, n);
          }
        }
      } else {
        for (let d = 0; d < L.directions.length; d++) {
          const h = this.directionStart(L, li, desc, d, statePtr);
          const reverse = d === 1 || L.direction === 'reverse';
          for (let i = 0; i < chunks; i++) {
            const t0 = (reverse ? chunks - 1 - i : i) * chunk;
            const n = Math.min(chunk, T - t0);
            this.rowsIn(cur, t0 * stride, n * stride, a);
            // The second direction fills the second half of rows whose first half is written.
            if (d > 0) this.rowsIn(next, t0 * w, n * w, b);
            this.x.layer_run(model, desc, d, h, h + 2 * L.Hp, a, stride, n, reverse ? 1 : 0, b, w, d * L.Hp, px);
            this.rowsOut(b, next, t0 * w, n * w);
          }
        }
      }
      cur = next;
      stride = w;
    }
    const last = P.layers[P.layers.length - 1]!;
    if (last.kind !== 'dense') {
      // The model ends in a recurrent layer: its int16 rows widened to the int32 output, as in runChunk.
      for (let i = 0; i < chunks; i++) {
        const t0 = i * chunk;
        const n = Math.min(chunk, T - t0);
        const i32 = this.arena.i32();
        const at = acc >>> 2;
        for (let j = 0, from = t0 * stride; j < n * stride; j++) i32[at + j] = cur[from + j]!;
        this.x.dequantize_rows(model, acc, n, yout);
        take(t0, n);
      }
    }
    return 0;
  }

  /** Copies `count` int16 values from src[from ..] into kernel memory at ptr. */
  private rowsIn(src: Int16Array, from: number, count: number, ptr: number): void {
    this.arena.i16().set(src.subarray(from, from + count), ptr >>> 1);
  }

  /** Copies `count` int16 values from kernel memory at ptr into dst[at ..]. */
  private rowsOut(ptr: number, dst: Int16Array, at: number, count: number): void {
    dst.set(this.arena.i16().subarray(ptr >>> 1, (ptr >>> 1) + count), at);
  }

  /**
   * Lets go of the instance and its memory. Sessions keep their model, and so these kernels,
   * reachable after model.dispose(); the model refuses every call from then on.
   */
  dispose(): void {
    this.x = { memory: RELEASED_MEMORY } as unknown as KernelExports;
    this.arena = new WasmArena(RELEASED_MEMORY, 0);
    this.viewBuffer = null;
    this.inView = new Float32Array(0);
    this.outView = new Float32Array(0);
  }
}
