/**
 * The built `liaison` command as child processes over loopback TCP. The command is found next to
 * this file (packages/cli/dist/main.js), never through the working directory. Every child is
 * killed when its test ends, and every wait is bounded.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { describe, type TestContext, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { listen, RefuseCode } from '@liaison/node';
import { closedPort, within } from '@liaison/testkit';

const MAIN = fileURLToPath(new URL('../dist/main.js', import.meta.url));

interface Run {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function run(t: TestContext, args: string[], input?: string): Run {
  const child = spawn(process.execPath, [MAIN, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout!.on('data', (d: Buffer) => out.push(d));
  child.stderr!.on('data', (d: Buffer) => err.push(d));
  child.stdin!.on('error', () => {});
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('close', (code, signal) => resolve({ code, signal })),
  );
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  if (input !== undefined) child.stdin!.end(input);
  return {
    child,
    stdout: () => Buffer.concat(out).toString('utf8'),
    stderr: () => Buffer.concat(err).toString('utf8'),
    exit,
  };
}

/** Starts `serve` and resolves with its URL once it printed the listening line. */
async function serve(t: TestContext, extra: string[] = []): Promise<{ server: Run; url: string }> {
  const server = run(t, ['serve', '--listen', 'tcp://127.0.0.1:0', ...extra]);
  const url = await within(
    new Promise<string>((resolve, reject) => {
      const check = () => {
        const first = server.stdout().split('\n');
        if (first.length > 1) {
          const m = /^listening (tcp:\/\/127\.0\.0\.1:(\d+))$/.exec(first[0]!);
          if (m && Number(m[2]) > 0) resolve(m[1]!);
          else reject(new Error(`unexpected first line: ${first[0]}`));
          server.child.stdout!.off('data', check);
        }
      };
      server.child.stdout!.on('data', check);
      server.exit.then(() => reject(new Error(`serve exited early: ${server.stderr()}`)));
    }),
    5_000,
    'listening line',
  );
  return { server, url };
}

describe('liaison serve and connect', { timeout: 60_000 }, () => {
  // The acceptance test.
  test('connect echoes 100,000 piped lines back exactly, in order, and exits 0', async (t) => {
    const { url } = await serve(t, ['--echo']);
    const lines = Array.from({ length: 100_000 }, (_, i) => `line ${i} ${'x'.repeat(i % 50)}`);
    const input = `${lines.join('\n')}\n`;
    const client = run(t, ['connect', url], input);
    const { code } = await within(client.exit, 30_000, 'connect exits');
    assert.equal(code, 0, client.stderr());
    const out = client.stdout();
    assert.equal(out.length, input.length);
    assert.ok(out === input, 'the same lines, in order');
  });

  test('serve without --echo prints received lines on stdout', async (t) => {
    const { server, url } = await serve(t);
    const client = run(t, ['connect', url], 'alpha\nbeta\r\ngamma');
    assert.equal((await within(client.exit, 5_000, 'connect exits')).code, 0, client.stderr());
    assert.equal(client.stdout(), '', 'nothing is echoed');
    const deadline = Date.now() + 2_000;
    while (!server.stdout().includes('gamma\n') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(server.stdout().split('\n').slice(1, 4), ['alpha', 'beta', 'gamma']);
  });

  test('--json on connect gives JSON lines on stderr, with open and closed events', async (t) => {
    const { url } = await serve(t, ['--echo']);
    const client = run(t, ['connect', '--json', url], 'one\ntwo\n');
    assert.equal((await within(client.exit, 5_000, 'connect exits')).code, 0, client.stderr());
    assert.equal(client.stdout(), 'one\ntwo\n');
    const events = client
      .stderr()
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { event: string; [k: string]: unknown });
    const names = events.map((e) => e.event);
    assert.ok(names.includes('open'), names.join());
    assert.equal(names[names.length - 1], 'closed');
    const closed = events[events.length - 1]!;
    assert.equal((closed.reason as { kind: string }).kind, 'released');
    assert.equal(closed.messagesOut, 2);
    assert.equal(closed.messagesIn, 2);
  });

  // Regression: serve printed its listening line before installing its signal handlers, so a
  // SIGTERM sent as soon as the line was read killed it (by signal, not exit 0).
  test('SIGTERM makes serve exit 0, even right after the listening line', async (t) => {
    const { server } = await serve(t, ['--echo']);
    server.child.kill('SIGTERM');
    const { code, signal } = await within(server.exit, 5_000, 'serve exits');
    assert.equal(signal, null, 'not killed by the signal');
    assert.equal(code, 0, server.stderr());
  });

  test('SIGTERM makes serve release its open sessions and exit 0; the client ends released', async (t) => {
    const { server, url } = await serve(t, ['--echo']);
    const client = run(t, ['connect', '--no-resume', url]);
    client.child.stdin!.write('ping\n');
    const deadline = Date.now() + 3_000;
    while (!client.stdout().includes('ping') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.equal(client.stdout(), 'ping\n');
    server.child.kill('SIGTERM');
    assert.equal((await within(server.exit, 5_000, 'serve exits')).code, 0, server.stderr());
    assert.equal((await within(client.exit, 5_000, 'connect exits')).code, 0, client.stderr());
  });

  test('serve --shutdown-timeout 0 aborts its sessions on SIGTERM instead', async (t) => {
    const { server, url } = await serve(t, ['--echo', '--shutdown-timeout', '0']);
    const client = run(t, ['connect', '--no-resume', url]);
    client.child.stdin!.write('ping\n');
    const deadline = Date.now() + 3_000;
    while (!client.stdout().includes('ping') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    server.child.kill('SIGTERM');
    assert.equal((await within(server.exit, 5_000, 'serve exits')).code, 0, server.stderr());
    assert.equal((await within(client.exit, 5_000, 'connect exits')).code, 4, client.stderr());
  });

  test('SIGTERM makes serve exit 0 (idle)', async (t) => {
    const { server } = await serve(t, ['--echo']);
    await new Promise((r) => setTimeout(r, 100));
    server.child.kill('SIGTERM');
    const { code, signal } = await within(server.exit, 5_000, 'serve exits');
    assert.equal(signal, null);
    assert.equal(code, 0, server.stderr());
  });
});

describe('liaison exit codes', { timeout: 30_000 }, () => {
  test('connect to a closed port exits 5 with one line on stderr', async (t) => {
    const port = await closedPort();
    const client = run(t, ['connect', `tcp://127.0.0.1:${port}`], '');
    assert.equal((await within(client.exit, 10_000, 'connect exits')).code, 5);
    const err = client.stderr().trimEnd();
    assert.equal(err.split('\n').length, 1, `stderr: ${err}`);
    assert.match(err, /^liaison: /);
    assert.equal(client.stdout(), '');
  });

  test('a refused session exits 3', async (t) => {
    const server = await listen('tcp://127.0.0.1:0', {
      onConnect: (request) => ({
        accept: false,
        code: new TextDecoder().decode(request.userData) === 'vip' ? RefuseCode.CONGESTION : RefuseCode.UNAUTHENTICATED,
      }),
    });
    t.after(() => server.close());
    const client = run(t, ['connect', '--user-data', 'guest', server.url], 'hello\n');
    assert.equal((await within(client.exit, 10_000, 'connect exits')).code, 3);
    const err = client.stderr().trimEnd();
    assert.equal(err.split('\n').length, 1, `stderr: ${err}`);
    assert.match(err, /refused/);
    assert.match(err, /UNAUTHENTICATED/);
  });

  test('a bad URL exits 2', async (t) => {
    for (const url of ['not a url', 'http://127.0.0.1:80', 'tcp://127.0.0.1']) {
      const client = run(t, ['connect', url], '');
      assert.equal((await within(client.exit, 5_000, `connect ${url}`)).code, 2, `${url}: ${client.stderr()}`);
      assert.match(client.stderr(), /liaison: /);
    }
    const server = run(t, ['serve', '--listen', 'udp://127.0.0.1:0']);
    assert.equal((await within(server.exit, 5_000, 'serve exits')).code, 2);
  });

  test('unknown options and missing arguments exit 2', async (t) => {
    const a = run(t, ['connect'], '');
    const b = run(t, ['serve']);
    const c = run(t, ['frobnicate']);
    const codes = await within(Promise.all([a.exit, b.exit, c.exit]), 5_000, 'exits');
    assert.deepEqual(
      codes.map((x) => x.code),
      [2, 2, 2],
    );
  });

  test('--help of root, serve and connect exits 0 and lists the exit codes', async (t) => {
    for (const args of [['--help'], ['serve', '--help'], ['connect', '--help']]) {
      const r = run(t, args);
      const { code } = await within(r.exit, 5_000, args.join(' '));
      assert.equal(code, 0, args.join(' '));
      const out = r.stdout();
      assert.match(out, /Exit codes:/, args.join(' '));
      for (const n of [0, 1, 2, 3, 4, 5, 6]) assert.match(out, new RegExp(`^  ${n}  `, 'm'), `${args.join(' ')}: ${n}`);
    }
  });
});
