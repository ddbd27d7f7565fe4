/** Options shared by the commands: limits and functional units, parsed and validated once. */

import type { Limits } from '@liaison/node';
import { parseByteSize } from '@liaison/transfer';
import { InvalidArgumentError, Option } from 'commander';

export function limitOptions(): Option[] {
  return [
    integerOption('--max-message-bytes <n>', 'largest message accepted', 1),
    integerOption('--keepalive-ms <n>', 'ping after this much silence (0: off)', 0),
    integerOption('--idle-timeout-ms <n>', 'declare the peer dead after this much silence (0: off)', 0),
    integerOption('--handshake-timeout-ms <n>', 'time allowed to establish a session', 1),
    integerOption('--resume-window-ms <n>', 'how long a session whose connection broke waits to be resumed', 0),
    new Option('--no-resume', 'end sessions when their connection breaks instead of resuming them'),
    new Option(
      '--units <list>',
      'functional units, comma-separated (e.g. duplex,expedited,typed-data,negotiated-release)',
    ),
  ];
}

export interface LimitFlags {
  maxMessageBytes?: number;
  keepaliveMs?: number;
  idleTimeoutMs?: number;
  handshakeTimeoutMs?: number;
  resumeWindowMs?: number;
  /** false with --no-resume */
  resume?: boolean;
  units?: string;
}

export function limitsFrom(flags: LimitFlags): Partial<Limits> {
  const limits: Partial<Limits> = {};
  if (flags.maxMessageBytes !== undefined) limits.messageBytesMax = flags.maxMessageBytes;
  if (flags.keepaliveMs !== undefined) limits.keepaliveIntervalMs = flags.keepaliveMs;
  if (flags.idleTimeoutMs !== undefined) limits.idleTimeoutMs = flags.idleTimeoutMs;
  if (flags.handshakeTimeoutMs !== undefined) limits.handshakeTimeoutMs = flags.handshakeTimeoutMs;
  if (flags.resumeWindowMs !== undefined) limits.resumeWindowMs = flags.resumeWindowMs;
  return limits;
}

export function unitsFrom(flags: LimitFlags): string[] | undefined {
  return flags.units
    ?.split(',')
    .map((u) => u.trim())
    .filter(Boolean);
}

export function byteSize(value: string): number {
  let n: number;
  try {
    n = parseByteSize(value);
  } catch (e) {
    throw new InvalidArgumentError((e as Error).message);
  }
  if (n < 1) throw new InvalidArgumentError(`expected a positive size, got "${value}"`);
  return n;
}

/**
 * The one way the command takes an integer option: decimal digits only (no sign, fraction,
 * exponent, hex or empty string), at least `min`, at most 2^53 - 1. A bad value throws commander's
 * InvalidArgumentError, so it is a one-line usage error (exit 2) naming the option, never a stack.
 * Every integer option is made here; the value placeholder is always `<n>`.
 */
export function integerOption(flags: string, description: string, min: 0 | 1): Option {
  return new Option(flags, description).argParser((value: string) => parseInteger(value, min));
}

export function parseInteger(value: string, min: 0 | 1): number {
  const n = /^[0-9]+$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < min)
    throw new InvalidArgumentError(`expected ${min === 0 ? 'a non-negative' : 'a positive'} integer`);
  return n;
}
