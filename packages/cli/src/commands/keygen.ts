/**
 * `liaison keygen FILE`: writes a new X25519 key pair for Noise to FILE (mode 0600, never over an
 * existing file) and prints its public key (hex) on stdout: give it to clients (`--server-key`).
 */
import { generateNoiseKeyPair, writeNoiseKeyFile } from '@liaison/node';
import { hex } from '../noise-options.js';

export function keygen(file: string, flags: { json?: boolean }): number {
  const pair = generateNoiseKeyPair();
  try {
    writeNoiseKeyFile(file, pair);
  } catch (e) {
    const why =
      (e as NodeJS.ErrnoException).code === 'EEXIST' ? 'it exists (keys are never overwritten)' : (e as Error).message;
    process.stderr.write(`liaison: cannot write ${file}: ${why}\n`);
    return 2;
  }
  const publicKey = hex(pair.publicKey);
  process.stdout.write(flags.json ? `${JSON.stringify({ file, publicKey })}\n` : `${publicKey}\n`);
  return 0;
}
