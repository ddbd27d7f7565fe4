/**
 * A TCP proxy on loopback that breaks connections on purpose: the real-socket counterpart of the
 * simulator's network, for tests and benchmarks that must see what the kernel and Node do.
 *
 * Theory of operation
 * - Every accepted connection (the "client" side) gets its own connection to the target; two
 *   pipes carry bytes, one per direction, in order. Bytes are counted (and shown to `tap`) when
 *   handed to the destination socket, so counters say what really went through.
 * - Faults, each drawn from a seeded generator (`seed` replays the same choices):
 *   cut every connection a random time after it was accepted (`cutAfterMs`), or once a random
 *   number of bytes went one way (`cutAtBytes`: the chunk crossing the offset is split there, the
 *   part before it is delivered, then the cut). A cut resets both sockets (or closes them with
 *   FIN, `cutStyle: 'close'`); bytes still in the proxy are lost, as on a broken path.
 * - One-way delay per direction (`delayMs`): each chunk leaves `delay` ms after it arrived, in
 *   order, so a fixed delay of d each way gives a round trip of 2d on top of loopback.
 * - A bandwidth limit per direction of each connection (`rateBytesPerSec`): a chunk leaves no
 *   sooner than the previous one plus its own serialization time, as on a slow link, so a bulk
 *   transfer lasts long enough for time-based cuts to hit it many times.
 * - `down('refuse')` stops listening (new connections get ECONNREFUSED); `down('blackhole')`
 *   accepts them and lets nothing through, as a partition where SYNs go unanswered; `up()` listens
 *   again and lets held connections through (their bytes were kept, as TCP would retransmit them).
 *   `stall()` black-holes the connections that exist now: they stay open and silent on both
 *   sides, or only on the target's side (`resetClient`), which then still believes in them.
 * - Bounded: each pipe holds at most `bufferedBytesMax` bytes before it stops reading (TCP
 *   backpressure does the rest); a destination that is backed up stops its source too.
 * - It listens only where it is told (127.0.0.1 by default) and owns every socket and timer it
 *   creates: `stop()` ends all of them.
 */
import { EventEmitter } from 'node:events';
import { createServer, connect as netConnect, type Server, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';

/** An inclusive range [min, max] that a random value is drawn from. */
export type Range = readonly [min: number, max: number];

/** `to-target`: bytes from the client to the target; `to-client`: the answers. */
export type Direction = 'to-target' | 'to-client';

/** How new connections fare while the proxy is down. */
export type DownMode = 'refuse' | 'blackhole';

export interface Endpoint {
  host: string;
  port: number;
}

export interface FaultProxyOptions {
  /** Where connections go (usually a server on 127.0.0.1). */
  target: Endpoint;
  /** Address to listen on (default 127.0.0.1) and port (default 0: a free one). */
  host?: string;
  port?: number;
  /** Cut every connection after a random duration in this range (ms since it was accepted). */
  cutAfterMs?: Range | null;
  /** Cut every connection once this many bytes (random in the range) went one way. */
  cutAtBytes?: Range | null;
  /** One-way delay: a number for both directions, or per direction. */
  delayMs?: number | Partial<Record<Direction, number>>;
  /** Bandwidth of each direction of each connection, in bytes per second (default: unlimited). */
  rateBytesPerSec?: number | null;
  /** 'reset' (default): both sockets see a connection reset; 'close': an orderly FIN. */
  cutStyle?: 'reset' | 'close';
  /**
   * After each cut the network stays down (new connections refused) for this long, as a link
   * that flaps does; default: it is up again at once.
   */
  downAfterCutMs?: number | null;
  /** Seed of the random choices (default: random); `seed` tells it, to replay a run. */
  seed?: number;
  /** Bytes a pipe buffers (in its delay line) before it stops reading its source. */
  bufferedBytesMax?: number;
  /** Sees every chunk as it is handed to its destination. Must not throw or keep the chunk. */
  tap?: (direction: Direction, bytes: Uint8Array, connection: number) => void;
}

/** What can be changed on a running proxy; cut settings apply to connections accepted later. */
export type FaultSettings = Pick<
  FaultProxyOptions,
  'cutAfterMs' | 'cutAtBytes' | 'delayMs' | 'cutStyle' | 'rateBytesPerSec'
>;

export interface FaultProxyCounters {
  /** Connections accepted (including those held while black-holed). */
  connections: number;
  /** Connections with at least one socket still open. */
  active: number;
  /** Connections the proxy cut (by time, by byte offset, or on command). */
  cuts: number;
  cutsByTime: number;
  cutsByBytes: number;
  /** Connections held while down('blackhole') or stalled by stall(). */
  blackholed: number;
  /** Bytes handed to the target, and to clients. */
  bytesToTarget: number;
  bytesToClient: number;
}

export type CutCause = 'time' | 'bytes' | 'command';

export interface ProxyEventMap {
  /** A connection was accepted; `at` is performance.now(). */
  connection: [info: { id: number; at: number; held: boolean }];
  /** The proxy cut a connection. */
  cut: [info: { id: number; at: number; cause: CutCause }];
  /** A socket failed in a way that is not part of a fault (for diagnosis; the proxy goes on). */
  error: [error: Error];
}

export class FaultProxy extends EventEmitter<ProxyEventMap> {
  readonly seed: number;
  readonly #host: string;
  #port: number;
  readonly #settings: ResolvedSettings = {
    cutAfterMs: null,
    cutAtBytes: null,
    cutStyle: 'reset',
    delayMs: { 'to-target': 0, 'to-client': 0 },
    rateBytesPerSec: null,
  };
  readonly #context: ProxyContext;
  readonly #random: () => number;
  #server: Server | null = null;
  #down: DownMode | null = null;
  readonly #downAfterCutMs: number | null;
  #upTimer: NodeJS.Timeout | null = null;
  #stopped = false;
  #nextId = 1;
  readonly #links = new Set<Link>();
  readonly #counters: FaultProxyCounters = {
    connections: 0,
    active: 0,
    cuts: 0,
    cutsByTime: 0,
    cutsByBytes: 0,
    blackholed: 0,
    bytesToTarget: 0,
    bytesToClient: 0,
  };

  constructor(options: FaultProxyOptions) {
    super();
    this.#host = options.host ?? '127.0.0.1';
    this.#port = options.port ?? 0;
    this.seed = options.seed ?? Math.floor(Math.random() * 2 ** 32);
    const downMs = options.downAfterCutMs ?? null;
    if (downMs !== null && !(downMs >= 0 && Number.isFinite(downMs)))
      throw new RangeError(`downAfterCutMs must be >= 0, got ${downMs}`);
    this.#downAfterCutMs = downMs;
    this.#random = mulberry32(this.seed);
    this.setFaults(options);
    const counters = this.#counters;
    this.#context = {
      settings: this.#settings,
      bufferedBytesMax: options.bufferedBytesMax ?? 8 * 1024 * 1024,
      target: { ...options.target },
      draw: (range) => range[0] + Math.floor(this.#random() * (range[1] - range[0] + 1)),
      forwarded: (direction, bytes, id) => {
        if (direction === 'to-target') counters.bytesToTarget += bytes.byteLength;
        else counters.bytesToClient += bytes.byteLength;
        options.tap?.(direction, bytes, id);
      },
      wasCut: (id, cause) => {
        counters.cuts++;
        if (cause === 'time') counters.cutsByTime++;
        if (cause === 'bytes') counters.cutsByBytes++;
        this.emit('cut', { id, at: performance.now(), cause });
        if (cause !== 'command') this.#flap();
      },
      wasBlackholed: () => {
        counters.blackholed++;
      },
      ended: (link) => {
        this.#links.delete(link);
      },
      failed: (error) => {
        if (this.listenerCount('error') > 0) this.emit('error', error);
      },
    };
  }

  /** Starts listening. @throws (rejects) when the address cannot be bound. */
  async start(): Promise<void> {
    if (this.#server) throw new Error('fault proxy already started');
    await this.#listen();
  }

  /** Stops listening and closes every connection and timer. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    if (this.#upTimer) clearTimeout(this.#upTimer);
    this.#upTimer = null;
    for (const link of [...this.#links]) link.destroy();
    const server = this.#server;
    this.#server = null;
    if (server?.listening) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** The address it listens on (the real port after start() with port 0). */
  get address(): Endpoint {
    return { host: this.#host, port: this.#port };
  }

  get url(): string {
    return `tcp://${this.#host.includes(':') ? `[${this.#host}]` : this.#host}:${this.#port}`;
  }

  /** A snapshot of the counters. */
  get counters(): FaultProxyCounters {
    return { ...this.#counters, active: this.#links.size };
  }

  get isDown(): boolean {
    return this.#down !== null;
  }

  /** Changes faults: the delay at once for every pipe, cut settings for connections accepted later. */
  setFaults(settings: FaultSettings): void {
    if (settings.cutAfterMs !== undefined) this.#settings.cutAfterMs = checkRange('cutAfterMs', settings.cutAfterMs);
    if (settings.cutAtBytes !== undefined) this.#settings.cutAtBytes = checkRange('cutAtBytes', settings.cutAtBytes);
    if (settings.cutStyle !== undefined) this.#settings.cutStyle = settings.cutStyle;
    const rate = settings.rateBytesPerSec;
    if (rate !== undefined) {
      if (rate !== null && !(rate > 0 && Number.isFinite(rate)))
        throw new RangeError(`rateBytesPerSec must be > 0, got ${rate}`);
      this.#settings.rateBytesPerSec = rate;
    }
    const d = settings.delayMs;
    if (d !== undefined) {
      const both = typeof d === 'number' ? { 'to-target': d, 'to-client': d } : { ...this.#settings.delayMs, ...d };
      for (const v of Object.values(both))
        if (!(v >= 0 && Number.isFinite(v))) throw new RangeError(`delayMs must be >= 0, got ${v}`);
      this.#settings.delayMs = both;
    }
  }

  /**
   * The network goes down for new connections: 'refuse' stops listening, 'blackhole' accepts and
   * holds them. `cutExisting` also cuts the connections that exist now.
   */
  async down(mode: DownMode, options: { cutExisting?: boolean } = {}): Promise<void> {
    this.#down = mode;
    if (options.cutExisting) this.cutAll();
    if (mode === 'refuse' && this.#server) {
      const server = this.#server;
      this.#server = null;
      // The listening socket closes at once; close()'s callback would wait for accepted sockets too.
      server.close();
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }

  /** The network is back: listens again if it refused, and lets held connections through. */
  async up(): Promise<void> {
    this.#down = null;
    if (!this.#server && !this.#stopped) await this.#listen();
    for (const link of this.#links) if (link.state === 'held') link.open();
  }

  /** Cuts every connection now. @returns how many were cut. */
  cutAll(): number {
    let n = 0;
    for (const link of [...this.#links]) if (link.cut('command')) n++;
    return n;
  }

  /**
   * Black-holes the connections that exist now: nothing passes either way (bytes in the proxy are
   * dropped) and neither side is told. With `resetClient`, the client's side is reset instead, so
   * only the target still sees an open, silent connection. They stay so until stop().
   */
  stall(options: { resetClient?: boolean } = {}): number {
    let n = 0;
    for (const link of this.#links) if (link.stall(options.resetClient ?? false)) n++;
    return n;
  }

  // ---------------------------------------------------------------- internals

  /** downAfterCutMs: down (refusing) after a cut, then up again; a cut while down changes nothing. */
  #flap(): void {
    const ms = this.#downAfterCutMs;
    if (ms === null || this.#down !== null || this.#stopped) return;
    void this.down('refuse').then(() => {
      if (this.#stopped) return;
      this.#upTimer = setTimeout(() => {
        this.#upTimer = null;
        void this.up();
      }, ms);
    });
  }

  #listen(): Promise<void> {
    const server = createServer({ allowHalfOpen: true, pauseOnConnect: true }, (socket) => this.#accept(socket));
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.#port, this.#host, () => {
        server.off('error', reject);
        server.on('error', (e) => this.#context.failed(e));
        const a = server.address();
        if (a !== null && typeof a === 'object') this.#port = a.port;
        this.#server = server;
        resolve();
      });
    });
  }

  #accept(socket: Socket): void {
    if (this.#stopped) {
      socket.destroy();
      return;
    }
    const held = this.#down === 'blackhole';
    const link = new Link(this.#context, this.#nextId++, socket);
    this.#links.add(link);
    this.#counters.connections++;
    this.emit('connection', { id: link.id, at: performance.now(), held });
    if (held) {
      this.#context.wasBlackholed();
      link.hold();
    } else {
      link.open();
    }
  }
}

/** Parses `HOST:PORT` (or `tcp://HOST:PORT`, `[::1]:PORT`). @throws RangeError */
export function parseEndpoint(text: string): Endpoint {
  const m = /^(?:tcp:\/\/)?(?:\[([^\]]+)\]|([^:/]+)):(\d+)\/?$/.exec(text.trim());
  const port = m ? Number(m[3]) : Number.NaN;
  if (!m || !(port >= 0 && port <= 65535)) throw new RangeError(`expected HOST:PORT, got "${text}"`);
  return { host: (m[1] ?? m[2]) as string, port };
}

/** Parses `N` or `MIN-MAX` into a range. @throws RangeError */
export function parseRange(text: string): Range {
  const m = /^(\d+)(?:-(\d+))?$/.exec(text.trim());
  if (!m) throw new RangeError(`expected N or MIN-MAX, got "${text}"`);
  const min = Number(m[1]);
  return checkRange('range', [min, m[2] === undefined ? min : Number(m[2])]) as Range;
}

interface ResolvedSettings {
  cutAfterMs: Range | null;
  cutAtBytes: Range | null;
  cutStyle: 'reset' | 'close';
  delayMs: Record<Direction, number>;
  rateBytesPerSec: number | null;
}

/** What links and pipes may use of their proxy. */
interface ProxyContext {
  readonly settings: Readonly<ResolvedSettings>;
  readonly bufferedBytesMax: number;
  readonly target: Endpoint;
  /** A random integer in [min, max], from the proxy's seeded generator. */
  draw(range: Range): number;
  forwarded(direction: Direction, bytes: Uint8Array, id: number): void;
  wasCut(id: number, cause: CutCause): void;
  wasBlackholed(): void;
  ended(link: Link): void;
  failed(error: Error): void;
}

type LinkState = 'held' | 'open' | 'stalled' | 'closed';

/** One client connection, its target connection and the two pipes between them. */
class Link {
  readonly id: number;
  state: LinkState = 'held';
  readonly #proxy: ProxyContext;
  readonly #client: Socket;
  #upstream: Socket | null = null;
  #pipes: Pipe[] = [];
  #cutTimer: NodeJS.Timeout | null = null;
  #style: 'reset' | 'close';
  #open = new Set<Socket>();

  constructor(proxy: ProxyContext, id: number, client: Socket) {
    this.#proxy = proxy;
    this.id = id;
    this.#client = client;
    this.#style = proxy.settings.cutStyle;
    this.#track(client);
  }

  /** Accepted while black-holed: nothing is read (the kernel keeps the client's bytes) until open(). */
  hold(): void {
    this.state = 'held';
  }

  open(): void {
    if (this.state !== 'held') return;
    this.state = 'open';
    const settings = this.#proxy.settings;
    this.#style = settings.cutStyle;
    const target = this.#proxy.target;
    const upstream = netConnect({ host: target.host, port: target.port, allowHalfOpen: true });
    upstream.setNoDelay(true);
    this.#client.setNoDelay(true);
    this.#upstream = upstream;
    this.#track(upstream);
    const offsets: Record<Direction, number> = {
      'to-target': settings.cutAtBytes ? this.#proxy.draw(settings.cutAtBytes) : Number.POSITIVE_INFINITY,
      'to-client': settings.cutAtBytes ? this.#proxy.draw(settings.cutAtBytes) : Number.POSITIVE_INFINITY,
    };
    this.#pipes = [
      new Pipe(this.#proxy, this, 'to-target', this.#client, upstream, offsets['to-target']),
      new Pipe(this.#proxy, this, 'to-client', upstream, this.#client, offsets['to-client']),
    ];
    if (settings.cutAfterMs) {
      this.#cutTimer = setTimeout(() => this.cut('time'), this.#proxy.draw(settings.cutAfterMs));
    }
    this.#client.resume();
  }

  /** @returns whether this call cut it (false when it was already closed). */
  cut(cause: CutCause): boolean {
    if (this.state === 'closed') return false;
    this.#proxy.wasCut(this.id, cause);
    this.#end(this.#style);
    return true;
  }

  stall(resetClient: boolean): boolean {
    if (this.state !== 'open') return false;
    this.state = 'stalled';
    this.#proxy.wasBlackholed();
    this.#clearTimer();
    for (const p of this.#pipes) p.stop();
    if (resetClient) {
      if (this.#client.writableEnded) this.#client.destroy();
      else this.#client.resetAndDestroy();
    }
    return true;
  }

  /** Closes both sides at once (stop()). */
  destroy(): void {
    this.#end('reset');
  }

  /** Pipe: the source ended after everything it sent was delivered; close when both did. */
  pipeEnded(): void {
    if (this.#pipes.every((p) => p.ended)) this.#end('close');
  }

  /** A socket closed by itself: a reset or a failure passes through, unless stalled. */
  #track(socket: Socket): void {
    this.#open.add(socket);
    socket.on('error', (e: NodeJS.ErrnoException) => {
      if (!EXPECTED_ERRORS.has(e.code ?? '')) this.#proxy.failed(e);
    });
    socket.on('close', (hadError) => {
      this.#open.delete(socket);
      // A socket that ended in order leaves its pipe to deliver the end (after the delay); one
      // that failed, or closed without ending, is passed on as a reset. A stalled link passes nothing.
      const orderly = !hadError && socket.readableEnded;
      if ((this.state === 'open' && !orderly) || this.state === 'held') this.#end('reset');
      if (this.#open.size === 0) this.#finish();
    });
  }

  #end(style: 'reset' | 'close'): void {
    if (this.state !== 'closed') {
      this.state = 'closed';
      this.#clearTimer();
      for (const p of this.#pipes) p.stop();
    }
    for (const s of [this.#client, this.#upstream]) {
      if (!s || s.destroyed) continue;
      // A reset is refused (EINVAL) once a shutdown is under way, and the handle would then never
      // close: Node spins at exit waiting for it. Such a socket is destroyed plainly.
      if (s.connecting || s.writableEnded) s.destroy();
      else if (style === 'reset') s.resetAndDestroy();
      else {
        if (!s.writableEnded) s.end();
        setTimeout(() => s.destroy(), 1_000).unref();
      }
    }
    if (this.#open.size === 0) this.#finish();
  }

  #finish(): void {
    this.state = 'closed';
    this.#clearTimer();
    this.#proxy.ended(this);
  }

  #clearTimer(): void {
    if (this.#cutTimer) clearTimeout(this.#cutTimer);
    this.#cutTimer = null;
  }
}

interface Item {
  due: number;
  chunk: Buffer | null; // null: the source ended
  cutAfter: boolean;
}

/** One direction: reads its source, delays, writes its destination, honouring both sides' limits. */
class Pipe {
  ended = false;
  readonly #proxy: ProxyContext;
  readonly #link: Link;
  readonly #direction: Direction;
  readonly #src: Socket;
  readonly #dst: Socket;
  #bytesLeft: number;
  readonly #queue: Item[] = [];
  #head = 0;
  #queued = 0;
  #timer: NodeJS.Timeout | null = null;
  #blocked = false;
  #stopped = false;
  #finishing = false;
  /** When the link is free again under the bandwidth limit (performance.now() time). */
  #linkFreeAt = 0;

  constructor(proxy: ProxyContext, link: Link, direction: Direction, src: Socket, dst: Socket, cutAtByte: number) {
    this.#proxy = proxy;
    this.#link = link;
    this.#direction = direction;
    this.#src = src;
    this.#dst = dst;
    this.#bytesLeft = cutAtByte;
    src.on('data', (chunk: Buffer) => this.#onData(chunk));
    src.on('end', () => this.#enqueue({ due: this.#due(), chunk: null, cutAfter: false }));
    dst.on('drain', () => {
      this.#blocked = false;
      this.#pump();
    });
  }

  stop(): void {
    this.#stopped = true;
    this.#queue.length = 0;
    this.#head = 0;
    this.#queued = 0;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    if (!this.#src.destroyed) this.#src.pause();
  }

  #onData(chunk: Buffer): void {
    if (this.#stopped || this.#finishing) return;
    let part = chunk;
    let cutAfter = false;
    if (part.byteLength >= this.#bytesLeft) {
      part = part.subarray(0, this.#bytesLeft);
      cutAfter = true;
      this.#finishing = true;
      this.#src.pause();
    }
    this.#bytesLeft -= part.byteLength;
    // A rate-limited link delivers a burst progressively, not all of it once its last byte is
    // through: slices of a segment's size keep the first bytes of a large write (a small control
    // frame ahead of bulk data) from waiting for the whole burst.
    if (this.#proxy.settings.rateBytesPerSec !== null && part.byteLength > SLICE_BYTES) {
      for (let at = 0; at < part.byteLength; at += SLICE_BYTES) {
        const slice = part.subarray(at, Math.min(part.byteLength, at + SLICE_BYTES));
        const last = at + SLICE_BYTES >= part.byteLength;
        this.#enqueue({ due: this.#due(slice.byteLength), chunk: slice, cutAfter: cutAfter && last });
      }
      return;
    }
    this.#enqueue({ due: this.#due(part.byteLength), chunk: part, cutAfter });
  }

  /** When a chunk of `bytes` that arrives now may leave: after the delay and, if limited, its turn on the link. */
  #due(bytes = 0): number {
    const arrival = performance.now() + this.#proxy.settings.delayMs[this.#direction];
    const rate = this.#proxy.settings.rateBytesPerSec;
    if (rate === null) return arrival;
    this.#linkFreeAt = Math.max(arrival, this.#linkFreeAt) + (bytes * 1000) / rate;
    return this.#linkFreeAt;
  }

  #enqueue(item: Item): void {
    if (this.#stopped) return;
    this.#queue.push(item);
    this.#queued += item.chunk?.byteLength ?? 0;
    this.#pump();
  }

  #pump(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    while (!this.#stopped && !this.#blocked && this.#head < this.#queue.length) {
      const item = this.#queue[this.#head] as Item;
      const wait = item.due - performance.now();
      if (wait > 0) {
        this.#timer = setTimeout(() => this.#pump(), Math.max(1, Math.ceil(wait)));
        break;
      }
      this.#queue[this.#head++] = undefined as unknown as Item;
      this.#deliver(item);
    }
    if (this.#head === this.#queue.length) {
      this.#queue.length = 0;
      this.#head = 0;
    }
    if (this.#stopped || this.#finishing || this.#src.destroyed) return;
    const full = this.#blocked || this.#queued > this.#proxy.bufferedBytesMax;
    if (full && !this.#src.isPaused()) this.#src.pause();
    else if (!full && this.#src.isPaused() && this.#link.state === 'open') this.#src.resume();
  }

  #deliver(item: Item): void {
    if (item.chunk === null) {
      this.ended = true;
      if (!this.#dst.destroyed) this.#dst.end();
      this.#link.pipeEnded();
      return;
    }
    const chunk = item.chunk;
    this.#queued -= chunk.byteLength;
    if (chunk.byteLength > 0) this.#proxy.forwarded(this.#direction, chunk, this.#link.id);
    const cut = () => this.#link.cut('bytes');
    if (this.#dst.destroyed) return;
    if (chunk.byteLength === 0) {
      if (item.cutAfter) setImmediate(cut);
      return;
    }
    // The cut follows once the bytes before the offset were handed to the kernel.
    if (!this.#dst.write(chunk, item.cutAfter ? cut : undefined)) this.#blocked = true;
  }
}

/** Under a bandwidth limit, bytes move in slices of about one TCP segment's payload. */
const SLICE_BYTES = 1460;

const EXPECTED_ERRORS = new Set(['ECONNRESET', 'EPIPE', 'ECONNREFUSED', 'ERR_SOCKET_CLOSED']);

function checkRange(name: string, range: Range | null): Range | null {
  if (range === null) return null;
  const [min, max] = range;
  if (!(Number.isInteger(min) && Number.isInteger(max) && min >= 0 && max >= min)) {
    throw new RangeError(`${name} must be integers 0 <= min <= max, got [${min}, ${max}]`);
  }
  return [min, max];
}

/** A small seeded generator (mulberry32): uniform in [0, 1). */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
