/**
 * Authentication at establishment against a live server on loopback: bearer tokens, JWT (jose),
 * pre-shared keys; the principal on the session; refusals that keep nothing; expiry and renewal.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, type TestContext, test } from 'node:test';
import {
  AbortCode,
  anyOf,
  bearerTokens,
  type ClientAuth,
  type CloseReason,
  connect,
  DEFAULT_LIMITS,
  jwtVerifier,
  type ListenOptions,
  preSharedKeys,
  RefuseCode,
  type Server,
} from '@liaison/node';
import { buildConnect, ExtensionId, type Frame, FrameType, Unit } from '@liaison/node/engine';
import { FaultProxy, within } from '@liaison/testkit';
import { generateKeyPair, SignJWT } from 'jose';
import { nextSession, startServer, track, waitFor } from '../helpers.js';
import { is, RawClient } from './raw-client.js';

async function refusalOf(t: TestContext, server: Server, auth?: ClientAuth): Promise<CloseReason> {
  const client = track(t, connect(server.url, { auth, resume: false }));
  await within(
    client.ready.catch(() => {}),
    5_000,
    'refusal',
  );
  return client.closed;
}

async function openWith(t: TestContext, server: Server, auth: ClientAuth) {
  const accepted = nextSession(server, 5_000);
  const client = track(t, connect(server.url, { auth }));
  await within(client.ready, 5_000, 'ready');
  return { client, session: await accepted };
}

describe('authentication at establishment', () => {
  test('bearer tokens: the right token names the principal; wrong or missing ones are refused UNAUTHENTICATED and leave nothing', async (t) => {
    const server = await startServer(t, {
      authenticate: bearerTokens(new Map([['s3cret-token', { id: 'alice', claims: { role: 'admin' } }]])),
    });
    const failures: string[] = [];
    server.on('auth-failed', (f) => failures.push(f.reason));
    const { client, session } = await openWith(t, server, { token: 's3cret-token' });
    assert.deepEqual(session.principal, { id: 'alice', claims: { role: 'admin' } });
    assert.equal(server.resumableSessions, 1);
    await client.close();
    await waitFor(() => server.resumableSessions === 0, 2_000, 'the released session to be forgotten');

    for (const auth of [{ token: 's3cret-tokeN' }, { token: 's3cret-token-and-more' }, undefined]) {
      const reason = await refusalOf(t, server, auth);
      assert.equal(reason.kind, 'refused');
      assert.equal(reason.kind === 'refused' && reason.code, RefuseCode.UNAUTHENTICATED);
    }
    assert.equal(failures.length, 3);
    // A refused request allocated nothing that outlives it: no session to resume, no connection.
    assert.equal(server.resumableSessions, 0);
    await waitFor(() => server.connectionCount === 0, 3_000, 'refused connections to close');
  });

  test('a hook returning an expiresAt that is not a finite number is refused, not left to never expire', async (t) => {
    const bad: unknown[] = [Number.NaN, Number.POSITIVE_INFINITY, new Date(Date.now() + 60_000), '2030-01-01'];
    let next = 0;
    const server = await startServer(t, {
      authenticate: () => ({ id: 'carol', expiresAt: bad[next++] as number }),
    });
    const failures: string[] = [];
    server.on('auth-failed', (f) => failures.push(f.reason));
    for (const value of bad) {
      const reason = await refusalOf(t, server, { token: 'any' });
      assert.equal(reason.kind, 'refused', `expiresAt ${String(value)}`);
      assert.equal(reason.kind === 'refused' && reason.code, RefuseCode.UNAUTHENTICATED);
    }
    assert.equal(failures.length, bad.length);
    for (const f of failures) assert.match(f, /^authenticate returned expiresAt .*: not a finite number/);
    // The hook's fault is not the client's: the address is not penalised, the next login works.
    next = 0;
    bad[0] = Date.now() + 60_000;
    const { session } = await openWith(t, server, { token: 'any' });
    assert.equal(session.principal?.id, 'carol');
  });

  test('JWT: verified with the key, issuer and audience; exp and a wrong issuer refuse; the claims are on the principal', async (t) => {
    const { publicKey, privateKey } = await generateKeyPair('ES256');
    const sign = (claims: Record<string, unknown>, exp: number | string, issuer = 'https://issuer.test') =>
      new SignJWT(claims)
        .setProtectedHeader({ alg: 'ES256' })
        .setSubject('bob')
        .setIssuer(issuer)
        .setAudience('liaison')
        .setIssuedAt()
        .setExpirationTime(exp)
        .sign(privateKey);
    const server = await startServer(t, {
      authenticate: jwtVerifier({ key: publicKey, issuer: 'https://issuer.test', audience: 'liaison' }),
    });
    const { client, session } = await openWith(t, server, { token: await sign({ scope: 'chat' }, '10m') });
    assert.equal(session.principal?.id, 'bob');
    assert.equal(session.principal?.claims?.scope, 'chat');
    assert.ok((session.principal?.expiresAt ?? 0) > Date.now() + 9 * 60_000);
    await client.close();

    const expired = await sign({}, Math.floor(Date.now() / 1000) - 10);
    const foreign = await sign({}, '10m', 'https://evil.test');
    const { privateKey: otherKey } = await generateKeyPair('ES256');
    const forged = await new SignJWT({})
      .setProtectedHeader({ alg: 'ES256' })
      .setSubject('bob')
      .setIssuer('https://issuer.test')
      .setAudience('liaison')
      .setExpirationTime('10m')
      .sign(otherKey);
    for (const token of [expired, foreign, forged, 'not.a.jwt']) {
      const reason = await refusalOf(t, server, { token });
      assert.equal(reason.kind === 'refused' && reason.code, RefuseCode.UNAUTHENTICATED, token);
    }
  });

  test('JWT expiry inside a live session: not renewed, the session is closed with CREDENTIALS_EXPIRED', {
    timeout: 15_000,
  }, async (t) => {
    const secret = randomBytes(32);
    const token = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('carol')
      .setExpirationTime(Math.floor(Date.now() / 1000) + 2)
      .sign(secret);
    const server = await startServer(t, { authenticate: jwtVerifier({ key: secret }) });
    const { client, session } = await openWith(t, server, { token });
    const serverReason = await within(session.closed, 5_000, 'expiry on the server');
    const clientReason = await within(client.closed, 5_000, 'expiry seen by the client');
    assert.equal(serverReason.kind === 'aborted' && serverReason.code, AbortCode.CREDENTIALS_EXPIRED);
    assert.equal(clientReason.kind === 'aborted' && clientReason.code, AbortCode.CREDENTIALS_EXPIRED);
    assert.equal(clientReason.kind === 'aborted' && clientReason.origin, 'peer');
  });

  test('JWT renewal inside a live session: accepted, the expiry moves and the session outlives the first token', {
    timeout: 15_000,
  }, async (t) => {
    const secret = randomBytes(32);
    const jwt = (sub: string, secondsLeft: number) =>
      new SignJWT({})
        .setProtectedHeader({ alg: 'HS256' })
        .setSubject(sub)
        .setExpirationTime(Math.floor(Date.now() / 1000) + secondsLeft)
        .sign(secret);
    const server = await startServer(t, { authenticate: jwtVerifier({ key: secret }) });
    const { client, session } = await openWith(t, server, { token: await jwt('erin', 4) });
    const firstExpiry = session.principal?.expiresAt ?? 0;
    const renewed = new Promise((r) => session.once('credentials-renewed', r));
    await within(client.renewCredentials(await jwt('erin', 3600)), 3_000, 'renewal answered');
    await within(renewed, 1_000, 'credentials-renewed on the server');
    assert.ok((session.principal?.expiresAt ?? 0) > firstExpiry + 3_000_000);
    // Another principal's token, or a forged one, is refused; the session goes on.
    await assert.rejects(client.renewCredentials(await jwt('mallory', 3600)), { code: 'ERR_LIAISON_RENEWAL_REFUSED' });
    await assert.rejects(client.renewCredentials('not-a-jwt'), { code: 'ERR_LIAISON_RENEWAL_REFUSED' });
    await new Promise((r) => setTimeout(r, firstExpiry - Date.now() + 600)); // past the first token's exp
    assert.equal(session.state, 'open');
    const echoed = (async () => {
      for await (const m of session) return new TextDecoder().decode(m);
    })();
    await client.send('still here');
    assert.equal(await within(echoed, 2_000, 'message'), 'still here');
    await client.close();
  });

  test('failed renewals count against the address: past the burst the connection is closed RATE_LIMITED', async (t) => {
    const secret = randomBytes(32);
    const jwt = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('gina')
      .setExpirationTime('5m')
      .sign(secret);
    const server = await startServer(t, {
      authenticate: jwtVerifier({ key: secret }),
      attackLimits: { failuresBurst: 3, failuresPerSecond: 0.01 },
    });
    const { client } = await openWith(t, server, { token: jwt });
    for (let i = 0; i < 2; i++) {
      await assert.rejects(client.renewCredentials(`bad.${i}.token`), { code: 'ERR_LIAISON_RENEWAL_REFUSED' });
    }
    await assert.rejects(client.renewCredentials('bad.2.token'));
    const reason = await within(client.closed, 5_000, 'the connection to be closed');
    assert.equal(reason.kind === 'aborted' && reason.code, AbortCode.RATE_LIMITED);
  });

  test('a resume does not outlive the credentials: a session whose JWT expired while suspended is refused on resume', {
    timeout: 15_000,
  }, async (t) => {
    const secret = randomBytes(32);
    const token = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('frank')
      .setExpirationTime(Math.floor(Date.now() / 1000) + 2)
      .sign(secret);
    const server = await startServer(t, {
      authenticate: jwtVerifier({ key: secret }),
      limits: { resumeWindowMs: 20_000 },
    });
    const proxy = new FaultProxy({ target: { host: '127.0.0.1', port: server.address.port } });
    await proxy.start();
    t.after(() => proxy.stop());
    const accepted = nextSession(server, 5_000);
    const client = track(
      t,
      connect(`tcp://127.0.0.1:${proxy.address.port}`, {
        auth: { token },
        limits: { resumeWindowMs: 20_000 },
        backoff: { initialDelayMs: 3_000, maxDelayMs: 3_000, jitter: 0 },
      }),
    );
    await within(client.ready, 5_000, 'ready');
    await accepted;
    proxy.cutAll(); // the client reconnects 3 s later, after the token's exp
    const reason = await within(client.closed, 10_000, 'the resume to be refused');
    assert.equal(reason.kind === 'aborted' && reason.code, AbortCode.RESUME_REFUSED);
  });

  test('pre-shared keys: the key never travels; a wrong key or unknown identity is refused', async (t) => {
    const key = randomBytes(32);
    const server = await startServer(t, { authenticate: preSharedKeys(new Map([['sensor-7', key]])) });
    const wire: Buffer[] = [];
    const proxy = new FaultProxy({
      target: { host: '127.0.0.1', port: server.address.port },
      tap: (direction, bytes) => {
        if (direction === 'to-target') wire.push(Buffer.from(bytes));
      },
    });
    await proxy.start();
    t.after(() => proxy.stop());
    const accepted = nextSession(server, 5_000);
    const client = track(
      t,
      connect(`tcp://127.0.0.1:${proxy.address.port}`, { auth: { psk: { identity: 'sensor-7', key } } }),
    );
    await within(client.ready, 5_000, 'ready');
    assert.equal((await accepted).principal?.id, 'sensor-7');
    assert.equal(Buffer.concat(wire).indexOf(key), -1, 'the key itself never crossed the wire');
    await client.close();

    for (const auth of [
      { psk: { identity: 'sensor-7', key: randomBytes(32) } },
      { psk: { identity: 'sensor-8', key } },
    ]) {
      const reason = await refusalOf(t, server, auth);
      assert.equal(reason.kind === 'refused' && reason.code, RefuseCode.UNAUTHENTICATED);
    }
  });

  test('mutual PSK: a server that does not hold the key cannot pass itself off; the client refuses to open', async (t) => {
    // An impostor that lets everyone in: it cannot answer the client's proof.
    const impostor = await startServer(t, { authenticate: () => ({ id: 'whoever' }) });
    const client = track(t, connect(impostor.url, { auth: { psk: { identity: 'sensor-7', key: randomBytes(32) } } }));
    await within(
      client.ready.catch(() => {}),
      5_000,
      'the client to give up',
    );
    const reason = await client.closed;
    assert.equal(reason.kind === 'aborted' && reason.code, AbortCode.AUTHENTICATION_FAILED);
    assert.equal(reason.kind === 'aborted' && reason.origin, 'local');
  });

  test('a PSK login recorded on one connection and replayed on another is refused (bound to the CHALLENGE)', async (t) => {
    const key = randomBytes(32);
    const server = await startServer(t, { authenticate: preSharedKeys(new Map([['sensor-7', key]])) });
    // A real login by the legitimate client, through a tap that records what it sent before the
    // server's last answer (the ACCEPT) passed: its login, not the acknowledgement that follows.
    const recorded: Buffer[] = [];
    let beforeAccept = 0;
    const proxy = new FaultProxy({
      target: { host: '127.0.0.1', port: server.address.port },
      tap: (direction, bytes) => {
        if (direction === 'to-target') recorded.push(Buffer.from(bytes));
        else beforeAccept = recorded.length;
      },
    });
    await proxy.start();
    t.after(() => proxy.stop());
    const client = track(
      t,
      connect(`tcp://127.0.0.1:${proxy.address.port}`, { auth: { psk: { identity: 'sensor-7', key } } }),
    );
    await within(client.ready, 5_000, 'ready');
    // The attacker replays the recorded bytes, byte for byte, on a connection of its own.
    const attacker = await RawClient.open(server.address.port);
    t.after(() => attacker.destroy());
    attacker.write(Buffer.concat(recorded.slice(0, beforeAccept)));
    const answer = await attacker.frame(is(FrameType.REFUSE));
    assert.equal(answer.code, RefuseCode.UNAUTHENTICATED);
    assert.equal(
      attacker.frames.some((f) => f.type === FrameType.ACCEPT),
      false,
    );
    await client.close();
  });

  test('a PSK proof binds the offered versions and the resume key share: a CONNECT with either changed is refused', async (t) => {
    const key = randomBytes(32);
    const server = await startServer(t, { authenticate: preSharedKeys(new Map([['sensor-7', key]])) });
    const attacker = await RawClient.open(server.address.port);
    t.after(() => attacker.destroy());
    attacker.sendFrames([], true);
    const challenge = await attacker.frame(is(FrameType.CHALLENGE));
    // A proof made for versions 1..2, sent with the offer rewritten to 1..1 (as a downgrade would).
    const { createHmac } = await import('node:crypto');
    const { pskProofInput, pskOfferOf, encodePskCredential } = await import('@liaison/node/engine');
    const identity = new TextEncoder().encode('sensor-7');
    // Two requests: one whose version offer was rewritten after the proof was made (a downgrade),
    // one whose resume key share was swapped (someone in the middle of the key agreement).
    const honestShare = randomBytes(32);
    const forged = [
      { channel: 1, proofFor: { versionMax: 2 }, share: honestShare },
      { channel: 3, proofFor: {}, share: randomBytes(32) },
    ];
    for (const f of forged) {
      const connectFrame = buildConnect(f.channel, DEFAULT_LIMITS, Unit.KERNEL | Unit.DUPLEX, new Uint8Array(0), [
        { id: ExtensionId.KEY_SHARE, value: f.share },
      ]);
      const offer = { ...pskOfferOf(connectFrame), keyShare: honestShare, ...f.proofFor };
      const proof = createHmac('sha256', key)
        .update(pskProofInput(challenge.nonce, offer, identity))
        .digest();
      connectFrame.extensions.push({ id: ExtensionId.AUTH_PSK, value: encodePskCredential(identity, proof) });
      attacker.sendFrames([connectFrame]);
      const answer = await attacker.frame(
        (x): x is Extract<Frame, { type: 3 }> => x.type === FrameType.REFUSE && x.channel === f.channel,
      );
      assert.equal(answer.code, RefuseCode.UNAUTHENTICATED);
    }
  });

  test('anyOf: tokens, JWTs and PSKs side by side; a hook may refuse FORBIDDEN after authenticating', async (t) => {
    const secret = randomBytes(32);
    const key = randomBytes(32);
    const options: ListenOptions = {
      authenticate: anyOf(
        bearerTokens(['static-token']),
        jwtVerifier({ key: secret }),
        preSharedKeys(new Map([['dev', key]])),
        (c) => (c.type === 'token' && c.token === 'banned' ? { refuse: true, code: RefuseCode.FORBIDDEN } : null),
      ),
    };
    const server = await startServer(t, options);
    const jwt = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('dave')
      .setExpirationTime('5m')
      .sign(secret);
    for (const [auth, id] of [
      [{ token: 'static-token' }, 'token-1'],
      [{ token: jwt }, 'dave'],
      [{ psk: { identity: 'dev', key } }, 'dev'],
    ] as const) {
      const { client, session } = await openWith(t, server, auth);
      assert.equal(session.principal?.id, id);
      await client.close();
    }
    const reason = await refusalOf(t, server, { token: 'banned' });
    assert.equal(reason.kind === 'refused' && reason.code, RefuseCode.FORBIDDEN);
  });
});
