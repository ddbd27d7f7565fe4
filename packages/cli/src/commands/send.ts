/**
 * `liaison send FILE... URL`: sends files to a `liaison serve --receive-dir` receiver, each as an
 * activity with a major sync point every --sync-every bytes. Exits 0 only after the receiver
 * confirmed every file's SHA-256. Killed and run again, it resumes from the receiver's last
 * confirmed sync point; `--json` says from where (a `resumed` event).
 */
import { type LiaisonError, SessionClosedError, UsageError } from '@liaison/node';
import { formatBytes, type SenderEvent, sendFiles, TransferError, TransferErrorCode } from '@liaison/transfer';
import { Exit, exitCodeFor } from '../exit-codes.js';
import { type NoiseConnectFlags, noiseForConnect } from '../noise-options.js';
import { type LimitFlags, limitsFrom } from '../options.js';
import { makeReporter } from '../output.js';
import { makeProgress } from '../progress.js';
import { type ConnectSecurityFlags, clientAuth, clientTls } from '../security-options.js';
import { onStop, type Stop } from '../stop.js';
import { expiredHint, renewalReporter, TokenFileWatcher } from '../token-watch.js';

export interface SendFlags extends LimitFlags, ConnectSecurityFlags, NoiseConnectFlags {
  json?: boolean;
  syncEvery: number;
  retryForMs?: number;
}

export async function sendCommand(args: string[], flags: SendFlags): Promise<number> {
  const url = args.at(-1) as string;
  const paths = args.slice(0, -1);
  const bar = !flags.json && process.stderr.isTTY === true;
  const report = makeReporter(!bar, bar);
  const auth = clientAuth(flags);
  // --token-file is watched: a new token renews the live session, and a new session uses it.
  const watcher =
    flags.tokenFile !== undefined && auth && 'token' in auth
      ? new TokenFileWatcher(flags.tokenFile, auth.token, renewalReporter(report.event, !bar), flags.tokenPollMs)
      : null;
  const security = {
    tls: clientTls(url, flags),
    auth: watcher
      ? {
          get token() {
            return watcher.current;
          },
        }
      : auth,
  };
  const progress = makeProgress(bar, (fields) =>
    process.stderr.write(`${JSON.stringify({ ...fields, time: new Date().toISOString() })}\n`),
  );
  const human = (line: string) => (bar ? progress.log(line) : undefined);
  const started = Date.now();

  const onEvent = (e: SenderEvent) => {
    switch (e.type) {
      case 'connecting':
        if (e.attempt > 1) report.event('connecting', { url, attempt: e.attempt }, '');
        return;
      case 'session-open':
        watcher?.attach(e.session);
        report.event('session-open', { url, attempt: e.attempt }, '');
        return;
      case 'session-lost':
        report.event('session-lost', { reason: e.reason, retryInMs: e.retryInMs }, '');
        human(`session lost (${e.reason}); reconnecting`);
        return;
      case 'file-start':
        report.event('file-start', { file: e.file, size: e.size }, '');
        progress.start(e.file, e.size, 0);
        return;
      case 'resumed':
        report.event('resumed', { resumed: { file: e.file, fromByte: e.fromByte, serial: e.serial } }, '');
        human(`${e.file}: resuming from byte ${e.fromByte} (${formatBytes(e.fromByte)}), sync point ${e.serial}`);
        progress.start(e.file, e.size, e.fromByte);
        return;
      case 'progress':
        progress.update(e.file, e.bytes);
        return;
      case 'checkpoint':
        report.event('checkpoint', { file: e.file, offset: e.offset, serial: e.serial }, '');
        return;
      case 'file-done':
        progress.stop(e.file);
        report.event('file-done', { file: e.file, size: e.size, sha256: e.sha256, skipped: e.skipped }, '');
        human(
          `${e.file}: ${e.skipped ? 'already received' : 'received'}, SHA-256 ${e.sha256} verified by the receiver`,
        );
        return;
    }
  };

  // Ctrl-C or SIGTERM: the transfer aborts its session (the receiver drops it at once and keeps
  // the file's confirmed part for the next run).
  const stopping = new AbortController();
  let stopped: Stop | null = null;
  const unStop = onStop((s) => {
    stopped = s;
    stopping.abort(s);
  });
  try {
    const result = await sendFiles(url, paths, {
      signal: stopping.signal,
      syncEveryBytes: flags.syncEvery,
      retryForMs: flags.retryForMs,
      connection: {
        limits: { ...limitsFrom(flags), ...(flags.noiseRekeyBytes ? { noiseRekeyBytes: flags.noiseRekeyBytes } : {}) },
        resume: flags.resume !== false,
        noise: noiseForConnect(flags),
        ...security,
      },
      onEvent,
    });
    progress.end();
    const ms = Date.now() - started;
    report.event(
      'done',
      {
        files: result.files.length,
        bytesSent: result.bytesSent,
        ms,
        bytesPerSecond: Math.round((result.bytesSent * 1000) / Math.max(ms, 1)),
      },
      '',
    );
    if (bar)
      process.stderr.write(
        `liaison: ${result.files.length} file(s) sent and verified, ${formatBytes(result.bytesSent)} in ${(ms / 1000).toFixed(1)} s\n`,
      );
    return Exit.OK;
  } catch (e) {
    progress.end();
    const stop = stopped as Stop | null;
    if (stop) {
      report.error(`${stop.why}: transfer stopped, session aborted`, { exitCode: stop.code });
      return stop.code;
    }
    const code = exitFor(e);
    const expired = code === Exit.CREDENTIALS_EXPIRED ? `; ${expiredHint(watcher !== null)}` : '';
    report.error(`${(e as Error).message}${expired}`, { code: (e as LiaisonError).code, exitCode: code });
    return code;
  } finally {
    unStop();
    watcher?.close();
  }
}

function exitFor(e: unknown): number {
  if (e instanceof TransferError) {
    switch (e.code) {
      case TransferErrorCode.CHECKSUM_MISMATCH:
        return Exit.CHECKSUM;
      case TransferErrorCode.FILE_IO:
      case TransferErrorCode.FILE_CHANGED:
      case TransferErrorCode.FILE_REFUSED:
      case TransferErrorCode.UNSAFE_FILE_NAME:
        return Exit.FILE;
      case TransferErrorCode.TRANSFER_INTERRUPTED:
        return Exit.TRANSPORT;
      case TransferErrorCode.TRANSFER_PROTOCOL:
        return Exit.ABORTED;
      case TransferErrorCode.NOT_A_RECEIVER:
        return Exit.REFUSED;
    }
  }
  if (e instanceof SessionClosedError) return exitCodeFor(e.reason);
  if (e instanceof RangeError) return Exit.USAGE;
  if (e instanceof UsageError) return Exit.USAGE;
  throw e;
}
