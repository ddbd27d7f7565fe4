/**
 * The security test suite: a live server on loopback, a legitimate authenticated session that
 * keeps sending and counting echoes the whole time, and attackers on raw sockets (from other
 * loopback source addresses, 127.0.0.2 and up, so the per-address limits they trip are theirs).
 * Each attack must get a refusal or a close with a reason; the last test checks that the
 * legitimate session lost nothing and saw nothing twice. Every wait is bounded.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import {
  AbortCode,
  bearerTokens,
  connect,
  DEFAULT_LIMITS,
  listen,
  RefuseCode,
  type Server,
  type Session,
} from '@liaison/node';
import { buildConnect, ExtensionId, type Frame, FrameDecoder, FrameType, PREFACE, Unit } from '@liaison/node/engine';
import { FaultProxy, within } from '@liaison/testkit';
import { bytes, text, waitFor } from '../helpers.js';
import { is, RawClient } from './raw-client.js';

const HANDSHAKE_MS = 600;
const LIMITS = { handshakeTimeoutMs: HANDSHAKE_MS, messageBytesMax: 64 * 1024, userDataBytesMax: 1024 };
const UNITS = Unit.KERNEL | Unit.DUPLEX;

let server: Server;
let proxy: FaultProxy;
let legit: Session;
let authCalls = 0;
const toTarget = new Map<number, Buffer[]>();
const fromServer = new FrameDecoder({ frameBytesMax: 1 << 24, userDataBytesMax: 0xffff }, { expectPreface: true });
const seenByClient: Frame[] = [];
let sent = 0;
const echoed: string[] = [];
let sending = true;
let sender: Promise<void>;

/** A raw attacker's CONNECT, with a token when given. */
function connectFrame(channel: number, token?: string) {
  const f = buildConnect(channel, { ...DEFAULT_LIMITS, frameBytesMax: 64 * 1024 }, UNITS, new Uint8Array(0), []);
  if (token) f.extensions.push({ id: ExtensionId.AUTH_TOKEN, value: bytes(token) });
  return f;
}

function resumeFrame(sessionId: Uint8Array) {
  return {
    type: FrameType.RESUME,
    channel: 1,
    sessionId,
    clientNonce: randomBytes(16),
    received: 0,
    resendFrom: 1,
    replaying: 0,
    proof: randomBytes(32),
  } as const;
}

/** Raw attacking connections, destroyed with the server when the suite ends. */
const attackers: RawClient[] = [];

async function attacker(from: string): Promise<RawClient> {
  const c = await RawClient.open(server.address.port, from);
  attackers.push(c);
  return c;
}

async function startAttackTarget(): Promise<void> {
  const tokens = bearerTokens(new Map([['legit-token', 'legit']]));
  server = await listen('tcp://127.0.0.1:0', {
    limits: LIMITS,
    authenticate: (c, f) => {
      authCalls++;
      return tokens(c, f);
    },
    attackLimits: { connectionsPerAddressMax: 8, failuresBurst: 4, failuresPerSecond: 0.2 },
  });
  server.on('connection-error', () => {});
  server.on('session', (s) => {
    void (async () => {
      try {
        for await (const m of s) await s.send(m);
      } catch {}
    })();
  });
  // The legitimate client goes through a proxy that records its bytes (for the replay) and can cut.
  proxy = new FaultProxy({
    target: { host: '127.0.0.1', port: server.address.port },
    tap: (direction, chunk, id) => {
      if (direction === 'to-target') {
        const list = toTarget.get(id) ?? [];
        list.push(Buffer.from(chunk));
        toTarget.set(id, list);
      } else if (id === 1) {
        fromServer.push(Uint8Array.from(chunk));
        for (let f = fromServer.next(); f !== null; f = fromServer.next()) seenByClient.push(f);
      }
    },
  });
  await proxy.start();
  legit = connect(`tcp://127.0.0.1:${proxy.address.port}`, { auth: { token: 'legit-token' }, limits: LIMITS });
  await within(legit.ready, 5_000, 'the legitimate session');
  // The iteration rejects when after() aborts the session; with every test filtered out by
  // --test-name-pattern that came as an unhandled rejection and failed the file.
  void (async () => {
    for await (const m of legit) echoed.push(text(m));
  })().catch(() => {});
  sender = (async () => {
    while (sending) {
      await legit.send(bytes(`legit ${sent++}`));
      await new Promise((r) => setTimeout(r, 3));
    }
  })().catch(() => {});
}

async function stopAttackTarget(): Promise<void> {
  for (const c of attackers.splice(0)) c.destroy();
  sending = false;
  legit?.abort();
  await proxy?.stop();
  await server?.close();
}

describe('attacks against a live server, while a legitimate session runs', () => {
  // Suite hooks, not file hooks: Node 22 runs a file's before() when --test-name-pattern filters
  // out every test but not its after(), and the live server then kept the process from exiting.
  before(startAttackTarget);
  after(stopAttackTarget);

  test('a replayed resume: the RESUME of a real resume, replayed byte for byte on a new connection, is refused', async () => {
    const resumed = new Promise((r) => legit.once('resumed', r));
    proxy.cutAll();
    await within(resumed, 5_000, 'the legitimate session to resume');
    const latest = Math.max(...toTarget.keys());
    const recorded = Buffer.concat(toTarget.get(latest) ?? []);
    assert.ok(recorded.length > PREFACE.length, 'recorded the resume connection');
    const a = await attacker('127.0.0.11');
    a.write(recorded);
    const refusal = await a.frame(is(FrameType.RESUME_REFUSE));
    assert.deepEqual([refusal.code, refusal.message], [AbortCode.RESUME_REFUSED, 'no session to resume']);
    assert.equal(
      a.frames.some((f) => f.type === FrameType.RESUMED),
      false,
    );
  });

  test('a stolen session id without its key and a forged one get the very same refusal', async () => {
    const accept = seenByClient.find((f) => f.type === FrameType.ACCEPT);
    const stolenId =
      accept?.type === FrameType.ACCEPT
        ? accept.extensions.find((e) => e.id === ExtensionId.SESSION_ID)?.value
        : undefined;
    assert.ok(stolenId && stolenId.byteLength === 16, 'the session id seen on the wire');
    const answers: [number, string][] = [];
    for (const id of [stolenId, randomBytes(16), new Uint8Array(16)]) {
      const a = await attacker('127.0.0.12');
      a.sendFrames([], true);
      await a.frame(is(FrameType.CHALLENGE));
      a.sendFrames([resumeFrame(id)]);
      const r = await a.frame(is(FrameType.RESUME_REFUSE));
      answers.push([r.code, r.message]);
      a.destroy();
    }
    assert.deepEqual(answers, Array(3).fill([AbortCode.RESUME_REFUSED, 'no session to resume']));
  });

  test('a version downgrade or an impossible version range is refused VERSION_UNSUPPORTED', async () => {
    const a = await attacker('127.0.0.13');
    a.sendFrames(
      [
        { ...connectFrame(1, 'legit-token'), versionMin: 0, versionMax: 0 },
        { ...connectFrame(3, 'legit-token'), versionMin: 2, versionMax: 1 },
      ],
      true,
    );
    const refusals = [
      await a.frame((f): f is Extract<Frame, { type: 3 }> => f.type === FrameType.REFUSE && f.channel === 1),
      await a.frame((f): f is Extract<Frame, { type: 3 }> => f.type === FrameType.REFUSE && f.channel === 3),
    ];
    assert.deepEqual(
      refusals.map((r) => r.code),
      [RefuseCode.VERSION_UNSUPPORTED, RefuseCode.VERSION_UNSUPPORTED],
    );
  });

  test('a reordered handshake: frames before the preface, a CHALLENGE from the client, DATA before CONNECT, an even channel', async () => {
    const cases: [Uint8Array[], number][] = [
      [[encode(connectFrame(1, 'legit-token'))], AbortCode.BAD_PREFACE],
      [
        [PREFACE, encode({ type: FrameType.CHALLENGE, channel: 0, nonce: randomBytes(16) })],
        AbortCode.UNEXPECTED_FRAME,
      ],
      [
        [PREFACE, encode({ type: FrameType.DATA, channel: 1, end: true, payload: bytes('x') })],
        AbortCode.UNEXPECTED_FRAME,
      ],
      [[PREFACE, encode(connectFrame(2, 'legit-token'))], AbortCode.PROTOCOL_ERROR],
      [
        [PREFACE, encode(connectFrame(3, 'legit-token')), encode(connectFrame(1, 'legit-token'))],
        AbortCode.PROTOCOL_ERROR,
      ],
    ];
    for (const [parts, code] of cases) {
      const a = await attacker('127.0.0.14');
      a.write(Buffer.concat(parts));
      const close = await a.connectionClose();
      assert.equal(close.code, code, close.message);
    }
  });

  test('a truncated handshake (preface only, or half a CONNECT) is closed at the handshake timeout', async () => {
    const half = encode(connectFrame(1, 'legit-token')).subarray(0, 30);
    for (const parts of [[PREFACE], [PREFACE, half], []]) {
      const a = await attacker('127.0.0.15');
      const started = Date.now();
      a.write(Buffer.concat(parts));
      const close = await a.connectionClose(HANDSHAKE_MS * 4);
      assert.equal(close.code, AbortCode.HANDSHAKE_TIMEOUT);
      assert.ok(Date.now() - started < HANDSHAKE_MS * 3, `closed after ${Date.now() - started} ms`);
    }
  });

  test('a slow-drip handshake (one byte every 40 ms) is cut at the handshake timeout, however steady the drip', async () => {
    const a = await attacker('127.0.0.16');
    const stream = Buffer.concat([PREFACE, encode(connectFrame(1, 'legit-token'))]);
    const started = Date.now();
    let i = 0;
    const drip = setInterval(() => {
      if (i < stream.length) a.write(stream.subarray(i, ++i));
    }, 40);
    try {
      const close = await a.connectionClose(HANDSHAKE_MS * 4);
      assert.equal(close.code, AbortCode.HANDSHAKE_TIMEOUT);
      assert.ok(i < stream.length, 'cut before the drip finished its CONNECT');
      assert.ok(Date.now() - started < HANDSHAKE_MS * 3);
    } finally {
      clearInterval(drip);
    }
  });

  test('lengths far beyond the limits: a 4 GiB frame header, oversized user data, an oversized message', async () => {
    const huge = await attacker('127.0.0.17');
    const header = Buffer.alloc(10);
    header.writeUInt8(FrameType.CONNECT, 0);
    header.writeUInt32BE(1, 2);
    header.writeUInt32BE(0xffff_ffff, 6);
    huge.write(Buffer.concat([PREFACE, header]));
    assert.equal((await huge.connectionClose()).code, AbortCode.FRAME_TOO_LARGE);

    const fat = await attacker('127.0.0.17');
    fat.sendFrames([{ ...connectFrame(1, 'legit-token'), userData: new Uint8Array(4096) }], true);
    assert.equal((await fat.frame(is(FrameType.REFUSE))).code, RefuseCode.PARAMETERS_UNACCEPTABLE);

    // Authenticated, then one message of 64 KiB + 1 in 16 KiB fragments: the session is aborted.
    const big = await attacker('127.0.0.17');
    big.sendFrames([connectFrame(1, 'legit-token')], true);
    await big.frame(is(FrameType.ACCEPT));
    const chunk = new Uint8Array(16 * 1024);
    const frames: Frame[] = [0, 1, 2, 3].map(() => ({ type: FrameType.DATA, channel: 1, end: false, payload: chunk }));
    frames.push({ type: FrameType.DATA, channel: 1, end: true, payload: new Uint8Array(1) });
    big.sendFrames(frames);
    const abort = await big.frame(is(FrameType.ABORT));
    assert.equal(abort.code, AbortCode.MESSAGE_TOO_LARGE);
  });

  test('a connection flood from one address: past 8 at once, each new one is closed TOO_MANY_CONNECTIONS', async () => {
    const held: RawClient[] = [];
    for (let i = 0; i < 8; i++) held.push(await attacker('127.0.0.18'));
    for (const h of held) h.sendFrames([], true);
    await waitFor(() => held.every((h) => h.frames.some((f) => f.type === FrameType.CHALLENGE)), 2_000, 'admitted');
    for (let i = 0; i < 5; i++) {
      const extra = await attacker('127.0.0.18');
      const close = await extra.connectionClose(2_000);
      assert.equal(close.code, AbortCode.TOO_MANY_CONNECTIONS);
    }
    for (const h of held) h.destroy();
  });

  test('a flood of failed logins: after the burst the connection is closed RATE_LIMITED and the next ones are turned away without verifying', async () => {
    const a = await attacker('127.0.0.19');
    a.sendFrames(
      [1, 3, 5, 7, 9, 11].map((ch) => connectFrame(ch, `guess-${ch}`)),
      true,
    );
    const close = await a.connectionClose();
    assert.equal(close.code, AbortCode.RATE_LIMITED);
    const refused = a.frames.filter((f) => f.type === FrameType.REFUSE);
    assert.ok(refused.length >= 3 && refused.every((f) => f.type === FrameType.REFUSE && f.code !== 0));
    const callsBefore = authCalls;
    for (let i = 0; i < 3; i++) {
      const again = await attacker('127.0.0.19');
      again.sendFrames([connectFrame(1, 'legit-token')], true);
      assert.equal((await again.connectionClose()).code, AbortCode.RATE_LIMITED);
    }
    assert.equal(authCalls, callsBefore, 'no credential was verified for a rate-limited address');
  });

  test('a flood of failed resumes, one new connection per guess, is rate-limited the same way', async () => {
    let limited: Awaited<ReturnType<RawClient['connectionClose']>> | null = null;
    for (let i = 0; i < 6 && !limited; i++) {
      const a = await attacker('127.0.0.20');
      a.sendFrames([], true);
      const first = await a.frame(
        (f): f is Frame => f.type === FrameType.CHALLENGE || f.type === FrameType.CONNECTION_CLOSE,
      );
      if (first.type === FrameType.CONNECTION_CLOSE) {
        limited = first;
        break;
      }
      a.sendFrames([resumeFrame(randomBytes(16))]);
      await a.frame(is(FrameType.RESUME_REFUSE));
      await new Promise((r) => setTimeout(r, 20));
      if (a.frames.some((f) => f.type === FrameType.CONNECTION_CLOSE)) limited = await a.connectionClose();
      a.destroy();
    }
    assert.equal(limited?.code, AbortCode.RATE_LIMITED);
    const again = await attacker('127.0.0.20');
    assert.equal((await again.connectionClose()).code, AbortCode.RATE_LIMITED);
  });

  test('many refused resumes on one connection (a pool after a server restart) are not mistaken for a flood', async () => {
    const a = await attacker('127.0.0.21');
    a.sendFrames([], true);
    await a.frame(is(FrameType.CHALLENGE));
    const channels = Array.from({ length: 50 }, (_, i) => 2 * i + 1);
    a.sendFrames(channels.map((channel) => ({ ...resumeFrame(randomBytes(16)), channel })));
    await waitFor(() => a.frames.filter((f) => f.type === FrameType.RESUME_REFUSE).length === 50, 3_000, '50 refusals');
    assert.equal(a.isClosed, false);
    assert.equal(
      a.frames.some((f) => f.type === FrameType.CONNECTION_CLOSE),
      false,
    );
  });

  test('meanwhile, the legitimate session lost nothing and saw nothing twice', async () => {
    sending = false;
    await within(sender, 5_000, 'the sender to stop');
    await waitFor(() => echoed.length === sent, 10_000, `all ${sent} echoes`);
    assert.deepEqual(
      echoed,
      Array.from({ length: sent }, (_, i) => `legit ${i}`),
    );
    assert.ok(sent > 10, `the legitimate session kept sending (${sent} messages)`);
    assert.equal(legit.state, 'open');
    await within(legit.close(), 5_000, 'release');
  });
});

function encode(f: Frame): Uint8Array {
  return encodeFrameOf(f);
}

import { encodeFrame as encodeFrameOf } from '@liaison/node/engine';
