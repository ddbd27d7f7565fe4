/**
 * Credentials renewal from the command line (issue 5 point 2): `liaison serve --jwt-key` and
 * `liaison connect --token-file FILE` with a JWT that expires in 2 to 3 s. FILE rewritten with a
 * fresh JWT before then (replaced by rename, as editors do): the session is renewed and outlives
 * the first token. Not rewritten, or rewritten with a token the server refuses: the refusal is
 * reported and the server closes the session CREDENTIALS_EXPIRED at the first token's expiry,
 * exit 9 with a message that says what to do. Real processes on loopback, every wait bounded.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { generateKeyPairSync, type KeyObject, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, type TestContext, test } from 'node:test';
import { FaultProxy, within } from '@liaison/testkit';
import { SignJWT } from 'jose';

const CLI = new URL('../dist/main.js', import.meta.url).pathname;

let dir: string;
let privateKey: KeyObject;
let serverUrl: string;
let serverLog = '';
let server: ChildProcess;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'liaison-renewal-'));
  const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  privateKey = pair.privateKey;
  writeFileSync(join(dir, 'jwt.pub.pem'), pair.publicKey.export({ type: 'spki', format: 'pem' }));
  server = spawn(process.execPath, [
    CLI,
    'serve',
    '--listen',
    'tcp://127.0.0.1:0',
    '--jwt-key',
    join(dir, 'jwt.pub.pem'),
    '--echo',
    '--json',
  ]);
  server.stderr?.setEncoding('utf8').on('data', (d: string) => (serverLog += d));
  const lines = createInterface({ input: server.stdout as NodeJS.ReadableStream });
  const [line] = (await within(once(lines, 'line'), 10_000, 'listening')) as [string];
  lines.close();
  serverUrl = line.slice('listening '.length);
});
after(() => {
  server.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

const jwt = (sub: string, secondsLeft: number) =>
  new SignJWT({})
    .setProtectedHeader({ alg: 'ES256' })
    .setSubject(sub)
    .setExpirationTime(Math.floor(Date.now() / 1000) + secondsLeft)
    .sign(privateKey);

/** Replaces FILE the way editors do: a new file renamed over the old one. */
function replaceFile(file: string, content: string): void {
  writeFileSync(`${file}.tmp`, content);
  renameSync(`${file}.tmp`, file);
}

interface Client {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  /** The JSON events on stderr so far. */
  events: () => { event: string; [k: string]: unknown }[];
  exit: Promise<number>;
}

function startConnect(t: TestContext, tokenFile: string): Client {
  const child = spawn(process.execPath, [
    CLI,
    'connect',
    serverUrl,
    '--token-file',
    tokenFile,
    '--token-poll-ms',
    '200',
    '--json',
  ]);
  child.stdin?.on('error', () => {}); // exits at the expiry while stdin is open
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exit = once(child, 'exit').then(([code]) => code as number);
  return {
    child,
    stdout: () => stdout,
    stderr: () => stderr,
    events: () =>
      stderr
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l)),
    exit,
  };
}

async function until(what: string, ms: number, ok: () => boolean): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('liaison connect --token-file: renewal inside a live session', () => {
  test('a fresh JWT written to the file before expiry renews the session; it outlives the first token', {
    timeout: 30_000,
  }, async (t) => {
    const file = join(dir, 'renewed.jwt');
    const firstExp = Math.floor(Date.now() / 1000) + 3;
    writeFileSync(file, `${await jwt('dana', 3)}\n`);
    const c = startConnect(t, file);
    await within(
      until('open', 10_000, () => c.events().some((e) => e.event === 'open')),
      11_000,
      'open',
    );
    replaceFile(file, `${await jwt('dana', 3600)}\n`);
    await until('credentials-renewed', 5_000, () => c.events().some((e) => e.event === 'credentials-renewed'));
    assert.match(serverLog, /"event":"credentials-renewed".*"principal":"dana"/);
    // Past the first token's exp (and the server's check of it), the session still carries data.
    await new Promise((r) => setTimeout(r, Math.max(0, firstExp * 1000 - Date.now()) + 1_500));
    c.child.stdin?.write('after the first expiry\n');
    await until('echo', 5_000, () => c.stdout().includes('after the first expiry\n'));
    c.child.stdin?.end();
    const code = await within(c.exit, 10_000, 'exit');
    assert.equal(code, 0, c.stderr().slice(-1000));
    assert.equal(c.stdout(), 'after the first expiry\n');
  });

  test('not renewed, or renewed with a refused token: reported, then closed CREDENTIALS_EXPIRED, exit 9', {
    timeout: 30_000,
  }, async (t) => {
    for (const refusedRenewal of [false, true]) {
      const file = join(dir, `expiring-${refusedRenewal}.jwt`);
      writeFileSync(file, `${await jwt('erin', 3)}\n`);
      const started = Date.now();
      const c = startConnect(t, file);
      await until('open', 10_000, () => c.events().some((e) => e.event === 'open'));
      if (refusedRenewal) {
        // Another principal's token: a renewal cannot change who the session belongs to.
        replaceFile(file, `${await jwt('mallory', 3600)}\n`);
        await until('renewal-refused', 5_000, () => c.events().some((e) => e.event === 'renewal-refused'));
      }
      const code = await within(c.exit, 10_000, 'exit at expiry');
      assert.equal(code, 9, c.stderr().slice(-1000));
      assert.ok(Date.now() - started < 8_000, 'closed at the expiry, not later');
      const closed = c.events().find((e) => e.event === 'closed') as { reason: { code: number } } | undefined;
      assert.equal(closed?.reason.code, 45, 'CREDENTIALS_EXPIRED');
      assert.match(
        c.stderr(),
        /CREDENTIALS_EXPIRED.*write a fresh token to --token-file before the current one expires/,
      );
    }
  });
});

describe('liaison send --token-file: renewal during a transfer', () => {
  test('a transfer slowed (by sync-point round trips) to outlast its first JWT is renewed from the file and completes, verified', {
    timeout: 40_000,
  }, async (t) => {
    const received = join(dir, 'received');
    const receiver = spawn(process.execPath, [
      CLI,
      'serve',
      '--listen',
      'tcp://127.0.0.1:0',
      '--jwt-key',
      join(dir, 'jwt.pub.pem'),
      '--receive-dir',
      received,
      '--json',
    ]);
    t.after(() => receiver.kill('SIGKILL'));
    let receiverLog = '';
    receiver.stderr?.setEncoding('utf8').on('data', (d: string) => (receiverLog += d));
    const lines = createInterface({ input: receiver.stdout as NodeJS.ReadableStream });
    const [line] = (await within(once(lines, 'line'), 10_000, 'listening')) as [string];
    lines.close();
    const port = Number(line.split(':').at(-1));
    // Slowed by round trips, not by bandwidth (a throttled link would queue the renewal behind a
    // window of file data): a sync point every 64 KiB, each confirmed by the receiver across a
    // proxy adding 60 ms each way, 48 of them for 3 MiB: over 5 s, past the first token's 4 s.
    const proxy = new FaultProxy({ target: { host: '127.0.0.1', port }, delayMs: 60 });
    await proxy.start();
    t.after(() => proxy.stop());
    const src = join(dir, 'payload.bin');
    const payload = randomBytes(3 * 1024 * 1024);
    writeFileSync(src, payload);
    const file = join(dir, 'send.jwt');
    writeFileSync(file, `${await jwt('frank', 4)}\n`);
    const firstExp = Date.now() + 3_000;
    const send = spawn(process.execPath, [
      CLI,
      'send',
      src,
      `tcp://127.0.0.1:${proxy.address.port}`,
      '--token-file',
      file,
      '--token-poll-ms',
      '200',
      '--sync-every',
      '64KiB',
      '--json',
    ]);
    t.after(() => send.kill('SIGKILL'));
    let stderr = '';
    send.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const exit = once(send, 'exit');
    await until('session-open', 10_000, () => stderr.includes('"event":"session-open"'));
    replaceFile(file, `${await jwt('frank', 3600)}\n`);
    await until('credentials-renewed', 3_000, () => stderr.includes('"event":"credentials-renewed"'));
    const [code] = await within(exit, 30_000, 'send');
    assert.equal(code, 0, stderr.slice(-1000));
    assert.ok(Date.now() > firstExp, 'the transfer outlived the first token');
    assert.ok(readFileSync(join(received, 'payload.bin')).equals(payload));
    assert.match(receiverLog, /"event":"credentials-renewed".*"principal":"frank"/);
  });
});
