/**
 * `listen(url, { onSession })`: per-session code whose errors never crash the process. The
 * README's echo server used to be `for await (const s of server) (async () => { for await (const
 * m of s) await s.send(m); })()`, and a client that aborted made that loop throw an unhandled
 * SessionClosedError, which ends a Node process.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { connect, type Session, UsageError } from '@liaison/node';
import { startServer, text, track, within } from './helpers.js';

/** Collects unhandled rejections while a test runs (each one would crash a real server). */
function unhandled(t: { after: (fn: () => void) => void }): unknown[] {
  const seen: unknown[] = [];
  const listener = (e: unknown) => seen.push(e);
  process.on('unhandledRejection', listener);
  t.after(() => process.off('unhandledRejection', listener));
  return seen;
}

describe('onSession', { timeout: 20_000 }, () => {
  test('regression: an echo loop in onSession survives clients that abort (README echo server crashed)', async (t) => {
    const rejections = unhandled(t);
    const errors: Error[] = [];
    const ended: Session[] = [];
    const server = await startServer(t, {
      onSession: async (session) => {
        try {
          for await (const message of session) await session.send(message);
        } finally {
          ended.push(session);
        }
      },
    });
    server.on('session-error', (e) => errors.push(e));

    // One client aborts while the server waits for its next message, one while the server
    // still has its messages to echo (the echo's send() then rejects: the session is over).
    const a = track(t, connect(server.url));
    await within(a.send('ping'), 2_000, 'send');
    const it = a[Symbol.asyncIterator]();
    assert.equal(text((await within(it.next(), 2_000, 'echo')).value), 'ping');
    a.abort();
    const b = track(t, connect(server.url));
    await within(b.ready, 2_000, 'b ready');
    for (let i = 0; i < 200; i++) void b.send(`m${i}`).catch(() => {});
    b.abort();
    await within(
      (async () => {
        while (ended.length < 2) await new Promise((r) => setTimeout(r, 5));
      })(),
      3_000,
      'both handlers ended',
    );
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(rejections, []);
    assert.deepEqual(errors, [], 'a peer abort is the end of a conversation, not a handler error');
    for (const s of ended) assert.equal(s.closeReason?.kind, 'aborted');

    // The server goes on serving.
    const c = track(t, connect(server.url));
    await within(c.send('still here'), 2_000, 'send');
    for await (const m of c) {
      assert.equal(text(m), 'still here');
      break;
    }
    await within(c.close(), 2_000, 'release');
  });

  test('a handler that throws aborts its session and emits session-error, not a crash', async (t) => {
    const rejections = unhandled(t);
    const bug = new UsageError('ERR_LIAISON_INVALID_ARGUMENT', 'a bug in the handler');
    const server = await startServer(t, {
      onSession: async (session) => {
        for await (const _ of session) throw bug;
      },
    });
    const reported = new Promise<[Error, Session]>((resolve) =>
      server.once('session-error', (e, s) => resolve([e, s])),
    );
    const client = track(t, connect(server.url));
    await within(client.send('x'), 2_000, 'send');
    const [error, session] = await within(reported, 2_000, 'session-error');
    assert.equal(error, bug);
    assert.equal((await within(session.closed, 2_000, 'server session closed')).kind, 'aborted');
    const reason = await within(client.closed, 2_000, 'client closed');
    assert.ok(reason.kind === 'aborted' && reason.origin === 'peer');
    assert.deepEqual(rejections, []);
  });

  test('without a session-error listener the error is a process warning', async (t) => {
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on('warning', onWarning);
    t.after(() => process.off('warning', onWarning));
    const server = await startServer(t, {
      onSession: () => {
        throw new Error('sync throw');
      },
    });
    const client = track(t, connect(server.url));
    await within(client.closed, 2_000, 'client closed');
    await within(
      (async () => {
        while (warnings.length === 0) await new Promise((r) => setTimeout(r, 5));
      })(),
      2_000,
      'warning',
    );
    assert.equal(warnings[0]?.message, 'sync throw');
  });

  test('sessions handled by onSession are not queued for server iteration', async (t) => {
    const server = await startServer(t, { onSession: () => {} });
    const client = track(t, connect(server.url));
    await within(client.ready, 2_000, 'ready');
    const it = server[Symbol.asyncIterator]();
    const next = it.next();
    const raced = await Promise.race([next.then(() => 'queued'), new Promise((r) => setTimeout(() => r('none'), 100))]);
    assert.equal(raced, 'none');
  });
});
