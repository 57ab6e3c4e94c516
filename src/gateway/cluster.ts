/**
 * Several gateways sharing one site (Node-only module). Approach: device-hash partitioning of
 * topics, partition ownership by rendezvous hashing over the live members, MQTT 5 shared
 * subscriptions per partition, and an ordered state hand-off when ownership moves.
 *
 * - Devices publish on {prefix}/{site}/p<k>/{device}/{sensor}, k = fnv1a32(device) mod P.
 * - Members: every gateway's retained status ({state: "online", cluster: {group, partitions}}),
 *   cleared to "offline" by its last will when it vanishes. The view is the sorted set of online
 *   members of the group; partition p belongs to argmax_m fmix32(fnv1a32(m + "/" + p))
 *   (rendezvous hashing: a membership change moves only the partitions of the member that came
 *   or went).
 * - The owner of p subscribes to $share/<group>/<sensor filter of p>. While two gateways overlap
 *   on p during a move, the shared subscription gives each message to exactly one of them (never
 *   to both), and the hand-off below puts them back together without loss or duplicates.
 * - Moving p from A (releasing) to B (acquiring):
 *     B subscribes p's data and p's checkpoints, holds p's messages, broadcasts READY{p, to: B, view,
 *       waitFor}. A member named waitFor that holds nothing of p answers DONE at once.
 *     A, on READY (or after handoffTimeoutMs), stops processing p: for every stream of p it steps
 *       the queued frames and sends STATE{key, bytes} to B, forwards out-of-order messages it held,
 *       publishes a fresh retained checkpoint, unsubscribes, forwards whatever arrives until the
 *       UNSUBACK, then sends DONE{p}. All of this goes on B's own hand-off topic, so MQTT's
 *       per-topic ordering (MQTT-4.6.0-6) delivers it to B in order, DONE last.
 *     B, on DONE (or when the previous owner crashed, or after handoffTimeoutMs), imports the
 *       states and processes the held messages sorted by device and sequence number (serial-number
 *       order from the stream's last seq, as DeviceStream orders them: across the u32 wrap too).
 *   A crashed owner sends nothing: B starts from the retained checkpoints (at most
 *   checkpointIntervalMs old); the frames since are lost with the crashed process.
 * - A member taken for crashed that was not (its last will went out, the connection came back)
 *   takes its partitions back by hand-off: when it sees its own will (rejoin()), or when a READY
 *   for a partition it still owns waits for nobody, or a HELD{p} says another member holds p
 *   and waits for its READY (contest()).
 */
import { EdgeRnnError } from '../errors.js';
import type { ClusterConfig } from './config.js';
import type { Gateway } from './gateway.js';
import { fnv1a32, topicFilter } from './topics.js';
import { saveStates } from './state-store.js';
import { peekStreamState, seqDistance, withNextEpoch, type QueuedBatch } from './stream.js';
import type { TimerHandle } from './clock.js';

type PartitionState =
  | { state: 'owned' }
  | {
      state: 'acquiring';
      held: Array<{ topic: string; payload: Uint8Array }>;
      /** The previous owner whose DONE we wait for (null: nobody to wait for). */
      waitFor: string | null;
      synced: boolean;
      done: boolean;
      timer: TimerHandle;
      /** Ownership moved on while acquiring: hand over to this member once acquired. */
      then?: string;
      /** Taken back by a rejoin: retained checkpoints do not replace live streams (rejoin()). */
      rejoin: boolean;
      /** Taken back from a member that claimed it while we owned it (contest()): our live streams are the partition's. */
      contested?: boolean;
    }
  | { state: 'releasing'; to: string; timer: TimerHandle };

interface HandoffMessage {
  kind: 'ready' | 'state' | 'forward' | 'done' | 'sync' | 'held';
  partition: string;
  from: string;
  to?: string;
  view?: string;
  /** READY: the member the sender waits for (its DONE). */
  waitFor?: string | null;
  key?: string;
  topic?: string;
  data?: string;
}

const HANDOFF_KINDS: ReadonlySet<string> = new Set(['ready', 'state', 'forward', 'done', 'sync', 'held']);
const OPTIONAL_STRINGS = ['to', 'view', 'key', 'topic', 'data'] as const;

/** A hand-off message with the fields every kind reads, of their types. */
function isHandoffMessage(m: unknown): m is HandoffMessage {
  if (typeof m !== 'object' || m === null || Array.isArray(m)) return false;
  const h = m as Record<string, unknown>;
  return (
    typeof h.kind === 'string' &&
    HANDOFF_KINDS.has(h.kind) &&
    typeof h.partition === 'string' &&
    typeof h.from === 'string' &&
    (h.waitFor === undefined || h.waitFor === null || typeof h.waitFor === 'string') &&
    OPTIONAL_STRINGS.every((k) => h[k] === undefined || typeof h[k] === 'string')
  );
}

/** MurmurHash3's 32-bit finalizer: FNV-1a alone mixes the last bytes poorly, so "gw-a/p3" and "gw-b/p3" would rank alike for every partition. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Owner of a partition among members: rendezvous (highest random weight) hashing, weight fmix32(fnv1a32(member + "/" + partition)). */
export function partitionOwner(partition: string, members: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestW = -1;
  for (const m of members) {
    const w = fmix32(fnv1a32(`${m}/${partition}`));
    if (w > bestW || (w === bestW && best !== undefined && m < best)) {
      bestW = w;
      best = m;
    }
  }
  return best;
}

export class ClusterCoordinator {
  readonly cfg: ClusterConfig;
  private readonly gw: Gateway;
  private readonly me: string;
  private readonly base: string;
  private readonly partitions: string[];
  /** Online members of the group (from retained statuses), and how the others left. */
  private readonly members = new Set<string>();
  private readonly crashed = new Set<string>();
  /** Online gateways of the group that use another partition count (member → theirs). */
  private readonly mismatched = new Map<string, number | undefined>();
  private view: string[] = [];
  private prevView: string[] | null = null;
  private started = false;
  private readonly parts = new Map<string, PartitionState>();
  /** READY messages seen, as "partition|member" (they may arrive before our own view changes). */
  private readonly readies = new Set<string>();
  /** Keys whose state came by hand-off: retained checkpoints must not override them. */
  private readonly fromHandoff = new Set<string>();
  private checkpointTimer: TimerHandle | null = null;
  private selfEcho: (() => void) | null = null;
  private closed = false;
  private readonly releases = new Set<Promise<void>>();
  /** Partitions whose hand-off (release or abandon) is being sent: their DONE is still to come. */
  private readonly sending = new Set<string>();

  constructor(gw: Gateway, cfg: ClusterConfig) {
    this.gw = gw;
    this.cfg = cfg;
    this.me = gw.config.gatewayId;
    this.base = gw.topics.cluster;
    this.partitions = Array.from({ length: cfg.partitions }, (_, k) => `p${k}`);
  }

  private get statusFilter(): string {
    return topicFilter(this.gw.config.topics.status, { prefix: this.gw.config.topics.prefix, site: this.gw.config.site });
  }

  private handoffTopic(to: string): string {
    return `${this.base}/${to}/handoff`;
  }

  private stateTopic(partition: string, key: string): string {
    return `${this.base}/state/${partition}/${Buffer.from(key, 'utf8').toString('base64url')}`;
  }

  /** UTF-8 bytes of the checkpoint topic of a device's stream (`stateTopic`), at most (the partition taken as the longest), without building it. */
  checkpointTopicBytes(device: string, sensor: string): number {
    const n = Buffer.byteLength(device) + 1 + Buffer.byteLength(sensor);
    const base64url = Math.floor(n / 3) * 4 + (n % 3 === 0 ? 0 : (n % 3) + 1);
    return Buffer.byteLength(this.base) + '/state/'.length + `p${this.cfg.partitions - 1}`.length + 1 + base64url;
  }

  handles(topic: string): boolean {
    return topic.startsWith(`${this.base}/`) || this.isStatus(topic);
  }

  private isStatus(topic: string): boolean {
    const f = this.statusFilter.split('/');
    const t = topic.split('/');
    return f.length === t.length && f.every((x, i) => x === '+' || x === t[i]);
  }

  /** Subscribes to membership and hand-off topics, announces itself, computes the first view. */
  async start(): Promise<void> {
    const t = this.gw.transport;
    await t.subscribe([this.statusFilter, `${this.base}/handoff`, this.handoffTopic(this.me)], 1);
    // Our own status coming back means the retained statuses of the others were delivered
    // before it (same connection, in order): the first view is complete.
    const echoed = new Promise<void>((resolve) => (this.selfEcho = resolve));
    await t.publish(this.gw.topics.status, this.statusBody('online'), { qos: 1, retain: true });
    await echoed;
    // Another partition count in the group is a split brain (both would take the same topics,
    // each with its own device → partition map): refuse to join, and take back our status.
    if (this.mismatched.size > 0) {
      const [member, theirs] = [...this.mismatched][0]!;
      await t.publish(this.gw.topics.status, this.statusBody('offline', 'stopped'), { qos: 1, retain: true }).catch(() => {});
      throw new EdgeRnnError('GATEWAY_CONFIG', `cluster.partitions: ${this.cfg.partitions}, but member ${member} of group "${this.cfg.group}" uses ${String(theirs)} (every member of a group needs the same partition count)`, { field: 'cluster.partitions', member, theirs });
    }
    this.started = true;
    this.reconcile();
    if (this.cfg.checkpointIntervalMs > 0) this.checkpointTimer = this.gw.clock.setTimeout(() => this.onCheckpointTimer(), this.cfg.checkpointIntervalMs);
  }

  statusBody(state: 'online' | 'offline', reason?: string): string {
    return JSON.stringify({ state, gateway: this.me, site: this.gw.config.site, ...this.statusFields(), ...(reason ? { reason } : {}) });
  }

  onConnect(): void {
    // The gateway republishes its retained status (with the cluster fields) on every connect,
    // in case the broker lost it (a restart without persistence).
    this.willSeen = false;
    if (!this.started || this.closed) return;
    // A reconnect: the old connection went without a DISCONNECT, so the broker published our
    // last will and the others took our partitions. We rejoin now rather than when the will comes
    // back retained: it often does not. A gateway paused past its keepalive (SIGSTOP, a frozen
    // VM) wakes up to an overdue metrics tick whose retained `online`, kept by MQTT.js, goes out
    // again on the new connection before the resubscription, and replaces the will: the gateway
    // went on with its partitions while the others processed them too (split brain until their
    // hand-off timeout). If nobody took them (the broker was killed: no will), the others answer
    // READY with DONE at once and our streams go on.
    if (!this.leaving && this.members.size > 0) return this.rejoin('cluster: reconnected: our last will went out when the connection dropped; taking our partitions back by hand-off');
    // A partition being acquired when the connection dropped: its subscription, READY or SYNC
    // may have been lost with it (the broker restarted), and it waited handoffTimeoutMs.
    for (const [p, s] of this.parts) if (s.state === 'acquiring' && !s.synced) this.announce(p, s.waitFor);
  }

  /**
   * Our last will went out (the connection dropped, the broker stayed): each partition we held
   * has been taken by another member, from the checkpoints, while we went on with it (both
   * stepped parts of the same streams, raised alerts on them and published checkpoints). Stop
   * and take our partitions back by hand-off, as a member that just joined (the states it sends
   * replace ours; what we stepped since the checkpoint is lost, as after a crash). Retained
   * checkpoints do not replace our live streams meanwhile: they are older than them, and when
   * nobody took over (no will went out) they were all there is, and put the streams back behind
   * a gap of messages that never come again.
   */
  private rejoin(why = 'cluster: our last will went out (connection lost): the others took our partitions from the checkpoints; taking them back by hand-off'): void {
    if (this.willSeen) return;
    this.willSeen = true;
    // Nobody to take our partitions: nobody did.
    if (this.members.size === 0) return;
    this.gw.logger.warn(why, { partitions: this.owned().length });
    // Messages held by partitions still being acquired reached us alone: kept for the new
    // acquisitions (or processed, or forwarded to the owner), not dropped with them.
    const held = [...this.parts.values()].flatMap((st) => (st.state === 'acquiring' ? st.held : []));
    for (const st of this.parts.values()) if (st.state !== 'owned') this.gw.clock.clearTimeout(st.timer);
    this.parts.clear();
    this.viewComputed = false;
    this.rejoining = true;
    try {
      this.reconcile();
    } finally {
      this.rejoining = false;
    }
    for (const h of held) {
      const m = this.gw.topics.sensorParser.parse(h.topic);
      if (m && this.admit(h.topic, m.device, h.payload)) this.deliver(h.topic, h.payload);
    }
  }

  /** Set while rejoin() reconciles: the partitions it acquires keep their live streams (acquiring.rejoin). */
  private rejoining = false;

  private willSeen = false;

  /** Fields the gateway adds to its status so peers count it as a member. */
  statusFields(): { cluster: { group: string; partitions: number; sensors: string[] } } {
    return { cluster: { group: this.cfg.group, partitions: this.cfg.partitions, sensors: this.sensors() } };
  }

  /** The sensors this gateway routes, sorted: the topics it subscribes for the partitions it owns. */
  private sensors(): string[] {
    return [...new Set(this.gw.config.routes.map((r) => r.sensor))].sort();
  }

  /** Partitions this gateway owns (processing). */
  owned(): string[] {
    return [...this.parts].filter(([, s]) => s.state === 'owned' || s.state === 'releasing').map(([p]) => p);
  }

  /** No partition being acquired or handed over: what the view says is what each member does. */
  settled(): boolean {
    return this.sending.size === 0 && [...this.parts.values()].every((s) => s.state === 'owned');
  }

  /** The current view (sorted member ids). */
  members_(): string[] {
    return [...this.view];
  }

  // ---- messages ------------------------------------------------------------------------------

  onMessage(topic: string, payload: Uint8Array): void {
    if (this.isStatus(topic)) return this.onStatus(topic, payload);
    if (topic.startsWith(`${this.base}/state/`)) return this.onCheckpoint(topic, payload);
    let msg: HandoffMessage;
    try {
      msg = JSON.parse(Buffer.from(payload).toString('utf8')) as HandoffMessage;
    } catch {
      this.gw.logger.warn('cluster: unreadable hand-off message', { topic });
      return;
    }
    // Any client of the broker can publish here: `null` or a message without its fields threw a
    // TypeError out of the handler (logged with a stack) instead of being ignored.
    if (!isHandoffMessage(msg)) {
      this.gw.logger.warn('cluster: malformed hand-off message ignored', { topic });
      return;
    }
    switch (msg.kind) {
      case 'ready':
        return this.onReady(msg);
      case 'state':
        return this.onState(msg);
      case 'forward':
        return this.onForward(msg);
      case 'done':
        return this.onDone(msg);
      case 'sync':
        return this.onSync(msg);
      case 'held':
        return this.onHeld(msg);
    }
  }

  private onStatus(topic: string, payload: Uint8Array): void {
    let st: { state?: string; gateway?: string; reason?: string; cluster?: { group?: string; partitions?: number; sensors?: unknown } } = {};
    const id = topic.split('/')[this.statusFilter.split('/').indexOf('+')]!;
    if (payload.length > 0) {
      try {
        st = JSON.parse(Buffer.from(payload).toString('utf8')) as typeof st;
      } catch {
        return;
      }
      if (typeof st !== 'object' || st === null || Array.isArray(st)) return; // `null` threw a TypeError below
    }
    if (id === this.me && st.state === 'online' && this.selfEcho) {
      const f = this.selfEcho;
      this.selfEcho = null;
      f();
      return;
    }
    if (id === this.me) {
      if (this.started && !this.leaving && !this.closed && st.state !== undefined && st.state !== 'online') this.rejoin();
      return;
    }
    const member = st.state === 'online' && st.cluster?.group === this.cfg.group;
    if (member && st.cluster?.partitions !== this.cfg.partitions) {
      this.mismatched.set(id, st.cluster?.partitions);
      this.gw.logger.error('cluster: a member uses another partition count, ignored', { member: id, theirs: st.cluster?.partitions, ours: this.cfg.partitions });
      return;
    }
    this.mismatched.delete(id);
    if (member) this.checkSensors(id, st.cluster?.sensors);
    const changed = member ? !this.members.has(id) : this.members.has(id);
    if (member) {
      this.members.add(id);
      this.crashed.delete(id);
    } else {
      this.members.delete(id);
      this.sensorsReported.delete(id);
      if (st.reason !== 'stopped') this.crashed.add(id);
      // Its READYs went with it: kept, they released a partition to its next incarnation at once,
      // before that one had subscribed (the messages in between reached nobody).
      for (const r of this.readies) if (r.endsWith(`|${id}`)) this.readies.delete(r);
    }
    if (changed && this.started) this.reconcile();
    // The member we wait for says online (again: it reconnected, or its metrics tick; or back in
    // our view): our READY may have gone out while it was disconnected (READY is not retained).
    // Say it again, or the partition's messages stayed held for handoffTimeoutMs (two gateways
    // reconnecting after a killed broker or a broker restart: the first to come back announced to
    // the other before it was there). Until 2026-11-27 not when it came back into our view.
    if (member && this.started) for (const [p, s] of this.parts) if (s.state === 'acquiring' && s.synced && !s.done && s.waitFor === id) this.sendReady(p, id).catch(() => {});
  }

  /**
   * A member that routes other sensors subscribes only its own for the partitions it owns: the
   * messages of a sensor it does not route, in its partitions, reach nobody (no dead letter, no
   * counter). Said at error level, once per member and difference (not refused: a rolling
   * upgrade that adds a route goes through this). Members before this field say nothing.
   */
  private checkSensors(member: string, theirs: unknown): void {
    if (!Array.isArray(theirs) || !theirs.every((x) => typeof x === 'string')) return;
    const ours = this.sensors();
    const t = [...new Set(theirs as string[])].sort();
    const key = t.join('\n');
    if (t.length === ours.length && t.every((x, i) => x === ours[i])) {
      this.sensorsReported.delete(member);
      return;
    }
    if (this.sensorsReported.get(member) === key) return;
    this.sensorsReported.set(member, key);
    this.gw.logger.error('cluster: a member routes other sensors: the messages of a sensor only some members route are lost in the partitions of the others', {
      member,
      onlyOurs: ours.filter((x) => !t.includes(x)),
      onlyTheirs: t.filter((x) => !ours.includes(x)),
    });
  }

  /** Members whose other sensors were reported (member → their sensors). */
  private readonly sensorsReported = new Map<string, string>();

  private onReady(m: HandoffMessage): void {
    // Our own READY comes back too (we subscribe to the broadcast topic): not a peer's.
    if (m.from === this.me) return;
    this.gw.logger.debug('cluster: ready received', { partition: m.partition, from: m.from, state: this.parts.get(m.partition)?.state ?? 'none' });
    this.readies.add(`${m.partition}|${m.from}`);
    const p = this.parts.get(m.partition);
    if (p?.state === 'releasing' && p.to === m.from) this.release(m.partition, p.to);
    // It waits for us, and we hold nothing of the partition (we started at the same time, or
    // handed it on already): say so, or it waits handoffTimeoutMs with the partition's messages held.
    else if (m.waitFor === this.me && p === undefined && !this.sending.has(m.partition)) this.send(m.from, { kind: 'done', partition: m.partition, from: this.me, to: m.from });
    // It takes a partition we own from the checkpoints, waiting for nobody: it took us for gone.
    // (Waiting for a third member, its view differs from ours for now: the views settle it.)
    else if (p?.state === 'owned' && (m.waitFor === null || m.waitFor === undefined)) this.contest(m.partition, m.from);
  }

  /** HELD: the sender holds a partition it found ours and waits for our READY to hand it over. */
  private onHeld(m: HandoffMessage): void {
    if (m.from === this.me) return;
    const s = this.parts.get(m.partition);
    if (s?.state === 'owned') this.contest(m.partition, m.from);
    // We are acquiring it and said READY: the sender did not get it (it was disconnected).
    else if (s?.state === 'acquiring' && s.synced && !s.done) this.sendReady(m.partition, s.waitFor).catch(() => {});
  }

  /**
   * `from` announced it acquires p, a partition we own, waiting for nobody: it took us for
   * gone (our last will went out while we stayed connected to the others, or reconnected before
   * them) and goes on with p from the retained checkpoints. We usually learn that from our own
   * will coming back (rejoin()), but not always: when the broker restarts, each gateway's
   * `online` may reach it again before the retained will is delivered, and a gateway that
   * reconnects while every other member looks gone has nobody to give its partitions back to.
   * Left alone, `from` saw us again, found p ours and waited for a READY we never sent
   * (handoffTimeoutMs, while both stepped p: CI, 2026-11-27). Take p back by hand-off, as rejoin()
   * does for every partition: hold p's messages until `from` hands its states over (they replace
   * ours), or answers DONE at once if it no longer holds p.
   */
  private contest(p: string, from: string): void {
    // Any client of the broker can publish READY or HELD: only a member we know (online, or
    // taken for crashed: it may be back) makes us hold a partition's messages for its hand-off.
    if (this.leaving || this.closed || !(this.members.has(from) || this.crashed.has(from))) return;
    this.gw.logger.warn('cluster: another member acquires a partition of ours without waiting for us; taking it back by hand-off', { partition: p, member: from });
    const timer = this.gw.clock.setTimeout(() => this.onAcquireTimeout(p), this.cfg.handoffTimeoutMs);
    this.parts.set(p, { state: 'acquiring', held: [], waitFor: from, synced: false, done: false, timer, rejoin: true, contested: true });
    this.gw.metrics.gauges.partitions_owned = this.owned().length;
    this.announce(p, from);
  }

  private onState(m: HandoffMessage): void {
    if (m.key === undefined || m.data === undefined) return;
    this.fromHandoff.add(m.key);
    this.gw.metrics.inc('handoffs_in_total');
    const bytes = new Uint8Array(Buffer.from(m.data, 'base64'));
    // Taking back a partition we went on with (rejoin, contest): the sender stepped it from our
    // checkpoint, or from nothing (no retained checkpoint: a broker restarted without
    // persistence), while we stepped it too. The stream further along is kept: the sender's
    // unless ours has stepped as many frames (its copy of our checkpoint, or a stream it started
    // fresh on the few messages that reached it, replaced our whole history).
    const st = this.parts.get(m.partition);
    const live = this.gw.streams.get(m.key);
    const theirs = peekStreamState(bytes);
    if (st?.state === 'acquiring' && st.rejoin && live && theirs && live.frameIndex >= theirs.frameIndex) {
      this.gw.logger.debug('cluster: handed-back stream state not ahead of ours, ours kept', { key: m.key, ours: live.frameIndex, theirs: theirs.frameIndex });
      return;
    }
    this.gw.importStream(m.key, bytes);
  }

  private onForward(m: HandoffMessage): void {
    if (m.topic === undefined || m.data === undefined) return;
    const payload = new Uint8Array(Buffer.from(m.data, 'base64'));
    const p = this.parts.get(m.partition);
    if (p?.state === 'acquiring') p.held.push({ topic: m.topic, payload });
    else this.deliver(m.topic, payload);
  }

  private onDone(m: HandoffMessage): void {
    // The sender handed p over, gave it up, or held none of it: a READY it sent for p before is
    // over (its next acquisition of p says READY again). Kept (the READY that made us take p back,
    // contest()), it handed p to that member at once the next time p moved to it, before it had
    // subscribed: the messages in between reached nobody.
    this.readies.delete(`${m.partition}|${m.from}`);
    const p = this.parts.get(m.partition);
    if (p?.state !== 'acquiring') return;
    p.done = true;
    this.maybeAcquired(m.partition);
  }

  private onSync(m: HandoffMessage): void {
    const p = this.parts.get(m.partition);
    if (p?.state !== 'acquiring' || m.from !== this.me) return;
    p.synced = true;
    this.maybeAcquired(m.partition);
  }

  private onCheckpoint(topic: string, payload: Uint8Array): void {
    if (payload.length === 0) return;
    const parts = topic.split('/');
    const partition = parts[parts.length - 2]!;
    const key = Buffer.from(parts[parts.length - 1]!, 'base64url').toString('utf8');
    const st = this.parts.get(partition);
    if (st?.state !== 'acquiring' || this.fromHandoff.has(key)) return;
    if (st.rejoin && this.gw.streams.has(key)) return;
    if (!this.gw.streams.has(key) && this.storedIsNewer(key, payload)) return;
    // A new epoch: the alert ids of what comes after the checkpoint must not repeat those the
    // previous owner raised after it on frames now lost (a hand-off's fresh states replace this).
    this.gw.importStream(key, withNextEpoch(new Uint8Array(payload)));
  }

  /**
   * The local store holds a later point of the same stream (same start and epoch, more frames
   * stepped) than a retained checkpoint: kept, the checkpoint ignored. Such a copy is what stop()
   * saved, or a hand-off the broker never took, when the last checkpoints did not reach the
   * broker (it froze or died): the older retained ones replaced it, and the stream resumed
   * behind a gap. A checkpoint of another member that went on with the stream is further along,
   * or in a later epoch (a takeover from checkpoints starts one), and replaces it as before.
   */
  private storedIsNewer(key: string, checkpoint: Uint8Array): boolean {
    let bytes: Uint8Array | undefined;
    try {
      bytes = this.gw.stateStore.load(key);
    } catch {
      return false;
    }
    const local = bytes ? peekStreamState(bytes) : null;
    const theirs = peekStreamState(checkpoint);
    if (!local || !theirs || local.streamStartMs !== theirs.streamStartMs || local.epoch !== theirs.epoch) return false;
    // Not when equal: it may be what a member we handed the stream to went on from (the broker
    // took the hand-off but never acknowledged it) before it crashed; the checkpoint's next epoch
    // keeps alert ids apart from what that member raised.
    return local.frameIndex > theirs.frameIndex;
  }

  /** Sensor data: process it if we own its partition, hold it while acquiring, else forward it. */
  admit(topic: string, device: string, payload: Uint8Array): boolean {
    const partition = this.gw.partitionOf(device);
    const p = this.parts.get(partition);
    if (p?.state === 'owned' || p?.state === 'releasing') return true;
    if (p?.state === 'acquiring') {
      p.held.push({ topic, payload });
      return false;
    }
    const owner = partitionOwner(partition, this.view);
    if (owner !== undefined && owner !== this.me) this.send(owner, { kind: 'forward', partition, from: this.me, topic, data: Buffer.from(payload).toString('base64') });
    else this.gw.logger.warn('cluster: message for a partition nobody owns, dropped', { topic });
    return false;
  }

  private deliver(topic: string, payload: Uint8Array): void {
    const m = this.gw.topics.sensorParser.parse(topic);
    const route = m ? this.gw.routeFor(m.sensor) : undefined;
    if (m && route) this.gw.onSensorMessage(topic, m.device, route, payload);
  }

  /** Publishes a hand-off message; true once the broker has it (PUBACK). */
  private send(to: string, m: HandoffMessage): Promise<boolean> {
    return this.gw.transport.publish(this.handoffTopic(to), JSON.stringify(m), { qos: 1 }).then(
      () => true,
      (e: Error) => {
        this.gw.logger.error('cluster: hand-off message not delivered', { to, kind: m.kind, partition: m.partition, error: e.message });
        return false;
      },
    );
  }

  // ---- ownership -------------------------------------------------------------------------------

  private viewId(v: readonly string[]): string {
    return v.join(',');
  }

  /** Recomputes the view and starts acquiring or releasing partitions. */
  private reconcile(): void {
    if (this.closed) return;
    const view = [...this.members, ...(this.leaving ? [] : [this.me])].sort();
    if (this.viewComputed && this.viewId(view) === this.viewId(this.view)) return;
    this.prevView = this.viewComputed ? this.view : null;
    this.viewComputed = true;
    this.view = view;
    this.gw.logger.info('cluster view', { members: view, owned: this.owned().length });
    for (const p of this.partitions) {
      const owner = partitionOwner(p, view);
      const cur = this.parts.get(p);
      if (owner === this.me) {
        if (cur === undefined) this.acquire(p);
        else if (cur.state === 'releasing') {
          // Ownership came back before the hand-off started: keep it.
          this.gw.clock.clearTimeout(cur.timer);
          this.parts.set(p, { state: 'owned' });
        }
      } else if (cur !== undefined && owner !== undefined) {
        if (cur.state === 'owned') this.startRelease(p, owner);
        else if (cur.state === 'releasing' && cur.to !== owner) {
          this.gw.clock.clearTimeout(cur.timer);
          this.startRelease(p, owner);
        } else if (cur.state === 'acquiring') {
          // Nobody held it before us (we may hold checkpoint states): finish, then hand over
          // properly. Someone did: they will hand it to the new owner; pass on what we hold.
          // Contested (we held it, live): the streams are ours to hand over, now.
          if (cur.contested) {
            cur.then = owner;
            this.finishAcquire(p);
          } else if (cur.waitFor === null) cur.then = owner;
          else this.abandon(p, owner);
        }
      }
    }
    this.gw.metrics.gauges.partitions_owned = this.owned().length;
  }

  private leaving = false;
  private viewComputed = false;

  private acquire(p: string): void {
    // Whom to wait for: the owner before this view, if it is still around or left gracefully.
    const before = this.prevView ?? this.view.filter((m) => m !== this.me);
    const prev = partitionOwner(p, before);
    const waitFor = prev !== undefined && prev !== this.me && !this.crashed.has(prev) ? prev : null;
    // States handed to us in an earlier ownership of p are history: this time the checkpoints count
    // again (a crash of the member we handed p to left only them; ignored, its devices started fresh).
    for (const key of this.fromHandoff) if (this.gw.partitionOf(key.slice(0, key.lastIndexOf('/'))) === p) this.fromHandoff.delete(key);
    const timer = this.gw.clock.setTimeout(() => this.onAcquireTimeout(p), this.cfg.handoffTimeoutMs);
    this.parts.set(p, { state: 'acquiring', held: [], waitFor, synced: false, done: false, timer, rejoin: this.rejoining });
    this.announce(p, waitFor);
  }

  /** Subscribes to p's data and checkpoints, then READY (to all) and SYNC (to ourselves). */
  private announce(p: string, waitFor: string | null): void {
    const t = this.gw.transport;
    Promise.all([t.subscribe(this.sharedFilters(p), this.gw.config.broker.sensorQos), t.subscribe([`${this.base}/state/${p}/+`], 1)])
      .then(async () => {
        this.gw.logger.debug('cluster: subscribed, announcing ready', { partition: p, waitFor });
        await this.sendReady(p, waitFor);
        await this.send(this.me, { kind: 'sync', partition: p, from: this.me });
      })
      .catch((e: Error) => this.gw.logger.error('cluster: cannot subscribe to a partition', { partition: p, error: e.message }));
  }

  private sendReady(p: string, waitFor: string | null): Promise<void> {
    return this.gw.transport.publish(`${this.base}/handoff`, JSON.stringify({ kind: 'ready', partition: p, from: this.me, view: this.viewId(this.view), waitFor } satisfies HandoffMessage), { qos: 1 });
  }

  private sharedFilters(p: string): string[] {
    return this.gw.sensorFilters([p]).map((f) => `$share/${this.cfg.group}/${f}`);
  }

  private onAcquireTimeout(p: string): void {
    const s = this.parts.get(p);
    if (s?.state !== 'acquiring') return;
    this.gw.logger.warn('cluster: no hand-off from the previous owner in time, starting from checkpoints', { partition: p, waitedFor: s.waitFor, ms: this.cfg.handoffTimeoutMs });
    this.finishAcquire(p);
  }

  private maybeAcquired(p: string): void {
    const s = this.parts.get(p);
    if (s?.state !== 'acquiring' || !s.synced) return;
    if (s.waitFor !== null && !s.done && !this.crashed.has(s.waitFor)) return;
    this.finishAcquire(p);
  }

  /** Takes over p: held messages are processed in device and sequence order. */
  private finishAcquire(p: string): void {
    const s = this.parts.get(p);
    if (s?.state !== 'acquiring') return;
    this.gw.clock.clearTimeout(s.timer);
    this.parts.set(p, { state: 'owned' });
    this.gw.transport.unsubscribe([`${this.base}/state/${p}/+`]).catch(() => {});
    const withSeq = s.held.map((h, i) => {
      const m = this.gw.topics.sensorParser.parse(h.topic);
      const route = m ? this.gw.routeFor(m.sensor) : undefined;
      return { h, i, device: m ? `${m.device}/${m.sensor}` : '', seq: route ? this.gw.peekSeq(route, h.payload) : undefined, bits: route?.config.seqBits, order: 0 };
    });
    // Per device in serial-number order (seqDistance) from the last seq its stream processed, as
    // the stream orders them: by raw seq, a u32 counter's 0, 1, ... after its wrap went before
    // 2^32 - 1, overflowed the stream's reorder window and were given up, and the messages before
    // the wrap were then dropped as duplicates. A device without a known last seq counts from its
    // first held message.
    const bases = new Map<string, number>();
    for (const x of withSeq) {
      if (x.seq === undefined) continue;
      let base = bases.get(x.device);
      if (base === undefined) {
        base = this.lastSeqOf(x.device) ?? x.seq;
        bases.set(x.device, base);
      }
      x.order = seqDistance(base, x.seq, x.bits);
    }
    // Stable: per device by that order; messages without seq keep their arrival order.
    withSeq.sort((a, b) => (a.device < b.device ? -1 : a.device > b.device ? 1 : a.seq !== undefined && b.seq !== undefined ? a.order - b.order : a.i - b.i));
    for (const x of withSeq) this.deliver(x.h.topic, x.h.payload);
    this.gw.logger.info('cluster: partition acquired', { partition: p, held: s.held.length, from: s.waitFor, done: s.done });
    this.gw.metrics.gauges.partitions_owned = this.owned().length;
    if (s.then !== undefined && partitionOwner(p, this.view) === s.then) this.startRelease(p, s.then);
  }

  /** The last seq the stream `key` processed: live, or in the state store (handed over, a checkpoint, evicted); undefined when unknown. */
  private lastSeqOf(key: string): number | undefined {
    const live = this.gw.streams.get(key);
    if (live) return live.lastSeq >= 0 ? live.lastSeq : undefined;
    let bytes: Uint8Array | undefined;
    try {
      bytes = this.gw.stateStore.load(key);
    } catch {
      return undefined; // unreadable: the stream starts fresh anyway (streamFor says so)
    }
    const st = bytes ? peekStreamState(bytes) : null;
    return st && st.lastSeq >= 0 ? st.lastSeq : undefined;
  }

  /**
   * A partition we were acquiring from another member moved on before that member handed it
   * over: pass what we hold to the new owner and tell it we are done (the previous holder
   * hands the states to the new owner itself).
   */
  private abandon(p: string, owner: string): void {
    const s = this.parts.get(p);
    if (s?.state !== 'acquiring') return;
    this.gw.clock.clearTimeout(s.timer);
    this.parts.delete(p);
    this.sending.add(p);
    const job = (async () => {
      await this.gw.transport.unsubscribe([...this.sharedFilters(p), `${this.base}/state/${p}/+`]).catch(() => {});
      await Promise.all(s.held.map((h) => this.send(owner, { kind: 'forward', partition: p, from: this.me, topic: h.topic, data: Buffer.from(h.payload).toString('base64') })));
      await this.send(owner, { kind: 'done', partition: p, from: this.me, to: owner });
    })().finally(() => {
      this.releases.delete(job);
      this.sending.delete(p);
    });
    this.releases.add(job);
  }

  private startRelease(p: string, to: string): void {
    const ready = this.readies.has(`${p}|${to}`);
    this.gw.logger.debug('cluster: releasing', { partition: p, to, ready });
    const timer = this.gw.clock.setTimeout(() => this.release(p, to), this.cfg.handoffTimeoutMs);
    this.parts.set(p, { state: 'releasing', to, timer });
    if (ready) this.release(p, to);
    // Its READY may never come: it owns p too (it missed the READY we sent when we took p for
    // ours, see contest()). HELD tells it; a member acquiring p, or holding none of it, ignores it.
    else void this.send(to, { kind: 'held', partition: p, from: this.me, to });
  }

  /** Hands p over to `to` (see the protocol above). */
  private release(p: string, to: string): void {
    const s = this.parts.get(p);
    if (s?.state !== 'releasing' || s.to !== to) return;
    this.gw.clock.clearTimeout(s.timer);
    // From here on, messages of p are forwarded (admit() finds no state for p).
    this.parts.delete(p);
    this.readies.delete(`${p}|${to}`);
    this.sending.add(p);
    const job = this.doRelease(p, to).finally(() => {
      this.releases.delete(job);
      this.sending.delete(p);
    });
    this.releases.add(job);
    this.gw.metrics.gauges.partitions_owned = this.owned().length;
  }

  private async doRelease(p: string, to: string): Promise<void> {
    const gw = this.gw;
    const sends: Array<Promise<boolean>> = [];
    const forwards: QueuedBatch[] = [];
    /** What this hand-off sends: deleted from the local store once the new owner has it all. */
    const sent = new Map<string, Uint8Array>();
    const live: Array<[string, Uint8Array]> = [];
    for (const s of [...gw.streams.values()]) {
      if (gw.partitionOf(s.device) !== p) continue;
      const { bytes, held } = gw.detachStream(s);
      live.push([s.key, bytes]);
      sent.set(s.key, bytes);
      forwards.push(...held);
      gw.metrics.inc('handoffs_out_total');
    }
    // Kept on disk until the new owner has them: a broker that froze or died during the hand-off
    // delivered none of them, and the detached streams were lost (the next owner, or this gateway
    // when it owns them again, started from older checkpoints).
    for (const f of saveStates(gw.stateStore, live)) gw.logger.error('cluster: a handed-off stream state could not be kept in the store', { key: f.key, error: f.error.message });
    for (const [key, bytes] of live) {
      sends.push(this.send(to, { kind: 'state', partition: p, from: this.me, key, data: Buffer.from(bytes).toString('base64') }));
      sends.push(gw.transport.publish(this.stateTopic(p, key), bytes, { qos: 1, retain: true }).then(() => true, () => true));
    }
    // Evicted streams of p live in the local store: they move too. Not the copies of the live
    // streams just sent (saved by stop() or above): sent after them, an older copy replaced the
    // newer state at the new owner.
    for (const key of gw.stateStore.keys()) {
      const device = key.slice(0, key.lastIndexOf('/'));
      if (gw.partitionOf(device) !== p || sent.has(key)) continue;
      let bytes: Uint8Array | undefined;
      try {
        bytes = gw.stateStore.load(key);
      } catch (e) {
        // One unreadable state must not stop the hand-off of the others: that stream starts fresh there.
        gw.metrics.inc('state_errors_total');
        gw.logger.warn('cluster: a saved stream state could not be read for the hand-off', { key, error: (e as Error).message });
        continue;
      }
      if (!bytes) continue;
      sent.set(key, bytes);
      sends.push(this.send(to, { kind: 'state', partition: p, from: this.me, key, data: Buffer.from(bytes).toString('base64') }));
      sends.push(gw.transport.publish(this.stateTopic(p, key), bytes, { qos: 1, retain: true }).then(() => true, () => true));
    }
    for (const q of forwards) sends.push(this.send(to, { kind: 'forward', partition: p, from: this.me, topic: q.topic, data: Buffer.from(q.raw).toString('base64') }));
    // After the UNSUBACK nothing more of p reaches us; what came before was forwarded by admit().
    await gw.transport.unsubscribe(this.sharedFilters(p)).catch(() => {});
    const delivered = (await Promise.all(sends)).every(Boolean);
    if (!(await this.send(to, { kind: 'done', partition: p, from: this.me, to })) || !delivered) {
      gw.logger.warn('cluster: hand-off not confirmed by the broker: the states stay in the local store', { partition: p, to, states: sent.size });
      return;
    }
    this.forget(sent);
    gw.logger.info('cluster: partition handed off', { partition: p, to, streams: live.length, forwarded: forwards.length });
  }

  /** Deletes the store's copies of states the new owner has, unless they changed since (p came back meanwhile). */
  private forget(sent: ReadonlyMap<string, Uint8Array>): void {
    for (const [key, bytes] of sent) {
      try {
        const now = this.gw.stateStore.load(key);
        if (now && Buffer.compare(now, bytes) === 0) this.gw.stateStore.delete(key);
      } catch (e) {
        // A disk gone read-only: handed off all the same; the copy stays (the next hand-off of p replaces it).
        this.gw.logger.warn('cluster: saved stream state handed off but not deleted from the store', { key, error: (e as Error).message });
      }
    }
  }

  // ---- checkpoints ------------------------------------------------------------------------------

  private onCheckpointTimer(): void {
    this.checkpoint();
    this.checkpointTimer = this.gw.clock.setTimeout(() => this.onCheckpointTimer(), this.cfg.checkpointIntervalMs);
  }

  /** Publishes retained states of the streams of owned partitions (for takeovers after a crash). */
  checkpoint(): void {
    const owned = new Set(this.owned());
    for (const s of this.gw.streams.values()) {
      const p = this.gw.partitionOf(s.device);
      if (!owned.has(p)) continue;
      const bytes = this.gw.checkpointStream(s);
      if (bytes) this.gw.transport.publish(this.stateTopic(p, s.key), bytes, { qos: 1, retain: true }).catch(() => {});
    }
  }

  /**
   * An evicted stream of a partition we own: its state is checkpointed now. The periodic
   * checkpoints cover live streams only, so a crash lost every stream evicted since its last
   * checkpoint (with maxDevices below the devices of a partition, most of them).
   */
  checkpointEvicted(device: string, key: string, bytes: Uint8Array): void {
    if (this.cfg.checkpointIntervalMs <= 0 || this.closed) return;
    const p = this.gw.partitionOf(device);
    const s = this.parts.get(p)?.state;
    if (s === 'owned' || s === 'releasing') this.gw.transport.publish(this.stateTopic(p, key), bytes, { qos: 1, retain: true }).catch(() => {});
  }

  tick(_now: number): void {}

  /**
   * Leaves the cluster: announces it, hands every partition to its next owner, waiting on the
   * broker until `deadline` (Date.now() ms; Gateway.stop's, shared with its other broker waits).
   * A partition whose next owner has not said READY by half the time left (or handoffTimeoutMs,
   * if sooner) is handed over then all the same. The states are on disk before (Gateway.stop).
   */
  async stop(deadline: number): Promise<void> {
    if (this.closed) return;
    this.leaving = true;
    // Offline, nothing can be announced or handed over (QoS 1 publishes would wait for a
    // reconnect: stop() hung here): the streams stay in the local state store (Gateway.stop
    // saves them) and the others take over from checkpoints, as after a crash.
    if (!this.gw.transport.connected) return;
    // Until 2026-11-27 the hand-off had its own bound, handoffTimeoutMs + 5 s, before the states
    // were saved and before the gateway's own broker waits: a frozen broker held stop() over 15 s,
    // and Docker's stop timeout (10 s, then SIGKILL) killed the gateway before the save.
    const releaseBy = Date.now() + Math.min(this.cfg.handoffTimeoutMs, Math.max(0, deadline - Date.now()) / 2);
    // The broker may go away during the hand-off too: never wait past the deadline.
    const until = async (p: Promise<unknown>) => {
      let t: NodeJS.Timeout | undefined;
      await Promise.race([p, new Promise((r) => (t = setTimeout(r, Math.max(0, deadline - Date.now()))))]);
      clearTimeout(t);
    };
    await until(this.gw.transport.publish(this.gw.topics.status, this.statusBody('offline', 'stopped'), { qos: 1, retain: true }).catch(() => {}));
    this.reconcile();
    // Partitions nobody else can take: checkpoint them for whoever comes next.
    const alone = this.view.length === 0;
    if (alone) {
      // Unsubscribed first: what arrives until the UNSUBACK is stepped and in the checkpoints
      // (taken before, they missed it: the next owner resumed from older states, with a gap).
      // Held out-of-order messages are given up: a checkpoint is taken only of a stream that holds
      // none (checkpointStream). (The gateway's own stop() saves gaps with the states instead.)
      await until(this.gw.transport.unsubscribe(this.partitions.flatMap((p) => this.sharedFilters(p))).catch(() => {}));
      for (const s of [...this.gw.streams.values()]) this.gw.drainStream(s);
      this.checkpoint();
      this.parts.clear();
    }
    while ((this.releases.size > 0 || [...this.parts.values()].some((s) => s.state === 'releasing')) && Date.now() < deadline) {
      // A hand-off stuck on the broker must not keep the others past releaseBy: looked at every
      // 20 ms (a timer, not only a settled promise: that spun without letting a message in).
      const tick = new Promise((r) => setTimeout(r, 20));
      await until(this.releases.size > 0 ? Promise.race([Promise.all([...this.releases]), tick]) : tick);
      // Release timers run on the gateway clock (a manual one in tests): time out here too.
      if (Date.now() >= releaseBy) for (const [p, s] of this.parts) if (s.state === 'releasing') this.release(p, s.to);
    }
  }

  close(): void {
    this.closed = true;
    this.gw.clock.clearTimeout(this.checkpointTimer);
    for (const s of this.parts.values()) if (s.state !== 'owned') this.gw.clock.clearTimeout(s.timer);
  }
}
