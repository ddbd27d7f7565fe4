/**
 * The command's Noise options: `serve --noise-key FILE [--noise-allow-plaintext]` and
 * `connect --noise [--server-key HEX|FILE] [--noise-key FILE]`. Key files are those
 * `liaison keygen` writes; a server key may also be given as 64 hex digits or a file holding them.
 */
import { existsSync, readFileSync } from 'node:fs';
import { ErrorCode, keyBytes, type NoiseOptions, readNoiseKeyFile, UsageError } from '@liaison/node';
import { Option } from 'commander';
import { integerOption } from './options.js';

export interface NoiseServeFlags {
  noiseKey?: string;
  noiseAllowPlaintext?: boolean;
  noiseRekeyBytes?: number;
}

export interface NoiseConnectFlags {
  noise?: boolean;
  serverKey?: string;
  noiseKey?: string;
  noiseRekeyBytes?: number;
}

export function noiseServeOptions(): Option[] {
  return [
    new Option('--noise-key <file>', 'encrypt sessions with Noise using this key file (from `liaison keygen`)'),
    new Option('--noise-allow-plaintext', 'with --noise-key, also accept clients without Noise'),
    rekeyOption(),
  ];
}

export function noiseConnectOptions(): Option[] {
  return [
    new Option('--noise', 'encrypt the session with Noise (XX; IK with --server-key); never falls back'),
    new Option('--server-key <hex|file>', "the server's Noise public key, pinned (implies --noise)"),
    new Option('--noise-key <file>', 'this client’s Noise key file (default: a fresh key per connection)'),
    rekeyOption(),
  ];
}

export function noiseForServe(flags: NoiseServeFlags): NoiseOptions | undefined {
  if (!flags.noiseKey) {
    if (flags.noiseAllowPlaintext)
      throw new UsageError(ErrorCode.INVALID_ARGUMENT, '--noise-allow-plaintext needs --noise-key');
    return undefined;
  }
  return { staticKey: readNoiseKeyFile(flags.noiseKey).privateKey, require: !flags.noiseAllowPlaintext };
}

export function noiseForConnect(flags: NoiseConnectFlags): NoiseOptions | undefined {
  if (!flags.noise && !flags.serverKey && !flags.noiseKey) return undefined;
  const options: NoiseOptions = {};
  if (flags.noiseKey) options.staticKey = readNoiseKeyFile(flags.noiseKey).privateKey;
  if (flags.serverKey) options.remoteStaticKey = serverKey(flags.serverKey);
  return options;
}

/** 64 hex digits, a key file (its public key), or a file holding 64 hex digits. */
function serverKey(value: string): Uint8Array {
  if (/^[0-9a-fA-F]{64}$/.test(value)) return keyBytes(value, '--server-key');
  if (!existsSync(value))
    throw new UsageError(ErrorCode.INVALID_ARGUMENT, '--server-key is neither 64 hex digits nor a file');
  const text = readFileSync(value, 'utf8').trim();
  if (text.startsWith('{')) return readNoiseKeyFile(value).publicKey;
  return keyBytes(text, '--server-key');
}

function rekeyOption(): Option {
  return integerOption('--noise-rekey-bytes <n>', 'with Noise, change keys after this many bytes each way', 1);
}

export const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
