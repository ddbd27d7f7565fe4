/**
 * `hasWork()` is what a connection asks before it gives a session a turn, so it must be exact:
 * whenever the link is quiet (nothing more could be written), no session may claim work, or its
 * driver spins; and whatever was held back (a closed window, an expedited message without room, a
 * paced replay) must still arrive once room comes back. Random sends of normal and expedited data
 * into a receiver that reads slowly (a 1 KiB window), cuts at any byte and resumes. Written from
 * the mutation survivors of session.ts (issue 18.5).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type Session, WINDOW_BYTES_FLOOR } from '@liaison/core';
import fc from 'fast-check';
import { Link } from './resume-link.js';

const command = fc.oneof(
  { arbitrary: fc.record({ t: fc.constant('send' as const), size: fc.integer({ min: 1, max: 3_000 }) }), weight: 5 },
  { arbitrary: fc.record({ t: fc.constant('expedited' as const), size: fc.integer({ min: 1, max: 14 }) }), weight: 2 },
  { arbitrary: fc.record({ t: fc.constant('consume' as const), count: fc.integer({ min: 1, max: 4 }) }), weight: 4 },
  { arbitrary: fc.record({ t: fc.constant('cut' as const), after: fc.integer({ min: 0, max: 4_000 }) }), weight: 1 },
  { arbitrary: fc.record({ t: fc.constant('wait' as const), ms: fc.integer({ min: 1, max: 50 }) }), weight: 2 },
);

function quiet(l: Link, sessions: Record<string, Session>, where: string): void {
  l.pump();
  for (const [side, s] of Object.entries(sessions)) {
    if (s.state === 'closed') continue;
    assert.equal(s.hasWork(), false, `${where}: the ${side} claims work on a quiet link (link ${s.link})`);
  }
}

function payload(size: number, tag: number): Uint8Array {
  const b = new Uint8Array(size);
  b.fill(tag & 0xff);
  return b;
}

describe('hasWork() on a quiet link', () => {
  test('no session claims work it cannot do, and everything held back arrives once room comes', () => {
    fc.assert(
      fc.property(fc.array(command, { minLength: 1, maxLength: 40 }), (commands) => {
        const l = new Link({ receiveWindowBytes: WINDOW_BYTES_FLOOR, ackDelayMs: 5 });
        l.held = [];
        const c = l.client.openSession(l.now);
        l.pump();
        const s = l.server.session(c.channel) as Session;
        const sent: number[] = [];
        let tag = 0;
        for (const [i, cmd] of commands.entries()) {
          const where = `command ${i} ${JSON.stringify(cmd)}`;
          if (cmd.t === 'send') {
            c.send(l.now, 'normal', payload(cmd.size, tag), true);
            sent.push(cmd.size);
          } else if (cmd.t === 'expedited') {
            c.send(l.now, 'expedited', payload(cmd.size, tag), true);
            sent.push(-cmd.size);
          } else if (cmd.t === 'consume') {
            for (const h of l.held.splice(0, cmd.count)) h.session.consume(l.now, h.credit);
          } else if (cmd.t === 'wait') {
            l.now += cmd.ms;
            l.client.handleTimeout(l.now);
            l.server.handleTimeout(l.now);
          } else {
            l.breakAndResume(c, cmd.after, 10);
          }
          tag++;
          quiet(l, { client: c, server: s }, where);
        }
        // Room comes back: everything arrives.
        const pending = () => l.held?.length || c.nextDeadline() !== null || s.nextDeadline() !== null;
        for (let round = 0; pending(); round++) {
          assert.ok(round < 1_000, 'the sessions settle');
          for (const h of l.held.splice(0)) h.session.consume(l.now, h.credit);
          const next = Math.min(c.nextDeadline() ?? Infinity, s.nextDeadline() ?? Infinity);
          if (next !== Infinity) l.now = Math.max(l.now, next);
          l.client.handleTimeout(l.now);
          l.server.handleTimeout(l.now);
          quiet(l, { client: c, server: s }, `drain round ${round}`);
        }
        const got = l.serverEvents.filter((e) => e.type === 'message');
        const sizes = got.map((e) =>
          e.type === 'message' ? (e.kind === 'expedited' ? -1 : 1) * e.data.byteLength : 0,
        );
        const sortBoth = (a: number[]) => [...a].sort((x, y) => x - y);
        assert.deepEqual(sortBoth(sizes), sortBoth(sent), 'every message arrived once');
        assert.deepEqual(
          sizes.filter((n) => n > 0),
          sent.filter((n) => n > 0),
          'normal data in order',
        );
        assert.equal(c.undeliveredMessages().length, 0);
      }),
      { numRuns: 150, seed: Number(process.env.LIAISON_SEED ?? 18_5) },
    );
  });
});
