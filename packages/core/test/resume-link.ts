/**
 * Two connections on virtual time that can be cut and reconnected, sharing session tables as a
 * client and a server process would: the harness of the recovery tests. Bytes move only in
 * `pump()`; `budget` cuts the stream at an arbitrary byte offset (what is in flight is lost, as a
 * broken TCP connection loses it), and `toClient` can drop or rewrite what the server sends.
 */
import { Connection, type ConnectionEvent, type Limits, SessionTable, type SessionTableOptions } from '@liaison/core';
import { seededRandom } from './seeded-random.js';

export class Link {
  now = 0;
  client!: Connection;
  server!: Connection;
  readonly clientTable: SessionTable;
  readonly serverTable: SessionTable;
  readonly random = seededRandom(7);
  readonly clientEvents: ConnectionEvent[] = [];
  readonly serverEvents: ConnectionEvent[] = [];
  /** Bytes allowed through (both ways together) before the link breaks. */
  budget = Number.POSITIVE_INFINITY;
  /** What becomes of each chunk the server sends: null drops it. */
  toClient: (bytes: Uint8Array) => Uint8Array | null = (b) => b;
  /** When set, the server's messages wait here, unconsumed (its window closes), until the test consumes them. */
  held: { session: import('@liaison/core').Session; credit: number }[] | null = null;

  constructor(
    readonly limits: Partial<Limits> = {},
    serverTable: Partial<SessionTableOptions> = {},
  ) {
    this.clientTable = new SessionTable({ resumeWindowMs: 10_000, suspendedBytesMax: 1 << 30 });
    this.serverTable = new SessionTable({
      resumeWindowMs: limits.resumeWindowMs ?? 10_000,
      suspendedBytesMax: 1 << 30,
      ...serverTable,
    });
    this.connect();
  }

  connect(): void {
    this.client = new Connection({
      role: 'initiator',
      limits: this.limits,
      random: this.random,
      table: this.clientTable,
    });
    this.server = new Connection({
      role: 'responder',
      limits: this.limits,
      random: this.random,
      table: this.serverTable,
    });
    this.client.handleTransportUp(this.now);
    this.server.handleTransportUp(this.now);
  }

  pump(): void {
    for (let i = 0; i < 100_000; i++) {
      const moved =
        this.#flow(this.client, this.server, (b) => b) + this.#flow(this.server, this.client, this.toClient);
      this.#drain(this.client, this.clientEvents);
      this.#drain(this.server, this.serverEvents, this.held);
      for (let e = this.serverTable.pollEvent(); e; e = this.serverTable.pollEvent()) this.serverEvents.push(e);
      for (let e = this.clientTable.pollEvent(); e; e = this.clientTable.pollEvent()) this.clientEvents.push(e);
      if (moved === 0) return;
    }
    throw new Error('no quiescence');
  }

  cut(): void {
    this.client.handleTransportDown(this.now, 'cut');
    this.server.handleTransportDown(this.now, 'cut');
    this.pump();
  }

  /** A break after `after` more bytes, `downMs` of outage, then a new connection on which the client resumes `session`. */
  breakAndResume(session: import('@liaison/core').Session, after: number, downMs: number): void {
    this.budget = after;
    this.pump();
    this.cut();
    this.budget = Number.POSITIVE_INFINITY;
    this.now += downMs;
    this.connect();
    this.client.resumeSession(this.now, session);
  }

  #flow(from: Connection, to: Connection, rewrite: (b: Uint8Array) => Uint8Array | null): number {
    let n = 0;
    for (let b = from.pollTransmit(); b; b = from.pollTransmit()) {
      if (this.budget <= 0) continue; // lost in the break
      const part = rewrite(b.byteLength > this.budget ? b.subarray(0, this.budget) : b);
      if (part === null) continue;
      this.budget -= part.byteLength;
      to.handleBytes(this.now, part);
      n += part.byteLength;
    }
    return n;
  }

  #drain(c: Connection, into: ConnectionEvent[], held: Link['held'] = null): void {
    for (let e = c.pollEvent(); e; e = c.pollEvent()) {
      into.push(e);
      if (e.type === 'message' && held) held.push({ session: e.session, credit: e.credit });
      else if (e.type === 'message') e.session.consume(this.now, e.credit);
      if (e.type === 'connect-request') e.session.accept(this.now, new Uint8Array(0));
    }
  }
}

export const text = (e: ConnectionEvent) => (e.type === 'message' ? new TextDecoder().decode(e.data) : '');
export const received = (events: ConnectionEvent[]) => events.filter((e) => e.type === 'message').map(text);
export const nums = (n: number, prefix: string) => Array.from({ length: n }, (_, i) => `${prefix}${i}`);
