/**
 * The acceptance test: `liaison serve --echo` behind the testkit's fault proxy, which cuts
 * every connection once 100-300 kB went one way (by bytes, not time: on a fast machine the
 * transfer ended before a 200 ms cut), and `liaison connect --json` piping 100,000 lines through it.
 * Everything comes back exactly once and in order, the command exits 0, and its JSON events show
 * at least one resume that lost nothing. Bounded in time; both processes and the proxy are ended.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { describe, type TestContext, test } from 'node:test';
import { FaultProxy, parseEndpoint, within } from '@liaison/testkit';

const CLI = new URL('../dist/main.js', import.meta.url).pathname;
const PROXY_CLI = new URL('../../testkit/dist/cli.js', import.meta.url).pathname;

describe('liaison CLI across transport breaks', () => {
  test('100,000 lines through a proxy cutting every 100-300 kB: all echoed, exit 0, resumed with lost: 0', {
    timeout: 90_000,
  }, async (t) => {
    const server = start(t, ['serve', '--listen', 'tcp://127.0.0.1:0', '--echo', '--quiet']);
    const first = await within(firstLine(server), 10_000, 'serve: listening line');
    assert.match(first, /^listening tcp:\/\/127\.0\.0\.1:\d+$/);
    const target = parseEndpoint(first.slice('listening '.length));
    const seed = Number(process.env.LIAISON_SEED ?? Date.now() % 2 ** 31);
    t.diagnostic(`proxy seed ${seed}`);
    const proxy = new FaultProxy({ target, cutAtBytes: [100_000, 300_000], seed });
    await proxy.start();
    t.after(() => proxy.stop());

    const input = `${Array.from({ length: 100_000 }, (_, i) => `line ${i} ${'x'.repeat(i % 50)}`).join('\n')}\n`;
    const client = start(t, ['connect', proxy.url, '--json']);
    let stdout = '';
    let stderr = '';
    client.stdout?.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    client.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    client.stdin?.end(input);
    const [code] = await within(once(client, 'exit'), 80_000, `connect (seed ${seed})`);

    const events = stderr
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { event: string; lost?: number });
    const resumed = events.filter((e) => e.event === 'resumed');
    const where = `seed ${seed}, ${proxy.counters.cuts} cuts, exit ${code}, last events: ${stderr.slice(-600)}`;
    assert.equal(code, 0, where);
    assert.ok(stdout === input, `stdout equals the input (${stdout.length} of ${input.length} chars; ${where})`);
    assert.ok(resumed.length >= 1, `at least one resumed event (${where})`);
    for (const e of resumed) assert.equal(e.lost, 0);
    assert.equal(events.at(-1)?.event, 'closed');
    t.diagnostic(`${resumed.length} resumes, ${proxy.counters.cuts} cuts`);
  });
});

describe('liaison CLI on a flapping link (issue 10.1)', () => {
  // Before the fix this ended with RELEASE_TIMEOUT (exit 6): the release timer ran on through the
  // outages, and resumes cut mid-way drove the reconnection delay to its ceiling.
  test('lines through the proxy command cutting every 100±50 ms, 500 ms down, 1 MiB/s: all echoed, released, exit 0', {
    timeout: 120_000,
  }, async (t) => {
    const server = start(t, ['serve', '--listen', 'tcp://127.0.0.1:0', '--echo', '--quiet']);
    const first = await within(firstLine(server), 10_000, 'serve: listening line');
    const target = first.slice('listening tcp://'.length);
    const seed = Number(process.env.LIAISON_SEED ?? Date.now() % 2 ** 31);
    t.diagnostic(`proxy seed ${seed}`);
    const proxyArgs = ['--target', target, '--cut-ms', '50-150', '--down-ms', '500', '--rate', '1MiB'];
    const proxy = start(t, [...proxyArgs, '--seed', String(seed), '--quiet'], PROXY_CLI);
    const proxyLine = await within(firstLine(proxy), 10_000, 'proxy: its address');
    assert.match(proxyLine, /^proxy tcp:\/\/127\.0\.0\.1:\d+$/);

    const lines = Number(process.env.LIAISON_CHAOS_LINES ?? 40_000);
    const input = `${Array.from({ length: lines }, (_, i) => `${i + 1}`).join('\n')}\n`;
    const client = start(t, ['connect', proxyLine.slice('proxy '.length), '--json']);
    let stdout = '';
    let stderr = '';
    client.stdout?.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    client.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    client.stdin?.end(input);
    const [code] = await within(once(client, 'exit'), 100_000, `connect (seed ${seed})`);

    const events = stderr
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map(
        (l) =>
          JSON.parse(l) as { event: string; lost?: number; reason?: { kind: string }; framesRetransmitted?: number },
      );
    const resumed = events.filter((e) => e.event === 'resumed');
    const closed = events.at(-1);
    const where = `seed ${seed}, ${resumed.length} resumes, exit ${code}, last events: ${stderr.slice(-600)}`;
    assert.equal(code, 0, where);
    assert.ok(stdout === input, `stdout equals the input (${stdout.length} of ${input.length} chars; ${where})`);
    assert.ok(resumed.length >= 3, `the link flapped under the session (${where})`);
    for (const e of resumed) assert.equal(e.lost, 0);
    assert.equal(closed?.event, 'closed');
    assert.equal(closed?.reason?.kind, 'released', where);
    t.diagnostic(`${lines} lines, ${resumed.length} resumes, ${closed?.framesRetransmitted} frames retransmitted`);
    // A link up 100 ± 50 ms at 1 MiB/s carries about 6,000 of these frames. Paced, a resume sends
    // about that much again (7,000 per resume measured); unpaced, it wrote the whole backlog into
    // each doomed link (24,000 per resume here, 213,475 frames in all for 40,000 lines).
    const perResume = (closed?.framesRetransmitted ?? 0) / resumed.length;
    assert.ok(perResume < 15_000, `${perResume} frames retransmitted per resume (${where})`);
  });
});

describe('liaison CLI: a session the server gave up (issue 10.2)', () => {
  // Before the fix the closed event listed all 50 lines as lost, although the server had 20.
  test('a late resume learns from the tombstone exactly which lines never arrived', {
    timeout: 60_000,
  }, async (t) => {
    const server = start(t, ['serve', '--listen', 'tcp://127.0.0.1:0', '--resume-window-ms', '1000', '--quiet']);
    const first = await within(firstLine(server), 10_000, 'serve: listening line');
    const printed: string[] = [];
    let partial = '';
    server.stdout?.setEncoding('utf8').on('data', (d: string) => {
      const parts = (partial + d).split('\n');
      partial = parts.pop() ?? '';
      printed.push(...parts);
    });
    server.stdout?.resume(); // firstLine's reader paused it
    const proxy = new FaultProxy({ target: parseEndpoint(first.slice('listening '.length)) });
    await proxy.start();
    t.after(() => proxy.stop());

    const client = start(t, ['connect', proxy.url, '--json']);
    let stderr = '';
    client.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    await within(
      waitFor(() => stderr.includes('"event":"open"')),
      10_000,
      'connect: the open event',
    );
    proxy.setFaults({ delayMs: { 'to-client': 60_000 } }); // acknowledgements stop coming back
    for (let i = 0; i < 20; i++) client.stdin?.write(`arrives ${i}\n`);
    await within(
      waitFor(() => printed.length >= 20),
      10_000,
      'the server printed 20 lines',
    );
    proxy.setFaults({ delayMs: 60_000 }); // and now nothing passes: these die in the proxy
    for (let i = 0; i < 30; i++) client.stdin?.write(`lost ${i}\n`);
    await new Promise((r) => setTimeout(r, 100));
    await proxy.down('refuse', { cutExisting: true });
    proxy.setFaults({ delayMs: 0 });
    await new Promise((r) => setTimeout(r, 1_500)); // past the server's resume window
    await proxy.up();
    const [code] = await within(once(client, 'exit'), 30_000, 'connect exits');

    const closed = stderr
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { event: string; undeliveredMessages?: string[]; unconfirmedMessages?: number })
      .find((e) => e.event === 'closed');
    const where = `exit ${code}, stderr: ${stderr.slice(-800)}`;
    assert.equal(code, 4, `aborted: the server no longer had the session (${where})`);
    assert.equal(printed.length, 20, where);
    assert.deepEqual(
      closed?.undeliveredMessages,
      Array.from({ length: 30 }, (_, i) => `lost ${i}`),
      where,
    );
    assert.equal(closed?.unconfirmedMessages, 0, 'each known lost, none merely unconfirmed');
  });
});

async function waitFor(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((r) => setTimeout(r, 10));
}

function start(t: TestContext, args: string[], script = CLI): ChildProcess {
  const child = spawn(process.execPath, [script, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  return child;
}

async function firstLine(child: ChildProcess): Promise<string> {
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  const [line] = (await once(lines, 'line')) as [string];
  lines.close();
  return line;
}
