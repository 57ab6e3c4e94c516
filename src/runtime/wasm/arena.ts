/**
 * Memory of one kernel instance: a bump allocator for the model (weights, descriptors,
 * scratch), plus a free list of fixed-size blocks for stream states. Growing the memory detaches
 * old ArrayBuffer views, so callers fetch views through `view*()` which re-create them lazily.
 */
import { EdgeRnnError } from '../../errors.js';

const ALIGN = 16;
const PAGE = 65536;

/** What the arena uses of a WebAssembly.Memory (a disposed model's kernels hold a stand-in). */
export interface KernelMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}

export class WasmArena {
  readonly memory: KernelMemory;
  /** First byte the arena hands out: the kernels' static data (tables, constants) lies below. */
  readonly base: number;
  private top: number;
  private buffer: ArrayBuffer;
  private u8v: Uint8Array;
  private i16v: Int16Array;
  private i32v: Int32Array;
  private readonly free = new Map<number, number[]>();

  constructor(memory: KernelMemory, base: number) {
    this.memory = memory;
    this.base = Math.ceil(base / ALIGN) * ALIGN;
    this.top = this.base;
    this.buffer = memory.buffer;
    this.u8v = new Uint8Array(this.buffer);
    this.i16v = new Int16Array(this.buffer);
    this.i32v = new Int32Array(this.buffer);
  }

  /** Bytes in use, static data included (high-water mark). */
  get used(): number {
    return this.top;
  }

  private refresh(): void {
    if (this.buffer !== this.memory.buffer) {
      this.buffer = this.memory.buffer;
      this.u8v = new Uint8Array(this.buffer);
      this.i16v = new Int16Array(this.buffer);
      this.i32v = new Int32Array(this.buffer);
    }
  }

  u8(): Uint8Array {
    this.refresh();
    return this.u8v;
  }

  i16(): Int16Array {
    this.refresh();
    return this.i16v;
  }

  i32(): Int32Array {
    this.refresh();
    return this.i32v;
  }

  /** Allocates `bytes` zeroed bytes, 16-aligned; grows the memory when needed. */
  alloc(bytes: number): number {
    const ptr = this.top;
    const end = ptr + Math.ceil(Math.max(bytes, 1) / ALIGN) * ALIGN;
    const have = this.memory.buffer.byteLength;
    if (end > have) this.grow(end, have);
    this.top = end;
    this.u8().fill(0, ptr, end);
    return ptr;
  }

  /**
   * Grows the memory to hold `end` bytes. A wasm32 memory ends at 4 GiB and an engine may grant
   * less: the RangeError of memory.grow() becomes a KERNEL_MEMORY error (nothing is allocated;
   * the arena stays as it was, and smaller calls still work).
   */
  private grow(end: number, have: number): void {
    try {
      this.memory.grow(Math.ceil((end - have) / PAGE));
    } catch (e) {
      if (!(e instanceof RangeError)) throw e;
      throw new EdgeRnnError('KERNEL_MEMORY', `kernel memory cannot grow ${growthText(have, end)} (${e.message}): load fewer or smaller models per runtime, or run shorter sequences, smaller batches or fewer sessions per model`, { expected: end, got: have });
    }
  }

  /**
   * Temporary memory past the allocated top: `bytes` at `gap` bytes above it (16-aligned when
   * `gap` is), growing the memory if needed. Nothing is allocated: the region is the caller's
   * until an allocation reaches it.
   */
  scratch(gap: number, bytes: number): number {
    const ptr = this.top + gap;
    const have = this.memory.buffer.byteLength;
    if (ptr + bytes > have) this.grow(ptr + bytes, have);
    return ptr;
  }

  /** Copies a typed array in; returns its address. */
  put(a: Int8Array | Int16Array | Int32Array | Uint32Array | Uint8Array | Float32Array): number {
    const ptr = this.alloc(a.byteLength);
    this.u8().set(new Uint8Array(a.buffer, a.byteOffset, a.byteLength), ptr);
    return ptr;
  }

  /** A block for a stream state: reuses freed blocks of the same size. */
  allocBlock(bytes: number): number {
    const list = this.free.get(bytes);
    const ptr = list?.pop();
    if (ptr !== undefined) {
      this.u8().fill(0, ptr, ptr + bytes);
      return ptr;
    }
    return this.alloc(bytes);
  }

  freeBlock(ptr: number, bytes: number): void {
    let list = this.free.get(bytes);
    if (!list) {
      list = [];
      this.free.set(bytes, list);
    }
    list.push(ptr);
  }
}

/** "from 3 to 5 pages of 64 KiB (0.19 -> 0.31 MiB)": kernel memory grows by whole pages. */
export function growthText(have: number, need: number): string {
  const pages = (b: number) => Math.ceil(b / PAGE);
  return `from ${pages(have)} to ${pages(need)} pages of 64 KiB (${(have / 2 ** 20).toFixed(2)} -> ${((pages(need) * PAGE) / 2 ** 20).toFixed(2)} MiB)`;
}
