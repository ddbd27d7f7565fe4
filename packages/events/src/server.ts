/**
 * EventServer: Socket.IO's server API over a liaison Server. Each accepted session becomes a
 * ServerSocket ('connection'); rooms live in the adapter (InMemoryAdapter unless told), and
 * `to(room).emit()` encodes the event once and sends the same bytes to every member.
 */
import { randomBytes } from 'node:crypto';
import { type ListenOptions, listen, type Server, type Session } from '@liaison/node';
import { type Adapter, type AdapterFactory, InMemoryAdapter, type Room, type SocketId } from './adapter.js';
import { BroadcastOperator, type FrameEncoder } from './broadcast.js';
import { jsonCodec } from './codec.js';
import { HandlerError } from './errors.js';
import { EventSocket, type EventSocketOptions, eventFrame } from './event-socket.js';
import type { DefaultEvents, EmitArgs, EventNames, EventsMap } from './types.js';

export interface EventServerOptions extends EventSocketOptions {
  /** Rooms and fan-out; default `(host) => new InMemoryAdapter(host)`. */
  adapter?: AdapterFactory;
}

export type ConnectionHandler<Listen extends EventsMap, Emit extends EventsMap> = (
  socket: ServerSocket<Listen, Emit>,
) => unknown;

const NO_ROOMS: ReadonlySet<Room> = new Set();

/** The server side of one client: an EventSocket with an id and rooms. */
export class ServerSocket<
  Listen extends EventsMap = DefaultEvents,
  Emit extends EventsMap = Listen,
> extends EventSocket<Listen, Emit> {
  /** Random, unique on this server; also the name of a room only this socket is in. */
  readonly id: SocketId;
  readonly #adapter: Adapter;
  readonly #encode: FrameEncoder;

  constructor(session: Session, options: EventSocketOptions, adapter: Adapter, encode: FrameEncoder) {
    super(session, options, true);
    this.id = randomBytes(12).toString('base64url');
    this.#adapter = adapter;
    this.#encode = encode;
  }

  /** The rooms this socket is in, its own id included; still readable in 'disconnect' handlers. */
  get rooms(): ReadonlySet<Room> {
    return this.#adapter.socketRooms(this.id) ?? NO_ROOMS;
  }

  join(room: Room | readonly Room[]): void | Promise<void> {
    return this.#adapter.addAll(this.id, typeof room === 'string' ? [room] : room);
  }

  leave(room: Room): void | Promise<void> {
    return this.#adapter.del(this.id, room);
  }

  /** Members of `room` but not this socket (Socket.IO's socket.to()). */
  to(room: Room | readonly Room[]): BroadcastOperator<Emit> {
    return this.broadcast.to(room);
  }

  in(room: Room | readonly Room[]): BroadcastOperator<Emit> {
    return this.to(room);
  }

  except(room: Room | readonly Room[]): BroadcastOperator<Emit> {
    return this.broadcast.except(room);
  }

  /** Every socket but this one. */
  get broadcast(): BroadcastOperator<Emit> {
    return new BroadcastOperator<Emit>(this.#adapter, this.#encode).except(this.id);
  }
}

/**
 * Not a Node EventEmitter: emit() is the broadcast to every socket, as in Socket.IO, so the one
 * server event, 'connection', has its own on()/off().
 */
export class EventServer<Listen extends EventsMap = DefaultEvents, Emit extends EventsMap = Listen> {
  /** The liaison Server underneath. */
  readonly server: Server;
  readonly #adapter: Adapter;
  readonly #encode: FrameEncoder;
  readonly #options: EventSocketOptions;
  readonly #sockets = new Map<SocketId, ServerSocket<Listen, Emit>>();
  readonly #onConnection: ConnectionHandler<Listen, Emit>[] = [];

  constructor(server: Server, options: EventServerOptions = {}) {
    this.server = server;
    const codec = options.codec ?? jsonCodec;
    this.#options = { ...options, codec };
    this.#encode = (name, args) => eventFrame(codec, name, args);
    const factory = options.adapter ?? ((host) => new InMemoryAdapter(host));
    this.#adapter = factory({ deliver: (id, frame) => this.#deliver(id, frame) });
    server.on('session', (session) => this.#accept(session));
  }

  /**
   * Each accepted session, as a socket that is already connected. A handler that throws or
   * rejects is reported on the socket's 'error' handlers (a process warning without one).
   */
  on(_name: 'connection', handler: ConnectionHandler<Listen, Emit>): this {
    this.#onConnection.push(handler);
    return this;
  }

  off(_name: 'connection', handler: ConnectionHandler<Listen, Emit>): this {
    const at = this.#onConnection.indexOf(handler);
    if (at >= 0) this.#onConnection.splice(at, 1);
    return this;
  }

  /** The connected sockets of this process, by id. */
  get sockets(): ReadonlyMap<SocketId, ServerSocket<Listen, Emit>> {
    return this.#sockets;
  }

  get adapter(): Adapter {
    return this.#adapter;
  }

  to(room: Room | readonly Room[]): BroadcastOperator<Emit> {
    return this.#all().to(room);
  }

  in(room: Room | readonly Room[]): BroadcastOperator<Emit> {
    return this.to(room);
  }

  except(room: Room | readonly Room[]): BroadcastOperator<Emit> {
    return this.#all().except(room);
  }

  /** To every socket. */
  emit<E extends EventNames<Emit>>(name: E, ...args: EmitArgs<Emit[E]>): void | Promise<void> {
    return this.#all().emit(name, ...args);
  }

  /** Closes the liaison server (see Server.close for `timeoutMs`) and the adapter. */
  async close(options: { timeoutMs?: number } = {}): Promise<void> {
    await this.server.close(options);
    await this.#adapter.close?.();
  }

  #all(): BroadcastOperator<Emit> {
    return new BroadcastOperator<Emit>(this.#adapter, this.#encode);
  }

  #accept(session: Session): void {
    const socket = new ServerSocket<Listen, Emit>(session, this.#options, this.#adapter, this.#encode);
    this.#sockets.set(socket.id, socket);
    session.once('close', () => {
      this.#sockets.delete(socket.id);
      void this.#adapter.delAll(socket.id);
    });
    void this.#adapter.addAll(socket.id, [socket.id]);
    for (const handler of [...this.#onConnection]) {
      try {
        const result = handler(socket);
        if (result instanceof Promise) result.catch((e) => socket.reportError(new HandlerError('connection', e)));
      } catch (e) {
        socket.reportError(new HandlerError('connection', e));
      }
    }
  }

  #deliver(id: SocketId, frame: Uint8Array): void {
    const session = this.#sockets.get(id)?.session;
    if (!session) return;
    // write(), not send(): no promise per member. It queues whatever it returns (false is only
    // backpressure advice, which a broadcast cannot follow per member); a member whose session
    // just ended is not an error of the broadcast.
    try {
      session.write(frame);
    } catch {}
  }
}

/** Serves events on an existing liaison Server (its 'session' event). */
export function eventServer<Listen extends EventsMap = DefaultEvents, Emit extends EventsMap = Listen>(
  server: Server,
  options: EventServerOptions = {},
): EventServer<Listen, Emit> {
  return new EventServer<Listen, Emit>(server, options);
}

/** listen() and eventServer() in one call; with a networked adapter, resolves once it is ready. */
export async function listenEvents<Listen extends EventsMap = DefaultEvents, Emit extends EventsMap = Listen>(
  url: string | URL,
  options: ListenOptions & EventServerOptions = {},
): Promise<EventServer<Listen, Emit>> {
  const io = new EventServer<Listen, Emit>(await listen(url, options), options);
  try {
    await io.adapter.ready;
  } catch (e) {
    await io.close();
    throw e;
  }
  return io;
}
