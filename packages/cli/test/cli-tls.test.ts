/**
 * The security issue's acceptance test, as a user would run it: `liaison serve` on tls:// with a
 * bearer token, the testkit's proxy command cutting every connection after 150-300 ms, and
 * `liaison connect tls://... --ca --token` piping lines through it. Everything comes back once and
 * in order, exit 0, with at least one resume. A wrong token exits 3 (refused, UNAUTHENTICATED).
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, type TestContext, test } from 'node:test';
import { makePki, type TestPki, within } from '@liaison/testkit';
import { SignJWT } from 'jose';

const CLI = new URL('../dist/main.js', import.meta.url).pathname;
const PROXY_CLI = new URL('../../testkit/dist/cli.js', import.meta.url).pathname;

let pki: TestPki;
before(() => {
  pki = makePki();
});
after(() => pki.remove());

describe('liaison over TLS with a token', () => {
  test('connect tls:// --ca --token through a cutting proxy: all lines echoed once, resumed, exit 0', {
    timeout: 60_000,
  }, async (t) => {
    const server = start(t, CLI, [
      'serve',
      '--listen',
      'tls://127.0.0.1:0',
      '--cert',
      pki.files.serverCert,
      '--key',
      pki.files.serverKey,
      '--auth-token',
      's3cret',
      '--echo',
      '--json',
    ]);
    let serverLog = '';
    server.stderr?.setEncoding('utf8').on('data', (d: string) => (serverLog += d));
    const listening = await within(firstLine(server), 10_000, 'serve: listening line');
    assert.match(listening, /^listening tls:\/\/127\.0\.0\.1:\d+$/);
    const port = listening.split(':').at(-1) as string;
    const proxy = start(t, PROXY_CLI, [
      '--listen',
      '127.0.0.1:0',
      '--target',
      `127.0.0.1:${port}`,
      // Not sooner: a cut inside the first TLS handshake and CONNECT, possible on a loaded
      // machine, is a failed connect (exit 5), not a resume.
      '--cut-ms',
      '400-700',
      '--quiet',
    ]);
    const proxyLine = await within(firstLine(proxy), 10_000, 'proxy line');
    const proxyPort = proxyLine.split(':').at(-1) as string;

    const input = `${Array.from({ length: 20_000 }, (_, i) => `line ${i}`).join('\n')}\n`;
    const client = start(t, CLI, [
      'connect',
      `tls://127.0.0.1:${proxyPort}`,
      '--ca',
      pki.files.ca,
      '--servername',
      'localhost',
      '--token',
      's3cret',
      '--json',
    ]);
    let stdout = '';
    let stderr = '';
    client.stdout?.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    client.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    // Written in slices over time, so the transfer outlives several cuts.
    const lines = input.split(/(?<=\n)/);
    for (let i = 0; i < lines.length; i += 1_000) {
      client.stdin?.write(lines.slice(i, i + 1_000).join(''));
      await new Promise((r) => setTimeout(r, 100));
    }
    client.stdin?.end();
    const [code] = await within(once(client, 'exit'), 45_000, 'connect');
    const events = stderr
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { event: string });
    const where = `exit ${code}, last events: ${stderr.slice(-500)}`;
    assert.equal(code, 0, where);
    assert.ok(stdout === input, `stdout equals the input (${stdout.length} of ${input.length} chars; ${where})`);
    assert.ok(
      events.some((e) => e.event === 'resumed'),
      `at least one resume (${where})`,
    );
    assert.match(serverLog, /"event":"session-open".*"transport":"tls".*"principal":"token-1"/);

    const wrong = start(t, CLI, ['connect', `tls://127.0.0.1:${port}`, '--ca', pki.files.ca, '--token', 'guess']);
    let wrongErr = '';
    wrong.stderr?.setEncoding('utf8').on('data', (d: string) => (wrongErr += d));
    wrong.stdin?.end('hello\n');
    const [wrongCode] = await within(once(wrong, 'exit'), 10_000, 'wrong token');
    assert.equal(wrongCode, 3);
    assert.match(wrongErr, /refused: UNAUTHENTICATED/);
  });
});

describe('liaison with mutual TLS and pre-shared keys', () => {
  test('serve --client-ca --psk-file; connect --cert --key --psk: the principal and certificate are logged; no certificate, no session', {
    timeout: 30_000,
  }, async (t) => {
    const key = randomBytes(32).toString('hex');
    writeFileSync(join(pki.dir, 'psk.txt'), `# identity key\nsensor-7 ${key}\n`);
    writeFileSync(join(pki.dir, 'sensor-7.key'), `${key}\n`);
    const server = start(t, CLI, [
      'serve',
      '--listen',
      'tls://127.0.0.1:0',
      '--cert',
      pki.files.serverCert,
      '--key',
      pki.files.serverKey,
      '--client-ca',
      pki.files.ca,
      '--psk-file',
      join(pki.dir, 'psk.txt'),
      '--echo',
      '--json',
    ]);
    let serverLog = '';
    server.stderr?.setEncoding('utf8').on('data', (d: string) => (serverLog += d));
    const port = (await within(firstLine(server), 10_000, 'listening')).split(':').at(-1) as string;
    const url = `tls://127.0.0.1:${port}`;
    const tlsFlags = ['--ca', pki.files.ca, '--cert', pki.files.clientCert, '--key', pki.files.clientKey];

    const ok = await run(t, [url, ...tlsFlags, '--psk', `sensor-7:${join(pki.dir, 'sensor-7.key')}`], 'one\ntwo\n');
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(ok.stdout, 'one\ntwo\n');
    assert.match(serverLog, /"principal":"sensor-7".*"peerCertificate":\{"subject":\{"CN":"alice"/);

    const wrongKey = join(pki.dir, 'wrong.key');
    writeFileSync(wrongKey, randomBytes(32).toString('hex'));
    const refused = await run(t, [url, ...tlsFlags, '--psk', `sensor-7:${wrongKey}`], 'x\n');
    assert.equal(refused.code, 3);
    assert.match(refused.stderr, /UNAUTHENTICATED/);

    const noCert = await run(
      t,
      [url, '--ca', pki.files.ca, '--psk', `sensor-7:${join(pki.dir, 'sensor-7.key')}`, '--no-resume'],
      'x\n',
    );
    // TLS 1.3: the server's "certificate required" alert ends the connection: a transport failure.
    assert.equal(noCert.code, 5, noCert.stderr);
    assert.match(noCert.stderr, /certificate required/);
    assert.equal(serverLog.match(/"event":"session-open"/g)?.length, 1, 'only the first client got a session');
  });

  test('serve --auth-tokens FILE --jwt-key FILE --jwt-issuer; connect --token-file: both kinds get in, named', {
    timeout: 30_000,
  }, async (t) => {
    const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    writeFileSync(join(pki.dir, 'jwt.pub.pem'), publicKey.export({ type: 'spki', format: 'pem' }));
    writeFileSync(join(pki.dir, 'tokens.txt'), 'tok-a alice\ntok-b\n');
    const jwt = await new SignJWT({})
      .setProtectedHeader({ alg: 'ES256' })
      .setSubject('bob')
      .setIssuer('https://id.test')
      .setExpirationTime('5m')
      .sign(privateKey);
    writeFileSync(join(pki.dir, 'jwt.txt'), `${jwt}\n`);
    const server = start(t, CLI, [
      'serve',
      '--listen',
      'tcp://127.0.0.1:0',
      '--auth-tokens',
      join(pki.dir, 'tokens.txt'),
      '--jwt-key',
      join(pki.dir, 'jwt.pub.pem'),
      '--jwt-issuer',
      'https://id.test',
      '--echo',
      '--json',
    ]);
    let serverLog = '';
    server.stderr?.setEncoding('utf8').on('data', (d: string) => (serverLog += d));
    const url = (await within(firstLine(server), 10_000, 'listening')).slice('listening '.length);
    for (const file of ['tokens.txt', 'jwt.txt']) {
      const tokenFile = file === 'jwt.txt' ? join(pki.dir, file) : join(pki.dir, 'tok-a.txt');
      if (file === 'tokens.txt') writeFileSync(tokenFile, 'tok-a\n');
      const r = await run(t, [url, '--token-file', tokenFile], 'hi\n');
      assert.equal(r.code, 0, r.stderr);
    }
    assert.match(serverLog, /"principal":"alice"/);
    assert.match(serverLog, /"principal":"bob","expiresAt":"/);
  });

  test('send over TLS with a token: serve --receive-dir --cert --key --auth-token receives the file, verified', {
    timeout: 30_000,
  }, async (t) => {
    const src = join(pki.dir, 'payload.bin');
    const payload = randomBytes(3 * 1024 * 1024);
    writeFileSync(src, payload);
    const dir = join(pki.dir, 'received');
    const server = start(t, CLI, [
      'serve',
      '--listen',
      'tls://127.0.0.1:0',
      '--cert',
      pki.files.serverCert,
      '--key',
      pki.files.serverKey,
      '--auth-token',
      'send-token',
      '--receive-dir',
      dir,
      '--json',
    ]);
    const url = (await within(firstLine(server), 10_000, 'listening')).slice('listening '.length);
    const send = start(t, CLI, ['send', src, url, '--ca', pki.files.ca, '--token', 'send-token', '--json']);
    let stderr = '';
    send.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const [code] = await within(once(send, 'exit'), 25_000, 'send');
    assert.equal(code, 0, stderr.slice(-800));
    assert.ok(readFileSync(join(dir, 'payload.bin')).equals(payload));
    const refused = start(t, CLI, ['send', src, url, '--ca', pki.files.ca, '--token', 'nope', '--retry-for-ms', '0']);
    const [refusedCode] = await within(once(refused, 'exit'), 15_000, 'refused send');
    assert.equal(refusedCode, 3);
  });

  test('bad security options are usage errors (exit 2) naming the problem', async (t) => {
    for (const [args, pattern] of [
      [['connect', 'tcp://127.0.0.1:1', '--ca', pki.files.ca], /need a tls:\/\/ URL/],
      [['connect', 'tls://127.0.0.1:1', '--token', 'a', '--psk', 'x:y'], /one of --token/],
      [['connect', 'tls://127.0.0.1:1', '--psk', 'nofile'], /IDENTITY:FILE/],
      [['serve', '--listen', 'tls://127.0.0.1:0'], /needs --cert and --key/],
      [['serve', '--listen', 'tcp://127.0.0.1:0', '--jwt-issuer', 'x'], /need --jwt-key or --jwks/],
    ] as const) {
      const child = start(t, CLI, [...args]);
      let stderr = '';
      child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      child.stdin?.end();
      const [code] = await within(once(child, 'exit'), 10_000, args.join(' '));
      assert.equal(code, 2, `${args.join(' ')}: ${stderr}`);
      assert.match(stderr, pattern);
    }
  });
});

async function run(t: TestContext, args: string[], input: string) {
  const child = start(t, CLI, ['connect', ...args]);
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  child.stdin?.end(input);
  const [code] = await within(once(child, 'exit'), 15_000, `connect ${args.join(' ')}`);
  return { code: code as number, stdout, stderr };
}

function start(t: TestContext, script: string, args: string[]): ChildProcess {
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
