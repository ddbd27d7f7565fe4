/**
 * The session table's own rules: the earliest deadline of all parked sessions, a resume window that
 * failed attempts do not extend, the shutdown that expires every parked session. Written from the
 * mutants that survived the recovery tests (docs/TESTING.md, "Mutation testing").
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { AbortCode, type Session, SessionTable } from '@liaison/core';
import { establish, Pair } from './harness.js';
import { seededRandom } from './seeded-random.js';

const WINDOW_MS = 10_000;
/** An initiator tries one handshake timeout (default 10 s) past its window (PROTOCOL 16.8). */
const CLIENT_DEADLINE_MS = WINDOW_MS + 10_000;

class Tables {
  readonly client = new SessionTable({ resumeWindowMs: WINDOW_MS, suspendedBytesMax: 1 << 30 });
  readonly server = new SessionTable({ resumeWindowMs: WINDOW_MS, suspendedBytesMax: 1 << 30 });
  readonly random = seededRandom(11);

  /** A connection pair whose sessions park in these tables, at virtual time `now`. */
  pair(now: number): Pair {
    const p = new Pair({
      initiator: { table: this.client, random: this.random },
      responder: { table: this.server, random: this.random },
    });
    p.now = now;
    return p;
  }
}

/** An established session of `p`, as the initiator sees it. */
function opened(p: Pair): Session {
  const s = p.a.conn.session(establish(p)) as Session;
  assert.ok(s.sessionId, 'recovery agreed');
  return s;
}

function abortOf(s: Session): { code: AbortCode; message: string } {
  const r = s.closeReason;
  assert.ok(r?.kind === 'aborted', `aborted, not ${r?.kind}`);
  return { code: r.code, message: r.message };
}

describe('session table', () => {
  test('an empty table has no event and no deadline', () => {
    const t = new SessionTable({ resumeWindowMs: WINDOW_MS, suspendedBytesMax: 1 << 20 });
    assert.equal(t.pollEvent(), null);
    assert.equal(t.pollTimeout(), null);
  });

  test('its deadline is the earliest of its parked sessions', () => {
    const tables = new Tables();
    const first = tables.pair(0);
    opened(first);
    const second = tables.pair(0);
    opened(second);
    second.now = 3_000;
    second.cut();
    first.cut(); // parked later in the map, but its window started first
    assert.equal(tables.client.parkedCount, 2);
    assert.equal(tables.client.pollTimeout(), CLIENT_DEADLINE_MS);
    assert.equal(tables.server.pollTimeout(), WINDOW_MS);
  });

  test('a failed resume attempt leaves the session parked for what remained of its window', () => {
    const tables = new Tables();
    const p = tables.pair(0);
    const s = opened(p);
    p.cut();
    assert.equal(tables.client.pollTimeout(), CLIENT_DEADLINE_MS);
    const retry = tables.pair(4_000);
    retry.linkUp = false;
    retry.a.conn.resumeSession(retry.now, s);
    assert.equal(tables.client.parkedCount, 0, 'adopted by the new connection');
    retry.cut(); // the attempt never got through
    assert.equal(tables.client.parkedCount, 1);
    assert.equal(tables.client.pollTimeout(), CLIENT_DEADLINE_MS, 'not 4 s later');
    tables.client.handleTimeout(CLIENT_DEADLINE_MS);
    assert.deepEqual(abortOf(s), {
      code: AbortCode.RESUME_WINDOW_EXPIRED,
      message: 'not resumed within the resume window',
    });
    assert.equal(tables.client.pollTimeout(), null);
  });

  test('expireAll ends every parked session with the code and message given', () => {
    const tables = new Tables();
    const a = tables.pair(0);
    const sa = opened(a);
    const b = tables.pair(0);
    const sb = opened(b);
    a.cut();
    b.cut();
    tables.client.expireAll(5, AbortCode.RESUME_WINDOW_EXPIRED, 'shutting down');
    assert.equal(tables.client.parkedCount, 0);
    for (const s of [sa, sb]) {
      assert.equal(s.state, 'closed');
      assert.equal(abortOf(s).message, 'shutting down');
    }
  });

  test('over its memory budget the oldest parked session ends, saying why', () => {
    const random = seededRandom(12);
    const small = new SessionTable({ resumeWindowMs: WINDOW_MS, suspendedBytesMax: 3000 });
    const server = new SessionTable({ resumeWindowMs: WINDOW_MS, suspendedBytesMax: 1 << 30 });
    const pair = () => new Pair({ initiator: { table: small, random }, responder: { table: server, random } });
    const p = pair();
    const q = pair();
    const older = opened(p);
    const newer = opened(q);
    p.cut();
    assert.equal(small.parkedCount, 1);
    q.cut();
    assert.equal(small.parkedCount, 1);
    assert.equal(newer.state, 'open');
    assert.deepEqual(abortOf(older), {
      code: AbortCode.RESUME_BUDGET_EXCEEDED,
      message: 'suspended sessions exceeded their memory budget',
    });
  });
});
