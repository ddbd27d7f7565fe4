/**
 * BroadcastOperator: `server.to('a').to('b').except('c').emit(...)`. Immutable: each to()/except()
 * returns a new operator, so a stored `server.to('lobby')` can be reused. The event is encoded
 * once and the adapter sends the same bytes to every member.
 */
import { ErrorCode, UsageError } from '@liaison/node';
import type { Adapter, BroadcastTarget, Room, SocketId } from './adapter.js';
import type { DefaultEvents, EmitArgs, EventNames, EventsMap } from './types.js';

/** Encodes one event frame (the server's codec). */
export type FrameEncoder = (name: string, args: readonly unknown[]) => Uint8Array;

export class BroadcastOperator<Emit extends EventsMap = DefaultEvents> {
  readonly #adapter: Adapter;
  readonly #encode: FrameEncoder;
  readonly #target: BroadcastTarget;

  constructor(
    adapter: Adapter,
    encode: FrameEncoder,
    target: BroadcastTarget = { rooms: new Set(), except: new Set() },
  ) {
    this.#adapter = adapter;
    this.#encode = encode;
    this.#target = target;
  }

  /** Also the members of `room` (several calls: the union). */
  to(room: Room | readonly Room[]): BroadcastOperator<Emit> {
    return new BroadcastOperator(this.#adapter, this.#encode, {
      rooms: union(this.#target.rooms, room),
      except: this.#target.except,
    });
  }

  /** Same as to(). */
  in(room: Room | readonly Room[]): BroadcastOperator<Emit> {
    return this.to(room);
  }

  /** Not the members of `room` (a socket id is a room too). */
  except(room: Room | readonly Room[]): BroadcastOperator<Emit> {
    return new BroadcastOperator(this.#adapter, this.#encode, {
      rooms: this.#target.rooms,
      except: union(this.#target.except, room),
    });
  }

  /**
   * Sends the event to every selected socket once. Broadcast acks are not supported.
   * @throws UsageError for an ack callback, a reserved name, or arguments the codec cannot encode.
   */
  emit<E extends EventNames<Emit>>(name: E, ...args: EmitArgs<Emit[E]>): void | Promise<void> {
    if (typeof args[args.length - 1] === 'function')
      throw new UsageError(
        ErrorCode.INVALID_ARGUMENT,
        'a broadcast takes no ack callback; emitWithAck each socket instead',
      );
    return this.#adapter.broadcast(this.#encode(name, args), this.#target);
  }

  /** The ids of the selected sockets. */
  socketIds(): Promise<Set<SocketId>> {
    return this.#adapter.sockets(this.#target);
  }
}

function union(base: ReadonlySet<Room>, more: Room | readonly Room[]): ReadonlySet<Room> {
  const out = new Set(base);
  for (const room of typeof more === 'string' ? [more] : more) out.add(room);
  return out;
}
