#!/usr/bin/env node
import { ErrorCode, LiaisonError, UsageError } from '@liaison/node';
/**
 * The `liaison` command: `serve`, `connect` and `send`. Parses arguments, runs the command, and
 * turns every outcome into a documented exit code (exit-codes.ts).
 */
import { Command, CommanderError, Option } from 'commander';
import { connectCommand } from './commands/connect.js';
import { keygen } from './commands/keygen.js';
import { sendCommand } from './commands/send.js';
import { serve } from './commands/serve.js';
import { EXIT_CODES_HELP, Exit } from './exit-codes.js';
import { noiseConnectOptions, noiseServeOptions } from './noise-options.js';
import { byteSize, integerOption, limitOptions } from './options.js';
import { connectSecurityOptions, serveSecurityOptions } from './security-options.js';
import { installStopHandlers } from './stop.js';
import { VERSION } from './version.js';

function program(): Command {
  const root = new Command('liaison')
    .description('Session layer (ISO 8327 / X.225 session services) over TCP, TLS and WebSocket: servers and clients.')
    .version(VERSION)
    .exitOverride()
    // Commander's own usage errors read like ours: one line, "liaison: ...". Subcommands inherit it.
    .configureOutput({ outputError: (text, write) => write(`liaison: ${text.replace(/^error: /, '')}`) })
    .addHelpText('after', EXIT_CODES_HELP);

  const serveCmd = root
    .command('serve')
    .description('accept sessions and log them; print received messages, or echo them back')
    .requiredOption(
      '--listen <url>',
      'where to listen, tcp://HOST:PORT, tls://HOST:PORT, ws://HOST:PORT/PATH or wss://HOST:PORT/PATH; repeat it to listen on several (port 0 picks a free port; each URL is printed on stdout)',
      (url: string, previous: string[] | undefined) => [...(previous ?? []), url],
    )
    .option('--echo', 'send every message back on the session it came from')
    .option('--json', 'events as JSON lines on stderr')
    .option('--quiet', 'no human-readable log lines')
    .option('--receive-dir <dir>', 'receive files sent with `liaison send` into DIR (resumable; see README)')
    .addOption(
      integerOption(
        '--shutdown-timeout <ms>',
        'on SIGTERM or Ctrl-C, release every session and wait up to MS for them to end before aborting the rest (default 5000; 0 aborts at once)',
        0,
      ),
    )
    .option(
      '--dashboard <host:port>',
      'serve the dashboard, Prometheus /metrics and /healthz on HOST:PORT (its URL is printed on stdout)',
    )
    .addOption(
      new Option(
        '--dashboard-token <token>',
        'admin token that lets the dashboard abort sessions (Authorization: Bearer)',
      ).env('LIAISON_DASHBOARD_TOKEN'),
    )
    .addHelpText(
      'after',
      `\nExamples:\n  liaison serve --listen tcp://127.0.0.1:7000 --echo\n  liaison serve --listen tcp://127.0.0.1:7000 --listen ws://127.0.0.1:7001/liaison --echo\n  liaison serve --listen tls://127.0.0.1:7443 --cert server.pem --key server.key --auth-token s3cret --echo\n  liaison serve --listen tcp://0.0.0.0:7000 --dashboard 127.0.0.1:9090 --dashboard-token $TOKEN --echo\n${EXIT_CODES_HELP}`,
    )
    .exitOverride()
    .action(async (flags) => {
      process.exitCode = await serve(flags);
    });
  for (const o of [...limitOptions(), ...serveSecurityOptions()]) serveCmd.addOption(o);
  for (const o of noiseServeOptions()) serveCmd.addOption(o);

  const connectCmd = root
    .command('connect')
    .argument('<url>', 'the server, tcp://HOST:PORT, tls://HOST:PORT, ws://HOST:PORT/PATH or wss://HOST:PORT/PATH')
    .description('send each line of stdin as a message; print each message received as a line')
    .option('--json', 'events as JSON lines on stderr')
    .addOption(new Option('--user-data <text>', 'user data for the connect request (the server may use it to decide)'))
    .addHelpText(
      'after',
      `\nAt the end of input the session is released in order; the command exits 0 once the release\ncompleted and every message from the peer was printed.\n\nWith --token-file, a token written to FILE while the session is open (a fresh JWT) is sent to\nthe server as a renewal; --json reports "credentials-renewed" or "renewal-refused". A session\nwhose token expires unrenewed is closed by the server with CREDENTIALS_EXPIRED (exit 9).\n\nExample:\n  printf 'hello\\nworld\\n' | liaison connect tcp://127.0.0.1:7000\n  echo hi | liaison connect ws://127.0.0.1:7001/liaison\n  echo hi | liaison connect tls://127.0.0.1:7443 --ca ca.pem --token s3cret\n${EXIT_CODES_HELP}`,
    )
    .exitOverride()
    .action(async (url, flags) => {
      process.exitCode = await connectCommand(url, flags);
    });
  for (const o of [...limitOptions(), ...connectSecurityOptions()]) connectCmd.addOption(o);
  for (const o of noiseConnectOptions()) connectCmd.addOption(o);

  const sendCmd = root
    .command('send')
    .argument(
      '<file...>',
      'the files to send, then the receiver, tcp://HOST:PORT, tls://HOST:PORT, ws://HOST:PORT/PATH or wss://HOST:PORT/PATH',
    )
    .description('send files to `liaison serve --receive-dir DIR`, resumably, each checked by SHA-256')
    .option('--json', 'events as JSON lines on stderr (also when stderr is not a terminal)')
    .addOption(
      new Option('--sync-every <size>', 'bytes between confirmed sync points (e.g. 4MiB, 512KiB)')
        .default(4 * 1024 * 1024, '4MiB')
        .argParser(byteSize),
    )
    .addOption(
      integerOption('--retry-for-ms <n>', 'keep reconnecting this long after the session was lost', 0).default(60_000),
    )
    .addHelpText(
      'after',
      `\nEach file is an activity with a major sync point every --sync-every bytes, confirmed by the\nreceiver once the data is on disk. Killed and run again, send resumes from the last confirmed\nsync point (--json prints a "resumed" event with the byte). Exits 0 once the receiver verified\nevery file's SHA-256.\n\nExample:\n  liaison send big.iso notes.txt tcp://127.0.0.1:7000\n${EXIT_CODES_HELP}`,
    )
    .exitOverride()
    .action(async (args: string[], flags) => {
      if (args.length < 2) throw new UsageError(ErrorCode.INVALID_ARGUMENT, 'send needs at least one file and a URL');
      process.exitCode = await sendCommand(args, flags);
    });
  for (const o of limitOptions()) if (o.long !== '--units') sendCmd.addOption(o);
  for (const o of connectSecurityOptions()) sendCmd.addOption(o);
  for (const o of noiseConnectOptions()) sendCmd.addOption(o);

  root
    .command('keygen')
    .argument('<file>', 'where to write the key pair (never overwritten; mode 0600)')
    .description('write a new X25519 key pair for Noise and print its public key (hex) on stdout')
    .option('--json', 'print {"file", "publicKey"} as JSON')
    .addHelpText(
      'after',
      `\nExample:\n  liaison keygen server.key\n  liaison serve --listen tcp://127.0.0.1:7000 --noise-key server.key\n  liaison connect tcp://127.0.0.1:7000 --server-key <printed hex>\n${EXIT_CODES_HELP}`,
    )
    .exitOverride()
    .action((file, flags) => {
      process.exitCode = keygen(file, flags);
    });
  return root;
}

async function main(argv: string[]): Promise<void> {
  try {
    await program().parseAsync(argv);
  } catch (e) {
    if (e instanceof CommanderError) {
      process.exitCode = e.exitCode === 0 ? Exit.OK : Exit.USAGE;
      return;
    }
    if (e instanceof UsageError) {
      process.stderr.write(`liaison: ${e.message}\n`);
      process.exitCode = Exit.USAGE;
      return;
    }
    if (e instanceof LiaisonError) {
      process.stderr.write(`liaison: ${e.message}\n`);
      process.exitCode = e.code === 'ERR_LIAISON_TRANSPORT' ? Exit.TRANSPORT : Exit.INTERNAL;
      return;
    }
    process.stderr.write(`liaison: internal error: ${(e as Error)?.stack ?? String(e)}\n`);
    process.exitCode = Exit.INTERNAL;
  }
}

installStopHandlers();
await main(process.argv);
