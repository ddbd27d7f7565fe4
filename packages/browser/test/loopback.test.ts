/**
 * @liaison/browser over real loopback in Node: the `ws` package's WebSocket class stands in for
 * the browser's, against a real @liaison/node server on ws://. Echo both ways, a transport cut by
 * the server with every message delivered once and in order after the resume, write() and
 * 'drain', an orderly close, a refused connect, bad arguments.
 */
import assert from 'node:assert/strict';
import { describe, type TestContext, test } from 'node:test';
import {
  abortCodeName,
  type ConnectOptions,
  connect,
  type Session,
  SessionClosedError,
  SessionMessageEvent,
  type WebSocketConstructor,
} from '@liaison/browser';
import { closedPort, FaultProxy, within } from '@liaison/testkit';
import WebSocket from 'ws';
import { sleep, startEchoServer, text } from './harness.js';

const NodeWebSocket = WebSocket as unknown as WebSocketConstructor;

function open(t: TestContext, url: string, options: ConnectOptions = {}): Session {
  const session = connect(url, { WebSocket: NodeWebSocket, ...options });
  t.after(() => session.abort());
  return session;
}

/** The next `n` messages of a session, as text, through its iterator. */
async function receive(session: Session, n: number): Promise<string[]> {
  const out: string[] = [];
  for await (const m of session) {
    out.push(text(m));
    if (out.length === n) break;
  }
  return out;
}

describe('@liaison/browser over loopback', { timeout: 30_000 }, () => {
  test('connects and echoes messages both ways, to the iterator and to a message listener', async (t) => {
    const server = await startEchoServer(t);
    const client = open(t, server.url);
    await within(client.ready, 5_000, 'ready');
    assert.equal(client.state, 'open');
    assert.equal(client.transport, 'ws');
    await client.send('hello');
    await client.send(new Uint8Array([0xce, 0xbb]));
    assert.deepEqual(await within(receive(client, 2), 5_000, 'echoes'), ['hello', 'λ']);
    const heard: string[] = [];
    const heardAll = new Promise<void>((resolve) => {
      client.addEventListener('message', (e) => {
        assert.ok(e instanceof SessionMessageEvent);
        heard.push(text(e.data));
        if (heard.length === 3) resolve();
      });
    });
    for (const m of ['a', 'b', 'c']) await client.send(m);
    await within(heardAll, 5_000, 'echoes to the listener');
    assert.deepEqual(heard, ['a', 'b', 'c']);
    assert.deepEqual(server.received[0], ['hello', 'λ', 'a', 'b', 'c']);
  });

  test('the server cuts the transport mid-stream: the session resumes, every message once and in order', async (t) => {
    const server = await startEchoServer(t);
    const client = open(t, server.url, { backoff: { initialDelayMs: 10 } });
    const suspended: string[] = [];
    client.addEventListener('suspended', (e) => suspended.push(e.reason));
    let resumed = 0;
    client.addEventListener('resumed', () => resumed++);
    await within(client.ready, 5_000, 'ready');
    const COUNT = 300;
    const echoed = within(receive(client, COUNT), 20_000, 'every echo');
    for (let i = 0; i < COUNT; i++) {
      if (i === 100 || i === 200) assert.ok(server.cutAll() > 0, 'a socket to cut');
      if (i % 20 === 0) await sleep(10);
      await client.send(`${i} ${'.'.repeat(500)}`);
    }
    const got = await echoed;
    const expected = Array.from({ length: COUNT }, (_, i) => i);
    assert.deepEqual(
      got.map((m) => Number(m.split(' ')[0])),
      expected,
    );
    assert.equal(server.received.length, 1, 'one server-side session throughout');
    assert.deepEqual(
      server.received[0]?.map((m) => Number(m.split(' ')[0])),
      expected,
    );
    assert.ok(suspended.length >= 2, `suspended ${suspended.length} times`);
    assert.equal(resumed, suspended.length);
    assert.equal(client.stats.resumes, resumed);
    assert.equal(client.state, 'open');
  });

  test('the network stays down for a while: reconnect attempts fail, then one resumes with nothing lost', async (t) => {
    const server = await startEchoServer(t);
    const target = new URL(server.url);
    const proxy = new FaultProxy({ target: { host: '127.0.0.1', port: Number(target.port) } });
    await proxy.start();
    t.after(() => proxy.stop());
    const client = open(t, `ws://127.0.0.1:${proxy.address.port}/liaison`, {
      backoff: { initialDelayMs: 10, multiplier: 2, maxDelayMs: 80 },
    });
    await within(client.ready, 5_000, 'ready');
    await client.send('before');
    assert.deepEqual(await within(receive(client, 1), 5_000, 'first echo'), ['before']);
    await proxy.down('refuse', { cutExisting: true });
    await within(new Promise((r) => client.addEventListener('suspended', r, { once: true })), 5_000, 'suspended');
    for (let i = 0; i < 20; i++) void client.send(`while down ${i}`);
    await sleep(400); // several attempts are refused meanwhile
    assert.equal(client.link, 'suspended');
    assert.equal(client.state, 'open');
    await proxy.up();
    const echoed = await within(receive(client, 20), 10_000, 'echoes after the network came back');
    assert.deepEqual(
      echoed,
      Array.from({ length: 20 }, (_, i) => `while down ${i}`),
    );
    assert.equal(client.stats.resumes, 1);
    assert.equal(server.received.length, 1, 'one server-side session throughout');
  });

  test('past the resume window the session ends RESUME_WINDOW_EXPIRED and lists what was not delivered', async (t) => {
    const server = await startEchoServer(t);
    const target = new URL(server.url);
    const proxy = new FaultProxy({ target: { host: '127.0.0.1', port: Number(target.port) } });
    await proxy.start();
    t.after(() => proxy.stop());
    const client = open(t, `ws://127.0.0.1:${proxy.address.port}/liaison`, {
      // Given up at the window plus one handshake timeout (the initiator's grace for a last attempt).
      limits: { resumeWindowMs: 300, handshakeTimeoutMs: 300 },
      backoff: { initialDelayMs: 10, maxDelayMs: 50 },
    });
    await within(client.ready, 5_000, 'ready');
    await proxy.down('refuse', { cutExisting: true });
    await within(new Promise((r) => client.addEventListener('suspended', r, { once: true })), 5_000, 'suspended');
    const lost = client.send('never delivered');
    const reason = await within(client.closed, 5_000, 'given up');
    assert.equal(reason.kind, 'aborted');
    assert.equal(reason.kind === 'aborted' && abortCodeName(reason.code), 'RESUME_WINDOW_EXPIRED');
    assert.deepEqual(
      client.undeliveredMessages().map((m) => text(m.data)),
      ['never delivered'],
    );
    await lost; // it was accepted into the queue; the loss is reported by closed and undeliveredMessages()
  });

  test('write() says when to wait and "drain" says when to go on; nothing is lost', async (t) => {
    const server = await startEchoServer(t);
    const client = open(t, server.url);
    await within(client.ready, 5_000, 'ready');
    const big = 'x'.repeat(16 * 1024);
    const COUNT = 200;
    const echoed = within(receive(client, COUNT), 20_000, 'every echo');
    let waited = 0;
    for (let i = 0; i < COUNT; i++) {
      if (!client.write(`${i} ${big}`)) {
        waited++;
        await within(new Promise((r) => client.addEventListener('drain', r, { once: true })), 10_000, 'drain');
      }
    }
    const got = await echoed;
    assert.deepEqual(
      got.map((m) => Number(m.split(' ')[0])),
      Array.from({ length: COUNT }, (_, i) => i),
    );
    assert.ok(waited > 0, '3 MiB cannot all be taken at once');
  });

  test('close() is an orderly release: what was sent arrives first, then both sides end released', async (t) => {
    const server = await startEchoServer(t);
    const client = open(t, server.url);
    await within(client.ready, 5_000, 'ready');
    for (let i = 0; i < 10; i++) void client.send(`m${i}`);
    const reason = await within(client.close(), 5_000, 'close');
    assert.equal(reason.kind, 'released');
    assert.equal(client.state, 'closed');
    const serverSide = server.sessions[0];
    assert.ok(serverSide);
    assert.equal((await within(serverSide.closed, 5_000, 'server closed')).kind, 'released');
    assert.deepEqual(
      server.received[0],
      Array.from({ length: 10 }, (_, i) => `m${i}`),
    );
    await assert.rejects(client.send('late'), SessionClosedError);
  });

  test('auth.token reaches the server’s authenticate hook; a refused token rejects ready (SESSION_REFUSED)', async (t) => {
    const seen: string[] = [];
    const server = await startEchoServer(t, {
      listen: {
        authenticate: (credentials) => {
          const token = credentials.type === 'token' ? credentials.token : '';
          seen.push(token);
          return token === 'good' ? { id: 'alice' } : { refuse: true };
        },
      },
    });
    const alice = open(t, server.url, { auth: { token: 'good' } });
    await within(alice.ready, 5_000, 'accepted');
    assert.equal(server.sessions[0]?.principal?.id, 'alice');
    const mallory = open(t, server.url, { auth: { token: 'bad' }, resume: false });
    await assert.rejects(within(mallory.ready, 5_000, 'refused'), { code: 'ERR_LIAISON_SESSION_REFUSED' });
    assert.equal((await mallory.closed).kind, 'refused');
    assert.deepEqual(seen, ['good', 'bad']);
  });

  test('named tokens: acquire() waits in the server’s queue, releaseToken() passes the token on', async (t) => {
    const server = await startEchoServer(t);
    const a = open(t, server.url);
    const b = open(t, server.url);
    await within(Promise.all([a.ready, b.ready]), 5_000, 'both open');
    const granted: string[] = [];
    b.addEventListener('named-token-granted', (e) => granted.push(e.name));
    await within(a.acquire('printer'), 5_000, 'a granted');
    assert.deepEqual(a.heldTokens, ['printer']);
    let bHolds = false;
    const bGranted = b.acquire('printer').then(() => (bHolds = true));
    await sleep(50);
    assert.equal(bHolds, false, 'b waits while a holds the token');
    a.releaseToken('printer');
    await within(bGranted, 5_000, 'b granted after a released');
    assert.deepEqual(b.heldTokens, ['printer']);
    assert.deepEqual(a.heldTokens, []);
    assert.deepEqual(granted, ['printer']);
    const withdrawn = a.acquire('printer');
    await sleep(20);
    a.releaseToken('printer');
    await assert.rejects(withdrawn, { code: 'ERR_LIAISON_NAMED_TOKEN_REFUSED' });
    assert.throws(() => a.releaseToken('printer'), { code: 'ERR_LIAISON_NAMED_TOKEN_NOT_HELD' });
  });

  test('a refused connect rejects ready with a SessionClosedError (ERR_LIAISON_SESSION_ABORTED)', async (t) => {
    const port = await closedPort();
    const client = open(t, `ws://127.0.0.1:${port}/liaison`);
    const closes: string[] = [];
    client.addEventListener('close', (e) => closes.push(e.reason.kind));
    await assert.rejects(within(client.ready, 5_000, 'refused'), (e: unknown) => {
      assert.ok(e instanceof SessionClosedError);
      assert.equal(e.code, 'ERR_LIAISON_SESSION_ABORTED');
      return true;
    });
    assert.equal((await client.closed).kind, 'aborted');
    assert.deepEqual(closes, ['aborted']);
  });

  test('bad URLs and options are usage errors, thrown at once', () => {
    const usage = { code: 'ERR_LIAISON_INVALID_ARGUMENT' };
    assert.throws(() => connect('http://127.0.0.1:1/', { WebSocket: NodeWebSocket }), usage);
    assert.throws(() => connect('not a url', { WebSocket: NodeWebSocket }), usage);
    assert.throws(() => connect('ws://127.0.0.1:1/', { WebSocket: NodeWebSocket, units: ['nonsense'] }), usage);
    assert.throws(() => connect('ws://127.0.0.1:1/', { WebSocket: NodeWebSocket, backoff: { multiplier: 0 } }), usage);
    assert.throws(() => connect('ws://127.0.0.1:1/', { WebSocket: NodeWebSocket, auth: { token: '' } }), usage);
    assert.throws(
      () => connect('ws://127.0.0.1:1/', { WebSocket: NodeWebSocket, userData: 'x'.repeat(70_000) }),
      usage,
    );
    assert.throws(
      () => connect('ws://127.0.0.1:1/', { WebSocket: NodeWebSocket, limits: { noSuchLimitMs: 1 } as never }),
      usage,
    );
  });
});
