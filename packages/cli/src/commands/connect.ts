/**
 * `liaison connect URL`: each line of stdin is one message; each message received is one line on
 * stdout. At the end of stdin the session is released in order, and the command exits 0 once the
 * release completed and every message from the peer was printed. Refusal, abort or failure exit
 * non-zero with a one-line reason on stderr.
 */
import { AbortCode, connect, describeCloseReason, SessionClosedError, type UndeliveredMessage } from '@liaison/node';
import { Exit, exitCodeFor } from '../exit-codes.js';
import { hex, type NoiseConnectFlags, noiseForConnect } from '../noise-options.js';
import { type LimitFlags, limitsFrom, unitsFrom } from '../options.js';
import { LineWriter, makeReporter, reasonJson, transportHint, unitsJson } from '../output.js';
import { type ConnectSecurityFlags, clientAuth, clientTls } from '../security-options.js';
import { onStop, type Stop } from '../stop.js';
import { expiredHint, renewalReporter, TokenFileWatcher } from '../token-watch.js';

export interface ConnectFlags extends LimitFlags, ConnectSecurityFlags, NoiseConnectFlags {
  json?: boolean;
  userData?: string;
}

export async function connectCommand(url: string, flags: ConnectFlags): Promise<number> {
  const report = makeReporter(flags.json ?? false, true);
  const auth = clientAuth(flags);
  // --token-file is watched: a new token written there renews the live session's credentials.
  const watcher =
    flags.tokenFile !== undefined && auth && 'token' in auth
      ? new TokenFileWatcher(
          flags.tokenFile,
          auth.token,
          renewalReporter(report.event, flags.json ?? false),
          flags.tokenPollMs,
        )
      : null;
  const session = connect(url, {
    limits: { ...limitsFrom(flags), ...(flags.noiseRekeyBytes ? { noiseRekeyBytes: flags.noiseRekeyBytes } : {}) },
    units: unitsFrom(flags),
    userData: flags.userData,
    resume: flags.resume !== false,
    tls: clientTls(url, flags),
    auth,
    noise: noiseForConnect(flags),
  });
  watcher?.attach(session);
  const out = new LineWriter(process.stdout);
  // Ctrl-C, SIGTERM or a closed stdout: abort, so the server ends the session now (it would keep
  // a session whose transport just vanished suspended for its resume window).
  let stopped: Stop | null = null;
  const unStop = onStop((s) => {
    stopped = s;
    session.abort(s.why);
    process.stdin.destroy();
  });

  session.on('open', () => {
    const a = session.agreed;
    const serverKey = session.peerStaticKey ? hex(session.peerStaticKey) : null;
    if (serverKey && !flags.serverKey) {
      // Trust on first use: the key is shown so that it can be checked and pinned next time.
      const line = `server noise key ${serverKey} (not pinned: pass --server-key ${serverKey} to pin it)`;
      if (flags.json) report.event('noise', { pattern: session.noisePattern, serverKey, pinned: false }, line);
      else process.stderr.write(`liaison: ${line}\n`);
    }
    report.event(
      'open',
      {
        url,
        channel: session.channel,
        version: a?.version,
        units: a ? unitsJson(a.units) : [],
        rttMs: session.rtt?.latestMs,
        noise: session.noisePattern,
        serverKey,
      },
      `session open to ${url}`,
    );
  });
  session.on('typed', (data) => out.line(data));
  session.on('expedited', (data) => out.line(data));
  session.on('release-request', () => report.event('release-requested', {}, 'the peer asked to release the session'));
  session.on('suspended', (why) => report.event('suspended', { reason: why }, `session suspended: ${why}`));
  session.on('resumed', (stats) =>
    report.event(
      'resumed',
      { ...stats, resumes: session.stats.resumes },
      `session resumed after ${Math.round(stats.downtimeMs)} ms (${stats.replayedMessages} messages replayed, ${stats.peerReplayedMessages} by the peer, ${stats.duplicatesSuppressed} duplicates dropped, none lost)`,
    ),
  );

  // Print everything received, honouring stdout's backpressure (which then slows the peer).
  const printing = (async () => {
    try {
      for await (const message of session) {
        out.line(message);
        await out.wait();
      }
    } catch {
      // The session aborted: `closed` carries the reason.
    }
  })();

  const sending = (async () => {
    try {
      await session.ready;
      await sendLines(session.send.bind(session));
      await session.close();
    } catch (e) {
      // A stop destroys stdin under the reader: not a failure.
      if (!(e instanceof SessionClosedError) && stopped === null) throw e;
    }
  })();

  const reason = await session.closed;
  unStop();
  watcher?.close();
  await printing;
  await out.end();
  // Stop reading stdin if the session ended first (the peer released or aborted).
  process.stdin.destroy();
  await sending.catch(() => {});
  const stop = stopped as Stop | null;
  const code = stop ? stop.code : exitCodeFor(reason);
  const s = session.stats;
  report.event(
    'closed',
    {
      reason: reasonJson(reason),
      messagesIn: s.messagesReceived,
      messagesOut: s.messagesSent,
      resumes: s.resumes,
      framesRetransmitted: s.framesRetransmitted,
      bytesRetransmitted: s.bytesRetransmitted,
      duplicatesSuppressed: s.duplicatesSuppressed,
      // Lost session: the lines the peer is not known to have got, in order, and which of them
      // were sent and never confirmed (they may have arrived).
      ...(reason.kind === 'released' ? {} : lostLines(session.undeliveredMessages())),
    },
    describeCloseReason(reason),
  );
  if (stop) {
    report.error(`${stop.why}: session aborted`, { exitCode: code });
    return code;
  }
  const expired = code === Exit.CREDENTIALS_EXPIRED ? `; ${expiredHint(watcher !== null)}` : '';
  // A transport that failed says why in its own words (the TLS alert, the Noise stage...).
  const failure = reason.kind === 'aborted' && reason.code === AbortCode.TRANSPORT_LOST ? session.transportError : null;
  const message = failure ? `${failure.message}${transportHint(failure.failure)}` : describeCloseReason(reason);
  if (code !== Exit.OK) report.error(`${message}${expired}`, { exitCode: code });
  return code;
}

/** Sends each line of stdin (without its newline; a final unterminated line counts too). */
async function sendLines(send: (line: Uint8Array) => Promise<void>): Promise<void> {
  let rest: Buffer | null = null;
  for await (const chunk of process.stdin as AsyncIterable<Buffer>) {
    let data: Buffer = rest ? Buffer.concat([rest, chunk]) : chunk;
    rest = null;
    let start = 0;
    for (let nl = data.indexOf(10, start); nl !== -1; nl = data.indexOf(10, start)) {
      const end = nl > start && data[nl - 1] === 13 ? nl - 1 : nl;
      await send(data.subarray(start, end));
      start = nl + 1;
    }
    if (start < data.length) rest = Buffer.from(data.subarray(start));
    data = Buffer.alloc(0);
  }
  if (rest && rest.length > 0) await send(rest);
}

/** The lines of a lost session that the peer is not known to have received. */
function lostLines(messages: UndeliveredMessage[]): { undeliveredMessages: string[]; unconfirmedMessages: number } {
  const decoder = new TextDecoder();
  return {
    undeliveredMessages: messages.map((m) => decoder.decode(m.data)),
    unconfirmedMessages: messages.filter((m) => m.status === 'unconfirmed').length,
  };
}
