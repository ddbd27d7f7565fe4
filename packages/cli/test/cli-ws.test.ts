/**
 * `liaison serve` with two --listen URLs (tcp:// and ws://) as a user runs it: one listening line
 * per URL, and `liaison connect` over each of them echoes its lines back and exits 0.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { describe, type TestContext, test } from 'node:test';
import { within } from '@liaison/testkit';

const CLI = new URL('../dist/main.js', import.meta.url).pathname;

describe('liaison over WebSocket', () => {
  test('serve --listen tcp:// --listen ws:// --echo: connect over each echoes, exit 0', {
    timeout: 60_000,
  }, async (t) => {
    const server = start(t, [
      'serve',
      '--listen',
      'tcp://127.0.0.1:0',
      '--listen',
      'ws://127.0.0.1:0/liaison',
      '--echo',
    ]);
    const [first, second] = await within(lines(server, 2), 10_000, 'serve: listening lines');
    assert.match(first ?? '', /^listening tcp:\/\/127\.0\.0\.1:\d+$/);
    assert.match(second ?? '', /^listening ws:\/\/127\.0\.0\.1:\d+\/liaison$/);
    for (const line of [first, second]) {
      const url = (line as string).slice('listening '.length);
      const r = await run(t, ['connect', url], 'hello\nworld\n');
      assert.equal(r.code, 0, `connect ${url}: ${r.stderr}`);
      assert.equal(r.stdout, 'hello\nworld\n', `connect ${url}`);
    }
  });

  test('connect ws:// to a path nobody serves fails with a clear message and a non-zero exit', {
    timeout: 30_000,
  }, async (t) => {
    const server = start(t, ['serve', '--listen', 'ws://127.0.0.1:0/liaison', '--echo']);
    const [line] = await within(lines(server, 1), 10_000, 'serve: listening line');
    const url = (line as string).slice('listening '.length).replace(/\/liaison$/, '/elsewhere');
    const r = await run(t, ['connect', url, '--no-resume'], 'hello\n');
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /404/);
  });
});

function start(t: TestContext, args: string[]): ChildProcess {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  return child;
}

async function run(t: TestContext, args: string[], input: string) {
  const child = start(t, args);
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  child.stdin?.end(input);
  const [code] = await within(once(child, 'exit'), 15_000, `liaison ${args.join(' ')}`);
  return { code: code as number, stdout, stderr };
}

/** The first `n` lines of a child's stdout. */
async function lines(child: ChildProcess, n: number): Promise<string[]> {
  const reader = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  const out: string[] = [];
  for await (const line of reader) {
    out.push(line);
    if (out.length === n) break;
  }
  reader.close();
  return out;
}
