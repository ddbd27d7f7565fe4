#!/usr/bin/env node
/**
 * The fault proxy as a command, for people and CI (`liaison-proxy` once @liaison/testkit is installed):
 *
 *   liaison-proxy --listen 127.0.0.1:0 --target 127.0.0.1:7000 --cut-ms 200-500
 *
 * The first line on stdout is `proxy tcp://HOST:PORT` (the real port when PORT is 0), then
 * `seed N`. Each cut is a line on stderr (or nothing with --quiet). SIGINT or SIGTERM stops it
 * and prints the counters as one JSON line on stdout; exit 0. A bad argument exits 2.
 */
import { parseArgs } from 'node:util';
import { FaultProxy, type FaultProxyOptions, parseEndpoint, parseRange } from './fault-proxy.js';

const USAGE = `usage: liaison-proxy --listen HOST:PORT --target HOST:PORT [options]

  --listen HOST:PORT     where to listen (default 127.0.0.1:0; port 0 picks a free port)
  --target HOST:PORT     where connections go (required)
  --cut-ms MIN-MAX       cut every connection a random MIN..MAX ms after it was accepted
  --cut-bytes MIN-MAX    cut every connection once MIN..MAX bytes went one way
  --delay-ms N[,M]       one-way delay: N both ways, or N to the target and M to the client
  --rate SIZE            bandwidth of each direction of each connection, per second
                         (bytes, or with KiB/MiB: 20MiB)
  --cut-style reset|close  how a cut looks to both sides (default reset)
  --down-ms N            after each cut, refuse new connections for N ms (a flapping link)
  --seed N               seed of the random choices (printed at start; replays a run)
  --quiet                no line per cut on stderr
  --help`;

function options(argv: string[]): FaultProxyOptions & { quiet: boolean } {
  const { values } = parseArgs({
    args: argv,
    options: {
      listen: { type: 'string', default: '127.0.0.1:0' },
      target: { type: 'string' },
      'cut-ms': { type: 'string' },
      'cut-bytes': { type: 'string' },
      'delay-ms': { type: 'string' },
      rate: { type: 'string' },
      'cut-style': { type: 'string', default: 'reset' },
      'down-ms': { type: 'string' },
      seed: { type: 'string' },
      quiet: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  if (!values.target) throw new RangeError('--target is required');
  const listen = parseEndpoint(values.listen);
  const style = values['cut-style'];
  if (style !== 'reset' && style !== 'close') throw new RangeError(`--cut-style is reset or close, got "${style}"`);
  let delayMs: FaultProxyOptions['delayMs'];
  if (values['delay-ms'] !== undefined) {
    const parts = values['delay-ms'].split(',').map((p) => parseRange(p)[0]);
    delayMs = { 'to-target': parts[0], 'to-client': parts[1] ?? parts[0] };
  }
  const downMs = values['down-ms'] === undefined ? null : Number(values['down-ms']);
  if (downMs !== null && !(Number.isInteger(downMs) && downMs >= 0))
    throw new RangeError(`--down-ms is a whole number of milliseconds >= 0, got "${values['down-ms']}"`);
  const seed = values.seed === undefined ? undefined : Number(values.seed);
  if (seed !== undefined && !Number.isInteger(seed)) throw new RangeError(`--seed must be an integer`);
  return {
    host: listen.host,
    port: listen.port,
    target: parseEndpoint(values.target),
    cutAfterMs: values['cut-ms'] ? parseRange(values['cut-ms']) : null,
    cutAtBytes: values['cut-bytes'] ? parseRange(values['cut-bytes']) : null,
    delayMs,
    rateBytesPerSec: values.rate === undefined ? null : parseRate(values.rate),
    cutStyle: style,
    downAfterCutMs: downMs,
    seed,
    quiet: values.quiet,
  };
}

/** "1048576", "512KiB", "20MiB" → bytes per second. */
function parseRate(text: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(KiB|MiB)?$/i.exec(text.trim());
  const unit = m?.[2]?.toLowerCase();
  const value = m ? Number(m[1]) * (unit === 'kib' ? 1024 : unit === 'mib' ? 1024 * 1024 : 1) : Number.NaN;
  if (!(value > 0)) throw new RangeError(`--rate is a positive size per second (e.g. 20MiB), got "${text}"`);
  return value;
}

async function main(): Promise<void> {
  let opts: ReturnType<typeof options>;
  try {
    opts = options(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`liaison-proxy: ${(e as Error).message}\n${USAGE}\n`);
    process.exitCode = 2;
    return;
  }
  const proxy = new FaultProxy(opts);
  if (!opts.quiet) {
    proxy.on('cut', ({ id, cause }) => process.stderr.write(`liaison-proxy: cut connection ${id} (${cause})\n`));
  }
  proxy.on('error', (e) => process.stderr.write(`liaison-proxy: ${e.message}\n`));
  await proxy.start();
  process.stdout.write(`proxy ${proxy.url}\nseed ${proxy.seed}\n`);
  const stop = async () => {
    await proxy.stop();
    process.stdout.write(`${JSON.stringify(proxy.counters)}\n`);
    process.exit(0);
  };
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());
}

await main();
