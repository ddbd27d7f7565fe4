/**
 * WebSocket under a connection (ws:// and wss://, with the `ws` package): the same byte pipe as
 * TCP. Each binary WebSocket message carries the next chunk of the liaison byte stream; message
 * boundaries mean nothing, so the liaison framing, recovery, authentication and Noise run inside
 * unchanged. A text message is not liaison: the connection is closed (1003) saying so.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { Socket } from 'node:net';
import { TransportError } from '@liaison/core';
import WebSocket from 'ws';
import type { Transport, TransportHandlers, TransportKind } from './transport.js';

/**
 * The largest WebSocket message accepted (ws `maxPayload`): a bigger one closes the connection
 * (1009). Liaison frames are bounded by `limits.frameBytesMax` anyway; this bounds what ws
 * buffers before liaison sees a byte. Senders never exceed WS_SEND_CHUNK_BYTES.
 */
export const WS_MESSAGE_BYTES_MAX = 1024 * 1024;
/** Outgoing chunks are cut to this size, far below any peer's maxPayload. */
const WS_SEND_CHUNK_BYTES = 64 * 1024;
/** Chunks of a writev smaller than this in total go as one message (one copy, one frame header). */
const WS_COALESCE_BYTES = 16 * 1024;
/** Bytes handed to ws and not yet written to the socket before write() says "wait for drain". */
const WS_HIGH_WATER_BYTES = 64 * 1024;
const END_LINGER_MS = 5_000;
const NORMAL_CLOSURE = 1000;
const UNSUPPORTED_DATA = 1003;

export class WsTransport implements Transport {
  readonly kind: TransportKind;
  /** The upgrade request's headers (a server's transport), or undefined (a client's). */
  readonly headers: IncomingHttpHeaders | undefined;
  readonly #ws: WebSocket;
  #socket: Socket | null;
  #handlers: TransportHandlers | null = null;
  #opened = false;
  #closed = false;
  #failure: Error | undefined;
  /** The peer sent a message liaison does not carry; the WebSocket is closing. */
  #refused = false;
  readonly #onRefused: ((reason: string) => void) | undefined;
  #bytesReceived = 0;
  /** Writes made before the WebSocket opened (a client's), sent at open. */
  #early: Uint8Array[] = [];
  #unsentBytes = 0;
  #wantDrain = false;
  #sendsIssued = 0;
  #sendsDone = 0;
  #waiters: { after: number; done: () => void }[] = [];

  /**
   * `socket`: the TCP socket under an accepted WebSocket (a client's is learnt at the upgrade);
   * `headers`: the upgrade request's; `onRefused`: told when the peer sent what liaison does not
   * carry (a listener reports it as a connection error).
   */
  constructor(
    ws: WebSocket,
    kind: 'ws' | 'wss',
    socket: Socket | null = null,
    headers?: IncomingHttpHeaders,
    onRefused?: (reason: string) => void,
  ) {
    this.#ws = ws;
    this.#onRefused = onRefused;
    this.kind = kind;
    this.#socket = socket;
    this.headers = headers;
    ws.binaryType = 'nodebuffer';
    if (socket === null) ws.once('upgrade', (response) => (this.#socket = response.socket as Socket));
  }

  /**
   * A client WebSocket to `url`; `tls` takes tls.connect's option names (ca, cert, key,
   * servername...), `headers` are added to the upgrade request.
   */
  static connect(
    url: string,
    kind: 'ws' | 'wss',
    tls: object | undefined,
    headers?: Record<string, string>,
  ): WsTransport {
    const options = { ...tls, headers, maxPayload: WS_MESSAGE_BYTES_MAX, perMessageDeflate: false };
    const ws = new WebSocket(url, options);
    return new WsTransport(ws, kind);
  }

  get remoteAddress(): string {
    return this.#socket?.remoteAddress ?? '';
  }
  get remotePort(): number {
    return this.#socket?.remotePort ?? 0;
  }
  get localAddress(): string {
    return this.#socket?.localAddress ?? '';
  }
  get localPort(): number {
    return this.#socket?.localPort ?? 0;
  }
  get opened(): boolean {
    return this.#opened;
  }
  get bytesReceived(): number {
    return this.#bytesReceived;
  }

  start(h: TransportHandlers): void {
    this.#handlers = h;
    const ws = this.#ws;
    const open = () => {
      this.#opened = true;
      const early = this.#early;
      this.#early = [];
      for (const bytes of early) this.#send(bytes);
      h.onOpen();
    };
    if (ws.readyState === WebSocket.CONNECTING) ws.once('open', open);
    else if (ws.readyState === WebSocket.OPEN) queueMicrotask(open);
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      // After a text message nothing more is taken: the close is on its way.
      if (this.#closed || this.#refused) return;
      if (!isBinary) {
        this.#onRefused?.('a text WebSocket message (liaison is binary)');
        return this.#fail(UNSUPPORTED_DATA, 'liaison carries binary WebSocket messages only');
      }
      this.#bytesReceived += data.byteLength;
      h.onData(data);
    });
    ws.on('error', (e) => {
      this.#failure ??= e;
    });
    ws.on('close', (code, reason) => {
      if (this.#closed) return;
      this.#closed = true;
      if (this.#failure === undefined && code !== NORMAL_CLOSURE && code !== 1005 && reason.byteLength > 0) {
        this.#failure = new TransportError(`WebSocket closed by the peer (${code}): ${reason.toString()}`);
      }
      this.#settleWaiters();
      h.onClose(this.#failure);
    });
  }

  write(bytes: Uint8Array): boolean {
    if (this.#closed || this.#ws.readyState > WebSocket.OPEN) return false;
    if (this.#ws.readyState === WebSocket.CONNECTING) {
      this.#early.push(bytes);
      return true;
    }
    for (let at = 0; at < bytes.byteLength; at += WS_SEND_CHUNK_BYTES) {
      this.#send(bytes.subarray(at, at + WS_SEND_CHUNK_BYTES));
    }
    return this.#belowHighWater();
  }

  writev(chunks: Uint8Array[]): boolean {
    let total = 0;
    for (const c of chunks) total += c.byteLength;
    if (chunks.length > 1 && total <= WS_COALESCE_BYTES) return this.write(Buffer.concat(chunks, total));
    let ok = true;
    for (const c of chunks) ok = this.write(c);
    return ok;
  }

  whenWritten(done: () => void): void {
    // Writes made before the open are sent first at open, so they are the next ones issued.
    const after = this.#sendsIssued + this.#early.length;
    if (this.#closed || this.#sendsDone === after) return queueMicrotask(done);
    this.#waiters.push({ after, done });
  }

  end(): void {
    const ws = this.#ws;
    // ws sends the close frame after every message queued before it.
    if (ws.readyState === WebSocket.OPEN) ws.close(NORMAL_CLOSURE, 'liaison connection closed');
    else if (ws.readyState === WebSocket.CONNECTING) ws.terminate();
    // A peer that never answers the close must not keep the socket forever.
    setTimeout(() => ws.terminate(), END_LINGER_MS).unref();
  }

  destroy(): void {
    this.#ws.terminate();
  }

  #send(bytes: Uint8Array): void {
    this.#unsentBytes += bytes.byteLength;
    this.#sendsIssued++;
    this.#ws.send(bytes, { binary: true }, () => {
      this.#unsentBytes -= bytes.byteLength;
      this.#sendsDone++;
      this.#settleWaiters();
      if (this.#wantDrain && this.#unsentBytes < WS_HIGH_WATER_BYTES && !this.#closed) {
        this.#wantDrain = false;
        this.#handlers?.onDrain();
      }
    });
  }

  #belowHighWater(): boolean {
    if (this.#unsentBytes < WS_HIGH_WATER_BYTES) return true;
    this.#wantDrain = true;
    return false;
  }

  #settleWaiters(): void {
    if (this.#waiters.length === 0) return;
    const ready = this.#waiters.filter((w) => this.#closed || w.after <= this.#sendsDone);
    if (ready.length === 0) return;
    this.#waiters = this.#waiters.filter((w) => !ready.includes(w));
    for (const w of ready) w.done();
  }

  /** The peer sent what liaison does not carry: close saying why, and report it as the failure. */
  #fail(code: number, reason: string): void {
    this.#refused = true;
    this.#failure ??= new TransportError(`WebSocket closed (${code}): ${reason}`);
    this.#ws.close(code, reason);
    setTimeout(() => this.#ws.terminate(), END_LINGER_MS).unref();
  }
}
