/**
 * A real redis-server for tests, started on a free loopback port with nothing persisted, and
 * stopped (or killed, to test a Redis loss) by the test. Needs Debian's redis-server on PATH
 * (`.ci/run` installs it); startRedis() says so plainly when it is missing.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { closedPort } from './ports.js';

export interface RedisServer {
  readonly port: number;
  /** `redis://127.0.0.1:PORT`, for ioredis and for `liaison serve --store`. */
  readonly url: string;
  /** SIGTERM and wait for the exit (a clean shutdown). */
  stop(): Promise<void>;
  /** SIGKILL and wait for the exit (a crash: clients see their connection reset). */
  kill(): Promise<void>;
}

export interface RedisOptions {
  /** Reuse this port (to restart a killed server where its clients reconnect). Default: a free one. */
  port?: number;
  /** How long to wait for "Ready to accept connections" (default 10 s). */
  startTimeoutMs?: number;
}

const BINARY = process.env.REDIS_SERVER ?? 'redis-server';

export async function startRedis(options: RedisOptions = {}): Promise<RedisServer> {
  // A port picked free can be taken before redis binds it: try a few.
  for (let attempt = 0; ; attempt++) {
    const port = options.port ?? (await closedPort());
    try {
      return await launch(port, options.startTimeoutMs ?? 10_000);
    } catch (e) {
      if (options.port !== undefined || attempt >= 4 || !(e instanceof PortTaken)) throw e;
    }
  }
}

class PortTaken extends Error {}

function launch(port: number, timeoutMs: number): Promise<RedisServer> {
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];
  const child = spawn(BINARY, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise<RedisServer>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(
      () => fail(new Error(`redis-server did not start within ${timeoutMs} ms:\n${out}`)),
      timeoutMs,
    );
    const fail = (e: Error) => {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(e);
    };
    child.once('error', (e: NodeJS.ErrnoException) =>
      fail(e.code === 'ENOENT' ? new Error(`${BINARY} not found: install Debian's redis-server (.ci/run does)`) : e),
    );
    child.once('exit', (code) =>
      fail(/Address already in use/.test(out) ? new PortTaken(out) : new Error(`redis-server exited ${code}:\n${out}`)),
    );
    const collect = (d: Buffer) => {
      out += d;
      if (!/Ready to accept connections/.test(out)) return;
      clearTimeout(timer);
      child.removeAllListeners('exit');
      child.stdout?.off('data', collect);
      child.stdout?.resume();
      child.stderr?.resume();
      resolve(handle(child, port));
    };
    child.stdout?.on('data', collect);
    child.stderr?.on('data', (d: Buffer) => (out += d));
  });
}

function handle(child: ChildProcess, port: number): RedisServer {
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const end = (signal: NodeJS.Signals) => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    return exited;
  };
  return { port, url: `redis://127.0.0.1:${port}`, stop: () => end('SIGTERM'), kill: () => end('SIGKILL') };
}
