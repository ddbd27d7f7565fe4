/**
 * Errors of @liaison/events, with stable codes like the rest of liaison (docs/ERRORS.md):
 * match on `code`, never on the message.
 */
import { LiaisonError, TimeoutError } from '@liaison/node';

export const EventsErrorCode = {
  /** emitWithAck(): no reply came within the timeout; a reply arriving later is dropped. */
  ACK_TIMEOUT: 'ERR_LIAISON_ACK_TIMEOUT',
  /** The peer sent a message that is not an events frame (unknown kind, truncated header). */
  BAD_FRAME: 'ERR_LIAISON_EVENTS_BAD_FRAME',
  /** The frame was well formed but its payload did not decode to an argument list with this codec. */
  BAD_PAYLOAD: 'ERR_LIAISON_EVENTS_BAD_PAYLOAD',
  /** An event handler threw or rejected; `cause` is what it threw. */
  HANDLER_FAILED: 'ERR_LIAISON_EVENTS_HANDLER_FAILED',
  /** The cluster adapter could not publish a broadcast (Redis unreachable): only this node's members got it. */
  ADAPTER_UNAVAILABLE: 'ERR_LIAISON_EVENTS_ADAPTER_UNAVAILABLE',
  /** A message on the cluster channel is not a broadcast this node can read (version, truncation). */
  ADAPTER_BAD_MESSAGE: 'ERR_LIAISON_EVENTS_ADAPTER_BAD_MESSAGE',
} as const;

/** emitWithAck() waited `timeoutMs` for the reply. A TimeoutError, with its own code. */
export class AckTimeoutError extends TimeoutError {
  override readonly code: string = EventsErrorCode.ACK_TIMEOUT;
  readonly event: string;
  constructor(event: string, timeoutMs: number) {
    super(`no ack for '${event}' within ${timeoutMs} ms`);
    this.event = event;
  }
}

/**
 * The peer's bytes are not a valid events frame or payload. Reported on the socket's 'error'
 * event; the message is dropped and the session goes on (one bad message must not end a
 * conversation, nor touch other sockets).
 */
export class EventFrameError extends LiaisonError {}

/** A local handler threw or rejected; reported on 'error', the other handlers still ran. */
export class HandlerError extends LiaisonError {
  readonly event: string;
  constructor(event: string, cause: unknown) {
    super(EventsErrorCode.HANDLER_FAILED, `handler of '${event}' failed: ${String(cause)}`, { cause });
    this.event = event;
  }
}

/** The cluster adapter failed: a broadcast not published, or a message on its channel it cannot read. */
export class AdapterError extends LiaisonError {
  constructor(code: string, message: string, cause?: unknown) {
    super(code, message, cause === undefined ? undefined : { cause });
  }
}
