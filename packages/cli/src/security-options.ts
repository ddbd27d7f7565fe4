/**
 * The command line's TLS and authentication options, read into the Node API's options: key and
 * certificate files for TLS, token / JWT / PSK files for authentication. Files are read once at
 * start; a file that cannot be read or parsed is a usage error naming it.
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { TlsOptions } from 'node:tls';
import {
  type AttackLimits,
  type Authenticator,
  anyOf,
  bearerTokens,
  type ClientAuth,
  ErrorCode,
  jwtVerifier,
  type Principal,
  preSharedKeys,
  UsageError,
} from '@liaison/node';
import { Option } from 'commander';
import { integerOption } from './options.js';

export function serveSecurityOptions(): Option[] {
  return [
    new Option('--cert <file>', 'TLS: the server certificate chain (PEM); needs --key and a tls:// URL'),
    new Option('--key <file>', 'TLS: the private key of --cert (PEM)'),
    new Option('--client-ca <file>', 'mutual TLS: require client certificates signed by this CA (PEM)'),
    new Option('--auth-token <token>', 'accept clients presenting this bearer token (principal "token-1")'),
    new Option('--auth-tokens <file>', 'accept the bearer tokens in FILE: one per line, "TOKEN [PRINCIPAL]"'),
    new Option('--jwt-key <file>', 'accept JWTs signed with this key: a PEM public key or a JWK (JSON)'),
    new Option('--jwks <file>', 'accept JWTs signed with a key of this JSON Web Key Set (picked by kid)'),
    new Option('--jwt-issuer <iss>', 'JWTs must have this issuer (iss)'),
    new Option('--jwt-audience <aud>', 'JWTs must have this audience (aud)'),
    new Option('--psk-file <file>', 'accept pre-shared keys: one per line, "IDENTITY HEXKEY" (key ≥ 16 bytes)'),
    integerOption(
      '--max-connections-per-address <n>',
      'connections one remote address (an IPv6 /64) may hold at once (default 256)',
      1,
    ),
    integerOption(
      '--max-connections <n>',
      'connections the server holds at once, all addresses together (default 10000)',
      1,
    ),
    integerOption('--max-sessions-per-connection <n>', 'sessions one connection may carry (default 1024)', 1),
    integerOption(
      '--max-failed-attempts <n>',
      'failed logins/resumes an address may make in a burst before it is turned away (default 10)',
      1,
    ),
  ];
}

export function connectSecurityOptions(): Option[] {
  return [
    new Option('--ca <file>', 'TLS: trust this CA (PEM) instead of the system CAs'),
    new Option('--cert <file>', 'mutual TLS: the client certificate (PEM); needs --key'),
    new Option('--key <file>', 'mutual TLS: the private key of --cert (PEM)'),
    new Option('--servername <name>', 'TLS: the name to check the server certificate against (default: the URL host)'),
    new Option(
      '--insecure',
      'TLS: do not check the server certificate (tests only: anyone in the middle can read everything)',
    ),
    new Option('--token <token>', 'authenticate with this bearer token or JWT'),
    new Option(
      '--token-file <file>',
      'authenticate with the bearer token or JWT in FILE (first line); FILE is watched: a new token written there renews the live session (before the old one expires)',
    ),
    integerOption(
      '--token-poll-ms <n>',
      '--token-file: also re-read FILE this often, besides watching it (default 1000)',
      1,
    ),
    new Option('--psk <id:file>', 'authenticate with a pre-shared key: IDENTITY:FILE, FILE holding the key in hex'),
  ];
}

export interface ServeSecurityFlags {
  cert?: string;
  key?: string;
  clientCa?: string;
  authToken?: string;
  authTokens?: string;
  jwtKey?: string;
  jwks?: string;
  jwtIssuer?: string;
  jwtAudience?: string;
  pskFile?: string;
  maxConnectionsPerAddress?: number;
  maxConnections?: number;
  maxSessionsPerConnection?: number;
  maxFailedAttempts?: number;
}

export interface ConnectSecurityFlags {
  ca?: string;
  cert?: string;
  key?: string;
  servername?: string;
  insecure?: boolean;
  token?: string;
  tokenFile?: string;
  tokenPollMs?: number;
  psk?: string;
}

/** TLS options for the listeners: used by the tls:// and wss:// URLs among them. */
export function serverTls(urls: string | readonly string[], f: ServeSecurityFlags): TlsOptions | undefined {
  const tls = [urls].flat().some((u) => u.startsWith('tls:') || u.startsWith('wss:'));
  if (!tls) {
    if (f.cert || f.key || f.clientCa) usage('--cert, --key and --client-ca need a tls:// URL (or wss://)');
    return undefined;
  }
  if (!f.cert || !f.key) usage('a tls:// (or wss://) server needs --cert and --key');
  const options: TlsOptions = { cert: read(f.cert, '--cert'), key: read(f.key, '--key') };
  if (f.clientCa)
    Object.assign(options, { ca: read(f.clientCa, '--client-ca'), requestCert: true, rejectUnauthorized: true });
  return options;
}

/** The authenticate hook from the flags, or undefined when none asks for authentication. */
export function serverAuthenticator(f: ServeSecurityFlags): Authenticator | undefined {
  const verifiers: Authenticator[] = [];
  const tokens = new Map<string, Principal | string>();
  if (f.authToken) tokens.set(f.authToken, 'token-1');
  if (f.authTokens) {
    for (const [token, principal] of lines(f.authTokens, '--auth-tokens')) {
      if (token) tokens.set(token, principal ?? `token-${tokens.size + 1}`);
    }
  }
  if (tokens.size > 0) verifiers.push(bearerTokens(tokens));
  if (f.jwtKey && f.jwks) usage('give --jwt-key or --jwks, not both');
  if (f.jwtKey || f.jwks) {
    verifiers.push(
      jwtVerifier({
        ...(f.jwtKey ? { key: jwtKey(f.jwtKey) } : { jwks: json(f.jwks as string, '--jwks') as never }),
        issuer: f.jwtIssuer,
        audience: f.jwtAudience,
      }),
    );
  } else if (f.jwtIssuer || f.jwtAudience) usage('--jwt-issuer and --jwt-audience need --jwt-key or --jwks');
  if (f.pskFile) {
    const keys = new Map<string, Uint8Array>();
    for (const [id, hex] of lines(f.pskFile, '--psk-file')) {
      if (!id || !hex) usage(`--psk-file ${f.pskFile}: each line is "IDENTITY HEXKEY"`);
      keys.set(id, hexKey(hex, `--psk-file ${f.pskFile}`));
    }
    verifiers.push(preSharedKeys(keys));
  }
  if (verifiers.length === 0) return undefined;
  return verifiers.length === 1 ? verifiers[0] : anyOf(...verifiers);
}

export function serverAttackLimits(f: ServeSecurityFlags): Partial<AttackLimits> {
  const l: Partial<AttackLimits> = {};
  if (f.maxConnectionsPerAddress !== undefined) l.connectionsPerAddressMax = f.maxConnectionsPerAddress;
  if (f.maxConnections !== undefined) l.connectionsMax = f.maxConnections;
  if (f.maxFailedAttempts !== undefined) l.failuresBurst = f.maxFailedAttempts;
  return l;
}

export function clientTls(url: string, f: ConnectSecurityFlags) {
  if (!url.startsWith('tls:') && !url.startsWith('wss:')) {
    if (f.ca || f.cert || f.key || f.servername || f.insecure)
      usage('--ca, --cert, --key, --servername and --insecure need a tls:// URL (or wss://)');
    return undefined;
  }
  if ((f.cert === undefined) !== (f.key === undefined)) usage('--cert and --key go together');
  return {
    ...(f.ca ? { ca: read(f.ca, '--ca') } : {}),
    ...(f.cert ? { cert: read(f.cert, '--cert') } : {}),
    ...(f.key ? { key: read(f.key, '--key') } : {}),
    ...(f.servername ? { servername: f.servername } : {}),
    ...(f.insecure ? { rejectUnauthorized: false } : {}),
  };
}

export function clientAuth(f: ConnectSecurityFlags): ClientAuth | undefined {
  const given = [f.token, f.tokenFile, f.psk].filter((x) => x !== undefined).length;
  if (given > 1) usage('give one of --token, --token-file and --psk');
  if (f.token !== undefined) return { token: f.token };
  if (f.tokenFile !== undefined) {
    const token = read(f.tokenFile, '--token-file').toString('utf8').split(/\r?\n/)[0]?.trim() ?? '';
    if (token === '') usage(`--token-file ${f.tokenFile} is empty`);
    return { token };
  }
  if (f.psk !== undefined) {
    const at = f.psk.indexOf(':');
    if (at <= 0) usage('--psk takes IDENTITY:FILE');
    const file = f.psk.slice(at + 1);
    return {
      psk: { identity: f.psk.slice(0, at), key: hexKey(read(file, '--psk').toString('utf8').trim(), `--psk ${file}`) },
    };
  }
  return undefined;
}

function jwtKey(file: string): KeyObject | object {
  const text = read(file, '--jwt-key').toString('utf8').trim();
  if (text.startsWith('{')) return json(file, '--jwt-key') as object;
  try {
    return createPublicKey(text);
  } catch (e) {
    return usage(`--jwt-key ${file}: not a PEM public key or a JWK (${(e as Error).message})`);
  }
}

function hexKey(hex: string, where: string): Uint8Array {
  if (!/^([0-9a-fA-F]{2}){16,}$/.test(hex)) usage(`${where}: a key is at least 16 bytes in hex`);
  return Buffer.from(hex, 'hex');
}

function lines(file: string, flag: string): string[][] {
  return read(file, flag)
    .toString('utf8')
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => l.split(/\s+/));
}

function json(file: string, flag: string): unknown {
  try {
    return JSON.parse(read(file, flag).toString('utf8'));
  } catch (e) {
    return usage(`${flag} ${file}: not JSON (${(e as Error).message})`);
  }
}

function read(file: string, flag: string): Buffer {
  try {
    return readFileSync(file);
  } catch (e) {
    return usage(`${flag} ${file}: ${(e as Error).message}`);
  }
}

function usage(message: string): never {
  throw new UsageError(ErrorCode.INVALID_ARGUMENT, message);
}
