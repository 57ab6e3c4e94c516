/**
 * The WASM integer kernels behind the IntKernels interface (backends 'simd' and 'scalar').
 * One instance (one linear memory) per model; every session of the model lives in it and
 * shares the weights.
 */
import { EdgeRnnError } from '../../errors.js';
import type { EngineState } from '../engine.js';
import type { IntKernels } from '../int/engine.js';
import type { PreparedIntModel, PreparedRecurrent } from '../int/prepare.js';
import { WasmArena } from './arena.js';
import { directionInit, writeModel, type ModelLayout } from './layout.js';

/** The kernel module's exports (src/runtime/kernels/assembly/index.ts). */
export interface KernelExports {
  memory: WebAssembly.Memory;
  heap_base(): number;
  model_step(model: number, state: number, x: number, out: number): void;
  model_step_many(model: number, states: number, n: number, x: number, inW: number, out: number): void;
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
  bench_matvec(w: number, rows: number, cols: number, x: number, out: number, reps: number): void;
}

export async function instantiateKernels(module: WebAssembly.Module): Promise<KernelExports> {
  const instance = await WebAssembly.instantiate(module, {
    env: {
      abort: (_msg: number, _file: number, line: number, col: number) => {
        throw new EdgeRnnError('BACKEND_UNAVAILABLE', `WASM kernel aborted at ${line}:${col}`);
      },
    },
  });
  return instance.exports as unknown as KernelExports;
}

interface WasmState extends EngineState {
  readonly ptr: number;
}

/** Growable buffer pair in kernel memory. */
class KernelBuffer {
  ptr = 0;
  bytes = 0;
  constructor(private readonly arena: WasmArena) {}
  ensure(bytes: number): number {
    if (bytes > this.bytes) {
      this.ptr = this.arena.alloc(bytes);
      this.bytes = bytes;
    }
    return this.ptr;
  }
}

export class WasmKernels implements IntKernels {
  readonly backend: 'simd' | 'scalar';
  readonly weightBytes: number;
  readonly arena: WasmArena;
  private readonly x: KernelExports;
  private readonly P: PreparedIntModel;
  private readonly layout: ModelLayout;
  private readonly stateBlock: number;
  private readonly inPtr: number;
  private readonly outPtr: number;
  private readonly batch: { in: KernelBuffer; out: KernelBuffer; states: KernelBuffer };
  private readonly seq: { in: KernelBuffer; out: KernelBuffer; a: KernelBuffer; b: KernelBuffer; px: KernelBuffer; tmp: KernelBuffer };

  constructor(exports: KernelExports, backend: 'simd' | 'scalar', P: PreparedIntModel) {
    this.x = exports;
    this.backend = backend;
    this.P = P;
    this.arena = new WasmArena(exports.memory, exports.heap_base());
    this.layout = writeModel(this.arena, P);
    this.weightBytes = this.layout.weightBytes;
    this.stateBlock = Math.max(16, Math.ceil(P.stateBytes / 16) * 16);
    this.inPtr = this.arena.alloc(P.inputWidth * 2);
    this.outPtr = this.arena.alloc(P.outputWidth * 4);
    const buf = () => new KernelBuffer(this.arena);
    this.batch = { in: buf(), out: buf(), states: buf() };
    this.seq = { in: buf(), out: buf(), a: buf(), b: buf(), px: buf(), tmp: buf() };
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
  private inView = new Int16Array(0);
  private outView = new Int32Array(0);

  private refreshStepViews(): void {
    const buf = this.arena.memory.buffer;
    if (buf === this.viewBuffer) return;
    this.viewBuffer = buf;
    this.inView = new Int16Array(buf, this.inPtr, this.P.inputWidth);
    this.outView = new Int32Array(buf, this.outPtr, this.P.outputWidth);
  }

  stepIn(): Int16Array {
    this.refreshStepViews();
    return this.inView;
  }

  stepOut(): Int32Array {
    this.refreshStepViews();
    return this.outView;
  }

  step(s: EngineState): void {
    this.x.model_step(this.layout.model, (s as WasmState).ptr, this.inPtr, this.outPtr);
  }

  batchIn(n: number): Int16Array {
    const ptr = this.batch.in.ensure(n * this.P.inputWidth * 2);
    return this.arena.i16().subarray(ptr >> 1, (ptr >> 1) + n * this.P.inputWidth);
  }

  batchOut(n: number): Int32Array {
    const ptr = this.batch.out.ensure(n * this.P.outputWidth * 4);
    return this.arena.i32().subarray(ptr >> 2, (ptr >> 2) + n * this.P.outputWidth);
  }

  stepMany(states: readonly EngineState[]): void {
    const n = states.length;
    const sp = this.batch.states.ensure(n * 4);
    this.batch.in.ensure(n * this.P.inputWidth * 2);
    this.batch.out.ensure(n * this.P.outputWidth * 4);
    const i32 = this.arena.i32();
    for (let i = 0; i < n; i++) i32[(sp >> 2) + i] = (states[i] as WasmState).ptr;
    this.x.model_step_many(this.layout.model, sp, n, this.batch.in.ptr, this.P.inputWidth, this.batch.out.ptr);
  }

  seqIn(T: number): Int16Array {
    const ptr = this.seq.in.ensure(T * this.P.inputWidth * 2);
    return this.arena.i16().subarray(ptr >> 1, (ptr >> 1) + T * this.P.inputWidth);
  }

  seqOut(T: number): Int32Array {
    const ptr = this.seq.out.ensure(T * this.P.outputWidth * 4);
    return this.arena.i32().subarray(ptr >> 2, (ptr >> 2) + T * this.P.outputWidth);
  }

  /**
   * Layer by layer over the chunk: the input projection of all T steps is one pass over W
   * (inside layer_run), then the recurrence. Activations ping-pong between two buffers.
   */
  runChunk(s: EngineState, T: number): void {
    const P = this.P;
    const { maxRows, widest } = this.layout;
    const a = this.seq.a.ensure(T * widest * 2);
    const b = this.seq.b.ensure(T * widest * 2);
    const px = this.seq.px.ensure(T * maxRows * 4);
    const out = this.seq.out.ensure(T * P.outputWidth * 4);
    let cur = this.seq.in.ptr;
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
      for (let i = 0; i < n; i++) i32[(out >> 2) + i] = i16[(cur >> 1) + i]!;
    }
  }

  private runRecurrent(L: PreparedRecurrent, li: number, desc: number, statePtr: number, x: number, xStride: number, T: number, y: number, px: number): void {
    const off = this.P.stateOffsets[li]!;
    for (let d = 0; d < L.directions.length; d++) {
      const reverse = d === 1 || L.direction === 'reverse';
      let h: number;
      let c: number;
      if (off >= 0 && d === 0) {
        h = statePtr + off;
        c = h + 2 * L.Hp;
      } else {
        // Offline directions start from the initial state in a temporary.
        h = this.seq.tmp.ensure(L.Hp * 6);
        c = h + 2 * L.Hp;
        const init = directionInit(this.arena, desc, d);
        const u8 = this.arena.u8();
        u8.copyWithin(h, init.h0, init.h0 + 2 * L.Hp);
        u8.copyWithin(c, init.c0, init.c0 + 4 * L.Hp);
      }
      this.x.layer_run(this.layout.model, desc, d, h, c, x, xStride, T, reverse ? 1 : 0, y, L.outWidth, d * L.Hp, px);
    }
  }

  dispose(): void {}
}
