/**
 * The session record (issue 11, point 1): record -> restore -> record is the identity at random
 * points of a session's life, a responder restarted from its record is resumed by its peer with
 * every message arriving exactly once and in order, and a foreign or garbled record is refused
 * with INVALID_RECORD naming the field.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  Connection,
  type ConnectionEvent,
  ErrorCode,
  resolveLimits,
  restoreSession,
  type Session,
  type SessionRecord,
  SessionTable,
  sessionRecord,
  Unit,
} from '@liaison/core';
import fc from 'fast-check';
import { seededRandom } from './seeded-random.js';

const UNITS = Unit.DUPLEX | Unit.EXPEDITED | Unit.TYPED_DATA | Unit.MINOR_SYNCHRONIZE;
const TABLE = { resumeWindowMs: 10_000, suspendedBytesMax: 1 << 30 };
/** Small frames and windows, so that messages fragment and queue behind the window. */
const LIMITS = resolveLimits({ frameBytesMax: 4096, receiveWindowBytes: 48 * 1024, retransmitBufferBytes: 64 * 1024 });
const EMPTY = new Uint8Array(0);
const OFFER = { nameBytesMax: 16, tokensPerSessionMax: 4 };
const NAMES = ['a', 'b', 'c'];

/** A client and a server process on virtual time; the server can be restarted with a new table. */
class World {
  now = 0;
  client!: Connection;
  server!: Connection;
  readonly clientTable = new SessionTable(TABLE);
  serverTable = new SessionTable(TABLE);
  readonly random = seededRandom(11);
  readonly clientEvents: ConnectionEvent[] = [];
  readonly serverEvents: ConnectionEvent[] = [];
  /** Bytes allowed through before the link breaks (what is beyond is lost, as in a TCP break). */
  budget = Number.POSITIVE_INFINITY;

  constructor() {
    this.connect();
  }

  connect(): void {
    this.client = new Connection({ role: 'initiator', limits: LIMITS, random: this.random, table: this.clientTable });
    this.server = new Connection({ role: 'responder', limits: LIMITS, random: this.random, table: this.serverTable });
    this.client.handleTransportUp(this.now);
    this.server.handleTransportUp(this.now);
  }

  pump(): void {
    for (let i = 0; i < 100_000; i++) {
      const moved = this.#flow(this.client, this.server) + this.#flow(this.server, this.client);
      this.#drain(this.client, this.clientEvents);
      this.#drain(this.server, this.serverEvents);
      if (moved === 0) return;
    }
    throw new Error('no quiescence');
  }

  cut(): void {
    this.client.handleTransportDown(this.now, 'cut');
    this.server.handleTransportDown(this.now, 'cut');
    this.budget = Number.POSITIVE_INFINITY;
    this.pump();
  }

  /** Lets the delayed acknowledgements go out. */
  settle(): void {
    for (let i = 0; i < 3; i++) {
      this.now += LIMITS.ackDelayMs + 1;
      this.client.handleTimeout(this.now);
      this.server.handleTimeout(this.now);
      this.pump();
    }
  }

  /** The server process restarts: its sessions come back only from their records. */
  restartServer(records: SessionRecord[]): Session[] {
    this.serverTable = new SessionTable(TABLE);
    return records.map((r) => {
      const s = restoreSession(r, { now: this.now, host: this.serverTable.host, limits: LIMITS });
      this.serverTable.register(s);
      this.serverTable.park(this.now, s);
      return s;
    });
  }

  #flow(from: Connection, to: Connection): number {
    let n = 0;
    for (let b = from.pollTransmit(); b; b = from.pollTransmit()) {
      if (this.budget <= 0) continue;
      const part = b.byteLength > this.budget ? b.subarray(0, this.budget) : b;
      this.budget -= part.byteLength;
      to.handleBytes(this.now, part);
      n += part.byteLength;
    }
    return n;
  }

  #drain(c: Connection, into: ConnectionEvent[]): void {
    for (let e = c.pollEvent(); e; e = c.pollEvent()) {
      into.push(e);
      if (e.type === 'message') e.session.consume(this.now, e.credit);
      if (e.type === 'connect-request') e.session.accept(this.now, EMPTY, [], 0, { namedTokens: OFFER });
      // The responder's application grants every name at once (a registry is the server's, not the record's).
      if (e.type === 'named-token-acquire') e.session.grantNamedToken(this.now, e.name);
    }
  }
}

type Op =
  | { op: 'send'; from: 'client' | 'server'; kind: 'normal' | 'typed' | 'expedited'; size: number }
  | { op: 'sync' }
  | { op: 'token'; name: string }
  | { op: 'pump'; bytes: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({
    op: fc.constant('send' as const),
    from: fc.constantFrom('client' as const, 'server' as const),
    kind: fc.constantFrom('normal' as const, 'typed' as const, 'expedited' as const),
    size: fc.integer({ min: 0, max: 40_000 }),
  }),
  fc.constant({ op: 'sync' as const }),
  fc.record({ op: fc.constant('token' as const), name: fc.constantFrom(...NAMES) }),
  fc.record({ op: fc.constant('pump' as const), bytes: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 60_000 })) }),
);

/** Sent payloads per direction and kind, each tagged with its number so arrival order is checkable. */
interface Sent {
  client: Record<string, string[]>;
  server: Record<string, string[]>;
}

function open(w: World): { client: Session; server: () => Session } {
  const client = w.client.openSession(w.now, { units: UNITS });
  w.pump();
  const find = () => w.serverTable.find(client.sessionId as Uint8Array) as Session;
  return { client, server: find };
}

function payload(tag: string, size: number): Uint8Array {
  const head = new TextEncoder().encode(`${tag};`);
  const out = new Uint8Array(Math.max(head.byteLength, size));
  out.set(head);
  return out;
}

/** Runs `ops` with the link cut after each pump budget; sends that do not fit (backpressure, state) are skipped. */
function drive(w: World, client: Session, server: () => Session, ops: Op[], sent: Sent, prefix: string): void {
  for (const [i, o] of ops.entries()) {
    if (o.op === 'send') {
      const s = o.from === 'client' ? client : server();
      const size = o.kind === 'expedited' ? Math.min(o.size, 14) : o.size;
      const tag = `${prefix}${i}`;
      if (!s.writable || s.state !== 'open' || s.link !== 'attached') continue;
      if (o.kind === 'expedited' && size < tag.length + 1) continue;
      s.send(w.now, o.kind, payload(tag, size));
      sent[o.from][o.kind] = [...(sent[o.from][o.kind] ?? []), tag];
    } else if (o.op === 'sync') {
      if (client.link === 'attached' && client.dialogue?.normalDataBlock() === null) {
        client.dialogue.syncMinor({ confirm: false, separation: false, userData: EMPTY });
      }
    } else if (o.op === 'token') {
      // Acquire a name, or give back (or withdraw) one held or asked for.
      if (client.link !== 'attached' || client.state !== 'open') continue;
      if (client.heldNamedTokens.includes(o.name) || client.pendingNamedTokens.includes(o.name)) {
        client.releaseNamedToken(w.now, o.name);
      } else if (client.heldNamedTokens.length + client.pendingNamedTokens.length < OFFER.tokensPerSessionMax) {
        client.acquireNamedToken(w.now, o.name);
      }
    } else if (o.bytes === 0) {
      w.pump();
    } else {
      // The link breaks after `bytes` (what was in flight is lost) and the client resumes at once.
      w.budget = o.bytes;
      w.pump();
      w.cut();
      w.connect();
      w.client.resumeSession(w.now, client);
      w.pump();
    }
  }
}

function arrived(events: ConnectionEvent[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const e of events) {
    if (e.type !== 'message') continue;
    const text = new TextDecoder().decode(e.data);
    const tag = text.slice(0, text.indexOf(';'));
    out[e.kind] = [...(out[e.kind] ?? []), tag];
  }
  return out;
}

describe('session record', () => {
  it('record -> restore -> record is the identity, suspended or attached', () => {
    // How often the records held the interesting parts (so the property is not vacuous).
    const seen = { queued: 0, unacked: 0, assembling: 0, names: 0, syncs: 0 };
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 25 }), fc.nat(50_000), (ops, cutAt) => {
        const w = new World();
        const { client, server } = open(w);
        drive(w, client, server, ops, { client: {}, server: {} }, 'm');
        // The last bytes are cut at a random offset: messages partly received, acknowledgements lost.
        w.budget = cutAt;
        // Attached: a restored session is suspended since `now`.
        const attached = sessionRecord(server());
        const again = sessionRecord(restoreSession(attached, { now: 5, host: w.serverTable.host, limits: LIMITS }));
        assert.deepEqual(again, { ...attached, recovery: { ...attached.recovery, suspendedSince: 5 } });
        w.pump();
        w.cut();
        for (const s of [client, server()]) {
          // Accepted while suspended: it waits in the queue, and so in the record.
          if (s.writable && s.state === 'open' && s.dialogue?.normalDataBlock() === null) {
            s.send(w.now, 'normal', payload('late', 5000));
          }
          const r = sessionRecord(s);
          assert.equal(r.recovery.suspendedSince, w.now);
          const host = s === client ? w.clientTable.host : w.serverTable.host;
          assert.deepEqual(sessionRecord(restoreSession(r, { now: 99, host, limits: LIMITS })), r);
          assertPlain(r, 'record');
          if (r.send.queue.length > 0) seen.queued++;
          if (r.send.sent.length > 0) seen.unacked++;
          if (r.receive.assembling?.normal.parts.length || r.receive.assembling?.typed.parts.length) seen.assembling++;
          if ((r.namedTokens.requests?.names.length ?? 0) > 0) seen.names++;
          if (r.dialogue.lastMinorSent >= 0 || r.dialogue.lastMinorReceived >= 0) seen.syncs++;
        }
      }),
      { numRuns: 80 },
    );
    for (const [part, n] of Object.entries(seen)) assert.ok(n > 0, `no record had ${part}`);
  });

  it('a responder restarted from its record is resumed: every message arrives exactly once, in order', () => {
    let replays = 0; // runs whose restart-resume replayed messages (so the property is not vacuous)
    fc.assert(
      fc.property(
        fc.array(opArb, { maxLength: 20 }),
        fc.nat(50_000),
        fc.array(opArb, { maxLength: 20 }),
        (before, cutAt, after) => {
          const w = new World();
          const { client, server } = open(w);
          const sent: Sent = { client: {}, server: {} };
          drive(w, client, server, before, sent, 'a');
          w.budget = cutAt; // the server dies with messages in flight both ways
          w.pump();
          w.cut();
          for (const [side, s] of [
            ['client', client],
            ['server', server()],
          ] as const) {
            if (s.writable && s.state === 'open' && s.dialogue?.normalDataBlock() === null) {
              s.send(w.now, 'normal', payload(`${side}-late`, 3000)); // accepted while suspended
              sent[side].normal = [...(sent[side].normal ?? []), `${side}-late`];
            }
          }
          const oldServerEvents = w.serverEvents.splice(0);
          const [restored] = w.restartServer([sessionRecord(server())]);
          w.now += 10;
          w.connect();
          w.client.resumeSession(w.now, client);
          w.pump();
          assert.equal(client.link, 'attached');
          assert.equal(restored?.link, 'attached');
          drive(w, client, server, after, sent, 'b');
          w.settle();
          assert.deepEqual(arrived([...oldServerEvents, ...w.serverEvents]), sent.client);
          assert.deepEqual(arrived(w.clientEvents), sent.server);
          assert.equal(client.undelivered, 0, 'client');
          assert.equal(restored?.undelivered, 0, 'server');
          assert.equal(restored?.state, 'open');
          const resumed = w.clientEvents.filter((e) => e.type === 'resumed').at(-1);
          if (resumed?.type === 'resumed' && resumed.stats.peerReplayedMessages + resumed.stats.replayedMessages > 0) {
            replays++;
          }
        },
      ),
      { numRuns: 40 },
    );
    assert.ok(replays > 0, 'no run replayed anything across the restart');
  });

  it('refuses a session still establishing or without recovery', () => {
    const w = new World();
    const s = w.client.openSession(w.now, {});
    assert.throws(() => sessionRecord(s), { code: ErrorCode.INVALID_STATE });
  });

  it('refuses a foreign or garbled record with INVALID_RECORD naming the field', () => {
    const w = new World();
    const { server } = open(w);
    const good = sessionRecord(server());
    const options = { now: 0, host: w.serverTable.host, limits: LIMITS };
    const cases: [unknown, RegExp][] = [
      [null, /record: not an object/],
      [{ ...good, v: 2 }, /v: version 2/],
      [{ ...good, initiator: 'yes' }, /record\.initiator: not a boolean/],
      [{ ...good, state: { name: 'connecting' } }, /record\.state\.name/],
      [{ ...good, send: { ...good.send, sentSeq: -1 } }, /record\.send\.sentSeq/],
      [{ ...good, send: { ...good.send, peerReceived: good.send.sentSeq + 1 } }, /send\.peerReceived/],
      [{ ...good, recovery: { ...good.recovery, key: new Uint8Array(3) } }, /record\.recovery\.key: not 32 bytes/],
      [{ ...good, recovery: { ...good.recovery, sessionId: 'abc' } }, /record\.recovery\.sessionId: not bytes/],
      [{ ...good, dialogue: { ...good.dialogue, next: [1] } }, /record\.dialogue\.next/],
      [{ ...good, stats: { ...good.stats, resumes: 1.5 } }, /record\.stats\.resumes/],
      [withoutField(good, 'agreed'), /record\.agreed: missing/],
    ];
    for (const [record, message] of cases) {
      assert.throws(() => restoreSession(record, options), { code: ErrorCode.INVALID_RECORD, message });
    }
  });
});

function withoutField(r: SessionRecord, field: keyof SessionRecord): unknown {
  const copy: Record<string, unknown> = { ...r };
  delete copy[field];
  return copy;
}

/** Only what JSON (bytes as base64) or msgpack encodes as it is: finite numbers, no undefined, no class instances. */
function assertPlain(v: unknown, path: string): void {
  if (v === null || typeof v === 'string' || typeof v === 'boolean' || v instanceof Uint8Array) return;
  if (typeof v === 'number') return assert.ok(Number.isFinite(v), `${path} is ${v}`);
  if (Array.isArray(v)) {
    for (const [i, x] of v.entries()) assertPlain(x, `${path}[${i}]`);
    return;
  }
  assert.ok(typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype, `${path} is not plain`);
  for (const [k, x] of Object.entries(v as object)) assertPlain(x, `${path}.${k}`);
}
