/**
 * EventSocket: named, typed events over one liaison Session, Socket.IO style: on/once/off,
 * emit, emitWithAck. Delivery is the session's: every event arrives exactly once and in order,
 * also across a broken and resumed TCP connection, so nothing here retries or deduplicates.
 * Acks are matched by a per-socket monotonic id; a timeout or abort forgets the id, so a late
 * reply is dropped.
 */
import { type CloseReason, ErrorCode, type Session, SessionClosedError, UsageError } from '@liaison/node';
import { type Codec, jsonCodec } from './codec.js';
import { AckTimeoutError, EventFrameError, EventsErrorCode, HandlerError } from './errors.js';
import { decodeFrame, encodeAck, encodeEvent } from './frame.js';
import {
  type AckCallback,
  type AckReply,
  type DefaultEvents,
  type EmitArgs,
  type EventNames,
  type EventsMap,
  RESERVED_EVENT_NAMES,
  type ReservedEvents,
} from './types.js';

export interface EventSocketOptions {
  /** Payload codec; both sides must use the same one. Default jsonCodec. */
  codec?: Codec;
  /** How long emitWithAck() waits for the reply unless told otherwise. Default 10,000 ms. */
  ackTimeoutMs?: number;
  /** Acks this socket waits for at once; emitWithAck() past it rejects (WOULD_BLOCK). Default 4096. */
  pendingAcksMax?: number;
}

export interface AckOptions {
  /** Rejects with AckTimeoutError (ERR_LIAISON_ACK_TIMEOUT) after this long. Default: the socket's ackTimeoutMs. */
  timeoutMs?: number;
  /** Rejects with the signal's reason when it aborts; the request may still run at the peer. */
  signal?: AbortSignal;
}

/** emitWithAck() with options fixed: what `socket.timeout(ms)` and `socket.withAck({...})` return. */
export interface AckEmitter<Emit extends EventsMap> {
  emitWithAck<E extends EventNames<Emit>>(name: E, ...args: EmitArgs<Emit[E]>): Promise<AckReply<Emit[E]>>;
}

export const EVENT_SOCKET_DEFAULTS = { ackTimeoutMs: 10_000, pendingAcksMax: 4096 } as const;

// biome-ignore lint/suspicious/noExplicitAny: handlers of any signature are stored side by side.
type Handler = (...args: any[]) => unknown;

interface PendingAck {
  resolve: (reply: unknown[]) => void;
  reject: (error: unknown) => void;
}

const ACK_ID_MAX = 0xffff_ffff;

export class EventSocket<Listen extends EventsMap = DefaultEvents, Emit extends EventsMap = Listen> {
  /** The liaison session underneath: stats, resume events, close(). */
  readonly session: Session;
  readonly #codec: Codec;
  readonly #ackTimeoutMs: number;
  readonly #pendingAcksMax: number;
  readonly #handlers = new Map<string, Handler[]>();
  readonly #pending = new Map<number, PendingAck>();
  #nextAckId = 1;
  #connected: boolean;
  #closeReason: CloseReason | null = null;

  /** @throws UsageError for bad options. `open` says whether the session is open already (server side). */
  constructor(session: Session, options: EventSocketOptions = {}, open = false) {
    this.session = session;
    this.#codec = options.codec ?? jsonCodec;
    this.#ackTimeoutMs = positive('ackTimeoutMs', options.ackTimeoutMs ?? EVENT_SOCKET_DEFAULTS.ackTimeoutMs);
    this.#pendingAcksMax = positive('pendingAcksMax', options.pendingAcksMax ?? EVENT_SOCKET_DEFAULTS.pendingAcksMax);
    this.#connected = open;
    session.on('message', (bytes) => this.#receive(bytes));
    session.once('open', () => {
      this.#connected = true;
      this.#dispatch('connect', []);
    });
    session.once('close', (reason) => this.#closed(reason));
  }

  /** True between 'connect' (or acceptance, server side) and 'disconnect'; a resume does not change it. */
  get connected(): boolean {
    return this.#connected;
  }

  /** Why the socket disconnected; null while it has not. */
  get disconnectReason(): CloseReason | null {
    return this.#closeReason;
  }

  /** Resolves when the session is open; rejects if it is refused or fails. */
  get ready(): Promise<void> {
    return this.session.ready;
  }

  on<E extends keyof ReservedEvents>(name: E, handler: ReservedEvents[E]): this;
  on<E extends EventNames<Listen>>(name: E, handler: Listen[E]): this;
  on(name: string, handler: Handler): this {
    const list = this.#handlers.get(name);
    if (list) list.push(handler);
    else this.#handlers.set(name, [handler]);
    return this;
  }

  once<E extends keyof ReservedEvents>(name: E, handler: ReservedEvents[E]): this;
  once<E extends EventNames<Listen>>(name: E, handler: Listen[E]): this;
  once(name: string, handler: Handler): this {
    const wrapper: Handler & { inner?: Handler } = (...args) => {
      this.off(name as EventNames<Listen>, wrapper as Listen[string]);
      return handler(...args);
    };
    wrapper.inner = handler;
    return this.on(name as EventNames<Listen>, wrapper as Listen[string]);
  }

  /** Removes one handler (also one added with once), or every handler of `name` without one. */
  off<E extends keyof ReservedEvents>(name: E, handler?: ReservedEvents[E]): this;
  off<E extends EventNames<Listen>>(name: E, handler?: Listen[E]): this;
  off(name: string, handler?: Handler): this {
    const list = this.#handlers.get(name);
    if (!list) return this;
    if (!handler) {
      this.#handlers.delete(name);
      return this;
    }
    const at = list.findIndex((h) => h === handler || (h as { inner?: Handler }).inner === handler);
    if (at >= 0) list.splice(at, 1);
    if (list.length === 0) this.#handlers.delete(name);
    return this;
  }

  /**
   * Sends one event. Resolves when the session took it into its send queue (waits while the
   * queue is full: backpressure); ignoring the promise is safe. A function as the last argument
   * asks for an ack, Socket.IO style: it is called with the reply's arguments (a timeout or the
   * session's end goes to 'error' instead). Prefer emitWithAck().
   * @throws UsageError (synchronously) for a reserved or over-long name, or arguments the codec cannot encode.
   */
  emit<E extends EventNames<Emit>>(name: E, ...args: EmitArgs<Emit[E]>): Promise<void>;
  emit<E extends EventNames<Emit>>(name: E, ...args: [...EmitArgs<Emit[E]>, AckCallback<Emit[E]>]): Promise<void>;
  emit(name: string, ...args: unknown[]): Promise<void> {
    const last = args[args.length - 1];
    if (typeof last === 'function') {
      const callback = last as Handler;
      const sent = this.#request(name, args.slice(0, -1), {});
      sent.reply.then(
        (reply) => callback(...reply),
        (e) => this.#report(e instanceof Error ? e : new Error(String(e))),
      );
      return sent.queued;
    }
    return observed(this.session.send(this.encodeEvent(name, args)));
  }

  /**
   * Sends one event and resolves with the first argument the peer's handler passes to its ack
   * callback. Rejects with AckTimeoutError after `ackTimeoutMs` (see timeout() and withAck() for
   * other options), SessionClosedError if the session ends first.
   * @throws UsageError (synchronously, like emit) for a reserved or over-long name or bad options.
   */
  emitWithAck<E extends EventNames<Emit>>(name: E, ...args: EmitArgs<Emit[E]>): Promise<AckReply<Emit[E]>> {
    return this.withAck({}).emitWithAck(name, ...args);
  }

  /** Socket.IO's `socket.timeout(ms).emitWithAck(...)`. */
  timeout(timeoutMs: number): AckEmitter<Emit> {
    return this.withAck({ timeoutMs });
  }

  /**
   * emitWithAck() with a timeout and/or an AbortSignal. (Not a trailing options argument: an
   * event's last argument may itself be an object.)
   */
  withAck(options: AckOptions): AckEmitter<Emit> {
    return {
      emitWithAck: (name, ...args) =>
        this.#request(name, args, options).reply.then((reply) => reply[0] as AckReply<Emit[typeof name]>),
    };
  }

  /** Ends the session in order (what was emitted is delivered first); resolves with the reason. */
  disconnect(): Promise<CloseReason> {
    return this.session.close();
  }

  /** The frame for one event, encoded once: a broadcast sends these same bytes to every member. */
  encodeEvent(name: string, args: readonly unknown[], ackId: number | null = null): Uint8Array {
    return eventFrame(this.#codec, name, args, ackId);
  }

  #request(name: string, args: unknown[], options: AckOptions): { queued: Promise<void>; reply: Promise<unknown[]> } {
    const timeoutMs = positive('timeoutMs', options.timeoutMs ?? this.#ackTimeoutMs);
    const { signal } = options;
    if (this.#closeReason) return failed(new SessionClosedError(this.#closeReason));
    if (signal?.aborted) return failed(signal.reason);
    if (this.#pending.size >= this.#pendingAcksMax)
      return failed(new UsageError(ErrorCode.WOULD_BLOCK, `${this.#pendingAcksMax} acks pending (pendingAcksMax)`));
    const ackId = this.#nextAckId;
    this.#nextAckId = ackId === ACK_ID_MAX ? 1 : ackId + 1;
    const frame = this.encodeEvent(name, args, ackId);
    let settle = (): void => {};
    const reply = new Promise<unknown[]>((resolve, reject) => {
      const timer = setTimeout(() => pending.reject(new AckTimeoutError(name, timeoutMs)), timeoutMs);
      const onAbort = () => pending.reject(signal?.reason);
      signal?.addEventListener('abort', onAbort, { once: true });
      settle = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        this.#pending.delete(ackId);
      };
      const pending: PendingAck = {
        resolve: (r) => {
          settle();
          resolve(r);
        },
        reject: (e) => {
          settle();
          reject(e);
        },
      };
      this.#pending.set(ackId, pending);
    });
    const queued = observed(this.session.send(frame));
    queued.catch((e) => this.#pending.get(ackId)?.reject(e));
    return { queued, reply };
  }

  #receive(bytes: Uint8Array): void {
    let frame: ReturnType<typeof decodeFrame>;
    let args: unknown[];
    try {
      frame = decodeFrame(bytes);
      args = this.#decodeArgs(frame.payload);
    } catch (e) {
      this.#report(e as Error);
      return;
    }
    if (frame.kind === 'ack') {
      // Unknown ids are replies that came after their timeout or abort: dropped on purpose.
      this.#pending.get(frame.ackId)?.resolve(args);
      return;
    }
    if (RESERVED_EVENT_NAMES.has(frame.name)) {
      this.#report(new EventFrameError(EventsErrorCode.BAD_FRAME, `the peer sent reserved event name '${frame.name}'`));
      return;
    }
    if (frame.ackId !== null) args.push(this.#ackCallback(frame.ackId));
    this.#dispatch(frame.name, args);
  }

  #decodeArgs(payload: Uint8Array): unknown[] {
    let value: unknown;
    try {
      value = this.#codec.decode(payload);
    } catch (e) {
      throw new EventFrameError(EventsErrorCode.BAD_PAYLOAD, `payload is not ${this.#codec.name}: ${String(e)}`, {
        cause: e,
      });
    }
    if (!Array.isArray(value))
      throw new EventFrameError(EventsErrorCode.BAD_PAYLOAD, `payload is not an argument list (${this.#codec.name})`);
    return value;
  }

  /** The callback a handler gets when the sender asked for an ack; only its first call counts. */
  #ackCallback(ackId: number): (...reply: unknown[]) => void {
    let answered = false;
    return (...reply) => {
      if (answered || this.#closeReason) return;
      answered = true;
      void observed(this.session.send(encodeAck(ackId, this.#codec.encode(reply))));
    };
  }

  #dispatch(name: string, args: unknown[]): void {
    const list = this.#handlers.get(name);
    if (!list) return;
    // A failing 'error' handler becomes a warning: reporting it to 'error' again could loop.
    const failed = (e: unknown) =>
      name === 'error' ? process.emitWarning(new HandlerError(name, e)) : this.#report(new HandlerError(name, e));
    for (const handler of [...list]) {
      try {
        const result = handler(...args);
        if (isThenable(result)) result.then(undefined, failed);
      } catch (e) {
        failed(e);
      }
    }
  }

  /** To 'error' handlers, or a process warning without one (never a crash, never silent). */
  reportError(error: Error): void {
    this.#report(error);
  }

  #report(error: Error): void {
    if (this.#handlers.get('error')?.length) this.#dispatch('error', [error]);
    else process.emitWarning(error);
  }

  #closed(reason: CloseReason): void {
    this.#closeReason = reason;
    this.#connected = false;
    for (const pending of [...this.#pending.values()]) pending.reject(new SessionClosedError(reason));
    this.#dispatch('disconnect', [reason]);
  }
}

/**
 * One event frame with `codec`: what emit() sends and what a broadcast sends to every member.
 * @throws UsageError for a reserved or over-long name; the codec's error for arguments it cannot encode.
 */
export function eventFrame(
  codec: Codec,
  name: string,
  args: readonly unknown[],
  ackId: number | null = null,
): Uint8Array {
  if (RESERVED_EVENT_NAMES.has(name))
    throw new UsageError(ErrorCode.INVALID_ARGUMENT, `'${name}' is a reserved event name`);
  return encodeEvent(name, ackId, codec.encode(args));
}

function positive(name: string, value: number): number {
  if (!(value > 0)) throw new UsageError(ErrorCode.INVALID_ARGUMENT, `${name} must be a positive number, got ${value}`);
  return value;
}

function failed(error: unknown): { queued: Promise<void>; reply: Promise<unknown[]> } {
  return { queued: observed(Promise.reject(error)), reply: Promise.reject(error) };
}

const ignore = () => {};

/** Marks `p` handled (a caller that awaits it still sees the failure), as Session.send() does. */
function observed<T>(p: Promise<T>): Promise<T> {
  p.catch(ignore);
  return p;
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as PromiseLike<unknown> | null)?.then === 'function';
}
