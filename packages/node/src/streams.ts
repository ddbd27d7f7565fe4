/**
 * A session as a stream: a Node Duplex (`sessionDuplex`, `session.toDuplex()`) and WHATWG
 * streams (`sessionStreams`, `session.streams()`), the adapters at the edge that ws's
 * createWebSocketStream and WebSocketStream are, so `pipeline()`, `pipeTo()` and `new Response()`
 * work on a session.
 *
 * Theory of operation
 * - An adapter takes the session's message iterator (one per session: a second adapter, or
 *   iterating the session as well, is a UsageError INVALID_STATE). It asks the iterator for the
 *   next message only when its consumer wants more (Node's _read(), WHATWG pull()), so an unread
 *   stream leaves messages in the session's inbox, where they hold back the peer's flow-control
 *   credit: a slow reader slows the sender, nothing is buffered without bound.
 * - Writes resolve when the session accepted the message into its bounded send queue (send()),
 *   so a stream's write() returns false (Node) or its writer's `ready` waits (WHATWG) while the
 *   peer's window is closed.
 * - End: ending the writable side is an orderly release (close(): everything written is
 *   delivered first), and completes when the release has. The peer's release ends the readable
 *   side after its last message. The release is half-close: it is answered only when this side
 *   ends its writable side too, so replies written after the peer's end still go out (the
 *   X.225 release-requested state allows sending). A Duplex with the default
 *   `allowHalfOpen: false` ends its writable side itself, as net.Socket does; a WHATWG
 *   `writable` that nobody holds (not locked) answers at once. (A session with an
 *   `onReleaseRequest` decider answers as the decider says, when the stream reaches the release.)
 * - Failure: a session that aborts (either side, or the connection was lost for good) destroys
 *   or errors the streams with its SessionClosedError (messages not read yet are dropped, as in
 *   any abort). Destroying the Duplex, cancelling `readable` or aborting `writable` aborts the
 *   session, and so does a write the session refuses (the stream can go on no further).
 * - Messages carry bytes only: the readable side yields Buffers (Duplex) or Uint8Arrays (WHATWG);
 *   a string written is sent as its UTF-8 bytes.
 *
 * Never imports Session as a value (session.ts imports this module).
 */
import { Duplex } from 'node:stream';
import { type CloseReason, SessionClosedError } from '@liaison/core';
import type { Session } from './session.js';

export interface SessionDuplexOptions {
  /**
   * false (the default, like ws's createWebSocketStream and net.Socket): a byte stream, message
   * boundaries are not kept (a write larger than 64 KiB, or the peer's message limit, goes as
   * several messages). true: each chunk written is one message (a Uint8Array or a string) and
   * each chunk read is one message (a Buffer).
   */
  objectMode?: boolean;
  /**
   * false (the default): the peer's release ends the writable side too (what was written before
   * is delivered, then the release is accepted). true: the release is accepted only when the
   * application ends the writable side, and it may write replies until then.
   */
  allowHalfOpen?: boolean;
  /** Node's readable highWaterMark (bytes, or messages in object mode). */
  readableHighWaterMark?: number;
  /** Node's writable highWaterMark (bytes, or messages in object mode). */
  writableHighWaterMark?: number;
}

/**
 * The session as a Node Duplex. `end()` releases the session (`finish` once the release is
 * complete); the peer's release ends the readable side; `destroy()` aborts the session; a session
 * that aborts destroys the stream with its SessionClosedError.
 * @throws UsageError INVALID_STATE when the session's messages are already iterated or streamed.
 */
export function sessionDuplex(session: Session, options: SessionDuplexOptions = {}): Duplex {
  const objectMode = options.objectMode ?? false;
  const messages = takeMessages(session);
  const onClose = (reason: CloseReason) => {
    if (reason.kind !== 'released') duplex.destroy(new SessionClosedError(reason));
  };
  const duplex = new Duplex({
    objectMode,
    allowHalfOpen: options.allowHalfOpen ?? false,
    ...(options.readableHighWaterMark === undefined ? {} : { readableHighWaterMark: options.readableHighWaterMark }),
    ...(options.writableHighWaterMark === undefined ? {} : { writableHighWaterMark: options.writableHighWaterMark }),
    read() {
      // Node calls read() again only after a push: one message asked for at a time.
      messages.next().then(
        (r) => {
          if (duplex.destroyed) return;
          duplex.push(r.done ? null : asBuffer(r.value));
        },
        (e: Error) => duplex.destroy(e),
      );
    },
    write(chunk: Uint8Array | string, _encoding, callback) {
      const sent = objectMode ? sendNow(session, chunk) : sendBytes(session, chunk as Uint8Array);
      sent.then(() => callback(), callback);
    },
    final(callback) {
      session
        .close()
        .then((reason) => callback(reason.kind === 'released' ? null : new SessionClosedError(reason)), callback);
    },
    destroy(error, callback) {
      session.off('close', onClose);
      void messages.return?.();
      if (session.closeReason === null) session.abort();
      callback(error);
    },
  });
  session.on('close', onClose);
  if (session.closeReason) onClose(session.closeReason);
  return duplex;
}

export interface SessionStreamsOptions {
  /** Bytes `readable` reads ahead of its consumer (default 65 536); the rest waits in the session. */
  readableHighWaterMarkBytes?: number;
}

export interface SessionStreams {
  /** The peer's messages, in order; closes after the peer's release. */
  readable: ReadableStream<Uint8Array>;
  /** Each chunk is one message; close() is an orderly release, resolving once it is complete. */
  writable: WritableStream<Uint8Array | string>;
}

/**
 * The session as WHATWG streams (as WebTransport and WebSocketStream give them). `writable`'s
 * write() resolves when the session accepted the message; close() releases the session and
 * rejects with a SessionClosedError if it ended otherwise. The peer's release closes `readable`,
 * and is answered when `writable` is closed (at once if `writable` is not locked). Cancelling
 * `readable` or aborting `writable` aborts the session; a session that aborts errors both.
 * @throws UsageError INVALID_STATE when the session's messages are already iterated or streamed.
 */
export function sessionStreams(session: Session, options: SessionStreamsOptions = {}): SessionStreams {
  const messages = takeMessages(session);
  let readableController: ReadableStreamDefaultController<Uint8Array> | null = null;
  let writableController: WritableStreamDefaultController | null = null;
  const onClose = (reason: CloseReason) => {
    if (reason.kind === 'released') return;
    const error = new SessionClosedError(reason);
    readableController?.error(error);
    writableController?.error(error);
  };
  const readable = new ReadableStream<Uint8Array>(
    {
      start(controller) {
        readableController = controller;
      },
      async pull(controller) {
        const r = await messages.next();
        if (!r.done) return controller.enqueue(r.value);
        controller.close();
        // Nobody writes: the peer's release needs no reply to wait for.
        if (!writable.locked) void session.close();
      },
      cancel() {
        session.abort();
      },
    },
    new ByteLengthQueuingStrategy({ highWaterMark: options.readableHighWaterMarkBytes ?? 65_536 }),
  );
  const writable = new WritableStream<Uint8Array | string>({
    start(controller) {
      writableController = controller;
    },
    async write(chunk) {
      try {
        await sendNow(session, chunk);
      } catch (e) {
        session.abort();
        throw e;
      }
    },
    async close() {
      const reason = await session.close();
      session.off('close', onClose);
      if (reason.kind !== 'released') throw new SessionClosedError(reason);
    },
    abort() {
      session.abort();
    },
  });
  session.on('close', onClose);
  if (session.closeReason) onClose(session.closeReason);
  return { readable, writable };
}

/** Largest message a byte-mode write is cut into (boundaries mean nothing there). */
const BYTE_MODE_MESSAGE_BYTES = 65_536;

/** Takes the session's one message iterator; the peer's release then waits for close(). */
function takeMessages(session: Session): AsyncIterator<Uint8Array> {
  const messages = session[Symbol.asyncIterator]();
  session.holdRelease();
  return messages;
}

/** send() with its synchronous throws (bad data, say) as a rejection. */
function sendNow(session: Session, data: Uint8Array | string): Promise<void> {
  try {
    return session.send(data);
  } catch (e) {
    return Promise.reject(e);
  }
}

/** A byte-mode chunk as messages of at most the peer's limit (and 64 KiB); resolves when all are accepted. */
function sendBytes(session: Session, chunk: Uint8Array): Promise<void> {
  const max = Math.min(BYTE_MODE_MESSAGE_BYTES, session.agreed?.peerMessageBytesMax ?? BYTE_MODE_MESSAGE_BYTES);
  if (chunk.byteLength <= max) return sendNow(session, chunk);
  const parts: Promise<void>[] = [];
  for (let at = 0; at < chunk.byteLength; at += max) parts.push(sendNow(session, chunk.subarray(at, at + max)));
  return Promise.all(parts).then(() => {});
}

/** A message as a Buffer over the same memory (what Node stream consumers expect). */
function asBuffer(data: Uint8Array): Buffer {
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}
