/**
 * Named tokens through the engine on virtual time: initiators ask a responder's
 * NamedTokenService over real frames; grants come back in FIFO order, a closed session's tokens
 * pass to the next waiter, withdrawals are answered once, misuse is a UsageError that sends
 * nothing, and answers nobody asked for abort the session. Then transport cuts at every byte
 * offset while holding and while queued: the grant arrives exactly once and there is never more
 * than one holder.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  AbortCode,
  Connection,
  type ConnectionEvent,
  ErrorCode,
  encodeFrame,
  FrameType,
  NamedTokenRefusedError,
  NamedTokenService,
  type Session,
  SessionTable,
  TokenRefuseCode,
  UsageError,
} from '@liaison/core';
import { Pair } from './harness.js';
import { seededRandom } from './seeded-random.js';
import { TokenPair } from './token-pair.js';

const EMPTY = new Uint8Array(0);

describe('named tokens over the engine', () => {
  test('two sessions contend: the first is granted, the second after the first releases', () => {
    const t = new TokenPair();
    const a = t.open();
    const b = t.open();
    a.acquireNamedToken(t.p.now, 'printer');
    t.pump();
    b.acquireNamedToken(t.p.now, 'printer');
    t.pump();
    assert.deepEqual(t.granted(a), ['printer']);
    assert.deepEqual(t.granted(b), []);
    assert.deepEqual(a.heldNamedTokens, ['printer']);
    assert.deepEqual(b.pendingNamedTokens, ['printer']);
    assert.equal(t.service.registry.holder('printer'), t.peer(a));
    assert.equal(a.releaseNamedToken(t.p.now, 'printer'), 'released');
    assert.deepEqual(a.heldNamedTokens, []);
    t.pump();
    assert.deepEqual(t.granted(b), ['printer']);
    assert.deepEqual(b.heldNamedTokens, ['printer']);
    assert.equal(t.service.registry.holder('printer'), t.peer(b));
  });

  test('grants follow request order across many sessions', () => {
    const t = new TokenPair();
    const sessions = Array.from({ length: 6 }, () => t.open());
    for (const s of sessions) {
      s.acquireNamedToken(t.p.now, 'row:42');
      t.pump();
    }
    const order: Session[] = [];
    for (let i = 0; i < sessions.length; i++) {
      const holder = sessions.find((s) => s.heldNamedTokens.includes('row:42'));
      assert.ok(holder, 'someone holds it');
      assert.equal(sessions.filter((s) => s.heldNamedTokens.includes('row:42')).length, 1, 'one holder');
      order.push(holder);
      holder.releaseNamedToken(t.p.now, 'row:42');
      t.pump();
    }
    assert.deepEqual(order, sessions);
  });

  test("a session's abort passes its tokens to the next waiter and drops its own requests", () => {
    const t = new TokenPair();
    const a = t.open();
    const b = t.open();
    const c = t.open();
    a.acquireNamedToken(t.p.now, 'x');
    t.pump();
    b.acquireNamedToken(t.p.now, 'x');
    c.acquireNamedToken(t.p.now, 'y');
    t.pump();
    b.acquireNamedToken(t.p.now, 'y'); // b waits for y behind c
    t.pump();
    b.abort(t.p.now, EMPTY); // b drops its wait for x and y
    a.abort(t.p.now, EMPTY); // x is free: nobody waits any more
    t.pump();
    assert.equal(t.service.registry.holder('x'), undefined);
    assert.deepEqual(t.service.registry.waiting('y'), []);
    const d = t.open();
    d.acquireNamedToken(t.p.now, 'x');
    t.pump();
    assert.deepEqual(t.granted(d), ['x']);
    c.abort(t.p.now, EMPTY);
    t.pump();
    assert.equal(t.service.registry.holder('y'), undefined);
  });

  test('the holder aborting grants to the next waiter at once', () => {
    const t = new TokenPair();
    const a = t.open();
    const b = t.open();
    a.acquireNamedToken(t.p.now, 'x');
    t.pump();
    b.acquireNamedToken(t.p.now, 'x');
    t.pump();
    a.abort(t.p.now, EMPTY);
    t.pump();
    assert.deepEqual(t.granted(b), ['x']);
  });

  test('withdrawing a queued request: answered by the registry, no event, the name can be asked again', () => {
    const t = new TokenPair();
    const a = t.open();
    const b = t.open();
    a.acquireNamedToken(t.p.now, 'x');
    t.pump();
    b.acquireNamedToken(t.p.now, 'x');
    t.pump();
    assert.equal(b.releaseNamedToken(t.p.now, 'x'), 'withdrawn');
    t.pump();
    assert.deepEqual(t.service.registry.waiting('x'), []);
    assert.deepEqual(t.refused(b), [], 'the CANCELLED answer is swallowed');
    assert.deepEqual(b.pendingNamedTokens, []);
    b.acquireNamedToken(t.p.now, 'x');
    t.pump();
    a.releaseNamedToken(t.p.now, 'x');
    t.pump();
    assert.deepEqual(t.granted(b), ['x']);
  });

  test('a withdrawal crossing its grant: the grant is swallowed and the name passes on', () => {
    const t = new TokenPair();
    const a = t.open();
    const b = t.open();
    const c = t.open();
    a.acquireNamedToken(t.p.now, 'x');
    t.pump();
    b.acquireNamedToken(t.p.now, 'x');
    c.acquireNamedToken(t.p.now, 'x');
    t.pump();
    // a releases and b withdraws in the same instant: the GRANT to b and b's RELEASE cross.
    a.releaseNamedToken(t.p.now, 'x');
    b.releaseNamedToken(t.p.now, 'x');
    b.acquireNamedToken(t.p.now, 'x'); // and asks again, behind c
    t.pump();
    assert.deepEqual(t.granted(b), [], 'the crossing grant is not reported');
    assert.deepEqual(t.granted(c), ['x']);
    assert.deepEqual(t.service.registry.waiting('x'), [t.peer(b)]);
    c.releaseNamedToken(t.p.now, 'x');
    t.pump();
    assert.deepEqual(t.granted(b), ['x']);
  });

  test('the registry refuses past its bounds; the refusal reaches the requester', () => {
    const t = new TokenPair({ waitersPerTokenMax: 1 });
    const [a, b, c] = [t.open(), t.open(), t.open()];
    a.acquireNamedToken(t.p.now, 'x');
    t.pump();
    b.acquireNamedToken(t.p.now, 'x');
    t.pump();
    c.acquireNamedToken(t.p.now, 'x');
    t.pump();
    assert.deepEqual(t.refused(c), [{ name: 'x', code: TokenRefuseCode.QUEUE_FULL }]);
    assert.deepEqual(c.pendingNamedTokens, []);
  });

  test('the initiator enforces the offer locally: nothing is sent for a request past it', () => {
    const t = new TokenPair({ tokensPerSessionMax: 2, nameBytesMax: 8 });
    const a = t.open();
    assert.deepEqual(a.namedTokenOffer, { nameBytesMax: 8, tokensPerSessionMax: 2 });
    a.acquireNamedToken(t.p.now, 'x');
    a.acquireNamedToken(t.p.now, 'y');
    assert.throws(
      () => a.acquireNamedToken(t.p.now, 'z'),
      (e) => e instanceof NamedTokenRefusedError && e.refuseCode === TokenRefuseCode.TOO_MANY_TOKENS,
    );
    assert.throws(
      () => a.acquireNamedToken(t.p.now, 'x'),
      (e) => e instanceof NamedTokenRefusedError && e.refuseCode === TokenRefuseCode.ALREADY_REQUESTED,
    );
    assert.throws(
      () => a.acquireNamedToken(t.p.now, 'a-long-name'),
      (e) => e instanceof UsageError && e.code === ErrorCode.INVALID_ARGUMENT,
    );
    assert.throws(
      () => a.releaseNamedToken(t.p.now, 'never'),
      (e) => e instanceof UsageError && e.code === ErrorCode.NAMED_TOKEN_NOT_HELD,
    );
    t.pump();
    assert.deepEqual(t.granted(a), ['x', 'y']);
  });

  test('without an offer, acquiring is a UsageError and sends nothing; so is acquiring on the responder', () => {
    const t = new TokenPair({}, false);
    const a = t.open();
    assert.equal(a.namedTokenOffer, null);
    assert.equal(t.p.a.conn.pollTransmit(), null);
    assert.throws(
      () => a.acquireNamedToken(t.p.now, 'x'),
      (e) => e instanceof UsageError && e.code === ErrorCode.NAMED_TOKENS_UNAVAILABLE,
    );
    assert.equal(t.p.a.conn.pollTransmit(), null, 'nothing on the wire');
    const offered = new TokenPair();
    const s = offered.open();
    assert.throws(
      () => offered.peer(s).acquireNamedToken(offered.p.now, 'x'),
      (e) => e instanceof UsageError && e.code === ErrorCode.NAMED_TOKENS_UNAVAILABLE,
    );
  });

  test('after a release request, acquiring is an INVALID_STATE error', () => {
    const t = new TokenPair();
    const a = t.open();
    a.release(t.p.now, EMPTY);
    assert.throws(
      () => a.acquireNamedToken(t.p.now, 'x'),
      (e) => e instanceof UsageError && e.code === ErrorCode.INVALID_STATE,
    );
  });

  test('a grant nobody asked for aborts that session only (NAMED_TOKEN_VIOLATION)', () => {
    const t = new TokenPair();
    const a = t.open();
    const b = t.open();
    t.p.a.conn.handleBytes(t.p.now, encodeFrame({ type: FrameType.NAMED_TOKEN_GRANT, channel: a.channel, name: 'x' }));
    t.pump();
    const r = a.closeReason;
    assert.ok(r?.kind === 'aborted' && r.by === 'provider');
    assert.equal(r.code, AbortCode.NAMED_TOKEN_VIOLATION);
    assert.equal(b.state, 'open');
    b.acquireNamedToken(t.p.now, 'x');
    t.pump();
    assert.deepEqual(t.granted(b), ['x']);
  });

  test('a responder that offered nothing aborts a session sending NAMED_TOKEN_ACQUIRE', () => {
    const t = new TokenPair({}, false);
    const a = t.open();
    t.p.b.conn.handleBytes(
      t.p.now,
      encodeFrame({ type: FrameType.NAMED_TOKEN_ACQUIRE, channel: a.channel, name: 'x' }),
    );
    t.pump();
    const r = a.closeReason;
    assert.ok(r?.kind === 'aborted' && r.origin === 'peer' && r.code === AbortCode.UNEXPECTED_FRAME);
  });
});

/** A client and a server connection with session tables, cut at an arbitrary byte offset. */
class CutLink {
  now = 0;
  client!: Connection;
  server!: Connection;
  readonly clientTable = new SessionTable({ resumeWindowMs: 10_000, suspendedBytesMax: 1 << 30 });
  readonly serverTable = new SessionTable({ resumeWindowMs: 10_000, suspendedBytesMax: 1 << 30 });
  readonly random = seededRandom(11);
  readonly service = new NamedTokenService();
  readonly clientEvents: ConnectionEvent[] = [];
  budget = Number.POSITIVE_INFINITY;

  constructor() {
    this.connect();
  }

  connect(): void {
    this.client = new Connection({ role: 'initiator', random: this.random, table: this.clientTable });
    this.server = new Connection({ role: 'responder', random: this.random, table: this.serverTable });
    this.client.handleTransportUp(this.now);
    this.server.handleTransportUp(this.now);
  }

  pump(): void {
    for (let i = 0; i < 10_000; i++) {
      const moved = this.#flow(this.client, this.server) + this.#flow(this.server, this.client);
      for (let e = this.client.pollEvent(); e; e = this.client.pollEvent()) this.clientEvents.push(e);
      for (let e = this.clientTable.pollEvent(); e; e = this.clientTable.pollEvent()) this.clientEvents.push(e);
      for (
        let e = this.server.pollEvent() ?? this.serverTable.pollEvent();
        e;
        e = this.server.pollEvent() ?? this.serverTable.pollEvent()
      ) {
        if (e.type === 'connect-request') e.session.accept(this.now, EMPTY, [], 0, { namedTokens: this.service.offer });
        this.service.handleEvent(this.now, e);
      }
      if (moved === 0) return;
    }
    throw new Error('no quiescence');
  }

  cutAndResume(sessions: Session[]): void {
    this.client.handleTransportDown(this.now, 'cut');
    this.server.handleTransportDown(this.now, 'cut');
    this.pump();
    this.now += 10;
    this.budget = Number.POSITIVE_INFINITY;
    this.connect();
    for (const s of sessions) this.client.resumeSession(this.now, s);
    this.pump();
  }

  grants(s: Session, name: string): number {
    return this.clientEvents.filter((e) => e.type === 'named-token-granted' && e.session === s && e.name === name)
      .length;
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
}

describe('named tokens across transport cuts', () => {
  /** Holders on the client side at this instant (sessions that believe they hold `name`). */
  const holders = (sessions: Session[], name: string) => sessions.filter((s) => s.heldNamedTokens.includes(name));

  test('a cut at every byte offset while queued and while holding: one holder, each grant once', () => {
    for (let cutAt = 0; cutAt < 260; cutAt += 3) {
      const l = new CutLink();
      const a = l.client.openSession(l.now);
      const b = l.client.openSession(l.now);
      l.pump();
      a.acquireNamedToken(l.now, 'printer');
      b.acquireNamedToken(l.now, 'printer');
      a.send(l.now, 'normal', new Uint8Array(100));
      l.budget = cutAt; // the cut lands somewhere in the requests, the grant or the data
      l.pump();
      l.cutAndResume([a, b]);
      assert.ok(holders([a, b], 'printer').length <= 1, `cut at ${cutAt}: at most one holder`);
      assert.equal(a.state, 'open', `cut at ${cutAt}`);
      assert.equal(l.grants(a, 'printer'), 1, `cut at ${cutAt}: a granted once`);
      assert.equal(l.grants(b, 'printer'), 0, `cut at ${cutAt}: b still waits`);
      // While a holds and b waits, cut in the middle of a's release and b's grant.
      a.releaseNamedToken(l.now, 'printer');
      l.budget = cutAt % 40;
      l.pump();
      assert.ok(holders([a, b], 'printer').length <= 1, `cut at ${cutAt}: at most one holder mid-handover`);
      l.cutAndResume([a, b]);
      assert.equal(l.grants(b, 'printer'), 1, `cut at ${cutAt}: b granted once`);
      assert.deepEqual(holders([a, b], 'printer'), [b]);
      assert.equal(l.service.registry.holder('printer'), l.server.session(b.channel));
    }
  });

  test('a suspended holder keeps its token until its resume window ends, then the next waiter gets it', () => {
    const l = new CutLink();
    const a = l.client.openSession(l.now);
    l.pump();
    a.acquireNamedToken(l.now, 'x');
    l.pump();
    const serverA = l.service.registry.holder('x') as Session;
    assert.ok(serverA);
    // A second client on its own connection waits for x.
    const other = new Connection({ role: 'initiator', random: l.random });
    const link2 = new Connection({ role: 'responder', random: l.random, table: l.serverTable });
    other.handleTransportUp(l.now);
    link2.handleTransportUp(l.now);
    const move = () => {
      for (let i = 0; i < 100; i++) {
        let n = 0;
        for (let bytes = other.pollTransmit(); bytes; bytes = other.pollTransmit()) {
          n += bytes.byteLength;
          link2.handleBytes(l.now, bytes);
        }
        for (let bytes = link2.pollTransmit(); bytes; bytes = link2.pollTransmit()) {
          n += bytes.byteLength;
          other.handleBytes(l.now, bytes);
        }
        for (let e = link2.pollEvent(); e; e = link2.pollEvent()) {
          if (e.type === 'connect-request') e.session.accept(l.now, EMPTY, [], 0, { namedTokens: l.service.offer });
          l.service.handleEvent(l.now, e);
        }
        if (n === 0) return;
      }
    };
    const c = other.openSession(l.now);
    move();
    c.acquireNamedToken(l.now, 'x');
    move();
    assert.deepEqual(c.heldNamedTokens, []);
    // a's transport breaks: suspended, it keeps x.
    l.client.handleTransportDown(l.now, 'cut');
    l.server.handleTransportDown(l.now, 'cut');
    l.pump();
    assert.equal(serverA.link, 'suspended');
    assert.equal(l.service.registry.holder('x'), serverA);
    // The window ends: the server's table expires a; x goes to c.
    l.now += 10_001;
    l.serverTable.handleTimeout(l.now);
    l.pump();
    assert.equal(serverA.state, 'closed');
    move();
    assert.deepEqual(c.heldNamedTokens, ['x']);
  });
});

describe('regression (sim seed 188 with named tokens): sequenced control frames respect the retransmit budget', () => {
  test('a FINISH and a grant wait for acknowledgements when the budget is exactly full', () => {
    const budget = 64 * 1024;
    const p = new Pair({ limits: { retransmitBufferBytes: budget } });
    const service = new NamedTokenService();
    const a = p.a.conn.openSession(p.now);
    p.pump();
    p.b.conn.session(a.channel)?.accept(p.now, EMPTY, [], 0, { namedTokens: service.offer });
    p.pump();
    // 16 messages charged 4064 + 32 bytes each: the budget is used to the byte, nothing acknowledged.
    for (let i = 0; i < 16; i++) a.send(p.now, 'normal', new Uint8Array(4064));
    const held: Uint8Array[] = [];
    for (let b = p.a.conn.pollTransmit(); b; b = p.a.conn.pollTransmit()) held.push(b);
    assert.equal(a.retainedBytes - a.queuedBytes, budget);
    a.acquireNamedToken(p.now, 'x');
    a.release(p.now, EMPTY);
    assert.equal(p.a.conn.pollTransmit(), null, 'nothing more goes while the budget is full');
    assert.equal(a.retainedBytes - a.queuedBytes, budget);
    // The peer receives and acknowledges: the request and the release follow, in order.
    for (const b of held) p.b.conn.handleBytes(p.now, b);
    p.advance(50);
    const acquired = p.b.events.filter((e) => e.type === 'named-token-acquire');
    assert.equal(acquired.length, 1);
    assert.equal(a.state, 'releasing');
    p.b.conn.session(a.channel)?.respondRelease(p.now, true, EMPTY);
    p.advance(50);
    assert.equal(a.state, 'closed');
    assert.equal(a.closeReason?.kind, 'released');
  });
});
