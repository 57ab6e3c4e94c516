/**
 * Magnitude pruning during fine-tuning with the gradual schedule of Zhu & Gupta (2017),
 * "To prune, or not to prune":
 *   s_t = s_f + (s_i - s_f) (1 - (t - t0) / (n Δt))³   for t0 <= t <= t0 + n Δt
 * masks are recomputed every Δt optimizer steps and then held; pruned weights are exact zeros
 * (the optimizer zeroes their gradients and values, see optimizer.ts).
 *
 * Granularity: unstructured (single weights) or blocks of {rows, cols} that the runtime's
 * block-sparse kernel can skip. Blocks tile each matrix the way the runtime lays it out: rows
 * within one gate block (never across gates), columns within one input segment (the two halves
 * after a bidirectional layer); edge blocks may be partial. A block's score is its mean |w|.
 * Scope: 'layer' gives every matrix the target sparsity; 'global' ranks all weights (or blocks)
 * of the model together, so layers end with different sparsities.
 */
import { EdgeRnnError } from '../../src/index.js';
import type { Param } from '../nn/tensor.js';

export interface BlockShape {
  rows: number;
  cols: number;
}

/** The SIMD kernel's tile: 4 output rows × 8 inputs (one i16x8 load per row). */
export const DEFAULT_BLOCK: BlockShape = { rows: 4, cols: 8 };

export interface PruneOptions {
  /** Final sparsity s_f in [0, 1). */
  sparsity: number;
  /** Initial sparsity s_i (default 0). */
  initialSparsity?: number;
  /** null = unstructured. */
  block: BlockShape | null;
  scope: 'layer' | 'global';
  /** First optimizer step of the schedule (t0). */
  beginStep: number;
  /** Step at which s_f is reached (t0 + n Δt). */
  endStep: number;
  /** Mask update period Δt in steps. */
  frequency: number;
  /**
   * Matrices with fewer weights stay dense (default 1024): small input projections and output
   * heads cost little on the device and lose the most accuracy when pruned.
   */
  minWeights?: number;
}

export const DEFAULT_MIN_WEIGHTS = 1024;

/** The params a Pruner prunes: weight matrices of at least `minWeights` weights. */
export function prunableParams(params: readonly Param[], minWeights = DEFAULT_MIN_WEIGHTS): Param[] {
  return params.filter((p) => p.kind === 'weight' && p.shape.length === 2 && p.value.length >= minWeights);
}

/** Fraction of exact zeros over the params (0 for none). */
export function zeroFraction(params: readonly Param[]): number {
  let zeros = 0;
  let count = 0;
  for (const p of params) {
    count += p.value.length;
    for (let i = 0; i < p.value.length; i++) if (p.value[i] === 0) zeros++;
  }
  return count > 0 ? zeros / count : 0;
}

/** Zhu & Gupta's cubic schedule. */
export function sparsityAt(step: number, o: Pick<PruneOptions, 'sparsity' | 'initialSparsity' | 'beginStep' | 'endStep'>): number {
  const si = o.initialSparsity ?? 0;
  // End first: with a one-step ramp (beginStep = endStep, e.g. one epoch of one batch) s_f was
  // never scheduled, and the masks came only after fine-tuning (pruneModel's final prune).
  if (step >= o.endStep && step >= o.beginStep) return o.sparsity;
  if (step <= o.beginStep) return step < o.beginStep ? 0 : si;
  const p = (step - o.beginStep) / (o.endStep - o.beginStep);
  return o.sparsity + (si - o.sparsity) * (1 - p) ** 3;
}

/** A group of weights pruned together: element indices of one param. */
interface Group {
  param: number;
  idx: Int32Array;
  score: number;
  /** Every weight of the group is masked now (pruned at an earlier update). */
  masked: boolean;
}

/** Tiles a matrix param into blocks (or single weights) following its rowGroup / colSegments. */
export function tileParam(p: Param, block: BlockShape | null): Int32Array[] {
  const [rows, cols] = p.shape as [number, number];
  if (!block) return Array.from({ length: rows * cols }, (_, i) => Int32Array.of(i));
  const group = p.rowGroup ?? rows;
  const segs = p.colSegments ?? [cols];
  const tiles: Int32Array[] = [];
  for (let g0 = 0; g0 < rows; g0 += group) {
    const gEnd = Math.min(rows, g0 + group);
    for (let r0 = g0; r0 < gEnd; r0 += block.rows) {
      let s0 = 0;
      for (const seg of segs) {
        for (let c0 = s0; c0 < s0 + seg; c0 += block.cols) {
          const idx: number[] = [];
          for (let r = r0; r < Math.min(gEnd, r0 + block.rows); r++) for (let c = c0; c < Math.min(s0 + seg, c0 + block.cols); c++) idx.push(r * cols + c);
          tiles.push(Int32Array.from(idx));
        }
        s0 += seg;
      }
    }
  }
  return tiles;
}

export interface TensorSparsity {
  name: string;
  shape: number[];
  /** Fraction of exact zeros. */
  sparsity: number;
  /** Fraction of all-zero blocks in the given tiling (in DEFAULT_BLOCK's: what the runtime can skip). */
  blockSparsity: number;
}

/** Sparsity of each weight matrix (from values, not masks: what the file will hold). */
export function measureSparsity(params: readonly Param[], block: BlockShape = DEFAULT_BLOCK): TensorSparsity[] {
  return params
    .filter((p) => p.kind === 'weight' && p.shape.length === 2)
    .map((p) => {
      let zeros = 0;
      for (let i = 0; i < p.value.length; i++) if (p.value[i] === 0) zeros++;
      const tiles = tileParam(p, block);
      const empty = tiles.filter((t) => t.every((i) => p.value[i] === 0)).length;
      return { name: p.name, shape: p.shape, sparsity: zeros / p.value.length, blockSparsity: empty / tiles.length };
    });
}

export class Pruner {
  readonly params: Param[];
  private readonly tiles: Int32Array[][];
  private current = 0;

  constructor(
    params: readonly Param[],
    readonly opts: PruneOptions,
  ) {
    if (!(opts.sparsity >= 0 && opts.sparsity < 1)) throw new EdgeRnnError('USAGE', `--sparsity must be in [0, 1), got ${opts.sparsity}`);
    if (opts.block && !(Number.isInteger(opts.block.rows) && Number.isInteger(opts.block.cols) && opts.block.rows >= 1 && opts.block.cols >= 1)) {
      throw new EdgeRnnError('USAGE', `block shape must be positive integers, got ${opts.block.rows}x${opts.block.cols}`);
    }
    // A frequency of 0 never updated the masks before endStep (step % 0 is NaN), an initial
    // sparsity above the final one pruned then released weights, and end before begin skipped
    // the ramp: silently, each.
    const si = opts.initialSparsity ?? 0;
    if (!(si >= 0 && si <= opts.sparsity)) throw new EdgeRnnError('USAGE', `initialSparsity must be in [0, sparsity = ${opts.sparsity}], got ${si}`);
    if (!(Number.isInteger(opts.frequency) && opts.frequency >= 1)) throw new EdgeRnnError('USAGE', `mask update frequency must be an integer >= 1 (steps), got ${opts.frequency}`);
    if (!(Number.isInteger(opts.beginStep) && opts.beginStep >= 0 && Number.isInteger(opts.endStep) && opts.endStep >= opts.beginStep)) {
      throw new EdgeRnnError('USAGE', `pruning steps must be integers with 0 <= beginStep <= endStep, got beginStep ${opts.beginStep}, endStep ${opts.endStep}`);
    }
    const min = opts.minWeights ?? DEFAULT_MIN_WEIGHTS;
    this.params = prunableParams(params, min);
    if (this.params.length === 0) {
      throw new EdgeRnnError('UNSUPPORTED_MODEL', `no weight matrix has ${min} or more weights to prune (lower minWeights / --min-weights)`);
    }
    this.tiles = this.params.map((p) => tileParam(p, opts.block));
    for (const p of this.params) if (!p.mask) p.mask = new Uint8Array(p.value.length).fill(1);
  }

  /** The sparsity the masks currently hold. */
  get sparsity(): number {
    return this.current;
  }

  /** Called after each optimizer step: updates masks on the schedule. Returns true if it did. */
  update(step: number): boolean {
    const o = this.opts;
    if (step < o.beginStep || (step < o.endStep && (step - o.beginStep) % o.frequency !== 0) || (step > o.endStep && this.current === o.sparsity)) return false;
    const s = sparsityAt(step, o);
    this.prune(s);
    return true;
  }

  /**
   * Masks the lowest-scoring groups so that as near `s` of the weights (per scope) as whole groups
   * allow are zero. At a sparsity no lower than the current one, pruned groups stay pruned.
   */
  prune(s: number): void {
    const grow = s >= this.current;
    this.current = s;
    const groupsOf = (pi: number): Group[] => {
      const p = this.params[pi]!;
      return this.tiles[pi]!.map((idx) => {
        let sum = 0;
        let masked = true;
        for (const i of idx) {
          sum += Math.abs(p.value[i]!);
          if (p.mask![i] !== 0) masked = false;
        }
        return { param: pi, idx, score: sum / idx.length, masked };
      });
    };
    const apply = (groups: Group[], total: number): void => {
      // Pruned groups first, then ascending score; ties broken by position so results are deterministic.
      groups.sort((a, b) => Number(b.masked && grow) - Number(a.masked && grow) || a.score - b.score || a.param - b.param || a.idx[0]! - b.idx[0]!);
      const target = Math.round(s * total);
      let pruned = 0;
      for (const g of groups) {
        const p = this.params[g.param]!;
        // Whole blocks rarely meet the target exactly: a block is pruned when that ends nearer the
        // target than leaving it (strictly), so a matrix of one or two blocks is not zeroed whole
        // at s = 0.5. Blocks of one weight (no block shape) reach the target exactly. A block
        // pruned before stays pruned while the sparsity grows: judged again, the last of them
        // could be an edge block smaller than the one that had ended the previous update, and
        // a whole pruned block was released (its zeros trained back, trained weights pruned instead).
        const keep = !(g.masked && grow) && 2 * pruned + g.idx.length >= 2 * target;
        for (const i of g.idx) {
          p.mask![i] = keep ? 1 : 0;
          if (!keep) p.value[i] = 0;
        }
        if (!keep) pruned += g.idx.length;
      }
    };
    if (this.opts.scope === 'global') {
      // concat, not push(...groups): one argument per weight overflowed the stack from about
      // 125,000 single weights in one matrix (a GRU-256's recurrent matrix has 196,608).
      let all: Group[] = [];
      let total = 0;
      this.params.forEach((p, pi) => {
        all = all.concat(groupsOf(pi));
        total += p.value.length;
      });
      apply(all, total);
    } else {
      this.params.forEach((p, pi) => apply(groupsOf(pi), p.value.length));
    }
  }
}
