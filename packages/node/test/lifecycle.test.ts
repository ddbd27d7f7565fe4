/**
 * Session and connection lifecycle over loopback TCP, with clients that are real processes:
 * what a server is left holding after a client released and exited at once, after a pool was
 * closed, and after many short sessions from one address (issue 10, points 3 and 5).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { connect, type Server, type Session } from '@liaison/node';
import { startServer, waitFor, within } from './helpers.js';

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
