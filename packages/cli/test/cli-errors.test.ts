/**
 * Issue 10 point 6 and issue 19, as a user meets them: the built `liaison` command as child
 * processes against real servers on loopback.
 * - Every integer option of every subcommand with a bad value was a stack trace and exit 1: now a
 *   one-line usage error, exit 2.
 * - Ctrl-C (SIGINT), SIGTERM, and a closed stdout (`connect ... | head -1`) left the session
 *   suspended on the server for its resume window: now the session is aborted, the server drops it
 *   at once, one line goes to stderr and the exit code is the table's (130, 143, 141).
 * - Failures named their cause in OpenSSL dumps or not at all: plaintext to a TLS port, TLS to a
 *   plaintext port, mutual TLS without a certificate, a wrong --server-key, send to a server
 *   without --receive-dir.
 * Every child is killed when its test ends; every wait is bounded.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, type TestContext, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  AbortCode,
  type CloseReason,
  connect,
  listen,
  type Server,
  TransportFailure,
  TransportFailureError,
} from '@liaison/node';
import { makePki, type TestPki, within } from '@liaison/testkit';

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
  child.stdout?.on('data', (d: Buffer) => out.push(d));
  child.stderr?.on('data', (d: Buffer) => err.push(d));
  child.stdin?.on('error', () => {});
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('close', (code, signal) => resolve({ code, signal })),
  );
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  if (input !== undefined) child.stdin?.end(input);
  return {
    child,
    stdout: () => Buffer.concat(out).toString('utf8'),
    stderr: () => Buffer.concat(err).toString('utf8'),
    exit,
  };
}

/** Exit code `code`, and stderr exactly one `liaison: ` line without a stack trace. */
async function failsWith(r: Run, code: number, what: string, pattern?: RegExp): Promise<string> {
  const { code: got } = await within(r.exit, 15_000, what);
  const err = r.stderr().trimEnd();
  assert.equal(got, code, `${what}: exit ${got}, stderr: ${err}`);
  assert.equal(err.split('\n').length, 1, `${what}: one stderr line, got: ${err}`);
  assert.match(err, /^liaison: /, what);
  assert.doesNotMatch(err, /\n\s+at /, what);
  if (pattern) assert.match(err, pattern, what);
  return err;
}

/** A server whose sessions the test watches: each one's close reason, as it comes. */
async function watchedServer(t: TestContext): Promise<{ server: Server; opened: () => number; closed: CloseReason[] }> {
  const server = await listen('tcp://127.0.0.1:0', { limits: { resumeWindowMs: 60_000 } });
  t.after(() => server.close());
  const closed: CloseReason[] = [];
  let opened = 0;
  void (async () => {
    for await (const session of server) {
      opened++;
      // Echo, so that `connect` has lines to print.
      session.on('message', (m) => void session.send(m).catch(() => {}));
      void session.closed.then((r) => closed.push(r));
    }
  })();
  return { server, opened: () => opened, closed };
}

async function until(what: string, ms: number, ok: () => boolean): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The server ended the session as the client's abort, at once, and keeps nothing suspended. */
async function droppedAtOnce(s: Awaited<ReturnType<typeof watchedServer>>, why: RegExp): Promise<void> {
  await until('the server ends the session', 3_000, () => s.closed.length === 1);
  const r = s.closed[0] as CloseReason;
  assert.equal(r.kind, 'aborted');
  assert.ok(r.kind === 'aborted' && r.origin === 'peer' && r.by === 'user', JSON.stringify(r));
  assert.match(new TextDecoder().decode(r.userData), why);
  assert.equal(s.server.resumableSessions, 0, 'no session left suspended');
}

describe('integer options', { timeout: 120_000 }, () => {
  // Each integer option is written `--name <n>`: the help lists them all, so a new one is covered.
  async function integerOptions(t: TestContext, command: string): Promise<string[]> {
    const help = run(t, [command, '--help']);
    assert.equal((await within(help.exit, 10_000, `${command} --help`)).code, 0);
    return [...help.stdout().matchAll(/^\s+(--[a-z-]+) <n>/gm)].map((m) => m[1] as string);
  }
  const required: Record<string, string[]> = {
    serve: ['serve', '--listen', 'tcp://127.0.0.1:0'],
    connect: ['connect', 'tcp://127.0.0.1:9'],
    send: ['send', 'some-file', 'tcp://127.0.0.1:9'],
  };
  const bad = ['abc', '1.5', '-1', '', '1e3', '0x10', '12abc', '99999999999999999999'];

  test('every integer option of serve, connect and send: a bad value exits 2 with one line', async (t) => {
    let checked = 0;
    for (const [command, base] of Object.entries(required)) {
      const options = await integerOptions(t, command);
      assert.ok(options.length >= 5, `${command}: ${options.join(' ')}`);
      // One spawn per option, the bad values taken in turn (the parser is the same for all).
      for (const [i, option] of options.entries()) {
        const value = bad[(i + checked) % bad.length] as string;
        const r = run(t, [...base, option, value]);
        await failsWith(r, 2, `${command} ${option} '${value}'`, new RegExp(`${option}.*invalid`));
      }
      checked += options.length;
    }
    assert.ok(checked >= 20, `${checked} options`);
  });

  test("the issue's examples, and zero where a positive integer is needed", async (t) => {
    const cases = [
      ['connect', 'tcp://127.0.0.1:9', '--keepalive-ms', 'abc'],
      ['send', '--retry-for-ms', '1.5', 'f', 'tcp://127.0.0.1:9'],
      ['connect', 'tcp://127.0.0.1:9', '--max-message-bytes', '-1'],
      ['serve', '--listen', 'tcp://127.0.0.1:0', '--max-connections', '0'],
      ['connect', 'tcp://127.0.0.1:9', '--noise-rekey-bytes', '0'],
    ];
    for (const args of cases) await failsWith(run(t, args), 2, args.join(' '));
    // In range for the parser, out of range for the limits: still a usage error.
    await failsWith(run(t, ['connect', 'tcp://127.0.0.1:9', '--max-message-bytes', '99999999999']), 2, 'too large');
    await failsWith(
      run(t, ['serve', '--listen', 'tcp://127.0.0.1:0', '--keepalive-ms', '5000', '--idle-timeout-ms', '100']),
      2,
      'keepalive over idle',
    );
  });
});

describe('stopping connect and send', { timeout: 60_000 }, () => {
  for (const [signal, code] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const) {
    test(`${signal} to a running connect aborts the session: exit ${code}, the server drops it at once`, async (t) => {
      const s = await watchedServer(t);
      const client = run(t, ['connect', s.server.url]);
      client.child.stdin?.write('hello\n');
      await until('the echo is printed', 10_000, () => client.stdout() === 'hello\n');
      client.child.kill(signal);
      await failsWith(client, code, signal, new RegExp(`\\(${signal}\\): session aborted`));
      await droppedAtOnce(s, new RegExp(signal));
    });
  }

  test('connect | head -1: a closed stdout aborts the session, exit 141, the server drops it', async (t) => {
    const s = await watchedServer(t);
    const client = run(t, ['connect', s.server.url]);
    client.child.stdout?.once('data', () => client.child.stdout?.destroy());
    // Lines keep coming back after the reader is gone, so the next write meets EPIPE.
    const feed = setInterval(() => client.child.stdin?.write('line\n'), 10);
    t.after(() => clearInterval(feed));
    await failsWith(client, 141, 'stdout closed', /standard output closed: session aborted/);
    await droppedAtOnce(s, /standard output closed/);
  });

  test('SIGINT to a running send aborts its session: exit 130, the receiver drops it at once', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'liaison-stop-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'big.bin');
    // Sparse: 1 GiB to read, nothing written on the sender's side; the test stops it early.
    writeFileSync(file, '');
    truncateSync(file, 1024 * 1024 * 1024);
    const receiver = run(t, ['serve', '--listen', 'tcp://127.0.0.1:0', '--receive-dir', join(dir, 'in'), '--json']);
    await until('listening', 10_000, () => receiver.stdout().includes('\n'));
    const url = /listening (\S+)/.exec(receiver.stdout())?.[1] as string;
    const sender = run(t, ['send', file, url, '--json', '--sync-every', '1MiB']);
    await until('a sync point confirmed', 20_000, () => sender.stderr().includes('"checkpoint"'));
    sender.child.kill('SIGINT');
    const { code } = await within(sender.exit, 10_000, 'send exits');
    assert.equal(code, 130, sender.stderr());
    assert.match(sender.stderr().trimEnd().split('\n').at(-1) as string, /interrupted \(SIGINT\): transfer stopped/);
    await until('the receiver logs the abort', 3_000, () => /"session-closed".*"by":"user"/.test(receiver.stderr()));
    assert.doesNotMatch(receiver.stderr(), /session-suspended/);
  });
});

describe('errors name their cause', { timeout: 60_000 }, () => {
  let pki: TestPki;
  let dir: string;
  before(() => {
    pki = makePki();
    dir = mkdtempSync(join(tmpdir(), 'liaison-errors-'));
  });
  after(() => {
    pki.remove();
    rmSync(dir, { recursive: true, force: true });
  });

  async function serve(t: TestContext, args: string[]): Promise<string> {
    const r = run(t, ['serve', ...args]);
    await until('listening', 10_000, () => r.stdout().includes('\n'));
    return /listening (\S+)/.exec(r.stdout())?.[1] as string;
  }
  const tlsServer = (extra: string[] = []) => [
    '--listen',
    'tls://127.0.0.1:0',
    '--cert',
    pki.files.serverCert,
    '--key',
    pki.files.serverKey,
    ...extra,
  ];
  const trust = () => ['--ca', pki.files.ca, '--servername', 'localhost'];

  test('plaintext to a TLS port', async (t) => {
    const url = (await serve(t, tlsServer())).replace('tls:', 'tcp:');
    await failsWith(run(t, ['connect', url], 'hi\n'), 5, 'plaintext to TLS', /may speak TLS \(use tls:\/\/\)/);
  });

  test('TLS to a plaintext port', async (t) => {
    const url = (await serve(t, ['--listen', 'tcp://127.0.0.1:0'])).replace('tcp:', 'tls:');
    const err = await failsWith(run(t, ['connect', url, ...trust()], 'hi\n'), 5, 'TLS to plaintext');
    assert.match(err, /the server does not speak TLS/);
    assert.doesNotMatch(err, /SSL routines|openssl/i);
  });

  test('mutual TLS without a certificate, and with one the server does not trust', async (t) => {
    const url = await serve(t, tlsServer(['--client-ca', pki.files.ca]));
    const err = await failsWith(run(t, ['connect', url, ...trust()], 'hi\n'), 5, 'no client certificate');
    assert.match(err, /the server requires a client certificate.*--cert and --key/);
    assert.doesNotMatch(err, /SSL routines/);
    const cert = join(dir, 'stranger.pem');
    const key = join(dir, 'stranger.key');
    writeFileSync(cert, pki.strangerCert);
    writeFileSync(key, pki.strangerKey);
    const stranger = run(t, ['connect', url, ...trust(), '--cert', cert, '--key', key], 'hi\n');
    assert.match(
      await failsWith(stranger, 5, 'untrusted client certificate'),
      /did not accept the client certificate; check --cert/,
    );
  });

  test('a wrong --server-key', async (t) => {
    const keyFile = join(dir, 'server.key');
    const other = join(dir, 'other.key');
    for (const f of [keyFile, other]) {
      const k = run(t, ['keygen', f]);
      assert.equal((await within(k.exit, 10_000, 'keygen')).code, 0);
    }
    const url = await serve(t, ['--listen', 'tcp://127.0.0.1:0', '--noise-key', keyFile]);
    const r = run(t, ['connect', url, '--server-key', other], 'hi\n');
    await failsWith(r, 5, 'wrong server key', /Noise key does not match.*--server-key/);
  });

  test('send to a server without --receive-dir: named, exit 3, at once', async (t) => {
    const file = join(dir, 'note.txt');
    writeFileSync(file, 'hello\n');
    // A printing server never answers an offer (send used to wait forever); an echo server echoes it.
    for (const extra of [[], ['--echo']]) {
      const url = await serve(t, ['--listen', 'tcp://127.0.0.1:0', ...extra]);
      const r = run(t, ['send', file, url]);
      const { code } = await within(r.exit, 10_000, `send to serve ${extra.join(' ')}`);
      assert.equal(code, 3, r.stderr());
      assert.match(r.stderr(), /the server does not accept files.*--receive-dir/);
      assert.match(r.stderr(), /ERR_LIAISON_NOT_A_RECEIVER/);
    }
  });

  test('a TLS transport failure of the node API is typed (TransportFailureError)', async () => {
    // The same classification, seen from the library: no CLI involved.
    const server = await listen('tcp://127.0.0.1:0');
    try {
      const session = connect(server.url.replace('tcp:', 'tls:'), { resume: false, tls: { ca: pki.ca } });
      const reason = await within(session.closed, 10_000, 'closed');
      assert.ok(reason.kind === 'aborted' && reason.code === AbortCode.TRANSPORT_LOST);
      assert.ok(session.transportError instanceof TransportFailureError);
      assert.equal(session.transportError.failure, TransportFailure.TLS_UNAVAILABLE);
      assert.equal(session.transportError.code, 'ERR_LIAISON_TRANSPORT');
    } finally {
      await server.close();
    }
  });
});
