/**
 * Time for the gateway (Node-only module). Everything that depends on time (batching delay,
 * reorder timeouts, idle eviction, metrics interval, checkpoints, alert timestamps) goes through
 * a Clock, so tests and `edgernn replay` drive time by hand and get the same answer twice.
 * Latency *measurements* use performance.now() directly: they describe the machine, not the logic.
 */

export type TimerHandle = { readonly id: number };

export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
  /** Calls fn once after ms milliseconds (of this clock). */
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(h: TimerHandle | null | undefined): void;
}

/** The wall clock with real timers. */
export function systemClock(): Clock {
  const timers = new Map<number, NodeJS.Timeout>();
  let next = 1;
  return {
    now: () => Date.now(),
    setTimeout(fn, ms) {
      const id = next++;
      const t = setTimeout(() => {
        timers.delete(id);
        fn();
      }, Math.max(0, ms));
      timers.set(id, t);
      return { id };
    },
    clearTimeout(h) {
      if (!h) return;
      const t = timers.get(h.id);
      if (t !== undefined) clearTimeout(t);
      timers.delete(h.id);
    },
  };
}

interface ManualTimer {
  id: number;
  at: number;
  fn: () => void;
}

/**
 * A clock that moves only when told to. Timers due at the same time fire in the order they were
 * set. advanceTo() runs every timer due up to the target, including timers those timers set.
 */
export class ManualClock implements Clock {
  private t: number;
  private timers: ManualTimer[] = [];
  private nextId = 1;

  constructor(startMs = 0) {
    this.t = startMs;
  }

  now(): number {
    return this.t;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const id = this.nextId++;
    this.timers.push({ id, at: this.t + Math.max(0, ms), fn });
    return { id };
  }

  clearTimeout(h: TimerHandle | null | undefined): void {
    if (!h) return;
    this.timers = this.timers.filter((x) => x.id !== h.id);
  }

  /** Timers not yet fired. */
  get pending(): number {
    return this.timers.length;
  }

  /** Moves time forward by ms, firing due timers in time order. */
  advance(ms: number): void {
    this.advanceTo(this.t + ms);
  }

  /** Moves time to `target` (never backwards), firing due timers in time order. */
  advanceTo(target: number): void {
    for (;;) {
      let best: ManualTimer | undefined;
      for (const x of this.timers) if (x.at <= target && (best === undefined || x.at < best.at || (x.at === best.at && x.id < best.id))) best = x;
      if (best === undefined) break;
      this.timers = this.timers.filter((x) => x !== best);
      if (best.at > this.t) this.t = best.at;
      best.fn();
    }
    if (target > this.t) this.t = target;
  }
}
