/**
 * Which file names a receiver writes. A name comes from the peer, so it is untrusted: it must be
 * one plain path component inside the receive directory, never a path. Refused rather than
 * "sanitised": a silently renamed file is a surprise, a typed error is not.
 */
import { TransferError, TransferErrorCode } from './errors.js';

/** Longest name accepted, in UTF-8 bytes (the usual file system limit for one component). */
export const FILE_NAME_BYTES_MAX = 255;

/**
 * Returns `name` if it is safe to create inside the receive directory.
 * @throws TransferError UNSAFE_FILE_NAME: empty, `.` or `..`, contains `/`, `\`, NUL or a control
 * character, starts with the journal's reserved prefix `.liaison-`, or is over 255 UTF-8 bytes.
 */
export function checkFileName(name: string): string {
  const why = unsafeBecause(name);
  if (why !== null)
    throw new TransferError(TransferErrorCode.UNSAFE_FILE_NAME, `unsafe file name ${JSON.stringify(name)}: ${why}`);
  return name;
}

function unsafeBecause(name: string): string | null {
  if (typeof name !== 'string' || name.length === 0) return 'empty';
  if (name === '.' || name === '..') return 'a directory reference';
  if (name.includes('/') || name.includes('\\')) return 'a path, not a name (absolute paths and .. are refused)';
  // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
  if (/[\u0000-\u001f\u007f]/.test(name)) return 'contains a control character';
  if (name.startsWith('.liaison-')) return 'the .liaison- prefix is reserved for the receiver';
  if (new TextEncoder().encode(name).byteLength > FILE_NAME_BYTES_MAX)
    return `longer than ${FILE_NAME_BYTES_MAX} bytes`;
  return null;
}
