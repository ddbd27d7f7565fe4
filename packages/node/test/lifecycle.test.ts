/**
 * Session and connection lifecycle over loopback TCP, with clients that are real processes:
 * what a server is left holding after a client released and exited at once, after a pool was
 * closed, after a cut before the session was established, and after many short sessions from
 * one address (issue 10, points 3, 4 and 5).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { AbortCode, connect, ErrorCode, type Server, type Session, SessionClosedError } from '@liaison/node';
import { FaultProxy } from '@liaison/testkit';
import { echoServer, startServer, text, track, waitFor, within } from './helpers.js';

/** The workspace root: a child's `import '@liaison/node'` resolves from its node_modules. */
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** Runs `script` (an ES module) in a child `node` with `URL` set; resolves with its exit code. */
function runClient(script: string, url: string, ms: number): Promise<number> {
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
    cwd: ROOT,
    env: { ...process.env, URL: url },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const exited = new Promise<number>((resolve) => {
    child.on('exit', (code, signal) => {
      if (code !== 0) process.stderr.write(`client exited ${code ?? signal}: ${stderr}\n`);
      resolve(code ?? -1);
    });
  });
  return within(exited, ms, 'client process exit').finally(() => child.kill('SIGKILL'));
}

/** Every session the server produces, with the reason it closed with (null while open). */
function record(server: Server): { sessions: Session[]; reasons: Map<Session, string> } {
  const sessions: Session[] = [];
  const reasons = new Map<Session, string>();
  server.on('session', (s) => {
    sessions.push(s);
    void (async () => {
      try {
        for await (const _ of s) {
          // read everything: the release is answered once the messages were taken
        }
      } catch {
        // aborted: the reason is recorded below
      }
    })();
    void s.closed.then((r) => reasons.set(s, r.kind === 'aborted' ? `aborted ${r.code} ${r.message}` : r.kind));
  });
  return { sessions, reasons };
}

const RELEASE_THEN_EXIT = `
import { connect } from '@liaison/node';
const s = connect(process.env.URL);
await s.ready;
await s.send('hello');
const r = await s.close();
if (r.kind !== 'released') { console.error(JSON.stringify(r)); process.exit(2); }
process.exit(0);
`;

const POOL_CLOSE_THEN_EXIT = `
import { connect, Pool } from '@liaison/node';
const pool = new Pool();
const sessions = Array.from({ length: Number(process.env.N) }, () => connect(process.env.URL, { pool }));
await Promise.all(sessions.map((s) => s.ready));
await Promise.all(sessions.map((s) => s.send('hello')));
await pool.close();
const bad = (await Promise.all(sessions.map((s) => s.closed))).filter((r) => r.kind !== 'released');
if (bad.length > 0) { console.error(JSON.stringify(bad[0])); process.exit(2); }
process.exit(0);
`;

describe('a client process that exits right after close()', { timeout: 60_000 }, () => {
  test('regression (issue 10.3): close() then process.exit leaves the server nothing, 5 runs', async (t) => {
    const server = await startServer(t);
    const { sessions, reasons } = record(server);
    for (let run = 1; run <= 5; run++) {
      assert.equal(await runClient(RELEASE_THEN_EXIT, server.url, 10_000), 0, `run ${run}: client exit code`);
      // Released before the client's process was gone: nothing left to wait for.
      await waitFor(() => reasons.size === run, 1_000, `run ${run}: server session closed`);
      const s = sessions[run - 1] as Session;
      assert.equal(reasons.get(s), 'released', `run ${run}`);
      assert.equal(server.resumableSessions, 0, `run ${run}: nothing kept for a resume`);
      await waitFor(() => server.connectionCount === 0, 1_000, `run ${run}: connection gone`);
    }
  });

  test('regression (issue 10.3): pool.close() of 200 sessions then process.exit releases all of them', async (t) => {
    const N = 200;
    const server = await startServer(t);
    const { reasons } = record(server);
    const script = POOL_CLOSE_THEN_EXIT.replace('process.env.N', String(N));
    assert.equal(await runClient(script, server.url, 20_000), 0, 'client exit code');
    await waitFor(() => reasons.size === N, 2_000, 'every server session closed');
    const notReleased = [...reasons.values()].filter((r) => r !== 'released');
    assert.deepEqual(notReleased, [], 'every session released');
    assert.equal(server.resumableSessions, 0);
    await waitFor(() => server.connectionCount === 0, 1_000, 'connection gone');
  });
});

describe('connections do not outlive their sessions', { timeout: 60_000 }, () => {
  test('regression (issue 10.5): a connection whose sessions resumed elsewhere is dropped at once', async (t) => {
    const N = 20;
    const server = await startServer(t);
    echoServer(server);
    const proxy = new FaultProxy({ target: server.address });
    await proxy.start();
    t.after(() => proxy.stop());
    const clients = Array.from({ length: N }, () => track(t, connect(proxy.url)));
    await within(Promise.all(clients.map((c) => c.ready)), 5_000, 'ready');
    assert.equal(server.connectionCount, N);
    const resumed = Promise.all(clients.map((c) => new Promise<void>((r) => c.once('resumed', () => r()))));
    // The clients see a reset; the server's side stays open and silent, as after a NAT rebinding.
    assert.equal(proxy.stall({ resetClient: true }), N);
    await within(resumed, 5_000, 'every client resumed on a new connection');
    // The old connections carry nothing any more: gone now, not after the handshake or idle timeout.
    await waitFor(() => server.connectionCount === N, 1_000, `${N} connections, one per session`);
    const echoes = clients.map((c) => new Promise<string>((r) => c.once('message', (m) => r(text(m)))));
    await Promise.all(clients.map((c, i) => c.send(`after ${i}`)));
    assert.deepEqual(
      await within(Promise.all(echoes), 2_000, 'echoes'),
      clients.map((_, i) => `after ${i}`),
    );
    await within(Promise.all(clients.map((c) => c.close())), 2_000, 'released');
    await waitFor(() => server.connectionCount === 0, 1_000, 'no connection left');
  });

  test('regression (issue 10.5): 2,000 short sessions, 200 at a time from one address, none refused', async (t) => {
    const TOTAL = 2_000;
    const CONCURRENT = 200;
    const server = await startServer(t);
    const { reasons } = record(server);
    let refused = 0;
    let peak = 0;
    server.on('connection-refused', () => refused++);
    let started = 0;
    const worker = async () => {
      while (started < TOTAL) {
        started++;
        const s = connect(server.url);
        await s.ready;
        await s.send('short');
        const r = await s.close();
        assert.equal(r.kind, 'released');
        peak = Math.max(peak, server.connectionCount);
      }
    };
    await within(Promise.all(Array.from({ length: CONCURRENT }, worker)), 45_000, '2,000 sessions');
    assert.equal(refused, 0, 'connections refused');
    assert.ok(peak <= CONCURRENT + 1, `at most one connection per live session plus one closing (peak ${peak})`);
    await waitFor(() => server.connectionCount === 0, 1_000, 'every connection closed after its session');
    await waitFor(() => reasons.size === TOTAL, 1_000, 'server sessions closed');
    assert.equal([...reasons.values()].filter((r) => r !== 'released').length, 0);
  });
});

/**
 * Bytes into a connection's server-to-client stream at which the ACCEPT is cut: the client sends
 * 106 bytes before it (preface, CONNECT with its key share, WINDOW), the server 48 (preface,
 * CHALLENGE, WINDOW) and then 123 with the ACCEPT. At 130 the server has accepted and the client
 * gets part of the ACCEPT only.
 */
const INSIDE_ACCEPT = 130;

/** A proxy that cuts the first `cuts` connections inside the ACCEPT (every one for Infinity). */
async function acceptCutter(t: { after: (fn: () => Promise<void>) => void }, server: Server, cuts: number) {
  const proxy = new FaultProxy({
    target: server.address,
    cutAtBytes: [INSIDE_ACCEPT, INSIDE_ACCEPT],
    cutStyle: 'reset',
  });
  // 'connection' comes before the connection's cut offsets are drawn: later ones pass untouched.
  proxy.on('connection', ({ id }) => {
    if (id > cuts) proxy.setFaults({ cutAtBytes: null });
  });
  await proxy.start();
  t.after(() => proxy.stop());
  return proxy;
}

describe('establishment across a cut before ACCEPT', { timeout: 30_000 }, () => {
  test('regression: send() and close() while the lost connect request goes again are kept for the new one', async (t) => {
    const server = await startServer(t);
    echoServer(server);
    const proxy = await acceptCutter(t, server, 1);
    // A long first backoff delay: the client waits 300 ms with no engine session of its own.
    const client = track(t, connect(proxy.url, { backoff: { initialDelayMs: 300, jitter: 0 } }));
    const echoes: string[] = [];
    client.on('message', (m) => echoes.push(text(m)));
    await within(
      new Promise((resolve) => proxy.once('cut', resolve)),
      5_000,
      'the first connection cut inside the ACCEPT',
    );
    await new Promise((resolve) => setTimeout(resolve, 100)); // the client has seen the reset
    assert.equal(proxy.counters.connections, 1, 'no second connection yet');
    assert.equal(client.state, 'connecting');
    // Before the fix these went to the lost engine session: the send rejected TRANSPORT_LOST and
    // the release vanished, so close() never resolved and the session stayed open.
    const sent = client.send('while re-establishing');
    const closed = client.close();
    await within(sent, 5_000, 'the send, on the new connection');
    assert.equal((await within(closed, 5_000, 'the release')).kind, 'released');
    assert.equal(proxy.counters.connections, 2, 'established on the second connection');
    assert.deepEqual(echoes, ['while re-establishing'], 'the echo came before the release completed');
  });

  test('regression (issue 10.4): connect() retries within the backoff and the server drops the half-open sessions', async (t) => {
    // The half-open sessions are kept for the server's handshake timeout, not its resume window.
    const server = await startServer(t, { limits: { handshakeTimeoutMs: 800, resumeWindowMs: 60_000 } });
    echoServer(server);
    const reasons: string[] = [];
    server.on('session', (s) => {
      void s.closed.then((r) => reasons.push(r.kind === 'aborted' ? `aborted ${r.code}` : r.kind));
    });
    const proxy = await acceptCutter(t, server, 3);
    const client = track(t, connect(proxy.url));
    await within(client.ready, 5_000, 'ready after the cuts');
    assert.equal(proxy.counters.cuts, 3, 'three connections cut inside the ACCEPT');
    assert.equal(proxy.counters.connections, 4, 'established on the fourth');
    const echoed = new Promise<string>((resolve) => client.once('message', (m) => resolve(text(m))));
    await client.send('after the cuts');
    assert.equal(await within(echoed, 2_000, 'echo'), 'after the cuts');
    // The three accepted on cut connections never heard from their client: dropped promptly.
    await within(
      waitFor(() => reasons.length === 3, 3_000, 'half-open sessions dropped'),
      3_000,
      'half-open sessions dropped',
    );
    assert.deepEqual(reasons, Array(3).fill(`aborted ${AbortCode.RESUME_WINDOW_EXPIRED}`));
    assert.equal(server.resumableSessions, 1, 'only the live session');
    assert.equal((await within(client.close(), 2_000, 'release')).kind, 'released');
    await waitFor(() => server.resumableSessions === 0, 1_000, 'nothing kept');
  });

  test('regression (issue 10.4): past establishmentTimeoutMs ready rejects with a typed error', async (t) => {
    const server = await startServer(t);
    const proxy = await acceptCutter(t, server, Number.POSITIVE_INFINITY);
    const started = Date.now();
    const client = track(t, connect(proxy.url, { establishmentTimeoutMs: 1_000 }));
    await assert.rejects(within(client.ready, 4_000, 'ready settles'), (e: unknown) => {
      assert.ok(e instanceof SessionClosedError);
      assert.equal(e.code, ErrorCode.SESSION_ABORTED);
      const r = e.reason;
      assert.ok(r.kind === 'aborted' && r.by === 'provider' && r.origin === 'local');
      assert.ok(
        ([AbortCode.HANDSHAKE_TIMEOUT, AbortCode.TRANSPORT_LOST] as number[]).includes(r.code),
        `code ${r.code}`,
      );
      return true;
    });
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= 900 && elapsed < 3_000, `gave up after ${elapsed} ms`);
    assert.ok(proxy.counters.connections > 2, `retried (${proxy.counters.connections} connections)`);
    assert.equal(client.state, 'closed');
  });

  test('establishmentTimeoutMs is checked at connect()', () => {
    for (const bad of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
      assert.throws(() => connect('tcp://127.0.0.1:1', { establishmentTimeoutMs: bad }), {
        code: ErrorCode.INVALID_ARGUMENT,
      });
    }
  });
});
