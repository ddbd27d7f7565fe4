/**
 * ws:// and wss:// over real loopback sockets: echo, TLS, a listener attached to an application's
 * http.Server on one path, the upgrade request's headers in the authenticate hook, recovery through
 * a fault proxy, Noise inside WebSocket, a text message turned away, and one server on tcp:// and
 * ws:// at once with a session resuming from one to the other.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer as createHttpServer, type Server as HttpServer, get as httpGet } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, type TestContext, test } from 'node:test';
import {
  type ConnectionFacts,
  connect,
  generateNoiseKeyPair,
  type ListenOptions,
  listen,
  type Server,
  type Session,
} from '@liaison/node';
import { FaultProxy, makePki, type TestPki, within } from '@liaison/testkit';
import WebSocket, { WebSocketServer } from 'ws';
import { echoServer, nextSession, sleep, text, track, waitFor } from './helpers.js';

async function startServer(t: TestContext, url: string | string[], options: ListenOptions = {}): Promise<Server> {
  const server = await listen(url, options);
  t.after(() => server.close());
  return server;
}

/** The next `n` messages a session receives, as text. */
async function receive(session: Session, n: number): Promise<string[]> {
  const out: string[] = [];
  if (n === 0) return out;
  for await (const m of session) {
    out.push(text(m));
    if (out.length === n) break;
  }
  return out;
}

async function echoes(t: TestContext, url: string, options = {}, message = 'hello'): Promise<Session> {
  const client = track(t, connect(url, options));
  await within(client.ready, 5_000, `ready on ${url}`);
  await client.send(message);
  assert.deepEqual(await within(receive(client, 1), 5_000, `echo on ${url}`), [message]);
  return client;
}

/** GET on a local HTTP server: status and body. */
async function httpGetText(port: number, path: string): Promise<{ status: number; body: string }> {
  const res = await within(
    new Promise<import('node:http').IncomingMessage>((resolve, reject) => {
      httpGet({ host: '127.0.0.1', port, path }, resolve).on('error', reject);
    }),
    5_000,
    `GET ${path}`,
  );
  let body = '';
  for await (const chunk of res) body += chunk;
  return { status: res.statusCode ?? 0, body };
}

async function startHttp(t: TestContext, handler: (path: string) => string): Promise<HttpServer> {
  const http = createHttpServer((req, res) => res.end(handler(req.url ?? '/')));
  const sockets = new Set<import('node:net').Socket>();
  http.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  http.listen(0, '127.0.0.1');
  await once(http, 'listening');
  // Upgraded sockets keep an http.Server open: the test's end closes them too.
  t.after(() => {
    for (const socket of sockets) socket.destroy();
    return new Promise<void>((resolve) => http.close(() => resolve()));
  });
  return http;
}

let pki: TestPki;
before(() => {
  pki = makePki();
});
after(() => pki.remove());

describe('WebSocket transport', () => {
  test('ws:// echo: the URL keeps its path and real port; both sides see transport ws', async (t) => {
    const server = await startServer(t, 'ws://127.0.0.1:0/liaison');
    assert.match(server.url, /^ws:\/\/127\.0\.0\.1:\d+\/liaison$/);
    assert.notEqual(server.address.port, 0);
    const accepted = nextSession(server);
    const client = track(t, connect(server.url));
    const s = await accepted;
    void (async () => {
      for await (const m of s) await s.send(m);
    })().catch(() => {});
    await within(client.ready, 5_000, 'ready');
    for (const m of ['one', 'two', 'x'.repeat(200_000)]) await client.send(m);
    const got = await within(receive(client, 3), 5_000, 'echoes');
    assert.deepEqual(got, ['one', 'two', 'x'.repeat(200_000)]);
    assert.equal(client.transport, 'ws');
    assert.equal(s.transport, 'ws');
    const closed = await within(client.close(), 5_000, 'release');
    assert.equal(closed.kind, 'released');
  });

  test('its own HTTP server answers other requests 426 and upgrades on other paths 404', async (t) => {
    const server = await startServer(t, 'ws://127.0.0.1:0/liaison');
    const plain = await httpGetText(server.address.port, '/liaison');
    assert.equal(plain.status, 426);
    const elsewhere = new WebSocket(`ws://127.0.0.1:${server.address.port}/other`);
    elsewhere.on('error', () => {}); // terminate() before the upgrade reports one
    const [, res] = await within(once(elsewhere, 'unexpected-response'), 5_000, 'answer to /other');
    assert.equal((res as import('node:http').IncomingMessage).statusCode, 404);
    elsewhere.terminate();
  });

  test('wss:// with the testkit PKI: the client checks the server against its CA', async (t) => {
    const server = await startServer(t, 'wss://127.0.0.1:0/', { tls: { cert: pki.serverCert, key: pki.serverKey } });
    assert.match(server.url, /^wss:\/\/127\.0\.0\.1:\d+\/$/);
    echoServer(server);
    const client = await echoes(t, server.url, { tls: { ca: pki.ca } }, 'over wss');
    assert.equal(client.transport, 'wss');
    const untrusted = track(t, connect(server.url, { resume: false }));
    await assert.rejects(within(untrusted.ready, 5_000, 'untrusted'), /certificate/i);
  });

  test('attached to an existing http.Server on a path: plain HTTP and other upgrades stay the application’s', async (t) => {
    const http = await startHttp(t, (path) => `app says ${path}`);
    const appWss = new WebSocketServer({ noServer: true });
    http.on('upgrade', (req, socket, head) => {
      if (req.url !== '/chat') return;
      appWss.handleUpgrade(req, socket, head, (ws) => ws.send('app websocket'));
    });
    const port = (http.address() as AddressInfo).port;
    const server = await startServer(t, 'ws://127.0.0.1/liaison', { httpServer: http });
    assert.equal(server.url, `ws://127.0.0.1:${port}/liaison`);
    echoServer(server);
    await echoes(t, server.url);
    assert.deepEqual(await httpGetText(port, '/health'), { status: 200, body: 'app says /health' });
    const chat = new WebSocket(`ws://127.0.0.1:${port}/chat`);
    t.after(() => chat.terminate());
    const [message] = await within(once(chat, 'message'), 5_000, 'app websocket message');
    assert.equal(String(message), 'app websocket');

    await server.close();
    assert.deepEqual(await httpGetText(port, '/health'), { status: 200, body: 'app says /health' });
    assert.ok(http.listening, 'closing the liaison server leaves the application’s server running');
  });

  test('the authenticate hook sees the upgrade request’s headers (a cookie)', async (t) => {
    const seen: ConnectionFacts[] = [];
    const server = await startServer(t, 'ws://127.0.0.1:0/liaison', {
      authenticate: (_credentials, facts) => {
        seen.push(facts);
        return facts.headers?.cookie === 'sid=good' ? { id: 'alice' } : { refuse: true };
      },
    });
    echoServer(server);
    await echoes(t, server.url, { headers: { cookie: 'sid=good' } });
    assert.equal(seen[0]?.transport, 'ws');
    assert.equal(seen[0]?.headers?.cookie, 'sid=good');
    const refused = track(t, connect(server.url, { headers: { cookie: 'sid=bad' }, resume: false }));
    await assert.rejects(within(refused.ready, 5_000, 'refused'), { code: 'ERR_LIAISON_SESSION_REFUSED' });
  });

  test('origins: a browser upgrade from an unlisted page origin is answered 403; listed and origin-less ones open', async (t) => {
    const server = await startServer(t, 'ws://127.0.0.1:0/liaison', { origins: ['https://app.example'] });
    echoServer(server);
    await echoes(t, server.url, { headers: { origin: 'https://app.example' } });
    await echoes(t, server.url); // no Origin: not a browser, not a cross-site page
    const foreign = new WebSocket(server.url, { headers: { origin: 'https://evil.example' } });
    const [, response] = (await within(once(foreign, 'unexpected-response'), 5_000, '403')) as [
      unknown,
      import('node:http').IncomingMessage,
    ];
    assert.equal(response.statusCode, 403);
    foreign.on('error', () => {}); // terminating an upgrade that was answered 403
    foreign.terminate();
    assert.equal(server.sessions.size, 2);
  });

  test('cut mid-stream by a fault proxy: the session resumes over a new WebSocket, every message once', {
    timeout: 30_000,
  }, async (t) => {
    const server = await startServer(t, 'ws://127.0.0.1:0/liaison');
    const proxy = new FaultProxy({ target: server.address, cutAfterMs: [100, 250] });
    await proxy.start();
    t.after(() => proxy.stop());
    const accepted = nextSession(server);
    const client = track(t, connect(`ws://127.0.0.1:${proxy.address.port}/liaison`));
    const s = await accepted;
    await within(client.ready, 5_000, 'ready');
    const COUNT = 300;
    const arrived = within(receive(s, COUNT), 20_000, 'every message');
    // Paced over about a second, so that cuts fall inside the stream.
    for (let i = 0; i < COUNT; i++) {
      if (i % 10 === 0) await sleep(20);
      await client.send(`${i} ${'.'.repeat(1_000)}`);
    }
    const got = await arrived;
    assert.deepEqual(
      got.map((m) => Number(m.split(' ')[0])),
      Array.from({ length: COUNT }, (_, i) => i),
    );
    assert.ok(proxy.counters.cuts >= 2, `cut ${proxy.counters.cuts} times`);
    assert.ok(client.stats.resumes >= 2, `resumed ${client.stats.resumes} times`);
    assert.equal(client.transport, 'ws');
  });

  test('Noise inside ws://: the session is encrypted end to end', async (t) => {
    const keys = generateNoiseKeyPair();
    const server = await startServer(t, 'ws://127.0.0.1:0/', { noise: { staticKey: keys.privateKey } });
    echoServer(server);
    const client = await echoes(t, server.url, { noise: { remoteStaticKey: keys.publicKey } });
    assert.equal(client.noisePattern, 'IK');
  });

  test('a text message from a raw WebSocket client: closed (1003) with a reason; other sessions go on', async (t) => {
    const server = await startServer(t, 'ws://127.0.0.1:0/liaison');
    echoServer(server);
    const errors: Error[] = [];
    server.on('connection-error', (e) => errors.push(e));
    const client = await echoes(t, server.url);
    const raw = new WebSocket(server.url);
    t.after(() => raw.terminate());
    await within(once(raw, 'open'), 5_000, 'raw open');
    raw.send('not liaison');
    const [code, reason] = await within(once(raw, 'close'), 5_000, 'raw closed');
    assert.equal(code, 1003);
    assert.match(String(reason), /binary/);
    await waitFor(() => errors.length > 0, 2_000, 'connection-error');
    assert.match(errors[0]?.message ?? '', /text WebSocket message/);
    await client.send('still here');
    assert.deepEqual(await within(receive(client, 1), 5_000, 'echo after'), ['still here']);
  });

  test('one server on tcp:// and ws:// at once; a session started over tcp:// resumes over ws://', {
    timeout: 20_000,
  }, async (t) => {
    const server = await startServer(t, ['tcp://127.0.0.1:0', 'ws://127.0.0.1:0/liaison']);
    const [tcpUrl, wsUrl] = server.urls as [string, string];
    assert.match(tcpUrl, /^tcp:\/\/127\.0\.0\.1:\d+$/);
    assert.match(wsUrl, /^ws:\/\/127\.0\.0\.1:\d+\/liaison$/);
    assert.equal(server.url, tcpUrl);
    echoServer(server);
    assert.equal((await echoes(t, tcpUrl)).transport, 'tcp');
    assert.equal((await echoes(t, wsUrl)).transport, 'ws');

    // The tcp:// path goes through a proxy that is then cut: the resume goes to ws://.
    const proxy = new FaultProxy({ target: server.address });
    await proxy.start();
    t.after(() => proxy.stop());
    const moving = await echoes(t, proxy.url, { resumeUrls: [wsUrl] }, 'before');
    assert.equal(moving.transport, 'tcp');
    // Both ends name the session by the same id; the server finds it by that id.
    const id = moving.id;
    assert.match(id ?? '', /^[0-9a-f]{32,}$/);
    const held = server.sessions.get(id as string);
    assert.equal(held?.id, id);
    assert.equal(server.sessions.size, 3);
    assert.equal([...server.sessions].filter((s) => s === held).length, 1);
    const resumed = once(moving, 'resumed');
    proxy.cutAll();
    await within(resumed, 5_000, 'resumed');
    assert.equal(moving.transport, 'ws');
    assert.equal(moving.id, id, 'the id survives the resume');
    assert.equal(server.sessions.get(id as string), held, 'the same server session, now on ws://');
    assert.equal(held?.transport, 'ws');
    assert.equal(server.sessions.get('00'), undefined);
    await moving.send('after');
    assert.deepEqual(await within(receive(moving, 1), 5_000, 'echo after the move'), ['after']);
    assert.equal(server.resumableSessions, 3);
  });

  test('bad URLs and options are usage errors', async () => {
    await assert.rejects(listen('wss://127.0.0.1/', { httpServer: createHttpServer() }), {
      code: 'ERR_LIAISON_INVALID_ARGUMENT',
    });
    await assert.rejects(listen(['tcp://127.0.0.1:0'], { httpServer: createHttpServer() }), {
      code: 'ERR_LIAISON_INVALID_ARGUMENT',
    });
    await assert.rejects(listen('wss://127.0.0.1:0/'), { code: 'ERR_LIAISON_INVALID_ARGUMENT' });
    await assert.rejects(listen([]), { code: 'ERR_LIAISON_INVALID_ARGUMENT' });
    assert.throws(() => connect('http://127.0.0.1:1/'), { code: 'ERR_LIAISON_INVALID_ARGUMENT' });
  });
});
