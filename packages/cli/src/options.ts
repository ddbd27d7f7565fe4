/** Options shared by the commands: limits and functional units, parsed and validated once. */

import type { Limits } from '@liaison/node';
import { parseByteSize } from '@liaison/transfer';
import { InvalidArgumentError, Option } from 'commander';

export function limitOptions(): Option[] {
  return [
    new Option('--max-message-bytes <n>', 'largest message accepted').argParser(integer),
    new Option('--keepalive-ms <n>', 'ping after this much silence (0: off)').argParser(integer),
    new Option('--idle-timeout-ms <n>', 'declare the peer dead after this much silence (0: off)').argParser(integer),
    new Option('--handshake-timeout-ms <n>', 'time allowed to establish a session').argParser(integer),
    new Option('--resume-window-ms <n>', 'how long a session whose connection broke waits to be resumed').argParser(
      integer,
    ),
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

export function integer(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new Error(`expected a non-negative integer, got "${value}"`);
  return n;
}
