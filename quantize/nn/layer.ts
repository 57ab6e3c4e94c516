/**
 * The trainer's layer protocol. A batch of B sequences padded to T steps is time-major:
 * x[t][b][feature], with mask[t * B + b] = 1 on real steps and 0 on padding. Recurrent layers
 * carry their state unchanged through padded steps, so a sequence's outputs at its real steps
 * are exactly what the runtime computes when it runs that sequence alone (tested).
 */
import type { Arr, Param } from './tensor.js';

export interface BatchShape {
  /** Padded length (steps). */
  T: number;
  /** Sequences in the batch. */
  B: number;
  /** [T * B]: 1 = real step, 0 = padding. */
  mask: Uint8Array;
}

export interface TrainLayer {
  readonly inSize: number;
  readonly outSize: number;
  params(): Param[];
  /** x [T][B][inSize] -> y [T][B][outSize]. The layer keeps what backward() needs. */
  forward(x: Arr, shape: BatchShape, train: boolean): Arr;
  /** dy [T][B][outSize] -> dx [T][B][inSize]; adds the parameter gradients into param.grad. */
  backward(dy: Arr): Arr;
}

/** Reusable scratch arrays by name, grown on demand (one allocation per size, not per step). */
export class Scratch {
  private readonly bufs = new Map<string, Arr>();
  constructor(private readonly make: (n: number) => Arr) {}

  get(name: string, n: number, zero = false): Arr {
    let b = this.bufs.get(name);
    if (!b || b.length < n) {
      b = this.make(n);
      this.bufs.set(name, b);
    } else if (zero) b.fill(0, 0, n);
    return b;
  }
}
