/**
 * Event maps, typed like Socket.IO 4's ServerToClientEvents / ClientToServerEvents: an interface
 * of `name: (args) => void`; an event that wants an ack takes a callback as its last parameter.
 *
 *   interface ClientToServer { chat: (room: string, text: string, ack: (id: number) => void) => void }
 */
import type { CloseReason } from '@liaison/node';

/** An index signature of `any`, as Socket.IO's: so a plain interface of handlers satisfies it. */
export interface EventsMap {
  // biome-ignore lint/suspicious/noExplicitAny: a map of handlers of any signature, as Socket.IO's EventsMap.
  [event: string]: any;
}

/** Without type parameters: any name, any arguments. */
// biome-ignore lint/suspicious/noExplicitAny: the untyped default.
export type DefaultEvents = Record<string, (...args: any[]) => void>;

/** Events the socket itself emits; the peer can never send these names. */
export interface ReservedEvents {
  /** Client: the session is open. Server sockets are open when 'connection' hands them out. */
  connect: () => void;
  /** The session ended; the reason says how (released, refused, aborted). */
  disconnect: (reason: CloseReason) => void;
  /** A bad frame from the peer, a handler that threw, a broken ack: the session goes on. */
  error: (error: Error) => void;
}

export const RESERVED_EVENT_NAMES: ReadonlySet<string> = new Set(['connect', 'disconnect', 'error', 'connection']);

export type EventNames<M> = keyof M & string;

// biome-ignore lint/suspicious/noExplicitAny: matching any function type.
export type AnyFn = (...args: any[]) => any;

/** The parameters without a trailing ack callback. */
export type EmitArgs<F> = F extends (...args: infer P) => void
  ? P extends [...infer Head, infer Last]
    ? Last extends AnyFn
      ? Head
      : P
    : P
  : never;

/** What the ack callback (the last parameter) receives first: what emitWithAck resolves to. */
export type AckReply<F> = F extends (...args: infer P) => void
  ? P extends [...unknown[], infer Last]
    ? Last extends (...reply: infer R) => void
      ? R[0]
      : undefined
    : undefined
  : never;

/** The ack callback's parameters, for emit(name, ...args, callback). */
export type AckCallback<F> = F extends (...args: infer P) => void
  ? P extends [...unknown[], infer Last]
    ? Last extends AnyFn
      ? Last
      : never
    : never
  : never;
