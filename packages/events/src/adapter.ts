/**
 * Rooms and broadcast behind a small interface, like Socket.IO's Adapter, so a cluster-wide
 * adapter (Redis pub/sub) can replace the in-process one later without touching the server.
 * The adapter gets frames already encoded: a broadcast is encoded once, whatever the adapter.
 */

export type SocketId = string;
export type Room = string;

/** Which sockets a broadcast reaches: members of any of `rooms` (every socket when empty), minus members of any of `except`. */
export interface BroadcastTarget {
  rooms: ReadonlySet<Room>;
  except: ReadonlySet<Room>;
}

/** What the server gives its adapter: the way to reach the sockets of this process. */
export interface AdapterHost {
  /** Sends one encoded frame to a local socket; unknown ids are ignored. */
  deliver(id: SocketId, frame: Uint8Array): void;
}

/**
 * Room membership and fan-out. Methods may return a promise (a networked adapter); the
 * in-process one is synchronous. Every socket is a member of the room named by its own id.
 */
export interface Adapter {
  addAll(id: SocketId, rooms: Iterable<Room>): void | Promise<void>;
  del(id: SocketId, room: Room): void | Promise<void>;
  /** The socket is gone: out of every room. */
  delAll(id: SocketId): void | Promise<void>;
  /** Delivers `frame` once to each socket the target selects. */
  broadcast(frame: Uint8Array, target: BroadcastTarget): void | Promise<void>;
  /** The ids the target selects (on this process, for the in-process adapter). */
  sockets(target: BroadcastTarget): Promise<Set<SocketId>>;
  /** The rooms of one socket, or undefined for an unknown socket. */
  socketRooms(id: SocketId): ReadonlySet<Room> | undefined;
  close?(): void | Promise<void>;
  /** A networked adapter: settles once it receives the other nodes' broadcasts (listenEvents awaits it). */
  readonly ready?: Promise<void>;
}

export type AdapterFactory = (host: AdapterHost) => Adapter;

/** The default: rooms in two maps (room -> ids, id -> rooms) in this process. */
export class InMemoryAdapter implements Adapter {
  readonly #host: AdapterHost;
  readonly #rooms = new Map<Room, Set<SocketId>>();
  readonly #sids = new Map<SocketId, Set<Room>>();

  constructor(host: AdapterHost) {
    this.#host = host;
  }

  addAll(id: SocketId, rooms: Iterable<Room>): void {
    let mine = this.#sids.get(id);
    if (!mine) this.#sids.set(id, (mine = new Set()));
    for (const room of rooms) {
      mine.add(room);
      let members = this.#rooms.get(room);
      if (!members) this.#rooms.set(room, (members = new Set()));
      members.add(id);
    }
  }

  del(id: SocketId, room: Room): void {
    this.#sids.get(id)?.delete(room);
    const members = this.#rooms.get(room);
    if (!members) return;
    members.delete(id);
    if (members.size === 0) this.#rooms.delete(room);
  }

  delAll(id: SocketId): void {
    for (const room of this.#sids.get(id) ?? []) this.del(id, room);
    this.#sids.delete(id);
  }

  broadcast(frame: Uint8Array, target: BroadcastTarget): void {
    for (const id of this.#select(target)) this.#host.deliver(id, frame);
  }

  async sockets(target: BroadcastTarget): Promise<Set<SocketId>> {
    return new Set(this.#select(target));
  }

  socketRooms(id: SocketId): ReadonlySet<Room> | undefined {
    return this.#sids.get(id);
  }

  /** Each selected id once, even when it is in several of the rooms. */
  *#select(target: BroadcastTarget): Generator<SocketId> {
    const excluded = (id: SocketId) => {
      if (target.except.size === 0) return false;
      for (const room of this.#sids.get(id) ?? []) if (target.except.has(room)) return true;
      return false;
    };
    if (target.rooms.size === 0) {
      for (const id of this.#sids.keys()) if (!excluded(id)) yield id;
      return;
    }
    const seen = new Set<SocketId>();
    for (const room of target.rooms) {
      for (const id of this.#rooms.get(room) ?? []) {
        if (seen.has(id) || excluded(id)) continue;
        seen.add(id);
        yield id;
      }
    }
  }
}
