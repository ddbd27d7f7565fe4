/**
 * The fault proxy itself, over loopback: it forwards and counts exactly, really cuts (by time and
 * at a byte offset), really delays each direction, refuses and black-holes while down, stalls
 * live connections, and its CLI prints its address first. Every wait is bounded; every server,
 * socket and process is closed when its test ends.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer, connect as netConnect, type Server, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { describe, type TestContext, test } from 'node:test';
import { FaultProxy, type FaultProxyOptions, parseEndpoint, parseRange, within } from '@liaison/testkit';

const CLI = new URL('../dist/cli.js', import.meta.url).pathname;

describe('fault proxy', { timeout: 30_000 }, () => {
  test('forwards both ways and counts every byte', async (t) => {
    const target = await echoServer(t);
    const proxy = await startProxy(t, { target });
    const socket = await dial(t, proxy.address.port);
    const payload = Buffer.alloc(1024 * 1024, 7);
    const echoed = readBytes(socket, payload.length);
    socket.write(payload);
    const back = await within(echoed, 5_000, 'echo through the proxy');
    assert.ok(back.equals(payload));
    const c = proxy.counters;
    assert.equal(c.connections, 1);
    assert.equal(c.bytesToTarget, payload.length);
    assert.equal(c.bytesToClient, payload.length);
    assert.equal(c.cuts, 0);
  });

  test('cuts every connection a random time in the range after it was accepted', async (t) => {
    const target = await echoServer(t);
    const proxy = await startProxy(t, { target, cutAfterMs: [100, 150], seed: 1 });
    const durations: number[] = [];
    for (let i = 0; i < 3; i++) {
      const started = performance.now();
      const socket = await dial(t, proxy.address.port);
      socket.write('x');
      const hadError = await within(closed(socket), 2_000, 'the cut');
      durations.push(performance.now() - started);
      assert.equal(hadError, true, 'a reset by default');
    }
    for (const ms of durations) assert.ok(ms >= 95 && ms < 600, `cut after ${ms} ms, expected 100-150`);
    assert.equal(proxy.counters.cuts, 3);
    assert.equal(proxy.counters.cutsByTime, 3);
    await until(() => proxy.counters.active === 0, 2_000, 'both sides closed');
  });

  test('cuts at a byte offset: the bytes before it arrive, nothing after', async (t) => {
    const received: Buffer[] = [];
    const sink = await server(t, (s) => {
      s.on('data', (d: Buffer) => received.push(d));
      s.on('error', () => {});
    });
    const proxy = await startProxy(t, { target: sink, cutAtBytes: [1000, 1000], cutStyle: 'close' });
    const socket = await dial(t, proxy.address.port);
    for (let i = 0; i < 10; i++) socket.write(Buffer.alloc(500, i));
    await within(closed(socket), 2_000, 'the cut');
    await until(() => proxy.counters.active === 0, 2_000, 'the target side closed');
    const all = Buffer.concat(received);
    assert.equal(all.length, 1000);
    assert.ok(all.subarray(0, 500).every((b) => b === 0) && all.subarray(500).every((b) => b === 1));
    assert.equal(proxy.counters.bytesToTarget, 1000);
    assert.equal(proxy.counters.cutsByBytes, 1);
  });

  test('delays each direction by its own one-way delay', async (t) => {
    const target = await echoServer(t);
    const plain = await startProxy(t, { target });
    const slow = await startProxy(t, { target, delayMs: { 'to-target': 40, 'to-client': 80 } });
    const rtt = async (port: number) => {
      const socket = await dial(t, port);
      let best = Number.POSITIVE_INFINITY;
      for (let i = 0; i < 5; i++) {
        const started = performance.now();
        const back = readBytes(socket, 1);
        socket.write('p');
        await within(back, 2_000, 'ping');
        best = Math.min(best, performance.now() - started);
      }
      return best;
    };
    const fast = await rtt(plain.address.port);
    const delayed = await rtt(slow.address.port);
    assert.ok(fast < 30, `no delay: ${fast} ms`);
    assert.ok(delayed >= 119 && delayed < 400, `40 + 80 ms one-way delays: round trip ${delayed} ms`);
  });

  test('limits each direction to its bandwidth: 1 MiB at 4 MiB/s takes at least 250 ms', async (t) => {
    const received: Buffer[] = [];
    let bytes = 0;
    const sink = await server(t, (s) => {
      s.on('data', (d: Buffer) => {
        received.push(d);
        bytes += d.length;
      });
      s.on('error', () => {});
    });
    const proxy = await startProxy(t, { target: sink, rateBytesPerSec: 4 * 1024 * 1024 });
    const socket = await dial(t, proxy.address.port);
    const payload = Buffer.alloc(1024 * 1024, 3);
    const started = performance.now();
    socket.write(payload);
    await until(() => bytes === payload.length, 5_000, 'the whole MiB');
    const ms = performance.now() - started;
    // A lower bound only: a loaded machine can make it slower, never faster than the link.
    assert.ok(ms >= 240, `1 MiB at 4 MiB/s arrived in ${ms.toFixed(0)} ms`);
    assert.ok(Buffer.concat(received).equals(payload), 'every byte, in order');
    assert.throws(() => proxy.setFaults({ rateBytesPerSec: 0 }), RangeError);
  });

  test('down: refuses new connections, then serves them again after up()', async (t) => {
    const target = await echoServer(t);
    const proxy = await startProxy(t, { target });
    const port = proxy.address.port;
    await proxy.down('refuse');
    const refused = netConnect({ host: '127.0.0.1', port });
    t.after(() => refused.destroy());
    const [error] = await within(once(refused, 'error'), 2_000, 'refusal');
    assert.equal((error as NodeJS.ErrnoException).code, 'ECONNREFUSED');
    await proxy.up();
    assert.equal(proxy.address.port, port, 'same port again');
    const socket = await dial(t, port);
    const back = readBytes(socket, 2);
    socket.write('ok');
    assert.equal((await within(back, 2_000, 'echo after up')).toString(), 'ok');
  });

  test('down: black-holes new connections and lets them through after up()', async (t) => {
    let arrived = 0;
    const target = await server(t, (s) => {
      arrived++;
      s.on('error', () => {});
      s.pipe(s);
    });
    const proxy = await startProxy(t, { target });
    await proxy.down('blackhole');
    const socket = await dial(t, proxy.address.port);
    const back = readBytes(socket, 5);
    socket.write('held!');
    await sleep(150);
    assert.equal(arrived, 0, 'nothing reaches the target while down');
    assert.equal(proxy.counters.blackholed, 1);
    await proxy.up();
    assert.equal((await within(back, 2_000, 'the held bytes')).toString(), 'held!');
    assert.equal(arrived, 1);
  });

  test('down with cutExisting cuts the connections that exist', async (t) => {
    const target = await echoServer(t);
    const proxy = await startProxy(t, { target });
    const socket = await dial(t, proxy.address.port);
    await proxy.down('blackhole', { cutExisting: true });
    await within(closed(socket), 2_000, 'the cut');
    assert.equal(proxy.counters.cuts, 1);
  });

  test('stall with resetClient: the client sees a reset, the target an open, silent connection', async (t) => {
    let targetSide: Socket | null = null;
    let targetClosed = false;
    let targetBytes = 0;
    const target = await server(t, (s) => {
      targetSide = s;
      s.on('data', (d: Buffer) => (targetBytes += d.length));
      s.on('close', () => (targetClosed = true));
      s.on('error', () => {});
    });
    const proxy = await startProxy(t, { target });
    const socket = await dial(t, proxy.address.port);
    socket.write('a');
    await until(() => targetBytes === 1, 2_000, 'first byte');
    assert.equal(proxy.stall({ resetClient: true }), 1);
    const hadError = await within(closed(socket), 2_000, 'client reset');
    assert.equal(hadError, true);
    (targetSide as Socket | null)?.write('nobody hears this');
    await sleep(150);
    assert.equal(targetClosed, false, 'the target still believes in its connection');
    assert.equal(proxy.counters.bytesToClient, 0);
    await proxy.stop();
    await until(() => targetClosed, 2_000, 'stop() closes the stalled side');
  });

  test('parses endpoints and ranges', () => {
    assert.deepEqual(parseEndpoint('127.0.0.1:7000'), { host: '127.0.0.1', port: 7000 });
    assert.deepEqual(parseEndpoint('tcp://[::1]:0'), { host: '::1', port: 0 });
    assert.deepEqual(parseRange('200-500'), [200, 500]);
    assert.deepEqual(parseRange('10'), [10, 10]);
    assert.throws(() => parseRange('500-200'), RangeError);
    assert.throws(() => parseEndpoint('localhost'), RangeError);
  });

  test('CLI: prints its address first, forwards, and prints counters on SIGTERM', async (t) => {
    const target = await echoServer(t);
    const child = spawn(
      process.execPath,
      [CLI, '--listen', '127.0.0.1:0', '--target', `127.0.0.1:${target.port}`, '--cut-ms', '5000-6000'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    t.after(() => child.kill('SIGKILL'));
    const lines = createInterface({ input: child.stdout });
    const it = lines[Symbol.asyncIterator]();
    const first = (await within(it.next(), 5_000, 'first line')).value as string;
    assert.match(first, /^proxy tcp:\/\/127\.0\.0\.1:\d+$/);
    assert.match((await within(it.next(), 2_000, 'seed line')).value as string, /^seed \d+$/);
    const socket = await dial(t, parseEndpoint(first.slice('proxy '.length)).port);
    const back = readBytes(socket, 5);
    socket.write('hello');
    assert.equal((await within(back, 2_000, 'echo via CLI')).toString(), 'hello');
    socket.destroy();
    child.kill('SIGTERM');
    const counters = JSON.parse((await within(it.next(), 5_000, 'counters')).value as string);
    assert.equal(counters.connections, 1);
    assert.equal(counters.bytesToTarget, 5);
    const [code] = await within(once(child, 'exit'), 5_000, 'exit');
    assert.equal(code, 0);
  });

  test('CLI: a bad argument exits 2', async (t) => {
    const child = spawn(process.execPath, [CLI, '--listen', '127.0.0.1:0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    t.after(() => child.kill('SIGKILL'));
    const [code] = await within(once(child, 'exit'), 5_000, 'exit');
    assert.equal(code, 2);
  });
});

// ------------------------------------------------------------------ helpers

async function startProxy(t: TestContext, options: FaultProxyOptions): Promise<FaultProxy> {
  const proxy = new FaultProxy(options);
  await proxy.start();
  t.after(() => proxy.stop());
  return proxy;
}

async function server(t: TestContext, onSocket: (s: Socket) => void): Promise<{ host: string; port: number }> {
  const sockets = new Set<Socket>();
  const srv: Server = createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    onSocket(s);
  });
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  t.after(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => srv.close(() => resolve()));
  });
  const a = srv.address();
  assert.ok(a !== null && typeof a === 'object');
  return { host: '127.0.0.1', port: a.port };
}

function echoServer(t: TestContext): Promise<{ host: string; port: number }> {
  return server(t, (s) => {
    s.on('error', () => {});
    s.pipe(s);
  });
}

async function dial(t: TestContext, port: number): Promise<Socket> {
  const socket = netConnect({ host: '127.0.0.1', port });
  socket.on('error', () => {});
  t.after(() => socket.destroy());
  await within(once(socket, 'connect'), 2_000, 'connect');
  return socket;
}

/** Resolves with the next `n` bytes the socket reads. */
function readBytes(socket: Socket, n: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let got = 0;
    const onData = (d: Buffer) => {
      parts.push(d);
      got += d.length;
      if (got >= n) {
        socket.off('data', onData);
        socket.off('close', onClose);
        resolve(Buffer.concat(parts).subarray(0, n));
      }
    };
    const onClose = () => reject(new Error(`closed after ${got} of ${n} bytes`));
    socket.on('data', onData);
    socket.once('close', onClose);
  });
}

/** Resolves with `hadError` when the socket closes (events.once would reject on its 'error'). */
function closed(socket: Socket): Promise<boolean> {
  return new Promise((resolve) => socket.once('close', resolve));
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `condition` every 5 ms; rejects after `ms`. */
async function until(condition: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = performance.now() + ms;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`timed out after ${ms} ms: ${what}`);
    await sleep(5);
  }
}
