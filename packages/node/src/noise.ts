/**
 * Noise options for listen() and connect(), and X25519 key pairs for them (`liaison keygen`).
 *
 * Keys are raw 32-byte X25519 keys, given as bytes or hex. A key file is JSON
 * `{ "type": "liaison-noise-x25519", "privateKey": hex, "publicKey": hex }`, written with mode 0600.
 */
import { createHash, generateKeyPairSync } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import {
  type Connection,
  type CryptoProvider,
  ErrorCode,
  type NoiseConfig,
  nobleCrypto,
  SecureConnection,
  UsageError,
} from '@liaison/core';
import { random } from './clock.js';
import { nodeCrypto } from './node-crypto.js';

export interface NoiseOptions {
  /** This side's static X25519 private key. Required on a server; a client without one uses a fresh key per connection. */
  staticKey?: Uint8Array | string;
  /** Client: the server's static public key. The handshake is then IK and only that server can answer. */
  remoteStaticKey?: Uint8Array | string;
  /** Client: force the pattern (XX with remoteStaticKey checks the key when it arrives). */
  pattern?: 'XX' | 'IK';
  /** Server: refuse plaintext clients (default true). A client with noise options never falls back. */
  require?: boolean;
  /**
   * Where the primitives come from: 'node' (node:crypto, OpenSSL; the default, about 14 times
   * faster for records), 'noble' (the portable @noble code core uses elsewhere) or a provider.
   * Both sides need not agree: the bytes on the wire are the same.
   */
  crypto?: 'node' | 'noble' | CryptoProvider;
}

export interface NoiseKeyPair {
  privateKey: Uint8Array;
  publicKey: Uint8Array;
}

const KEY_FILE_TYPE = 'liaison-noise-x25519';

/** A new X25519 key pair from node:crypto. */
export function generateNoiseKeyPair(): NoiseKeyPair {
  const { privateKey } = generateKeyPairSync('x25519');
  const jwk = privateKey.export({ format: 'jwk' });
  return {
    privateKey: new Uint8Array(Buffer.from(jwk.d as string, 'base64url')),
    publicKey: new Uint8Array(Buffer.from(jwk.x as string, 'base64url')),
  };
}

export function writeNoiseKeyFile(path: string, pair: NoiseKeyPair): void {
  const body = {
    type: KEY_FILE_TYPE,
    privateKey: Buffer.from(pair.privateKey).toString('hex'),
    publicKey: Buffer.from(pair.publicKey).toString('hex'),
  };
  writeFileSync(path, `${JSON.stringify(body, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
}

/** @throws UsageError when the file is not a liaison key file. */
export function readNoiseKeyFile(path: string): NoiseKeyPair {
  let body: { type?: unknown; privateKey?: unknown; publicKey?: unknown };
  try {
    body = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new UsageError(ErrorCode.INVALID_ARGUMENT, `cannot read noise key file ${path}: ${(e as Error).message}`);
  }
  if (body.type !== KEY_FILE_TYPE)
    throw new UsageError(ErrorCode.INVALID_ARGUMENT, `${path} is not a liaison noise key file`);
  return { privateKey: keyBytes(body.privateKey, 'privateKey'), publicKey: keyBytes(body.publicKey, 'publicKey') };
}

/**
 * A 32-byte key from bytes or 64 hex digits.
 * @throws UsageError otherwise.
 */
export function keyBytes(key: unknown, name: string): Uint8Array {
  if (key instanceof Uint8Array && key.byteLength === 32) return key;
  if (typeof key === 'string' && /^[0-9a-fA-F]{64}$/.test(key)) return new Uint8Array(Buffer.from(key, 'hex'));
  throw new UsageError(ErrorCode.INVALID_ARGUMENT, `${name} must be 32 bytes or 64 hex digits`);
}

/** Checks the options once, up front. @throws UsageError */
export function resolveNoise(options: NoiseOptions | undefined, role: 'initiator' | 'responder'): NoiseConfig | null {
  if (!options) return null;
  if (role === 'responder' && options.staticKey === undefined) {
    throw new UsageError(ErrorCode.INVALID_ARGUMENT, 'noise on a server needs staticKey');
  }
  const config: NoiseConfig = {};
  if (options.staticKey !== undefined) config.staticKey = keyBytes(options.staticKey, 'noise.staticKey');
  if (options.remoteStaticKey !== undefined) {
    config.remoteStaticKey = keyBytes(options.remoteStaticKey, 'noise.remoteStaticKey');
  }
  if (options.pattern !== undefined) config.pattern = options.pattern;
  if (options.require !== undefined) config.require = options.require;
  config.crypto = cryptoProvider(options.crypto);
  return config;
}

/** @throws UsageError on an unknown name. */
function cryptoProvider(choice: NoiseOptions['crypto']): CryptoProvider {
  if (choice === undefined || choice === 'node') return nodeCrypto;
  if (choice === 'noble') return nobleCrypto;
  if (typeof choice === 'object' && choice !== null && typeof choice.chacha20poly1305 === 'function') return choice;
  throw new UsageError(ErrorCode.INVALID_ARGUMENT, "noise.crypto must be 'node', 'noble' or a CryptoProvider");
}

/** The connection as the driver should see it: inside Noise when configured. */
export function secureIfConfigured(conn: Connection, config: NoiseConfig | null): Connection | SecureConnection {
  return config ? new SecureConnection({ connection: conn, random, ...config }) : conn;
}

/**
 * What distinguishes connections by their Noise options, for a Pool: a session that asked for
 * Noise (or for another server key) must never be carried by a connection opened without it.
 * A digest, so that no key material is kept in the pool's map keys.
 */
export function noisePoolKey(options: NoiseOptions | undefined): string {
  if (!options) return 'plaintext';
  const hash = createHash('sha256');
  for (const part of [options.staticKey, options.remoteStaticKey]) {
    hash.update(part === undefined ? '-' : Buffer.from(keyBytes(part, 'noise key')).toString('hex'));
    hash.update('|');
  }
  hash.update(`${options.pattern ?? ''}|${options.require ?? ''}`);
  return `noise:${hash.digest('hex').slice(0, 32)}`;
}
