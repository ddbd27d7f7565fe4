/**
 * A simulated network on virtual time: byte streams between clients and one server, with the
 * faults real networks have.
 *
 * Theory of operation
 * - A `SimLink` is one transport connection: two pipes (client to server, server to client).
 *   A pipe keeps byte order: every write gets a delivery time no earlier than the one before it,
 *   so delay and jitter reorder nothing within a connection (TCP's promise), while different
 *   connections race freely. Writes are split at random points and delivered piecewise.
 * - Faults: `stall` holds a link's deliveries for a while; `cut` picks a byte offset in each
 *   direction past which everything (in flight or written later) is lost, then tells each end
 *   `onDown` at its own later time; an end may `linger` (the server does not notice for a long
 *   time, or never, and must find out by its idle timeout) while the client already reconnects;
 *   `partition` cuts a client's links and refuses its connects for a while; `closeListener`
 *   refuses every connect for a while. An orderly close (`close`) delivers a FIN after the data.
 * - Everything happens through one event heap ordered by (time, insertion number), so a run is
 *   a pure function of the seed. Bytes in flight per pipe are counted and bounded: an end may
 *   only write while its pipe is under `pipeBytesMax` (the driver's socket backpressure).
 * - `dropByteChance` breaks the network on purpose (a byte vanishes without a cut); only the
 *   tests that prove the invariant checkers bite use it.
 */
import type { Rng } from './random.js';

/** What the network calls on one end of a link. */
export interface Endpoint {
  onBytes(now: number, bytes: Uint8Array): void;
  onDown(now: number, why: string): void;
}

export interface NetworkOptions {
  /** One-way delay of a link, drawn per link in [min, max]. */
  delayMsMin: number;
  delayMsMax: number;
  /** Extra random delay per chunk (order is kept regardless). */
  jitterMs: number;
  /** Chance that a write is split into several chunks at random points. */
  splitChance: number;
  /** An end may write while fewer bytes than this are in flight on its pipe. */
  pipeBytesMax: number;
  /** Broken on purpose: chance that a chunk silently loses one byte. Keep 0 outside checker tests. */
  dropByteChance: number;
  /**
   * Bandwidth of each direction of a link (bytes per virtual second), or null for none: a chunk
   * arrives after its own serialization time, behind the chunks before it.
   */
  bytesPerSecond: number | null;
}

export const DEFAULT_NETWORK: Readonly<NetworkOptions> = Object.freeze({
  delayMsMin: 1,
  delayMsMax: 40,
  jitterMs: 10,
  splitChance: 0.3,
  pipeBytesMax: 64 * 1024,
  dropByteChance: 0,
  bytesPerSecond: null,
});

export interface NetworkStats {
  links: number;
  connectsRefused: number;
  cuts: number;
  lingers: number;
  stalls: number;
  partitions: number;
  listenerCloses: number;
  bytesWritten: number;
  bytesDelivered: number;
  bytesLost: number;
  chunksDelivered: number;
  /** The most bytes ever in flight on one pipe. */
  pipeBytesPeak: number;
}

type Side = 'client' | 'server';

interface Chunk {
  at: number;
  /** null: the FIN of an orderly close. */
  bytes: Uint8Array | null;
}

class Pipe {
  readonly chunks: Chunk[] = [];
  head = 0;
  lastAt = 0;
  inFlightBytes = 0;
  /** Stream offset of the next byte written, and the offset past which bytes are lost (a cut). */
  writtenBytes = 0;
  lossOffset = Number.POSITIVE_INFINITY;
  stalledUntil = 0;
  finSent = false;
}

export class SimLink {
  readonly id: number;
  readonly clientId: number;
  readonly delayMs: number;
  readonly toServer = new Pipe();
  readonly toClient = new Pipe();
  client: Endpoint;
  server: Endpoint | null = null;
  /** An end that was told onDown, or closed itself, receives nothing more. */
  clientGone = false;
  serverGone = false;
  broken = false;

  constructor(id: number, clientId: number, delayMs: number, client: Endpoint) {
    this.id = id;
    this.clientId = clientId;
    this.delayMs = delayMs;
    this.client = client;
  }

  get finished(): boolean {
    return this.clientGone && this.serverGone;
  }

  pipeFrom(side: Side): Pipe {
    return side === 'client' ? this.toServer : this.toClient;
  }
}

interface Scheduled {
  at: number;
  seq: number;
  run: (now: number) => void;
}

export class Network {
  readonly options: Readonly<NetworkOptions>;
  readonly stats: NetworkStats = {
    links: 0,
    connectsRefused: 0,
    cuts: 0,
    lingers: 0,
    stalls: 0,
    partitions: 0,
    listenerCloses: 0,
    bytesWritten: 0,
    bytesDelivered: 0,
    bytesLost: 0,
    chunksDelivered: 0,
    pipeBytesPeak: 0,
  };
  readonly #rng: Rng;
  readonly #heap: Scheduled[] = [];
  #seq = 0;
  #nextLinkId = 1;
  readonly #links: SimLink[] = [];
  readonly #partitionedUntil = new Map<number, number>();
  #listenerClosedUntil = Number.NEGATIVE_INFINITY;
  /** Called on the server side for each new link; returns the server's end. */
  acceptor: ((now: number, link: SimLink) => Endpoint) | null = null;
  /** Observes every network happening (the world's trace). */
  tracer: ((now: number, what: string) => void) | null = null;

  constructor(rng: Rng, options: Partial<NetworkOptions> = {}) {
    this.#rng = rng;
    this.options = Object.freeze({ ...DEFAULT_NETWORK, ...options });
  }

  /** Links not yet finished (either end still up). */
  get liveLinks(): readonly SimLink[] {
    return this.#links.filter((l) => !l.finished);
  }

  get listening(): boolean {
    return this.#listenerClosedUntil === Number.NEGATIVE_INFINITY;
  }

  /** The time of the next network happening, or null when nothing is scheduled. */
  nextTime(): number | null {
    return this.#heap.length > 0 ? (this.#heap[0] as Scheduled).at : null;
  }

  /**
   * Runs every happening due at or before `now`, in order, and `after` after each one. Returns
   * how many ran.
   */
  runDue(now: number, after?: () => void): number {
    let n = 0;
    while (this.#heap.length > 0 && (this.#heap[0] as Scheduled).at <= now) {
      const item = pop(this.#heap);
      item.run(now);
      after?.();
      n++;
    }
    return n;
  }

  /** Runs `run` at `at` on the network's clock (for the world's own timers too, so one heap orders all). */
  schedule(at: number, run: (now: number) => void): void {
    push(this.#heap, { at, seq: this.#seq++, run });
  }

  /**
   * A client connects. After a round trip, `result` gets the link (the server's end came from
   * `acceptor`) or null when refused (partitioned or listener closed).
   */
  connect(now: number, clientId: number, client: Endpoint, result: (now: number, link: SimLink | null) => void): void {
    const delayMs = this.#rng.int(this.options.delayMsMin, this.options.delayMsMax);
    this.schedule(now + 2 * delayMs, (t) => {
      if ((this.#partitionedUntil.get(clientId) ?? 0) > t || t < this.#listenerClosedUntil || !this.acceptor) {
        this.stats.connectsRefused++;
        this.#trace(t, `connect refused client=${clientId}`);
        return result(t, null);
      }
      const link = new SimLink(this.#nextLinkId++, clientId, delayMs, client);
      this.#links.push(link);
      this.stats.links++;
      this.#trace(t, `link ${link.id} up client=${clientId} delay=${delayMs}`);
      link.server = this.acceptor(t, link);
      result(t, link);
    });
  }

  /** Whether `side` may write to `link` now (its pipe is under the in-flight bound). */
  writable(link: SimLink, side: Side): boolean {
    return link.pipeFrom(side).inFlightBytes < this.options.pipeBytesMax;
  }

  /** `side` writes `bytes` to `link`. Bytes past a cut are lost without a word, as on a real network. */
  write(now: number, link: SimLink, side: Side, bytes: Uint8Array): void {
    const pipe = link.pipeFrom(side);
    if (pipe.finSent || (side === 'client' ? link.clientGone : link.serverGone)) return;
    this.stats.bytesWritten += bytes.byteLength;
    let data = bytes;
    if (this.options.dropByteChance > 0 && data.byteLength > 1 && this.#rng.chance(this.options.dropByteChance)) {
      const at = this.#rng.int(0, data.byteLength - 1);
      const out = new Uint8Array(data.byteLength - 1);
      out.set(data.subarray(0, at));
      out.set(data.subarray(at + 1), at);
      data = out;
      this.#trace(now, `link ${link.id} ${side} BROKEN: dropped byte ${at}`);
    }
    const start = pipe.writtenBytes;
    pipe.writtenBytes += data.byteLength;
    const keep = Math.max(0, Math.min(data.byteLength, pipe.lossOffset - start));
    if (keep < data.byteLength) this.stats.bytesLost += data.byteLength - keep;
    if (keep === 0) return;
    data = data.subarray(0, keep);
    const pieces: Uint8Array[] = [];
    if (data.byteLength > 1 && this.#rng.chance(this.options.splitChance)) {
      let at = 0;
      const parts = this.#rng.int(2, Math.min(6, data.byteLength));
      for (let i = 1; i < parts && at < data.byteLength - 1; i++) {
        const cut = this.#rng.int(at + 1, data.byteLength - 1);
        pieces.push(data.subarray(at, cut));
        at = cut;
      }
      pieces.push(data.subarray(at));
    } else {
      pieces.push(data);
    }
    for (const piece of pieces) this.#enqueue(now, link, pipe, side, piece);
  }

  /** `side` closes its end in order: the peer gets onDown after the bytes already written. */
  close(now: number, link: SimLink, side: Side): void {
    const pipe = link.pipeFrom(side);
    if (side === 'client') link.clientGone = true;
    else link.serverGone = true;
    if (pipe.finSent) return;
    pipe.finSent = true;
    if (pipe.lossOffset <= pipe.writtenBytes) return; // a cut link carries no FIN; the cut tells
    this.#enqueue(now, link, pipe, side, null);
  }

  /** Holds every delivery on `link` for `ms`. */
  stall(now: number, link: SimLink, ms: number): void {
    this.stats.stalls++;
    link.toServer.stalledUntil = Math.max(link.toServer.stalledUntil, now + ms);
    link.toClient.stalledUntil = Math.max(link.toClient.stalledUntil, now + ms);
    this.#trace(now, `link ${link.id} stall ${ms}ms`);
  }

  /**
   * Breaks `link`: in each direction a random byte offset (within what is in flight, or a little
   * beyond) past which all is lost. Each end hears of it at its own later time; the server may
   * linger (`serverNoticeMs` null: never told, its idle timeout must find out).
   */
  cut(now: number, link: SimLink, notice: { clientMs: number; serverMs: number | null }): void {
    if (link.broken) return;
    link.broken = true;
    this.stats.cuts++;
    for (const pipe of [link.toServer, link.toClient]) {
      const offset = pipe.writtenBytes - pipe.inFlightBytes + this.#rng.int(0, pipe.inFlightBytes + 2048);
      pipe.lossOffset = offset;
      this.#truncate(pipe, offset);
    }
    this.#trace(
      now,
      `link ${link.id} cut up@${link.toServer.lossOffset} down@${link.toClient.lossOffset} ` +
        `notice client+${notice.clientMs} server+${notice.serverMs ?? 'never'}`,
    );
    this.schedule(now + notice.clientMs, (t) => this.#down(t, link, 'client', 'connection reset'));
    if (notice.serverMs === null) this.stats.lingers++;
    else {
      if (notice.serverMs > notice.clientMs + 1000) this.stats.lingers++;
      this.schedule(now + notice.serverMs, (t) => this.#down(t, link, 'server', 'connection reset'));
    }
  }

  /** Cuts the client's links and refuses its connects for `ms`. */
  partition(now: number, clientId: number, ms: number, notice: () => { clientMs: number; serverMs: number | null }) {
    this.stats.partitions++;
    this.#partitionedUntil.set(clientId, Math.max(this.#partitionedUntil.get(clientId) ?? 0, now + ms));
    this.#trace(now, `partition client=${clientId} ${ms}ms`);
    for (const link of this.#links) {
      if (link.clientId === clientId && !link.finished) this.cut(now, link, notice());
    }
  }

  /** The server stops accepting for `ms` (established links go on). */
  closeListener(now: number, ms: number): void {
    this.stats.listenerCloses++;
    this.#listenerClosedUntil = Math.max(this.#listenerClosedUntil, now + ms);
    this.#trace(now, `listener closed ${ms}ms`);
    this.schedule(now + ms, (t) => {
      if (t >= this.#listenerClosedUntil) {
        this.#listenerClosedUntil = Number.NEGATIVE_INFINITY;
        this.#trace(t, 'listener open');
      }
    });
  }

  #enqueue(now: number, link: SimLink, pipe: Pipe, side: Side, bytes: Uint8Array | null): void {
    const jitter = this.options.jitterMs > 0 ? this.#rng.int(0, this.options.jitterMs) : 0;
    const rate = this.options.bytesPerSecond;
    const serialization = rate !== null && bytes ? (bytes.byteLength * 1000) / rate : 0;
    const at = Math.max(pipe.lastAt, now + link.delayMs + jitter) + serialization;
    pipe.lastAt = at;
    pipe.chunks.push({ at, bytes });
    if (bytes) {
      pipe.inFlightBytes += bytes.byteLength;
      if (pipe.inFlightBytes > this.stats.pipeBytesPeak) this.stats.pipeBytesPeak = pipe.inFlightBytes;
    }
    const to: Side = side === 'client' ? 'server' : 'client';
    this.schedule(at, (t) => this.#deliverHead(t, link, pipe, to));
  }

  #deliverHead(now: number, link: SimLink, pipe: Pipe, to: Side): void {
    const chunk = pipe.chunks[pipe.head];
    if (chunk === undefined) return; // truncated by a cut
    if (pipe.stalledUntil > now) {
      this.schedule(pipe.stalledUntil, (t) => this.#deliverHead(t, link, pipe, to));
      return;
    }
    pipe.chunks[pipe.head] = undefined as unknown as Chunk;
    pipe.head++;
    if (pipe.head === pipe.chunks.length) {
      pipe.chunks.length = 0;
      pipe.head = 0;
    }
    if (chunk.bytes === null) return this.#down(now, link, to, 'closed by peer');
    pipe.inFlightBytes -= chunk.bytes.byteLength;
    const gone = to === 'client' ? link.clientGone : link.serverGone;
    const end = to === 'client' ? link.client : link.server;
    if (gone || !end) return;
    this.stats.bytesDelivered += chunk.bytes.byteLength;
    this.stats.chunksDelivered++;
    end.onBytes(now, chunk.bytes);
  }

  #down(now: number, link: SimLink, side: Side, why: string): void {
    const gone = side === 'client' ? link.clientGone : link.serverGone;
    if (gone) return;
    if (side === 'client') link.clientGone = true;
    else link.serverGone = true;
    // Nothing more reaches an end that is down; what was in flight to it is dropped.
    const pipe = side === 'client' ? link.toClient : link.toServer;
    this.#truncate(pipe, pipe.writtenBytes - pipe.inFlightBytes);
    pipe.lossOffset = Math.min(pipe.lossOffset, pipe.writtenBytes);
    this.#trace(now, `link ${link.id} ${side} down: ${why}`);
    const end = side === 'client' ? link.client : link.server;
    end?.onDown(now, why);
  }

  /** Drops every queued byte at stream offset >= `offset` (the FIN too). */
  #truncate(pipe: Pipe, offset: number): void {
    let at = pipe.writtenBytes - pipe.inFlightBytes; // offset of the head chunk's first byte
    let i = pipe.head;
    for (; i < pipe.chunks.length; i++) {
      const c = pipe.chunks[i] as Chunk;
      if (c.bytes === null) continue;
      const len = c.bytes.byteLength;
      if (at + len > offset) {
        const keep = Math.max(0, offset - at);
        if (keep > 0) {
          c.bytes = c.bytes.subarray(0, keep);
          i++;
        }
        break;
      }
      at += len;
    }
    const kept = pipe.chunks.slice(pipe.head, i).filter((c) => c.bytes !== null);
    let keptBytes = 0;
    for (const c of kept) keptBytes += (c.bytes as Uint8Array).byteLength;
    this.stats.bytesLost += pipe.inFlightBytes - keptBytes;
    pipe.chunks.length = 0;
    pipe.chunks.push(...kept);
    pipe.head = 0;
    pipe.inFlightBytes = keptBytes;
    // writtenBytes stays: it is the stream offset of the sender, and later writes are past the cut.
  }

  #trace(now: number, what: string): void {
    this.tracer?.(now, what);
  }
}

// A binary min-heap on (at, seq): equal times run in the order they were scheduled.
function less(a: Scheduled, b: Scheduled): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}

function push(h: Scheduled[], item: Scheduled): void {
  h.push(item);
  let i = h.length - 1;
  while (i > 0) {
    const parent = (i - 1) >> 1;
    if (!less(h[i] as Scheduled, h[parent] as Scheduled)) break;
    [h[i], h[parent]] = [h[parent] as Scheduled, h[i] as Scheduled];
    i = parent;
  }
}

function pop(h: Scheduled[]): Scheduled {
  const top = h[0] as Scheduled;
  const last = h.pop() as Scheduled;
  if (h.length > 0) {
    h[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && less(h[l] as Scheduled, h[m] as Scheduled)) m = l;
      if (r < h.length && less(h[r] as Scheduled, h[m] as Scheduled)) m = r;
      if (m === i) break;
      [h[i], h[m]] = [h[m] as Scheduled, h[i] as Scheduled];
      i = m;
    }
  }
  return top;
}
