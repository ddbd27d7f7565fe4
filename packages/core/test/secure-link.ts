/**
 * Two engines over Noise on virtual time: each connection is a SecureConnection around a core
 * Connection, with session tables so sessions resume across `cut()`. A `tamper` hook sees (and may
 * rewrite or drop) every chunk on the wire, as a man in the middle would.
 */
import {
  Connection,
  type ConnectionEvent,
  type Limits,
  type NoiseConfig,
  SecureConnection,
  SessionTable,
} from '@liaison/core';
import { seededRandom } from './seeded-random.js';

export type Endpoint = SecureConnection | Connection;

export interface SecureLinkOptions {
  limits?: Partial<Limits>;
  /** Initiator's Noise configuration, or null for a plaintext client. */
  client?: NoiseConfig | null;
  /** Responder's Noise configuration, or null for a plaintext server. */
  server?: NoiseConfig | null;
  seed?: number;
}

export class SecureLink {
  now = 0;
  client!: Endpoint;
  server!: Endpoint;
  readonly clientTable = new SessionTable({ resumeWindowMs: 60_000, suspendedBytesMax: 1 << 30 });
  readonly serverTable = new SessionTable({ resumeWindowMs: 60_000, suspendedBytesMax: 1 << 30 });
  readonly random: (n: number) => Uint8Array;
  readonly clientEvents: ConnectionEvent[] = [];
  readonly serverEvents: ConnectionEvent[] = [];
  /** Sees each chunk written; returns what the other side receives (null: dropped). */
  tamper: (fromClient: boolean, bytes: Uint8Array) => Uint8Array | null = (_, b) => b;
  /** Every chunk each side wrote, in order. */
  readonly wire: { fromClient: boolean; bytes: Uint8Array }[] = [];

  constructor(readonly options: SecureLinkOptions = {}) {
    this.random = seededRandom(options.seed ?? 11);
    this.connect();
  }

  get clientConn(): Connection {
    return this.client instanceof SecureConnection ? this.client.connection : this.client;
  }

  get serverConn(): Connection {
    return this.server instanceof SecureConnection ? this.server.connection : this.server;
  }

  /** A fresh connection pair (the old one, if any, must be closed or cut). */
  connect(): void {
    const { limits, client, server } = this.options;
    const c = new Connection({ role: 'initiator', limits, random: this.random, table: this.clientTable });
    const s = new Connection({ role: 'responder', limits, random: this.random, table: this.serverTable });
    this.client = client === null ? c : new SecureConnection({ connection: c, random: this.random, ...client });
    this.server = server === null ? s : new SecureConnection({ connection: s, random: this.random, ...server });
    this.client.handleTransportUp(this.now);
    this.server.handleTransportUp(this.now);
  }

  /** Moves bytes until quiet; a side that closed makes the other see its transport go down. */
  pump(): void {
    for (let i = 0; i < 100_000; i++) {
      const moved = this.#flow(true) + this.#flow(false);
      this.#drain(this.client, this.clientEvents);
      this.#drain(this.server, this.serverEvents);
      for (let e = this.serverTable.pollEvent(); e; e = this.serverTable.pollEvent()) this.serverEvents.push(e);
      for (let e = this.clientTable.pollEvent(); e; e = this.clientTable.pollEvent()) this.clientEvents.push(e);
      if (moved > 0) continue;
      if (this.client.isClosed !== this.server.isClosed) {
        (this.client.isClosed ? this.server : this.client).handleTransportDown(this.now, 'peer closed the transport');
        continue;
      }
      return;
    }
    throw new Error('no quiescence');
  }

  /** Advances virtual time, firing deadlines and pumping. */
  advance(ms: number, stepMs = 50): void {
    const end = this.now + ms;
    while (this.now < end) {
      this.now = Math.min(end, this.now + stepMs);
      this.client.handleTimeout(this.now);
      this.server.handleTimeout(this.now);
      this.pump();
    }
  }

  cut(): void {
    this.client.handleTransportDown(this.now, 'cut');
    this.server.handleTransportDown(this.now, 'cut');
    this.pump();
  }

  #flow(fromClient: boolean): number {
    const [from, to] = fromClient ? [this.client, this.server] : [this.server, this.client];
    let n = 0;
    for (let b = from.pollTransmit(); b; b = from.pollTransmit()) {
      this.wire.push({ fromClient, bytes: b });
      n += b.byteLength;
      const passed = this.tamper(fromClient, b);
      if (passed !== null) to.handleBytes(this.now, passed);
    }
    return n;
  }

  #drain(c: Endpoint, into: ConnectionEvent[]): void {
    for (let e = c.pollEvent(); e; e = c.pollEvent()) {
      into.push(e);
      if (e.type === 'message') e.session.consume(this.now, e.credit);
      if (e.type === 'connect-request') e.session.accept(this.now, new Uint8Array(0));
    }
  }
}

export const closeOf = (events: ConnectionEvent[]) =>
  events.find((e): e is Extract<ConnectionEvent, { type: 'connection-closed' }> => e.type === 'connection-closed');

export const texts = (events: ConnectionEvent[]) =>
  events.filter((e) => e.type === 'message').map((e) => (e.type === 'message' ? new TextDecoder().decode(e.data) : ''));

export const utf8 = (s: string) => new TextEncoder().encode(s);
