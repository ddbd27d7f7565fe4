/**
 * Issue 10, point 1: an orderly release survives long outages. The release deadline bounds a
 * release on a working connection; while the session is suspended or resuming, its resume window
 * bounds it instead. Before the fix, a release begun before an outage longer than
 * `releaseTimeoutMs` was aborted with RELEASE_TIMEOUT the moment the session came back.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  AbortCode,
  Connection,
  type ConnectionEvent,
  DEFAULT_BACKOFF,
  FRUITLESS_RESETS_MAX,
  ReconnectSchedule,
  type Session,
  SessionTable,
} from '@liaison/core';
import { seededRandom } from './seeded-random.js';

const LIMITS = { releaseTimeoutMs: 1_000, resumeWindowMs: 60_000, keepaliveIntervalMs: 0 };

class Link {
  now = 0;
  client!: Connection;
  server!: Connection;
  readonly clientTable = new SessionTable({ resumeWindowMs: 60_000, suspendedBytesMax: 1 << 30 });
  readonly serverTable = new SessionTable({ resumeWindowMs: 60_000, suspendedBytesMax: 1 << 30 });
  readonly random = seededRandom(11);
  readonly clientEvents: ConnectionEvent[] = [];
  readonly serverEvents: ConnectionEvent[] = [];
  up = true;

  constructor() {
    this.connect();
  }

  connect(): void {
    const common = { limits: LIMITS, random: this.random };
    this.client = new Connection({ role: 'initiator', ...common, table: this.clientTable });
    this.server = new Connection({ role: 'responder', ...common, table: this.serverTable });
    this.client.handleTransportUp(this.now);
    this.server.handleTransportUp(this.now);
    this.up = true;
  }

  pump(): void {
    for (let i = 0; i < 10_000; i++) {
      let moved = 0;
      for (const [from, to] of [
        [this.client, this.server],
        [this.server, this.client],
      ] as const) {
        for (let b = from.pollTransmit(); b; b = from.pollTransmit()) {
          if (!this.up) continue; // lost with the connection
          to.handleBytes(this.now, b);
          moved += b.byteLength;
        }
      }
      this.#drain(this.client, this.clientEvents);
      this.#drain(this.server, this.serverEvents);
      for (let e = this.serverTable.pollEvent(); e; e = this.serverTable.pollEvent()) this.serverEvents.push(e);
      for (let e = this.clientTable.pollEvent(); e; e = this.clientTable.pollEvent()) this.clientEvents.push(e);
      if (moved === 0) return;
    }
    throw new Error('no quiescence');
  }

  /** Time passes in steps, every deadline served, as a driver would. */
  advance(ms: number): void {
    const end = this.now + ms;
    while (this.now < end) {
      this.now = Math.min(end, this.now + 50);
      this.client.handleTimeout(this.now);
      this.server.handleTimeout(this.now);
      this.clientTable.handleTimeout(this.now);
      this.serverTable.handleTimeout(this.now);
      this.pump();
    }
  }

  cut(): void {
    this.up = false;
    this.client.handleTransportDown(this.now, 'cut');
    this.server.handleTransportDown(this.now, 'cut');
    this.pump();
  }

  #drain(c: Connection, into: ConnectionEvent[]): void {
    for (let e = c.pollEvent(); e; e = c.pollEvent()) {
      into.push(e);
      if (e.type === 'message') e.session.consume(this.now, e.credit);
      if (e.type === 'connect-request') e.session.accept(this.now, new Uint8Array(0));
      if (e.type === 'release-requested') e.session.respondRelease(this.now, true, new Uint8Array(0));
    }
  }
}

const closedOf = (events: ConnectionEvent[]) => events.find((e) => e.type === 'closed');

describe('orderly release across long outages (issue 10.1)', () => {
  test('a release begun before outages several times the release deadline completes after them', () => {
    const l = new Link();
    const c = l.client.openSession(l.now);
    l.pump();
    const s = l.server.session(c.channel) as Session;
    for (let i = 0; i < 20; i++) c.send(l.now, 'normal', new TextEncoder().encode(`m${i}`));
    l.up = false; // the data and the FINISH are lost with the connection
    c.release(l.now, new Uint8Array(0));
    l.pump();
    l.cut();
    for (let outage = 0; outage < 3; outage++) {
      l.advance(2_500); // 2.5x the release deadline, suspended
      l.connect();
      l.client.resumeSession(l.now, c);
      if (outage < 2) {
        l.up = false; // the resume itself is cut before the challenge arrives
        l.pump();
        l.advance(1_500); // resuming, longer than the deadline
        l.cut();
      }
    }
    l.pump();
    l.advance(500);
    const client = closedOf(l.clientEvents);
    const server = closedOf(l.serverEvents);
    assert.ok(
      client?.type === 'closed' && server?.type === 'closed',
      `the release completed: ${c.state}/${c.link} ${s.state}/${s.link} ${JSON.stringify(l.clientEvents.map((e) => e.type))} ${JSON.stringify(l.serverEvents.map((e) => e.type))}`,
    );
    assert.equal(client.reason.kind, 'released', JSON.stringify(client.reason));
    assert.equal(server.reason.kind, 'released', JSON.stringify(server.reason));
    assert.equal(s.stats.messagesReceived, 20, 'everything sent before the release was delivered first');
  });

  test('a release that stalls on a working connection still ends at its deadline', () => {
    const l = new Link();
    const c = l.client.openSession(l.now);
    l.pump();
    c.release(l.now, new Uint8Array(0));
    l.up = false; // a black hole: the connection looks alive, nothing arrives
    l.pump();
    l.advance(1_200);
    const client = closedOf(l.clientEvents);
    assert.ok(client?.type === 'closed');
    assert.equal(client.reason.kind, 'aborted');
    assert.equal(client.reason.kind === 'aborted' && client.reason.code, AbortCode.RELEASE_TIMEOUT);
  });
});

describe('the reconnection schedule (issue 10.1)', () => {
  const MID = 0.5; // the middle of the jitter

  test('failed attempts back off; a connection on which the peer answered starts the schedule over', () => {
    const r = new ReconnectSchedule(DEFAULT_BACKOFF);
    const failing = [r.nextDelay(MID), r.nextDelay(MID), r.nextDelay(MID), r.nextDelay(MID)];
    assert.deepEqual(failing, [4, 15, 60, 240]);
    r.reached(); // the resume on it was then cut: the link was up all the same
    assert.equal(r.nextDelay(MID), 4);
  });

  test('a peer that answers and then drops every connection is not hammered', () => {
    const r = new ReconnectSchedule(DEFAULT_BACKOFF);
    const delays: number[] = [];
    for (let i = 0; i < 8; i++) {
      delays.push(r.nextDelay(MID));
      r.reached();
    }
    // FRUITLESS_RESETS_MAX resets, then the delay grows again as if they had failed.
    assert.equal(FRUITLESS_RESETS_MAX, 3);
    assert.deepEqual(delays, [4, 4, 4, 4, 15, 60, 240, 960]);
    r.succeeded(); // sessions resumed: everything starts over
    assert.equal(r.nextDelay(MID), 4);
    r.reached();
    assert.equal(r.nextDelay(MID), 4);
  });
});
