/**
 * TLS and mutual TLS over real loopback sockets: certificates are made at test time with openssl.
 * The server and client take tls.createServer / tls.connect options; the peer certificate is on
 * the session; a session resumes over TLS after its connection is cut.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { connect, listen, type Server, type Session, SessionClosedError } from '@liaison/node';
import { FaultProxy, makePki, type TestPki, within } from '@liaison/testkit';
import { bytes, nextSession, text, track } from '../helpers.js';

let pki: TestPki;
before(() => {
  pki = makePki();
});
after(() => pki.remove());

async function tlsServer(t: import('node:test').TestContext, tls: object, extra: object = {}): Promise<Server> {
  const server = await listen('tls://127.0.0.1:0', {
    tls: { cert: pki.serverCert, key: pki.serverKey, ...tls },
    ...extra,
  });
  t.after(() => server.close());
  return server;
}

/** Echoes until the session ends; the end (the test's server closing) is not a failure. */
async function echoOnce(session: Session): Promise<void> {
  try {
    for await (const m of session) await session.send(m);
  } catch {}
}

describe('TLS', () => {
  test('a tls:// session: the client checks the server against its CA; messages flow both ways', async (t) => {
    const server = await tlsServer(t, {});
    assert.match(server.url, /^tls:\/\/127\.0\.0\.1:\d+$/);
    const client = track(t, connect(server.url, { tls: { ca: pki.ca } }));
    const accepted = nextSession(server);
    await within(client.ready, 5_000, 'ready');
    const s = await accepted;
    void echoOnce(s);
    await client.send('over tls');
    const [reply] = await within(firstMessages(client, 1), 5_000, 'echo');
    assert.equal(text(reply as Uint8Array), 'over tls');
    assert.equal(client.transport, 'tls');
    assert.equal(s.transport, 'tls');
    assert.equal(client.peerCertificate?.subject.CN, 'localhost');
    assert.equal(s.peerCertificate, null, 'no client certificate without mutual TLS');
    await client.close();
  });

  test('a server certificate the client does not trust: the session never opens, the reason names TLS', async (t) => {
    const server = await tlsServer(t, {});
    const client = track(t, connect(server.url, { resume: false }));
    const error = await within(
      client.ready.then(
        () => null,
        (e: unknown) => e,
      ),
      5_000,
      'refusal',
    );
    assert.ok(error instanceof SessionClosedError);
    assert.match(error.message, /certificate/i);
  });

  test('mutual TLS: the client certificate (subject, fingerprint) is on the server session', async (t) => {
    const server = await tlsServer(t, { ca: pki.ca, requestCert: true, rejectUnauthorized: true });
    const client = track(t, connect(server.url, { tls: { ca: pki.ca, cert: pki.clientCert, key: pki.clientKey } }));
    const s = await nextSession(server, 5_000);
    await within(client.ready, 5_000, 'ready');
    const cert = s.peerCertificate;
    assert.ok(cert);
    assert.equal(cert.subject.CN, 'alice');
    assert.match(cert.fingerprint256, /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    assert.equal(cert.authorized, true);
    await client.close();
  });

  test('mutual TLS: no client certificate, or one from an untrusted CA, never reaches liaison', async (t) => {
    const server = await tlsServer(t, { ca: pki.ca, requestCert: true, rejectUnauthorized: true });
    let sessions = 0;
    server.on('session', () => sessions++);
    for (const tls of [{ ca: pki.ca }, { ca: pki.ca, cert: pki.strangerCert, key: pki.strangerKey }]) {
      const client = track(t, connect(server.url, { tls, resume: false }));
      const error = await within(
        client.ready.then(
          () => null,
          (e: unknown) => e,
        ),
        5_000,
        'refusal',
      );
      assert.ok(error instanceof SessionClosedError, String(error));
    }
    assert.equal(sessions, 0);
  });

  test('per-address limits on TLS: a connection over the limit is closed before its handshake, the others go on', async (t) => {
    const server = await tlsServer(t, {}, { attackLimits: { connectionsPerAddressMax: 1 } });
    const refused: string[] = [];
    server.on('connection-refused', (r) => refused.push(r.reason));
    const first = track(t, connect(server.url, { tls: { ca: pki.ca } }));
    const s = await nextSession(server, 5_000);
    await within(first.ready, 5_000, 'first ready');
    const second = track(t, connect(server.url, { tls: { ca: pki.ca }, resume: false }));
    const error = await within(
      second.ready.then(
        () => null,
        (e: unknown) => e,
      ),
      5_000,
      'second refused',
    );
    assert.ok(error instanceof SessionClosedError);
    assert.equal(refused.length, 1);
    void echoOnce(s);
    await first.send('still fine');
    const [reply] = await within(firstMessages(first, 1), 5_000, 'echo');
    assert.equal(text(reply as Uint8Array), 'still fine');
  });

  test('a TLS session resumes after its connection is cut: nothing lost, nothing twice', {
    timeout: 30_000,
  }, async (t) => {
    const server = await tlsServer(t, {});
    const proxy = new FaultProxy({ target: { host: '127.0.0.1', port: server.address.port } });
    await proxy.start();
    t.after(() => proxy.stop());
    const client = track(
      t,
      connect(`tls://127.0.0.1:${proxy.address.port}`, { tls: { ca: pki.ca, servername: 'localhost' } }),
    );
    const s = await nextSession(server, 5_000);
    const got: string[] = [];
    const done = (async () => {
      for await (const m of s) got.push(text(m));
    })();
    let resumes = 0;
    client.on('resumed', () => resumes++);
    for (let i = 0; i < 200; i++) {
      await client.send(bytes(`m${i}`));
      if (i === 60 || i === 140) proxy.cutAll();
    }
    await within(client.close(), 15_000, 'release');
    await done;
    assert.deepEqual(
      got,
      Array.from({ length: 200 }, (_, i) => `m${i}`),
    );
    assert.ok(resumes >= 1, `resumed ${resumes} times`);
  });
});

async function firstMessages(s: Session, n: number): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  for await (const m of s) {
    out.push(m);
    if (out.length === n) break;
  }
  return out;
}
