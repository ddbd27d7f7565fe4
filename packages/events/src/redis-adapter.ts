/**
 * Rooms across several servers: each node keeps its own members in an InMemoryAdapter and
 * publishes every broadcast on one Redis pub/sub channel; every other node delivers it to its own
 * members of the target. The event is encoded once, on the node that emits it, and each member
 * gets it once (its node delivers it, no other does). Bring your own ioredis clients (a subscriber
 * connection cannot publish, so two): this file needs none at run time.
 *
 * Message on the channel: version (1), the origin node's 16-byte id, the target's rooms and
 * except lists (u16 count, then u16 length + UTF-8 each), then the event frame as sent to members.
 */
import { randomBytes } from 'node:crypto';
import { ErrorCode, UsageError } from '@liaison/node';
import {
  type Adapter,
  type AdapterFactory,
  type AdapterHost,
  type BroadcastTarget,
  InMemoryAdapter,
  type Room,
  type SocketId,
} from './adapter.js';
import { AdapterError, EventsErrorCode } from './errors.js';

/** What the adapter uses of a publishing client (ioredis's `Redis` fits). */
export interface RedisPublisher {
  publish(channel: string, message: Buffer): Promise<unknown>;
}

/** What the adapter uses of a subscribed client (ioredis's `Redis` fits; it must not publish). */
export interface RedisSubscriber {
  subscribe(channel: string): Promise<unknown>;
  unsubscribe(channel: string): Promise<unknown>;
  on(event: 'messageBuffer', listener: (channel: Buffer, message: Buffer) => void): unknown;
  off(event: 'messageBuffer', listener: (channel: Buffer, message: Buffer) => void): unknown;
}

export interface RedisAdapterOptions {
  pub: RedisPublisher;
  sub: RedisSubscriber;
  /** The pub/sub channel shared by the nodes of one application (default 'liaison:events'). */
  channel?: string;
  /** A message on the channel that is not a broadcast of this version (default: a process warning). */
  onBadMessage?: (error: AdapterError) => void;
}

const VERSION = 1;
const NODE_ID_BYTES = 16;
const NAME_BYTES_MAX = 0xffff;
const UNSUBSCRIBE_WAIT_MS = 1_000;

/** `eventServer(server, { adapter: redisAdapter({ pub, sub }) })`. */
export function redisAdapter(options: RedisAdapterOptions): AdapterFactory {
  return (host) => new RedisAdapter(host, options);
}

export class RedisAdapter implements Adapter {
  readonly #local: InMemoryAdapter;
  readonly #options: RedisAdapterOptions;
  readonly #channel: string;
  readonly #node = randomBytes(NODE_ID_BYTES);
  readonly #listener = (channel: Buffer, message: Buffer) => this.#received(channel, message);
  /** Subscribed: broadcasts of the other nodes reach this one from here on. */
  readonly ready: Promise<void>;

  constructor(host: AdapterHost, options: RedisAdapterOptions) {
    this.#local = new InMemoryAdapter(host);
    this.#options = options;
    this.#channel = options.channel ?? 'liaison:events';
    options.sub.on('messageBuffer', this.#listener);
    this.ready = options.sub.subscribe(this.#channel).then(
      () => {},
      (e: unknown) => {
        throw new AdapterError(
          EventsErrorCode.ADAPTER_UNAVAILABLE,
          `cannot subscribe to ${this.#channel}: ${String(e)}`,
          e,
        );
      },
    );
    this.ready.catch(() => {}); // reported by the first broadcast (and by whoever awaits ready)
  }

  addAll(id: SocketId, rooms: Iterable<Room>): void {
    this.#local.addAll(id, rooms);
  }

  del(id: SocketId, room: Room): void {
    this.#local.del(id, room);
  }

  delAll(id: SocketId): void {
    this.#local.delAll(id);
  }

  socketRooms(id: SocketId): ReadonlySet<Room> | undefined {
    return this.#local.socketRooms(id);
  }

  /** This node's sockets that the target selects (the others' are not asked). */
  sockets(target: BroadcastTarget): Promise<Set<SocketId>> {
    return this.#local.sockets(target);
  }

  /**
   * This node's members get the frame at once; the other nodes' once Redis has it. Rejects with
   * an AdapterError when Redis does not take it: then only this node's members got it.
   */
  async broadcast(frame: Uint8Array, target: BroadcastTarget): Promise<void> {
    const message = encodeMessage(this.#node, target, frame);
    this.#local.broadcast(frame, target);
    try {
      await this.ready;
      await this.#options.pub.publish(this.#channel, message);
    } catch (e) {
      throw e instanceof AdapterError
        ? e
        : new AdapterError(EventsErrorCode.ADAPTER_UNAVAILABLE, `broadcast not published: ${String(e)}`, e);
    }
  }

  /** Stops receiving; waits at most UNSUBSCRIBE_WAIT_MS for Redis (a dead one must not hold a shutdown). */
  async close(): Promise<void> {
    this.#options.sub.off('messageBuffer', this.#listener);
    let timer: NodeJS.Timeout | undefined;
    const gaveUp = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, UNSUBSCRIBE_WAIT_MS);
      timer.unref();
    });
    await Promise.race([this.#options.sub.unsubscribe(this.#channel).catch(() => {}), gaveUp]);
    clearTimeout(timer);
  }

  #received(channel: Buffer, message: Buffer): void {
    if (channel.toString() !== this.#channel) return;
    let decoded: { node: Uint8Array; target: BroadcastTarget; frame: Uint8Array };
    try {
      decoded = decodeMessage(message);
    } catch (e) {
      const error = e instanceof AdapterError ? e : new AdapterError(EventsErrorCode.ADAPTER_BAD_MESSAGE, String(e), e);
      if (this.#options.onBadMessage) this.#options.onBadMessage(error);
      else process.emitWarning(error);
      return;
    }
    if (Buffer.compare(decoded.node, this.#node) === 0) return; // delivered here already
    this.#local.broadcast(decoded.frame, decoded.target);
  }
}

function encodeMessage(node: Uint8Array, target: BroadcastTarget, frame: Uint8Array): Buffer {
  const names = [...target.rooms, ...target.except].map((r) => Buffer.from(r, 'utf8'));
  if (target.rooms.size > NAME_BYTES_MAX || target.except.size > NAME_BYTES_MAX)
    throw new UsageError(ErrorCode.INVALID_ARGUMENT, `a broadcast names at most ${NAME_BYTES_MAX} rooms`);
  for (const n of names)
    if (n.length > NAME_BYTES_MAX)
      throw new UsageError(ErrorCode.INVALID_ARGUMENT, `a room name is at most ${NAME_BYTES_MAX} bytes of UTF-8`);
  const size = 1 + NODE_ID_BYTES + 4 + names.reduce((n, b) => n + 2 + b.length, 0) + frame.length;
  const out = Buffer.allocUnsafe(size);
  out.writeUInt8(VERSION, 0);
  out.set(node, 1);
  let at = 1 + NODE_ID_BYTES;
  let i = 0;
  for (const count of [target.rooms.size, target.except.size]) {
    at = out.writeUInt16BE(count, at);
    for (const end = i + count; i < end; i++) {
      const name = names[i] as Buffer;
      at = out.writeUInt16BE(name.length, at);
      at += name.copy(out, at);
    }
  }
  out.set(frame, at);
  return out;
}

function decodeMessage(m: Buffer): { node: Uint8Array; target: BroadcastTarget; frame: Uint8Array } {
  const need = (at: number, n: number) => {
    if (at + n > m.length)
      throw new AdapterError(EventsErrorCode.ADAPTER_BAD_MESSAGE, `truncated broadcast message (${m.length} bytes)`);
  };
  need(0, 1);
  if (m[0] !== VERSION)
    throw new AdapterError(
      EventsErrorCode.ADAPTER_BAD_MESSAGE,
      `broadcast message of version ${m[0]}, this node speaks ${VERSION}`,
    );
  need(1, NODE_ID_BYTES);
  const node = m.subarray(1, 1 + NODE_ID_BYTES);
  let at = 1 + NODE_ID_BYTES;
  const lists: Set<Room>[] = [];
  for (let list = 0; list < 2; list++) {
    need(at, 2);
    const count = m.readUInt16BE(at);
    at += 2;
    const rooms = new Set<Room>();
    for (let k = 0; k < count; k++) {
      need(at, 2);
      const length = m.readUInt16BE(at);
      need(at + 2, length);
      rooms.add(m.toString('utf8', at + 2, at + 2 + length));
      at += 2 + length;
    }
    lists.push(rooms);
  }
  return { node, target: { rooms: lists[0] as Set<Room>, except: lists[1] as Set<Room> }, frame: m.subarray(at) };
}
