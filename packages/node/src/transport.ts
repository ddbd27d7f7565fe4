/**
 * The byte pipe under a connection. TCP, TLS (tls-transport.ts) and WebSocket (ws-transport.ts)
 * implement it; the driver does not tell them apart. A transport reports bytes, drain and close through
 * the handlers the driver installs, and never interprets the bytes.
 */
import type { Socket } from 'node:net';

/** What carries a connection's bytes. */
export type TransportKind = 'tcp' | 'tls' | 'ws' | 'wss';

export interface TransportHandlers {
  /** The transport is connected and can carry bytes (at once for an accepted socket). */
  onOpen(): void;
  onData(bytes: Uint8Array): void;
  /** The transport accepts writes again after `write` returned false. */
  onDrain(): void;
  /** The transport is gone (closed by either side or failed); called once. */
  onClose(error: Error | undefined): void;
}

export interface Transport {
  /** What carries the bytes: the authentication hook and the logs see it. */
  readonly kind: TransportKind;
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly localAddress: string;
  readonly localPort: number;
  /** The transport has opened (onOpen was called). */
  readonly opened: boolean;
  /** Bytes received so far (after TLS): zero tells a server that closed without answering. */
  readonly bytesReceived: number;
  start(handlers: TransportHandlers): void;
  /** Queues bytes; false means "buffer full, wait for onDrain". The bytes are never reused by the caller. */
  write(bytes: Uint8Array): boolean;
  /** Queues several chunks in order, as one vectored write where the transport can. */
  writev(chunks: Uint8Array[]): boolean;
  /**
   * Calls `done` once every byte written so far has been handed to the operating system, which
   * delivers it even if this process exits next (or at once when the transport is gone).
   */
  whenWritten(done: () => void): void;
  /** Graceful close after everything written so far has been sent. */
  end(): void;
  /** Immediate close. */
  destroy(): void;
}

/** A connected TCP socket as a transport. */
export class TcpTransport implements Transport {
  readonly #socket: Socket;
  readonly #openEvent: string;
  #closed = false;
  #opened = false;
  #bytesReceived = 0;

  /** `openEvent`: what a connecting socket emits once it can carry liaison bytes. */
  constructor(socket: Socket, openEvent = 'connect') {
    this.#socket = socket;
    this.#openEvent = openEvent;
    socket.setNoDelay(true);
  }

  get kind(): TransportKind {
    return 'tcp';
  }

  get remoteAddress(): string {
    return this.#socket.remoteAddress ?? '';
  }
  get remotePort(): number {
    return this.#socket.remotePort ?? 0;
  }
  get localAddress(): string {
    return this.#socket.localAddress ?? '';
  }
  get localPort(): number {
    return this.#socket.localPort ?? 0;
  }
  get opened(): boolean {
    return this.#opened;
  }
  get bytesReceived(): number {
    return this.#bytesReceived;
  }

  start(h: TransportHandlers): void {
    let failure: Error | undefined;
    const open = () => {
      this.#opened = true;
      h.onOpen();
    };
    if (this.#socket.connecting || this.#openEvent !== 'connect') this.#socket.once(this.#openEvent, open);
    else queueMicrotask(open);
    this.#socket.on('data', (chunk: Buffer) => {
      this.#bytesReceived += chunk.byteLength;
      h.onData(chunk);
    });
    this.#socket.on('drain', () => h.onDrain());
    this.#socket.on('error', (e) => {
      failure = e;
    });
    this.#socket.on('close', () => {
      if (this.#closed) return;
      this.#closed = true;
      h.onClose(failure);
    });
  }

  write(bytes: Uint8Array): boolean {
    if (this.#socket.destroyed || this.#socket.writableEnded) return false;
    return this.#socket.write(bytes);
  }

  writev(chunks: Uint8Array[]): boolean {
    if (this.#socket.destroyed || this.#socket.writableEnded) return false;
    if (chunks.length === 1) return this.#socket.write(chunks[0] as Uint8Array);
    // Corked writes leave as one writev: frame headers and large payloads without copying them together.
    this.#socket.cork();
    let ok = true;
    for (const c of chunks) ok = this.#socket.write(c);
    this.#socket.uncork();
    return ok;
  }

  whenWritten(done: () => void): void {
    const s = this.#socket;
    if (s.destroyed || s.writableFinished || this.#closed) return queueMicrotask(done);
    if (s.writableEnded) {
      let called = false;
      const once = () => {
        if (called) return;
        called = true;
        done();
      };
      s.once('finish', once);
      s.once('close', once);
      return;
    }
    // Writes complete in order: an empty one completes after every byte queued before it. It
    // also calls back (with an error) if the socket fails first.
    s.write(EMPTY, () => done());
  }

  end(): void {
    if (!this.#socket.destroyed && !this.#socket.writableEnded) this.#socket.end();
    // A peer that never closes its side must not keep the socket forever.
    setTimeout(() => this.#socket.destroy(), END_LINGER_MS).unref();
  }

  destroy(): void {
    this.#socket.destroy();
  }
}

const END_LINGER_MS = 5_000;
const EMPTY = new Uint8Array(0);
