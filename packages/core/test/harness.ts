/**
 * Two engines wired back to back on virtual time: the main tool of core tests. No sockets, no
 * sleeps. `pump()` moves bytes both ways until nothing moves; `advance(ms)` moves the clock and
 * fires deadlines. Events are collected per side.
 */
import assert from 'node:assert/strict';
import {
  Connection,
  type ConnectionEvent,
  type ConnectionOptions,
  type DialogueOptions,
  type Limits,
  type Session,
} from '@liaison/core';

export interface Side {
  conn: Connection;
  events: ConnectionEvent[];
  /** Bytes written by this side, in order (for inspection). */
  wire: Uint8Array[];
}

export class Pair {
  now = 0;
  readonly a: Side; // initiator
  readonly b: Side; // responder
  /** Consume every delivered message at once (as an application reading eagerly would). */
  autoConsume = true;
  /** When false, bytes written by a side are held back (a stalled link). */
  linkUp = true;

  constructor(
    options: {
      limits?: Partial<Limits>;
      initiator?: Partial<ConnectionOptions>;
      responder?: Partial<ConnectionOptions>;
    } = {},
  ) {
    this.a = side(new Connection({ role: 'initiator', limits: options.limits, ...options.initiator }));
    this.b = side(new Connection({ role: 'responder', limits: options.limits, ...options.responder }));
    this.a.conn.handleTransportUp(this.now);
    this.b.conn.handleTransportUp(this.now);
  }

  /** Moves bytes and events until quiescent. Returns the number of bytes moved. */
  pump(maxRounds = 10_000): number {
    let moved = 0;
    for (let round = 0; round < maxRounds; round++) {
      const n = this.#flow(this.a, this.b) + this.#flow(this.b, this.a);
      this.#drainEvents(this.a);
      this.#drainEvents(this.b);
      moved += n;
      if (n === 0) return moved;
    }
    throw new Error('pump did not settle: livelock?');
  }

  /** Advances virtual time in steps, firing deadlines and pumping at each. */
  advance(ms: number, stepMs = 1): void {
    const end = this.now + ms;
    while (this.now < end) {
      const deadlines = [this.a.conn.pollTimeout(), this.b.conn.pollTimeout()].filter((d): d is number => d !== null);
      const next = Math.min(end, this.now + stepMs, ...deadlines.map((d) => Math.max(d, this.now + 0.001)));
      this.now = next;
      this.a.conn.handleTimeout(this.now);
      this.b.conn.handleTimeout(this.now);
      this.pump();
    }
  }

  /** Drops bytes in flight and tells both sides their transport went down. */
  cut(message = 'cut'): void {
    this.a.conn.handleTransportDown(this.now, message);
    this.b.conn.handleTransportDown(this.now, message);
    this.pump();
  }

  #flow(from: Side, to: Side): number {
    if (!this.linkUp) return 0;
    let n = 0;
    for (let bytes = from.conn.pollTransmit(); bytes !== null; bytes = from.conn.pollTransmit()) {
      from.wire.push(bytes);
      n += bytes.byteLength;
      to.conn.handleBytes(this.now, bytes);
    }
    return n;
  }

  #drainEvents(s: Side): void {
    for (let e = s.conn.pollEvent(); e !== null; e = s.conn.pollEvent()) {
      s.events.push(e);
      if (this.autoConsume && e.type === 'message') s.conn.session(e.channel)?.consume(this.now, e.credit);
    }
  }
}

function side(conn: Connection): Side {
  return { conn, events: [], wire: [] };
}

/** Opens a session from a to b and accepts it; returns the channel. */
export function establish(pair: Pair, userData = new Uint8Array(0)): number {
  const s = pair.a.conn.openSession(pair.now, { userData });
  pair.pump();
  pair.b.conn.session(s.channel)?.accept(pair.now, new Uint8Array(0));
  pair.pump();
  return s.channel;
}

export function messages(side: Side, kind = 'normal'): string[] {
  return side.events
    .filter((e): e is Extract<ConnectionEvent, { type: 'message' }> => e.type === 'message' && e.kind === kind)
    .map((e) => new TextDecoder().decode(e.data));
}

export function eventsOf<T extends ConnectionEvent['type']>(
  side: Side,
  type: T,
): Extract<ConnectionEvent, { type: T }>[] {
  return side.events.filter((e): e is Extract<ConnectionEvent, { type: T }> => e.type === type);
}

export const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

/** The dialogue frames (tokens, sync points, activities), in frame-type order. */
export const DIALOGUE_FRAMES = [
  'GIVE_TOKENS',
  'PLEASE_TOKENS',
  'GIVE_CONTROL',
  'MINOR_SYNC',
  'MINOR_SYNC_ACK',
  'MAJOR_SYNC',
  'MAJOR_SYNC_ACK',
  'RESYNC',
  'RESYNC_ACK',
  'EXCEPTION_REPORT',
  'EXCEPTION_DATA',
  'ACTIVITY_START',
  'ACTIVITY_RESUME',
  'ACTIVITY_INTERRUPT',
  'ACTIVITY_INTERRUPT_ACK',
  'ACTIVITY_DISCARD',
  'ACTIVITY_DISCARD_ACK',
  'ACTIVITY_END',
  'CAPABILITY_DATA',
  'CAPABILITY_DATA_ACK',
] as const;
export type DialogueFrameName = (typeof DIALOGUE_FRAMES)[number];

/** Opens a session from a to b with `units` (and dialogue options); b takes the `wanted` tokens it may choose. */
export function openDialogue(
  p: Pair,
  units: number,
  dialogue: DialogueOptions = {},
  wanted = 0,
): { a: Session; b: Session; channel: number } {
  const a = p.a.conn.openSession(p.now, { units, dialogue });
  p.pump();
  const b = p.b.conn.session(a.channel) as Session;
  b.accept(p.now, new Uint8Array(0), [], wanted);
  p.pump();
  assert.equal(a.state, 'open');
  return { a, b, channel: a.channel };
}
