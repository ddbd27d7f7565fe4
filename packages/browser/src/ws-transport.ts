/**
 * The native WebSocket under a connection: the same byte pipe as @liaison/node's ws:// transport.
 * Each binary WebSocket message carries the next chunk of the liaison byte stream; message
 * boundaries mean nothing. A text message is not liaison: the socket is closed, saying so.
 *
 * Theory of operation
 * - Writes go to `WebSocket.send()` in chunks of at most WS_SEND_CHUNK_BYTES. The WebSocket API
 *   has no drain event, so once `bufferedAmount` passes WS_HIGH_WATER_BYTES `writev()` returns
 *   false and a short poll of `bufferedAmount` reports the drain.
 * - `onClose` is called exactly once: on the socket's close or error, or at once by `destroy()`
 *   (a dead peer must not hold a reconnection back for the length of a closing handshake).
 */
import { TransportError } from '@liaison/core';

/** Outgoing chunks are cut to this size, far below any liaison server's maximum message. */
const WS_SEND_CHUNK_BYTES = 64 * 1024;
/** Bytes handed to the WebSocket and not yet sent before writev() says "wait for drain". */
const WS_HIGH_WATER_BYTES = 64 * 1024;
/** How often `bufferedAmount` is looked at while a drain (or whenWritten) is awaited. */
const DRAIN_POLL_MS = 5;
/** Browsers let a page close only with 1000 or 3000-4999, so a text message gets 1000 and a reason. */
const NORMAL_CLOSURE = 1000;
/** WebSocket.OPEN, spelt out: a constructor passed by the application may lack the static. */
const OPEN = 1;

/** The WebSocket constructor: the browser's, or one with the same API (the `ws` package's in Node). */
export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => WebSocket;

export interface TransportHandlers {
  onOpen(): void;
  onData(bytes: Uint8Array): void;
  onDrain(): void;
  /** `error`: why it closed when that was not an orderly end of this side. */
  onClose(error?: Error): void;
}

export class WsTransport {
  readonly kind: 'ws' | 'wss';
  readonly #ws: WebSocket;
  #handlers: TransportHandlers | null = null;
  #opened = false;
  #closed = false;
  #bytesReceived = 0;
  #pollTimer: ReturnType<typeof setTimeout> | null = null;
  #wantDrain = false;
  #written: (() => void)[] = [];
  /** Writes made before the WebSocket opened, sent at open (the core normally waits for it). */
  #early: Uint8Array[] = [];

  /** @throws TransportError when the constructor rejects the URL (a SyntaxError in browsers). */
  constructor(url: string, WebSocketClass: WebSocketConstructor) {
    this.kind = url.startsWith('wss:') ? 'wss' : 'ws';
    try {
      this.#ws = new WebSocketClass(url);
    } catch (e) {
      throw new TransportError(`cannot open a WebSocket to ${url}`, { cause: e });
    }
    this.#ws.binaryType = 'arraybuffer';
  }

  get opened(): boolean {
    return this.#opened;
  }

  get bytesReceived(): number {
    return this.#bytesReceived;
  }

  start(handlers: TransportHandlers): void {
    this.#handlers = handlers;
    const ws = this.#ws;
    ws.onopen = () => {
      this.#opened = true;
      const early = this.#early;
      this.#early = [];
      for (const bytes of early) this.#send(bytes);
      this.#handlers?.onOpen();
    };
    ws.onmessage = (event: MessageEvent) => {
      if (this.#closed) return;
      const data: unknown = event.data;
      if (!(data instanceof ArrayBuffer)) {
        this.#fail(new TransportError('the server sent a text WebSocket message; liaison is binary'), 'binary only');
        return;
      }
      this.#bytesReceived += data.byteLength;
      this.#handlers?.onData(new Uint8Array(data));
    };
    ws.onerror = () => this.#finish(new TransportError(this.#opened ? 'WebSocket error' : 'WebSocket failed to open'));
    ws.onclose = (event: CloseEvent) => {
      const clean = event.code === NORMAL_CLOSURE;
      this.#finish(clean ? undefined : new TransportError(`WebSocket closed (${event.code} ${event.reason})`.trim()));
    };
  }

  /** Sends the segments as one or more binary messages; false: wait for onDrain before writing more. */
  writev(segments: readonly Uint8Array[]): boolean {
    if (this.#closed) return true;
    let total = 0;
    for (const s of segments) total += s.byteLength;
    const joined = new Uint8Array(total);
    let at = 0;
    for (const s of segments) {
      joined.set(s, at);
      at += s.byteLength;
    }
    if (this.#ws.readyState !== OPEN) {
      this.#early.push(joined);
      return true;
    }
    this.#send(joined);
    if (this.#ws.bufferedAmount < WS_HIGH_WATER_BYTES) return true;
    this.#wantDrain = true;
    this.#poll();
    return false;
  }

  /** Calls `done` once what was sent so far has left the WebSocket's buffer, or it closed. */
  whenWritten(done: () => void): void {
    if (this.#closed || this.#ws.bufferedAmount === 0) return queueMicrotask(done);
    this.#written.push(done);
    this.#poll();
  }

  /** Orderly end: what was sent goes first, then the closing handshake. */
  end(): void {
    if (this.#closed) return;
    this.#ws.close(NORMAL_CLOSURE);
  }

  /** Drops the connection now; onClose is called at once. */
  destroy(): void {
    if (this.#closed) return;
    this.#fail(new TransportError('connection dropped'), 'dropped');
  }

  #send(bytes: Uint8Array): void {
    for (let i = 0; i < bytes.byteLength; i += WS_SEND_CHUNK_BYTES) {
      this.#ws.send(bytes.subarray(i, Math.min(bytes.byteLength, i + WS_SEND_CHUNK_BYTES)));
    }
  }

  #fail(error: Error, why: string): void {
    try {
      this.#ws.close(NORMAL_CLOSURE, why);
    } catch {
      // Closing a socket that never opened may throw in some implementations: it is gone either way.
    }
    this.#finish(error);
  }

  #finish(error?: Error): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#pollTimer !== null) clearTimeout(this.#pollTimer);
    this.#pollTimer = null;
    const ws = this.#ws;
    ws.onopen = ws.onmessage = ws.onerror = ws.onclose = null;
    for (const done of this.#written.splice(0)) done();
    const handlers = this.#handlers;
    this.#handlers = null;
    handlers?.onClose(error);
  }

  #poll(): void {
    if (this.#pollTimer !== null || this.#closed) return;
    this.#pollTimer = setTimeout(() => {
      this.#pollTimer = null;
      if (this.#closed) return;
      const buffered = this.#ws.bufferedAmount;
      if (buffered === 0) for (const done of this.#written.splice(0)) done();
      if (this.#wantDrain && buffered < WS_HIGH_WATER_BYTES) {
        this.#wantDrain = false;
        this.#handlers?.onDrain();
      }
      if (this.#wantDrain || this.#written.length > 0) this.#poll();
    }, DRAIN_POLL_MS);
  }
}
