/**
 * Recovery over real sockets: a liaison client and server on loopback with the testkit's fault
 * proxy between them. (a) 50 MiB each way at once while the proxy cuts every connection after
 * 200-500 ms: both streams arrive whole, in order, exactly once (SHA-256 of each direction, sent
 * and received). (b) A server that lost its state refuses the resume and the client learns which
 * messages never arrived. (c) A resume that arrives while the server still believes in the old
 * connection replaces it and loses nothing. Every wait is bounded; everything is closed after.
 */
import assert from 'node:assert/strict';
import { createHash, type Hash } from 'node:crypto';
import { describe, type TestContext, test } from 'node:test';
import {
  AbortCode,
  type CloseReason,
  connect,
  type ListenOptions,
  listen,
  type Server,
  type Session,
} from '@liaison/node';
import { FaultProxy, type FaultProxyOptions, within } from '@liaison/testkit';

const MiB = 1024 * 1024;

describe('recovery over sockets through a fault proxy', () => {
  test('50 MiB each way at once, cut every 200-500 ms: every byte once, in order', { timeout: 120_000 }, async (t) => {
    const TOTAL = 50 * MiB;
    const seed = Number(process.env.LIAISON_SEED ?? Date.now() % 2 ** 31);
    t.diagnostic(`seed ${seed} (LIAISON_SEED=${seed} replays the payload and the proxy's choices)`);
    const server = await startServer(t);
    const proxy = await startProxy(t, { target: server.address, cutAfterMs: [200, 500], seed });
    const client = track(t, connect(proxy.url));
    const accepted = await nextSession(server);
    await within(client.ready, 5_000, 'client ready');

    const up = new Stream(seed, TOTAL);
    const down = new Stream(seed + 1, TOTAL);
    const atServer = receiver(accepted);
    const atClient = receiver(client);
    // About 2.5 s each way: at one cut every 200-500 ms, at least five cuts fall inside the transfer.
    const pace = TOTAL / 2.5;
    const exchange = Promise.all([
      up.sendOn(client, pace),
      down.sendOn(accepted, pace),
      atServer.until(up.totalBytes),
      atClient.until(down.totalBytes),
    ]);
    await within(exchange, 110_000, `the exchange (seed ${seed})`);
    // The proxy still cuts while the release runs: it may need resumes of its own (slow on a loaded machine).
    const [released, serverSide] = await within(Promise.all([client.close(), accepted.closed]), 30_000, 'release');

    const where = `seed ${seed}, ${proxy.counters.cuts} cuts, ${client.stats.resumes} resumes`;
    assert.equal(released.kind, 'released', where);
    assert.equal(serverSide.kind, 'released', where);
    assert.equal(atServer.messages, up.messages, `client to server: message count (${where})`);
    assert.equal(atServer.digest(), up.digest(), `client to server: SHA-256 (${where})`);
    assert.equal(atClient.messages, down.messages, `server to client: message count (${where})`);
    assert.equal(atClient.digest(), down.digest(), `server to client: SHA-256 (${where})`);
    assert.ok(client.stats.resumes >= 3, `at least a few resumes (${where})`);
    assert.equal(accepted.stats.resumes, client.stats.resumes, where);
    t.diagnostic(
      `${where}; ${up.messages} + ${down.messages} messages; retransmitted ${client.stats.framesRetransmitted} + ${accepted.stats.framesRetransmitted} frames`,
    );
  });

  test('a server that lost the session refuses the resume; undeliveredMessages() lists what is not known to have arrived', {
    timeout: 20_000,
  }, async (t) => {
    const first = await startServer(t);
    const port = first.address.port;
    const proxy = await startProxy(t, { target: first.address });
    const client = track(t, connect(proxy.url));
    const accepted = await nextSession(first);
    await within(client.ready, 5_000, 'client ready');
    const gotFirst = new Promise<string>((resolve) => accepted.once('message', (m) => resolve(text(m))));
    await client.send('delivered');
    assert.equal(await within(gotFirst, 5_000, 'first message'), 'delivered');
    await until(() => client.undeliveredMessages().length === 0, 5_000, 'the acknowledgement');

    // The path goes silent; these go out and are lost with it.
    proxy.stall();
    for (const m of ['lost-1', 'lost-2', 'lost-3']) await client.send(m);
    await sleep(50);
    // The server process dies (its state with it) while the client cannot reach anything.
    await proxy.down('refuse', { cutExisting: true });
    await within(first.close(), 5_000, 'first server closed');
    const second = await startServer(t, {}, `tcp://127.0.0.1:${port}`);
    let fresh = 0;
    second.on('session', () => fresh++);
    await proxy.up();

    const reason = await within(client.closed, 10_000, 'the refused resume');
    assert.equal(reason.kind, 'aborted');
    assert.equal((reason as Extract<CloseReason, { kind: 'aborted' }>).code, AbortCode.RESUME_REFUSED);
    assert.equal(reason.undelivered, 3);
    // A server that lost its state cannot say what arrived: sent and never confirmed.
    assert.deepEqual(
      client.undeliveredMessages().map((m) => [m.kind, text(m.data), m.status]),
      [
        ['normal', 'lost-1', 'unconfirmed'],
        ['normal', 'lost-2', 'unconfirmed'],
        ['normal', 'lost-3', 'unconfirmed'],
      ],
    );
    assert.equal(fresh, 0, 'the second server made no session of it');
    assert.equal(client.stats.resumes, 0);
  });

  test('a server that gave the session up tells a late resume exactly what arrived (issue 10.2)', {
    timeout: 30_000,
  }, async (t) => {
    const server = await startServer(t, { limits: { resumeWindowMs: 1_000 } });
    const proxy = await startProxy(t, { target: server.address });
    const client = track(t, connect(proxy.url, { limits: { handshakeTimeoutMs: 5_000 } }));
    const accepted = await nextSession(server);
    await within(client.ready, 5_000, 'client ready');
    const got: string[] = [];
    accepted.on('message', (m) => got.push(text(m)));

    // Acknowledgements stop coming back: the first 20 arrive unconfirmed.
    proxy.setFaults({ delayMs: { 'to-client': 60_000 } });
    for (let i = 0; i < 20; i++) await client.send(`m${i}`);
    await until(() => got.length === 20, 5_000, 'the first 20 at the server');
    // Then nothing passes either way: the next 30 wait in the proxy and die with the connection.
    proxy.setFaults({ delayMs: 60_000 });
    for (let i = 20; i < 50; i++) await client.send(`m${i}`);
    await sleep(50);
    await proxy.down('refuse', { cutExisting: true });
    proxy.setFaults({ delayMs: 0 });
    const gone = await within(accepted.closed, 5_000, 'the server gives the session up');
    assert.equal(gone.kind === 'aborted' && gone.code, AbortCode.RESUME_WINDOW_EXPIRED);
    assert.equal(client.state, 'open', 'the client still tries');
    await proxy.up();

    const reason = await within(client.closed, 15_000, 'the late resume');
    assert.equal(reason.kind === 'aborted' && reason.code, AbortCode.RESUME_REFUSED);
    assert.equal(got.length, 20, 'what the server received');
    const expected = Array.from({ length: 30 }, (_, i) => [`m${20 + i}`, 'undelivered']);
    assert.deepEqual(
      client.undeliveredMessages().map((m) => [text(m.data), m.status]),
      expected,
      'exactly what never arrived, each known lost',
    );
    assert.equal(reason.undelivered, 30);
  });

  test('a resume while the server still believes in the old connection replaces it and loses nothing', {
    timeout: 30_000,
  }, async (t) => {
    const N = 20_000;
    // Default limits: the server would notice the silent old connection only after 45 s.
    const server = await startServer(t);
    const proxy = await startProxy(t, { target: server.address });
    const client = track(t, connect(proxy.url));
    const accepted = await nextSession(server);
    await within(client.ready, 5_000, 'client ready');
    const serverEvents: string[] = [];
    accepted.on('suspended', () => serverEvents.push('suspended'));
    accepted.on('resumed', (s) => serverEvents.push(`resumed after ${Math.round(s.downtimeMs)} ms`));

    let stalled = false;
    const receive = async (s: Session, prefix: string, onEach?: (i: number) => void) => {
      let i = 0;
      for await (const m of s) {
        const got = text(m);
        if (got !== `${prefix}${i}`) assert.fail(`message ${i}: expected ${prefix}${i}, got ${got}`);
        onEach?.(i);
        if (++i === N) return i;
      }
      return i;
    };
    const sendAll = async (s: Session, prefix: string) => {
      for (let i = 0; i < N; i++) await s.send(`${prefix}${i}`);
    };
    const counts = await within(
      Promise.all([
        receive(accepted, 'c', (i) => {
          if (i === N / 4 && !stalled) {
            stalled = true;
            // The old connection goes silent for the server; the client sees it reset at once.
            assert.equal(proxy.stall({ resetClient: true }), 1);
          }
        }),
        receive(client, 's'),
        sendAll(client, 'c'),
        sendAll(accepted, 's'),
      ]),
      25_000,
      'exchange across the replaced connection',
    );
    assert.deepEqual(counts.slice(0, 2), [N, N]);
    assert.ok(stalled);
    assert.equal(client.stats.resumes, 1);
    assert.equal(accepted.stats.resumes, 1);
    assert.equal(serverEvents.length, 1, `server events: ${serverEvents.join(', ')}`);
    assert.match(serverEvents[0] as string, /^resumed/, 'the server resumed without ever suspending');
    t.diagnostic(
      `${serverEvents[0]}; retransmitted ${client.stats.framesRetransmitted} frames by the client, ${accepted.stats.framesRetransmitted} by the server`,
    );
    const [rc, rs] = await within(Promise.all([client.close(), accepted.closed]), 5_000, 'release');
    assert.equal(rc.kind, 'released');
    assert.equal(rs.kind, 'released');
    // The stalled old connection is the proxy's to end (the server would linger on it).
    await proxy.stop();
  });
});

// ------------------------------------------------------------------ helpers

/**
 * One direction's payload: messages of 1 B to 256 KiB (log-uniform, so many small and some
 * large), pseudo-random bytes, `totalBytes` in all; both ends derive it from the seed and hash
 * each message as its length (u32) then its bytes, so boundaries count as well as content.
 */
class Stream {
  readonly totalBytes: number;
  messages = 0;
  readonly #hash: Hash = createHash('sha256');
  readonly #next: () => number;

  constructor(seed: number, totalBytes: number) {
    this.totalBytes = totalBytes;
    this.#next = xorshift32(seed);
  }

  /**
   * Sends the whole stream, paced to at most `bytesPerSecond` so that the transfer spans several
   * cuts whatever the machine's speed (at full speed 50 MiB can cross loopback between two cuts).
   */
  async sendOn(session: Session, bytesPerSecond = Number.POSITIVE_INFINITY): Promise<void> {
    let left = this.totalBytes;
    const start = performance.now();
    while (left > 0) {
      const ahead = (this.totalBytes - left) / bytesPerSecond - (performance.now() - start) / 1000;
      if (ahead > 0.01) await new Promise((resolve) => setTimeout(resolve, ahead * 1000));
      const size = Math.min(left, Math.floor(Math.exp((this.#next() / 2 ** 32) * Math.log(256 * 1024))) || 1);
      const message = new Uint8Array(size);
      const words = new Uint32Array(message.buffer, 0, size >>> 2);
      for (let i = 0; i < words.length; i++) words[i] = this.#next();
      for (let i = words.length * 4; i < size; i++) message[i] = this.#next() & 0xff;
      hashMessage(this.#hash, message);
      this.messages++;
      left -= size;
      await session.send(message);
    }
  }

  digest(): string {
    return this.#hash.copy().digest('hex');
  }
}

/** Hashes every message a session receives the same way; `until(n)` resolves after n bytes. */
function receiver(session: Session): { messages: number; until(bytes: number): Promise<void>; digest(): string } {
  const hash = createHash('sha256');
  let bytes = 0;
  let waiting: { bytes: number; resolve: () => void } | null = null;
  const state = {
    messages: 0,
    until(n: number): Promise<void> {
      if (bytes >= n) return Promise.resolve();
      return new Promise<void>((resolve) => {
        waiting = { bytes: n, resolve };
      });
    },
    digest: () => hash.copy().digest('hex'),
  };
  session.on('message', (m) => {
    hashMessage(hash, m);
    state.messages++;
    bytes += m.byteLength;
    if (waiting && bytes >= waiting.bytes) waiting.resolve();
  });
  return state;
}

function hashMessage(hash: Hash, message: Uint8Array): void {
  const length = Buffer.allocUnsafe(4);
  length.writeUInt32BE(message.byteLength);
  hash.update(length);
  hash.update(message);
}

function xorshift32(seed: number): () => number {
  let x = seed >>> 0 || 0x9e3779b9;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

async function startServer(t: TestContext, options: ListenOptions = {}, url = 'tcp://127.0.0.1:0'): Promise<Server> {
  const server = await listen(url, options);
  t.after(() => server.close());
  return server;
}

async function startProxy(t: TestContext, options: FaultProxyOptions): Promise<FaultProxy> {
  const proxy = new FaultProxy(options);
  await proxy.start();
  t.after(() => proxy.stop());
  return proxy;
}

function track(t: TestContext, session: Session): Session {
  t.after(() => session.abort());
  return session;
}

async function nextSession(server: Server, ms = 5_000): Promise<Session> {
  const r = await within(server[Symbol.asyncIterator]().next(), ms, 'server session');
  if (r.done) throw new Error('server iteration ended');
  return r.value;
}

const UTF8 = new TextDecoder();
const text = (b: Uint8Array): string => UTF8.decode(b);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function until(condition: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms: ${what}`);
    await sleep(5);
  }
}
