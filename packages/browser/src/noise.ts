/**
 * @liaison/browser/noise: Noise inside the WebSocket, end to end with the liaison server (the
 * same handshake and records as @liaison/node's `noise` option). A module of its own, so that a
 * page that does not import it does not carry the handshake and the AEAD in its bundle.
 *
 * `connect(url, { noise: noise({ remoteStaticKey }) })`: with the server's static public key the
 * handshake is IK (only that server can answer); without it XX, and `session.peerStaticKey` tells
 * the key for trust on first use. A session with Noise never falls back to plaintext.
 */
import { type Connection, ErrorCode, type NoiseConfig, SecureConnection, UsageError } from '@liaison/core';
import { random } from './clock.js';
import type { EngineIo } from './driver.js';

export interface NoiseOptions {
  /** The server's static X25519 public key: 32 bytes or 64 hex digits. */
  remoteStaticKey?: Uint8Array | string;
  /** This side's static X25519 private key (default: a fresh one per connection, anonymous). */
  staticKey?: Uint8Array | string;
  /** Force the pattern (XX with remoteStaticKey checks the key when it arrives). */
  pattern?: 'XX' | 'IK';
}

/** Wraps each new connection of a session in a Noise channel (made by noise()). */
export type NoiseLayer = (connection: Connection) => EngineIo;

/**
 * The Noise layer for connect()'s `noise` option.
 * @throws UsageError INVALID_ARGUMENT for a key that is not 32 bytes or 64 hex digits, or a bad pattern.
 */
export function noise(options: NoiseOptions = {}): NoiseLayer {
  const config: NoiseConfig = {};
  if (options.remoteStaticKey !== undefined)
    config.remoteStaticKey = keyBytes(options.remoteStaticKey, 'remoteStaticKey');
  if (options.staticKey !== undefined) config.staticKey = keyBytes(options.staticKey, 'staticKey');
  if (options.pattern !== undefined) {
    if (options.pattern !== 'XX' && options.pattern !== 'IK') {
      throw new UsageError(ErrorCode.INVALID_ARGUMENT, `noise pattern must be 'XX' or 'IK'`);
    }
    config.pattern = options.pattern;
  }
  return (connection) => new SecureConnection({ connection, random, ...config });
}

function keyBytes(key: Uint8Array | string, name: string): Uint8Array {
  if (key instanceof Uint8Array && key.byteLength === 32) return Uint8Array.from(key);
  if (typeof key === 'string' && /^[0-9a-fA-F]{64}$/.test(key)) {
    return Uint8Array.from(key.match(/../g) as string[], (h) => Number.parseInt(h, 16));
  }
  throw new UsageError(ErrorCode.INVALID_ARGUMENT, `noise ${name} must be 32 bytes or 64 hex digits`);
}
