/**
 * Gateway metrics (Node-only module): counters, gauges and latency windows, rendered as a JSON
 * object (the metrics topic) and as Prometheus text exposition format 0.0.4 (the HTTP endpoint).
 */

/** Percentiles of a histogram-like source, in ms (e.g. perf_hooks.monitorEventLoopDelay). */
export interface DelaySource {
  percentile(p: number): number;
  readonly count: number;
}

/** The last `size` observations; quantiles are exact over that window. */
export class LatencyWindow {
  private readonly buf: Float64Array;
  private n = 0;
  private i = 0;
  count = 0;
  sum = 0;

  constructor(size = 4096) {
    this.buf = new Float64Array(size);
  }

  observe(ms: number): void {
    this.buf[this.i] = ms;
    this.i = (this.i + 1) % this.buf.length;
    if (this.n < this.buf.length) this.n++;
    this.count++;
    this.sum += ms;
  }

  /** Quantile q in [0, 1] over the window (nearest rank), NaN when empty. */
  quantile(q: number): number {
    if (this.n === 0) return NaN;
    const s = this.buf.slice(0, this.n).sort();
    return s[Math.min(this.n - 1, Math.max(0, Math.ceil(q * this.n) - 1))]!;
  }
}

export const COUNTERS = {
  messages_total: 'sensor messages received',
  decode_errors_total: 'payloads that could not be decoded (sent to the dead-letter topic)',
  oversized_total: 'payloads over limits.maxPayloadBytes',
  non_finite_total: 'payloads with NaN or infinite samples',
  dead_letters_total: 'messages published to the dead-letter topic',
  unrouted_total: 'messages on topics no route consumes',
  retained_total: 'sensor messages the broker sent from its retained store on subscribing (old data, not processed)',
  duplicates_total: 'messages dropped as duplicates (sequence number already seen)',
  reordered_total: 'messages that arrived out of order and were put back in order',
  missing_total: 'messages given up as missing (sequence gaps)',
  resets_total: 'stream state resets (long gaps, restarted device counters)',
  unset_device_time_total: 'messages whose ts was before 2000 (a device clock not set, or seconds): taken at their arrival time',
  dropped_samples_total: 'samples dropped by backpressure (oldest first, per overloaded device)',
  dropped_frames_total: 'frames dropped by backpressure',
  frames_total: 'frames stepped through models',
  kernel_calls_total: 'batched kernel calls (model.stepMany)',
  alerts_total: 'alerts raised (durable in the outbox, but for those counted in outbox_write_errors_total)',
  alerts_acked_total: 'alert publications acknowledged by the broker',
  alerts_publish_errors_total: 'alert publications that failed or were refused (retried)',
  evictions_total: 'device streams evicted (state saved)',
  state_restores_total: 'device streams restored from saved state',
  state_errors_total: 'saved states that could not be restored (stream started fresh)',
  detector_errors_total: 'detector steps that threw (the frame counts as stepped, the detector was reset)',
  states_dropped_total: 'saved states deleted, oldest first, to keep at most limits.maxSavedStates',
  handoffs_out_total: 'device states handed to another gateway',
  handoffs_in_total: 'device states received from another gateway',
  outbox_dropped_total: 'unacknowledged alerts dropped, oldest first, to keep within outbox.maxAlerts and outbox.maxBytes (never published)',
  outbox_write_errors_total: 'alerts the outbox could not write (a failed or full disk): held in memory only until acknowledged, lost on a crash',
} as const;

export const GAUGES = {
  devices: 'device streams in memory',
  queue_depth: 'frames waiting for the kernel, all devices',
  outbox_depth: 'alerts not yet acknowledged by the broker',
  outbox_persistent: '1 when the outbox is on disk, 0 when it is held in memory (stateDir "", or a disk that refused writes at start)',
  connected: '1 when connected to the broker',
  partitions_owned: 'cluster partitions this gateway owns',
  board_connected: '1 when the board (board config) is connected, 0 while it is lost and being reopened, or without one',
} as const;

export type CounterName = keyof typeof COUNTERS;
export type GaugeName = keyof typeof GAUGES;

export interface MetricsSnapshot {
  counters: Record<CounterName, number>;
  gauges: Record<GaugeName, number>;
  /** Messages per second since the previous snapshot. */
  messagesPerS: number;
  /** ms per model.stepMany call. */
  inferenceMs: { p50: number; p99: number; count: number };
  /** ms from message arrival to its frame being stepped. */
  processingMs: { p50: number; p99: number; count: number };
}

export class Metrics {
  readonly counters: Record<CounterName, number>;
  readonly gauges: Record<GaugeName, number>;
  readonly inference = new LatencyWindow();
  readonly processing = new LatencyWindow();
  /** Outbox write + fsync per batch of alerts (ms). */
  readonly outboxWrite = new LatencyWindow(1024);
  /** Alert publish to the broker's PUBACK (ms). */
  readonly alertAck = new LatencyWindow(1024);
  /** Event-loop delay (set by the gateway: perf_hooks.monitorEventLoopDelay, ns). */
  loopDelay: DelaySource | null = null;
  private lastMessages = 0;
  private lastAtMs: number;

  constructor(nowMs: number) {
    this.counters = Object.fromEntries(Object.keys(COUNTERS).map((k) => [k, 0])) as Record<CounterName, number>;
    this.gauges = Object.fromEntries(Object.keys(GAUGES).map((k) => [k, 0])) as Record<GaugeName, number>;
    this.lastAtMs = nowMs;
  }

  inc(name: CounterName, by = 1): void {
    this.counters[name] += by;
  }

  /** A snapshot; messages/s is measured since the previous snapshot (clock time). */
  snapshot(nowMs: number): MetricsSnapshot {
    const dt = (nowMs - this.lastAtMs) / 1000;
    const rate = dt > 0 ? (this.counters.messages_total - this.lastMessages) / dt : 0;
    this.lastAtMs = nowMs;
    this.lastMessages = this.counters.messages_total;
    const q = (w: LatencyWindow) => ({ p50: w.quantile(0.5), p99: w.quantile(0.99), count: w.count });
    return { counters: { ...this.counters }, gauges: { ...this.gauges }, messagesPerS: rate, inferenceMs: q(this.inference), processingMs: q(this.processing) };
  }

  /** Prometheus text format. */
  prometheus(labels: Record<string, string>): string {
    const lab = Object.entries(labels)
      .map(([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`)
      .join(',');
    const L = (extra = '') => `{${[lab, extra].filter(Boolean).join(',')}}`;
    const lines: string[] = [];
    for (const [k, help] of Object.entries(COUNTERS)) {
      lines.push(`# HELP edgernn_gateway_${k} ${help}`, `# TYPE edgernn_gateway_${k} counter`, `edgernn_gateway_${k}${L()} ${this.counters[k as CounterName]}`);
    }
    for (const [k, help] of Object.entries(GAUGES)) {
      lines.push(`# HELP edgernn_gateway_${k} ${help}`, `# TYPE edgernn_gateway_${k} gauge`, `edgernn_gateway_${k}${L()} ${this.gauges[k as GaugeName]}`);
    }
    const summary = (name: string, help: string, w: LatencyWindow) => {
      lines.push(`# HELP edgernn_gateway_${name} ${help}`, `# TYPE edgernn_gateway_${name} summary`);
      for (const q of [0.5, 0.9, 0.99]) {
        const v = w.quantile(q) / 1000;
        lines.push(`edgernn_gateway_${name}${L(`quantile="${q}"`)} ${Number.isNaN(v) ? 'NaN' : v}`);
      }
      lines.push(`edgernn_gateway_${name}_sum${L()} ${w.sum / 1000}`, `edgernn_gateway_${name}_count${L()} ${w.count}`);
    };
    summary('inference_seconds', 'duration of one batched kernel call (model.stepMany), last 4096 calls', this.inference);
    summary('processing_seconds', 'message arrival to frame stepped, last 4096 frames', this.processing);
    summary('outbox_fsync_seconds', 'durable outbox write + fsync per batch of alerts, last 1024 batches', this.outboxWrite);
    summary('alert_ack_seconds', 'alert publish to the broker acknowledgement (PUBACK), last 1024 alerts', this.alertAck);
    const ld = this.loopDelay;
    if (ld) {
      lines.push('# HELP edgernn_gateway_event_loop_delay_seconds event-loop delay over the last one to two minutes (a busy or starved process)', '# TYPE edgernn_gateway_event_loop_delay_seconds summary');
      for (const q of [0.5, 0.9, 0.99]) lines.push(`edgernn_gateway_event_loop_delay_seconds${L(`quantile="${q}"`)} ${ld.count ? ld.percentile(q * 100) / 1e9 : 'NaN'}`);
    }
    return `${lines.join('\n')}\n`;
  }
}
