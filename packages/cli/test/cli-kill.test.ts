/**
 * Exact accounting across a server crash (issue 18.4): `liaison serve` is killed with SIGKILL while
 * a client streams messages to it, and a new server process takes its port. The new one has no
 * record of the session (there is no durable store yet, issue 11), so the resume is refused; what
 * must hold is the accounting: every message the client sent was printed by the dead server or is
 * listed by `undeliveredMessages()`, none both when listed `undelivered`, none twice, in order.
 * Each run kills at a different point (LIAISON_SEED picks it); every wait is bounded.
 *
 * The messages queued during the outage leave behind the client's RESUME (optimistic replay) and
 * the refusal that answers it is not authenticated, so afterwards they are `unconfirmed`, like
 * everything sent and never acknowledged: only a proven final count (a tombstone) makes them
 * `undelivered`.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { createInterface } from 'node:readline';
import { describe, type TestContext, test } from 'node:test';
import { AbortCode, type CloseReason, connect } from '@liaison/node';
import { within } from '@liaison/testkit';

const CLI = new URL('../dist/main.js', import.meta.url).pathname;

describe('liaison serve killed with SIGKILL (issue 18.4)', () => {
  for (const round of [0, 1, 2]) {
    test(`round ${round}: each message is printed by the dead server, or reported undelivered or unconfirmed; never lost silently, never both`, {
      timeout: 60_000,
    }, async (t) => {
      const seed = Number(process.env.LIAISON_SEED ?? Date.now() % 2 ** 31) + round * 277;
      const killAfter = 200 + (seed % 800); // printed lines before the kill
      t.diagnostic(`seed ${seed}: kill after ${killAfter} printed lines`);
      const port = await freePort();
      const url = `tcp://127.0.0.1:${port}`;
      const first = await startServer(t, url);
      const printed = collectLines(first.child);

      const client = connect(url, { limits: { handshakeTimeoutMs: 2_000 } });
      t.after(() => client.abort());
      await within(client.ready, 10_000, 'client ready');
      const sent: string[] = [];
      const send = (line: string) => {
        sent.push(line);
        client.send(line).catch(() => {}); // a lost one rejects; the list below is what counts
      };

      // Stream in small bursts until the server has printed killAfter lines, then kill it mid-stream.
      let n = 0;
      while (printed.lines.length < killAfter) {
        for (let k = 0; k < 8; k++) send(`m${n++}`);
        await new Promise((r) => setTimeout(r, 1));
        assert.ok(n < 200_000, 'the server prints what it receives');
      }
      for (let k = 0; k < 8; k++) send(`m${n++}`); // some still in flight at the kill
      const suspended = once(client, 'suspended');
      first.child.kill('SIGKILL');
      await within(once(first.child, 'exit'), 5_000, 'the first server dies');
      await within(printed.ended, 5_000, "the first server's stdout drained");
      // Once the client knows the connection is gone, what it sends is queued: it never leaves.
      await within(suspended, 10_000, 'the client notices the dead server');
      for (let k = 0; k < 50; k++) send(`m${n++}`);
      assert.deepEqual(
        client
          .undeliveredMessages()
          .slice(-50)
          .map((m) => m.status),
        Array(50).fill('undelivered'),
        'queued in the outage: known not to have arrived (yet)',
      );

      const second = await startServer(t, url);
      const secondPrinted = collectLines(second.child);
      const reason = await within(client.closed, 30_000, 'the resume is refused');

      assert.equal(reason.kind, 'aborted', JSON.stringify(reason));
      assert.equal((reason as Extract<CloseReason, { kind: 'aborted' }>).code, AbortCode.RESUME_REFUSED);
      const listed = client.undeliveredMessages().map((m) => ({ line: text(m.data), status: m.status }));
      const got = printed.lines;
      assert.deepEqual(got, sent.slice(0, got.length), 'the dead server printed a prefix, in order, once each');
      const gotSet = new Set(got);
      const listedLines = listed.map((m) => m.line);
      assert.equal(new Set(listedLines).size, listedLines.length, 'no message listed twice');
      for (const line of sent) {
        assert.ok(gotSet.has(line) || listedLines.includes(line), `${line}: neither delivered nor reported`);
      }
      for (const m of listed) {
        assert.ok(sent.includes(m.line), `${m.line} listed but never sent`);
        if (m.status === 'undelivered')
          assert.ok(!gotSet.has(m.line), `${m.line} reported undelivered but was printed`);
      }
      // The listed messages are the tail of what was sent, from the first one not confirmed on.
      assert.deepEqual(listedLines, sent.slice(sent.length - listed.length));
      assert.equal((reason as { undelivered?: number }).undelivered, listed.length);
      assert.equal(secondPrinted.lines.length, 0, 'the new server made no session of it');
      const unconfirmed = listed.filter((m) => m.status === 'unconfirmed');
      const arrivedAnyway = unconfirmed.filter((m) => gotSet.has(m.line)).length;
      t.diagnostic(
        `${sent.length} sent, ${got.length} printed, ${listed.length} listed (${unconfirmed.length} unconfirmed, ${arrivedAnyway} of them had arrived)`,
      );
    });
  }
});

function text(data: Uint8Array): string {
  return new TextDecoder().decode(data);
}

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  await new Promise((r) => server.close(r));
  return port;
}

async function startServer(t: TestContext, url: string): Promise<{ child: ChildProcess }> {
  const child = spawn(process.execPath, [CLI, 'serve', '--listen', url, '--quiet'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  const [first] = (await within(once(lines, 'line'), 10_000, `serve: listening line (${stderr})`)) as [string];
  lines.close();
  assert.equal(first, `listening ${url}`);
  return { child };
}

function collectLines(child: ChildProcess): { lines: string[]; ended: Promise<void> } {
  const lines: string[] = [];
  let partial = '';
  const stdout = child.stdout as NodeJS.ReadableStream;
  stdout.setEncoding('utf8');
  stdout.on('data', (d: string) => {
    const parts = (partial + d).split('\n');
    partial = parts.pop() ?? '';
    lines.push(...parts);
  });
  stdout.resume();
  return { lines, ended: once(stdout, 'end').then(() => undefined) };
}
