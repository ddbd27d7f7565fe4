/**
 * Errors of the file transfer, each with a stable `code` (docs/ERRORS.md). They extend the
 * library's LiaisonError so one `instanceof` and one `code` switch cover both.
 */
import { LiaisonError } from '@liaison/node';

export const TransferErrorCode = {
  /** A file name the receiver will not write: empty, a path, `.`/`..`, absolute, NUL, too long. */
  UNSAFE_FILE_NAME: 'ERR_LIAISON_UNSAFE_FILE_NAME',
  /** The receiver's SHA-256 of the received file differs from the sender's. */
  CHECKSUM_MISMATCH: 'ERR_LIAISON_CHECKSUM_MISMATCH',
  /** The source file changed (size or modification time) while it was being sent. */
  FILE_CHANGED: 'ERR_LIAISON_FILE_CHANGED',
  /** A local file could not be read or written. */
  FILE_IO: 'ERR_LIAISON_FILE_IO',
  /** The peer broke the transfer protocol (a bad message, an offset that does not match). */
  TRANSFER_PROTOCOL: 'ERR_LIAISON_TRANSFER_PROTOCOL',
  /** The receiver refused a file (see the message for why). */
  FILE_REFUSED: 'ERR_LIAISON_FILE_REFUSED',
  /** The server accepted the session without the receiver's greeting: it does not accept files. */
  NOT_A_RECEIVER: 'ERR_LIAISON_NOT_A_RECEIVER',
  /** The session was lost and could not be re-established within the retry time. */
  TRANSFER_INTERRUPTED: 'ERR_LIAISON_TRANSFER_INTERRUPTED',
} as const;
export type TransferErrorCode = (typeof TransferErrorCode)[keyof typeof TransferErrorCode];

export class TransferError extends LiaisonError {
  declare readonly code: TransferErrorCode;
  constructor(code: TransferErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}
