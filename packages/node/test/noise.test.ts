/**
 * Noise over real loopback sockets: XX and IK sessions, resume across cuts, and the attacks of
 * issue 5 at the Noise stage (tampered records, downgrades, truncated, reordered, replayed and
 * slow-drip handshakes), each refused or closed with a reason while a legitimate session on
 * another connection keeps working. Every wait is bounded.
 */
import assert from 'node:assert/strict';
import { connect as netConnect, type Socket } from 'node:net';
import { describe, type TestContext, test } from 'node:test';
import {
  AbortCode,
  connect,
  generateNoiseKeyPair,
  type ListenOptions,
  Pool,
  ProtocolError,
  type Server,
  type Session,
  SessionClosedError,
  TimeoutError,
} from '@liaison/node';
import { NoiseVariant } from '@liaison/node/engine';
import { FaultProxy } from '@liaison/testkit';
import { echoServer, startServer, text, track, waitFor, within } from './helpers.js';
import { startMitm } from './mitm.js';

const serverKeys = generateNoiseKeyPair();
const clientKeys = generateNoiseKeyPair();
const NOISE: ListenOptions = { noise: { staticKey: serverKeys.privateKey } };

const iterators = new WeakMap<Session, AsyncIterator<Uint8Array>>();

/** Sends `message` and reads the next message (one iterator per session, kept across calls). */
async function echoOnce(session: Session, message: string): Promise<string> {
  let it = iterators.get(session);
  if (!it) {
    it = session[Symbol.asyncIterator]();
    iterators.set(session, it);
  }
  await session.send(message);
  const r = await within(it.next(), 5_000, `echo of ${message}`);
  assert.ok(!r.done);
  return text(r.value);
}

/** Collects the server's connection errors. */
function errors(server: Server): Error[] {
  const out: Error[] = [];
  server.on('connection-error', (e) => out.push(e));
  return out;
}

/** A session on its own connection that must keep working through an attack on another. */
async function bystander(t: TestContext, server: Server): Promise<Session> {
  const s = track(t, connect(server.url, { noise: {} }));
  await within(s.ready, 5_000, 'bystander ready');
  assert.equal(await echoOnce(s, 'before'), 'before');
  return s;
}

const rejection = async (p: Promise<unknown>): Promise<SessionClosedError> => {
  const e = await within(
    p.then(
      () => null,
      (err: unknown) => err,
    ),
    5_000,
    'rejection',
  );
  assert.ok(e instanceof SessionClosedError, `rejected with ${e}`);
  return e;
};
const abortCode = (e: SessionClosedError) => (e.reason.kind === 'aborted' ? e.reason.code : null);

describe('noise sessions over sockets', () => {
  test('XX: first contact; both ends see the other static key and the pattern', async (t) => {
    const server = await startServer(t, NOISE);
    const accepted: Session[] = [];
    server.on('session', (s) => accepted.push(s));
    echoServer(server);
    const client = track(t, connect(server.url, { noise: { staticKey: clientKeys.privateKey } }));
    await within(client.ready, 5_000, 'ready');
    assert.equal(await echoOnce(client, 'hello'), 'hello');
    assert.equal(client.noisePattern, 'XX');
    assert.deepEqual(client.peerStaticKey, serverKeys.publicKey);
    await waitFor(() => accepted.length === 1, 2_000, 'server session');
    assert.deepEqual(accepted[0]?.peerStaticKey, clientKeys.publicKey);
    assert.equal(accepted[0]?.noisePattern, 'XX');
  });

  test('IK: the client pins the server key; a wrong key gets no session', async (t) => {
    const server = await startServer(t, NOISE);
    const errs = errors(server);
    echoServer(server);
    const client = track(t, connect(server.url, { noise: { remoteStaticKey: serverKeys.publicKey } }));
    await within(client.ready, 5_000, 'ready');
    assert.equal(client.noisePattern, 'IK');
    assert.equal(await echoOnce(client, 'pinned'), 'pinned');
    const wrong = track(t, connect(server.url, { noise: { remoteStaticKey: clientKeys.publicKey }, resume: false }));
    await rejection(wrong.ready);
    await waitFor(() => errs.length > 0, 2_000, 'server reports the failed handshake');
    assert.ok(errs[0] instanceof ProtocolError && errs[0].wireCode === AbortCode.NOISE_HANDSHAKE_FAILED);
    assert.equal(await echoOnce(client, 'still here'), 'still here');
  });

  for (const pattern of ['XX', 'IK'] as const) {
    test(`${pattern}: a session resumes across proxy cuts and loses nothing`, async (t) => {
      const server = await startServer(t, NOISE);
      echoServer(server);
      const proxy = new FaultProxy({ target: server.address });
      await proxy.start();
      t.after(() => proxy.stop());
      const noise = pattern === 'IK' ? { remoteStaticKey: serverKeys.publicKey } : {};
      const client = track(t, connect(proxy.url, { noise }));
      await within(client.ready, 5_000, 'ready');
      const got: string[] = [];
      client.on('message', (m) => got.push(text(m)));
      for (let round = 0; round < 3; round++) {
        for (let i = 0; i < 20; i++) void client.send(`r${round}-${i}`);
        await waitFor(() => got.length >= (round + 1) * 10, 5_000, 'some echoes');
        proxy.cutAll();
      }
      await waitFor(() => got.length === 60, 10_000, 'every echo');
      assert.deepEqual(
        got,
        Array.from({ length: 60 }, (_, k) => `r${Math.floor(k / 20)}-${k % 20}`),
      );
      assert.ok(client.stats.resumes >= 1, `resumed ${client.stats.resumes} times`);
      assert.equal(client.noisePattern, pattern);
      const reason = await within(client.close(), 5_000, 'release');
      assert.equal(reason.kind, 'released');
    });
  }

  test('a pool never puts a Noise session on a plaintext connection (or the reverse)', async (t) => {
    const server = await startServer(t, { noise: { staticKey: serverKeys.privateKey, require: false } });
    echoServer(server);
    const pool = new Pool();
    t.after(() => pool.close());
    const plain = connect(server.url, { pool });
    const secret = connect(server.url, { pool, noise: {} });
    const pinned = connect(server.url, { pool, noise: { remoteStaticKey: serverKeys.publicKey } });
    const secret2 = connect(server.url, { pool, noise: {} });
    await within(Promise.all([plain.ready, secret.ready, pinned.ready, secret2.ready]), 5_000, 'ready');
    assert.equal(pool.connectionCount, 3);
    assert.equal(plain.noisePattern, null);
    assert.equal(secret.noisePattern, 'XX');
    assert.equal(secret2.noisePattern, 'XX');
    assert.equal(pinned.noisePattern, 'IK');
    assert.equal(await echoOnce(secret2, 'shared'), 'shared');
  });

  test('rekeying after noiseRekeyBytes: a megabyte each way arrives whole', async (t) => {
    const limits = { noiseRekeyBytes: 16 * 1024 };
    const server = await startServer(t, { ...NOISE, limits });
    echoServer(server);
    const client = track(t, connect(server.url, { noise: {}, limits }));
    await within(client.ready, 5_000, 'ready');
    const message = new Uint8Array(64 * 1024).map((_, i) => i * 7);
    let echoed = 0;
    client.on('message', (m) => {
      assert.deepEqual(m, message);
      echoed++;
    });
    for (let i = 0; i < 16; i++) await client.send(message);
    await waitFor(() => echoed === 16, 10_000, 'echoes');
  });
});

describe('noise attacks over sockets', () => {
  test('a tampered record closes that connection with a reason; the session resumes, others unaffected', async (t) => {
    const server = await startServer(t, NOISE);
    const errs = errors(server);
    echoServer(server);
    const other = await bystander(t, server);
    const mitm = await startMitm(t, server.address, (_, c) => c);
    const client = track(t, connect(mitm.url, { noise: {} }));
    await within(client.ready, 5_000, 'ready');
    assert.equal(await echoOnce(client, 'one'), 'one');
    mitm.rewrite = (fromClient, chunk) => {
      if (!fromClient) return chunk;
      mitm.rewrite = (_, c) => c;
      const out = Buffer.from(chunk);
      out[out.length - 1] = (out[out.length - 1] as number) ^ 0x80;
      return out;
    };
    assert.equal(await echoOnce(client, 'two'), 'two', 'delivered after the resume');
    assert.ok(client.stats.resumes >= 1);
    const tampered = errs.find((e) => e instanceof ProtocolError && e.wireCode === AbortCode.NOISE_RECORD_INVALID);
    assert.ok(tampered, `server errors: ${errs.map((e) => e.message)}`);
    assert.match(tampered.message, /authentication/);
    assert.equal(await echoOnce(other, 'after'), 'after');
  });

  test('downgrade: a man in the middle strips Noise; the client refuses the plaintext answer', async (t) => {
    const server = await startServer(t, { noise: { staticKey: serverKeys.privateKey, require: false } });
    echoServer(server);
    const mitm = await startMitm(t, server.address, (fromClient, chunk) => {
      if (fromClient && chunk[0] === 0x4c && chunk[3] === NoiseVariant.XX) {
        return Buffer.concat([Buffer.from([0x4c, 0x53, 0x4e, 0x01])]); // plaintext preface, handshake dropped
      }
      return chunk;
    });
    const client = track(t, connect(mitm.url, { noise: {}, resume: false }));
    const e = await rejection(client.ready);
    assert.equal(abortCode(e), AbortCode.NOISE_DOWNGRADE);
    assert.match(e.message, /plaintext/);
  });

  test('downgrade: a changed pattern (IK rewritten to XX) fails the handshake', async (t) => {
    const server = await startServer(t, NOISE);
    const errs = errors(server);
    const mitm = await startMitm(t, server.address, (fromClient, chunk) => {
      const out = Buffer.from(chunk);
      if (out[0] === 0x4c && out[1] === 0x53 && out.length >= 4)
        out[3] = fromClient ? NoiseVariant.XX : NoiseVariant.IK;
      return out;
    });
    const client = track(t, connect(mitm.url, { noise: { remoteStaticKey: serverKeys.publicKey }, resume: false }));
    // The server finds the handshake does not fit the rewritten preface and drops the connection.
    const e = await rejection(client.ready);
    assert.match(e.message, /during the noise handshake/);
    await waitFor(() => errs.length === 1, 2_000, 'reported');
    assert.ok(errs[0] instanceof ProtocolError && errs[0].wireCode === AbortCode.NOISE_HANDSHAKE_FAILED);
  });

  test('a server that requires Noise refuses a plaintext client with that reason', async (t) => {
    const server = await startServer(t, NOISE);
    const client = track(t, connect(server.url, { resume: false }));
    const e = await rejection(client.ready);
    assert.equal(abortCode(e), AbortCode.NOISE_REQUIRED);
  });

  test('a Noise client never falls back to a plaintext server', async (t) => {
    const server = await startServer(t);
    const client = track(t, connect(server.url, { noise: {}, resume: false }));
    const e = await rejection(client.ready);
    assert.equal(abortCode(e), AbortCode.NOISE_DOWNGRADE);
  });

  test('slow-drip and truncated handshakes are cut by the handshake timeout', async (t) => {
    const server = await startServer(t, { ...NOISE, limits: { handshakeTimeoutMs: 600 } });
    const errs = errors(server);
    echoServer(server);
    const other = await bystander(t, server);
    const drip = raw(t, server);
    drip.write(Buffer.from([0x4c, 0x53, 0x4e, NoiseVariant.XX, 0x00, 0x20]));
    const timer = setInterval(() => drip.writable && drip.write(Buffer.from([7])), 100);
    t.after(() => clearInterval(timer));
    const truncated = raw(t, server);
    truncated.write(Buffer.from([0x4c, 0x53, 0x4e, NoiseVariant.XX, 0x00, 0x20, 1, 2, 3]));
    const started = Date.now();
    await within(Promise.all([closedBy(drip), closedBy(truncated)]), 3_000, 'the server closes both');
    clearInterval(timer);
    assert.ok(Date.now() - started < 2_000);
    await waitFor(() => errs.filter((e) => e instanceof TimeoutError).length === 2, 2_000, 'two timeouts reported');
    assert.match(errs[0]?.message ?? '', /noise handshake not complete/);
    assert.equal(await echoOnce(other, 'unaffected'), 'unaffected');
  });

  test('reordered handshake: message 1 where message 3 belongs is refused', async (t) => {
    const server = await startServer(t, NOISE);
    const errs = errors(server);
    const s = raw(t, server);
    const msg1 = Buffer.concat([Buffer.from([0x00, 0x20]), Buffer.alloc(32, 9)]);
    s.write(Buffer.concat([Buffer.from([0x4c, 0x53, 0x4e, NoiseVariant.XX]), msg1]));
    await new Promise((r) => s.once('data', r)); // message 2 arrived
    s.write(msg1);
    await within(closedBy(s), 3_000, 'closed');
    await waitFor(() => errs.length === 1, 2_000, 'reported');
    assert.ok(errs[0] instanceof ProtocolError && errs[0].wireCode === AbortCode.NOISE_HANDSHAKE_FAILED);
  });

  test('a captured resume connection replayed byte for byte is refused; the session stays with its owner', async (t) => {
    const server = await startServer(t, NOISE);
    const errs = errors(server);
    echoServer(server);
    const mitm = await startMitm(t, server.address, (_, c) => c);
    const client = track(t, connect(mitm.url, { noise: {} }));
    await within(client.ready, 5_000, 'ready');
    assert.equal(await echoOnce(client, 'a'), 'a');
    mitm.cutAll();
    assert.equal(await echoOnce(client, 'b'), 'b'); // resumed on connection 1
    const captured = Buffer.concat(mitm.fromClient.get(1) ?? []);
    assert.ok(captured.byteLength > 100, 'the resume connection was captured');
    const replay = raw(t, server);
    replay.write(captured);
    await within(closedBy(replay), 3_000, 'replay closed');
    await waitFor(() => errs.length >= 1, 2_000, 'reported');
    assert.ok(errs.every((e) => e instanceof ProtocolError && e.wireCode === AbortCode.NOISE_HANDSHAKE_FAILED));
    assert.equal(await echoOnce(client, 'c'), 'c');
    assert.equal(client.stats.resumes, 1);
  });
});

function raw(t: TestContext, server: Server): Socket {
  const s = netConnect(server.address);
  s.on('error', () => {});
  t.after(() => s.destroy());
  return s;
}

function closedBy(s: Socket): Promise<void> {
  return new Promise((resolve) => {
    if (s.closed || s.readableEnded) return resolve();
    s.on('data', () => {});
    s.once('end', () => resolve());
    s.once('close', () => resolve());
  });
}
