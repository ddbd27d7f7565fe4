/**
 * Exit codes of the `liaison` command (documented in `liaison --help` and the README).
 * Scripts may rely on them: they are part of the command's contract.
 */
import { AbortCode, type CloseReason } from '@liaison/node';

export const Exit = {
  OK: 0,
  /** A bug or an unexpected failure. */
  INTERNAL: 1,
  /** Bad arguments or options. */
  USAGE: 2,
  /** The peer refused the session; send: the server is not a receiver (NOT_A_RECEIVER). */
  REFUSED: 3,
  /** The session was aborted, by the peer or by a protocol error. */
  ABORTED: 4,
  /** The transport failed: connection refused, reset or lost. */
  TRANSPORT: 5,
  /** A deadline passed: handshake, idle peer, or release. */
  TIMEOUT: 6,
  /** send: the receiver's SHA-256 of a file differs from the sender's (nothing was kept). */
  CHECKSUM: 7,
  /** send: a local file is missing, unreadable or changed while sent, or the receiver refused its name. */
  FILE: 8,
  /** The session's credentials (a JWT) expired unrenewed: the server closed it CREDENTIALS_EXPIRED. */
  CREDENTIALS_EXPIRED: 9,
  /** Ctrl-C (SIGINT): connect/send aborted the session first, so the server dropped it. */
  INTERRUPTED: 130,
  /** Standard output was closed (EPIPE, e.g. `| head -1`): connect aborted the session first. */
  STDOUT_CLOSED: 141,
  /** SIGTERM: connect/send aborted the session first. */
  TERMINATED: 143,
} as const;

export function exitCodeFor(reason: CloseReason): number {
  switch (reason.kind) {
    case 'released':
      return Exit.OK;
    case 'refused':
      return Exit.REFUSED;
    case 'aborted':
      if (reason.code === AbortCode.CREDENTIALS_EXPIRED) return Exit.CREDENTIALS_EXPIRED;
      // The transport broke and could not be re-established in time: a transport failure.
      if (reason.code === AbortCode.TRANSPORT_LOST || reason.code === AbortCode.RESUME_WINDOW_EXPIRED)
        return Exit.TRANSPORT;
      if (
        reason.code === AbortCode.HANDSHAKE_TIMEOUT ||
        reason.code === AbortCode.IDLE_TIMEOUT ||
        reason.code === AbortCode.RELEASE_TIMEOUT
      ) {
        return Exit.TIMEOUT;
      }
      return Exit.ABORTED;
  }
}

export const EXIT_CODES_HELP = `
Exit codes:
  0  success (connect: the session was released after every message was printed)
  1  internal error
  2  usage error (bad arguments)
  3  the peer refused the session (send: or the server is not a receiver, no --receive-dir)
  4  the session was aborted (by the peer, or on a protocol error)
  5  transport failure (connection refused, reset, or lost and not resumed within the resume window)
  6  timeout (handshake, unresponsive peer, release)
  7  send: SHA-256 mismatch (the receiver's check of a file failed; the partial file was dropped)
  8  send: a local file is missing, unreadable or changed while sent, or the receiver refused its name
  9  the credentials expired unrenewed (the server closed the session CREDENTIALS_EXPIRED)
  130  interrupted (SIGINT, Ctrl-C): connect/send aborted the session, so the server dropped it
  141  standard output closed (EPIPE, e.g. piped into head): connect aborted the session
  143  terminated (SIGTERM): connect/send aborted the session
  (serve exits 0 on SIGINT/SIGTERM after releasing its sessions, --shutdown-timeout bounding the
   wait; 141 when its stdout is closed, its sessions aborted)`;
