/**
 * Authentication at establishment: the server's `authenticate` hook and the built-in verifiers
 * (bearer tokens, JWT with `jose`, pre-shared keys).
 *
 * Theory of operation
 * - The client's credentials travel in its CONNECT (AUTH_TOKEN or AUTH_PSK extensions, PROTOCOL.md
 *   5.18). The server turns them into `ClientCredentials`, adds what it knows of the connection
 *   (`ConnectionFacts`) and asks the hook, which answers with a `Principal` (accept) or a refusal.
 * - Secrets are compared in constant time: tokens through their SHA-256 digests (so the
 *   comparison does not depend on the token's length or on where it differs), PSK proofs with
 *   timingSafeEqual; an unknown token or identity walks the same path as a known one.
 * - A PSK never travels: the proof is an HMAC over the connection's CHALLENGE, the channel and the
 *   offered versions and units (core pskProofInput), so it cannot be replayed on another
 *   connection and a changed offer (a downgrade) fails it.
 * - A principal may expire (`expiresAt`, wall-clock ms, from a JWT's exp): the server turns that
 *   into a core deadline; the client renews with `session.renewCredentials(token)`.
 */
import { createHash, createHmac, type KeyObject, timingSafeEqual, type webcrypto } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import {
  type AgreedParameters,
  type Credentials,
  decodePskCredential,
  ErrorCode,
  type Extension,
  ExtensionId,
  encodePskCredential,
  type PskBinding,
  type PskOffer,
  pskAnswerInput,
  pskOfferOf,
  pskProofInput,
  RefuseCode,
  UsageError,
} from '@liaison/core';
import { createLocalJWKSet, type JSONWebKeySet, type JWK, type JWTPayload, jwtVerify } from 'jose';
import type { PeerCertificateInfo } from './tls-transport.js';
import type { TransportKind } from './transport.js';

/** Who the server let in. */
export interface Principal {
  id: string;
  claims?: Record<string, unknown>;
  /** When the credentials stop being valid (milliseconds since the epoch), e.g. a JWT's exp. */
  expiresAt?: number;
}

/**
 * What is wrong with a principal an authenticate hook returned, or null. An `expiresAt` that is
 * not a finite number (NaN, a Date, a string) would silently never expire: the request is
 * refused instead, as the hook's fault.
 */
export function principalProblem(p: Principal): string | null {
  if (typeof p.id !== 'string') return `authenticate returned a principal whose id is ${typeof p.id}, not a string`;
  if (p.expiresAt !== undefined && !(typeof p.expiresAt === 'number' && Number.isFinite(p.expiresAt)))
    return `authenticate returned expiresAt ${String(p.expiresAt)}: not a finite number of ms since the epoch`;
  return null;
}

/** A hook's "no": refused with `code` (default UNAUTHENTICATED). The reason is logged, never sent. */
export interface Refusal {
  refuse: true;
  code?: RefuseCode;
  reason?: string;
}

export type ClientCredentials =
  | { type: 'none' }
  | { type: 'token'; token: string }
  | { type: 'psk'; identity: string; proof: Uint8Array };

/** What the server knows about the connection a request came on. */
export interface ConnectionFacts {
  remoteAddress: string;
  remotePort: number;
  transport: TransportKind;
  /**
   * ws:// and wss://: the HTTP upgrade request's headers (a web app's cookie or bearer token);
   * undefined on tcp:// and tls:// and for a renewal.
   */
  headers?: IncomingHttpHeaders;
  /** The client's certificate (mutual TLS), or null. */
  peerCertificate: PeerCertificateInfo | null;
  /** Functional units the client asked for (names). */
  requestedUnits: string[];
  versionMin: number;
  versionMax: number;
  /** The request's channel and proposed unit bits: a PSK proof covers them. */
  channel: number;
  proposedUnits: number;
  /** This connection's CHALLENGE nonce (then the Noise handshake hash on a Noise connection), or null. */
  challenge: Uint8Array | null;
  /** The request's resume key share (a PSK proof covers it), or null. */
  keyShare: Uint8Array | null;
  /** true for a renewal inside a live session (the hook then sees a token only). */
  renewal: boolean;
}

export type AuthResult = Principal | Refusal | null;
export type Authenticator = (
  credentials: ClientCredentials,
  facts: ConnectionFacts,
) => AuthResult | Promise<AuthResult>;

export function isRefusal(r: AuthResult): r is Refusal | null {
  return r === null || (r as Refusal).refuse === true;
}

/** The credentials of a CONNECT, read from its credential extensions (the first of each kind counts). */
export function readCredentials(extensions: readonly Extension[]): ClientCredentials {
  const token = extensions.find((e) => e.id === ExtensionId.AUTH_TOKEN);
  if (token) return { type: 'token', token: new TextDecoder().decode(token.value) };
  const psk = extensions.find((e) => e.id === ExtensionId.AUTH_PSK);
  const decoded = psk ? decodePskCredential(psk.value) : null;
  if (decoded) return { type: 'psk', identity: new TextDecoder().decode(decoded.identity), proof: decoded.proof };
  return { type: 'none' };
}

// ------------------------------------------------------------------ client side

/** What a client authenticates with. */
export type ClientAuth = { token: string } | { psk: { identity: string; key: Uint8Array } };

/** What a client sends, and (with a PSK) how it checks the server's answer in ACCEPT. */
export interface ClientCredentialsPlan {
  credentials: Credentials;
  /** false: the ACCEPT did not prove the key (or its agreement was changed); the session must not open. */
  checkAccept: ((credentials: Extension[], agreed: AgreedParameters, binding: PskBinding) => boolean) | null;
}

/** A token's credential extension. */
export function tokenCredentials(token: string): Extension[] {
  if (typeof token !== 'string' || token === '') {
    throw new UsageError(ErrorCode.INVALID_ARGUMENT, 'token must be a non-empty string');
  }
  return [{ id: ExtensionId.AUTH_TOKEN, value: new TextEncoder().encode(token) }];
}

/**
 * The core credentials for a CONNECT: a token as is; a PSK as a proof made once the challenge is
 * here, and a check that the ACCEPT carries the server's answer to that very proof.
 */
export function credentialsFor(auth: ClientAuth): ClientCredentialsPlan {
  if ('token' in auth) return { credentials: tokenCredentials(auth.token), checkAccept: null };
  const identity = new TextEncoder().encode(auth.psk.identity);
  if (identity.byteLength === 0 || identity.byteLength > 255) {
    throw new UsageError(ErrorCode.INVALID_ARGUMENT, 'a PSK identity is 1 to 255 bytes');
  }
  if (auth.psk.key.byteLength < 16) throw new UsageError(ErrorCode.INVALID_ARGUMENT, 'a PSK is at least 16 bytes');
  const key = Uint8Array.from(auth.psk.key);
  let sent: Uint8Array | null = null;
  return {
    credentials: (challenge, connect) => {
      sent = pskProof(key, challenge, pskOfferOf(connect), identity);
      return [{ id: ExtensionId.AUTH_PSK, value: encodePskCredential(identity, sent) }];
    },
    checkAccept: (credentials, agreed, binding) => {
      const answer = credentials.find((e) => e.id === ExtensionId.AUTH_PSK_ANSWER)?.value;
      if (!sent || answer?.byteLength !== 32) return false;
      return timingSafeEqual(pskAnswer(key, sent, agreed, binding), answer);
    },
  };
}

function pskAnswer(key: Uint8Array, proof: Uint8Array, agreed: AgreedParameters, binding: PskBinding): Buffer {
  return createHmac('sha256', key)
    .update(pskAnswerInput(proof, agreed, binding))
    .digest();
}

/** Principals let in by a PSK, and how the server proves the same key back in its ACCEPT. */
const pskAnswers = new WeakMap<Principal, (agreed: AgreedParameters, binding: PskBinding) => Uint8Array>();

/**
 * The authentication extensions of the ACCEPT for `principal`: the PSK answer when a PSK let it in
 * (the principal object as `preSharedKeys` returned it), else none.
 */
export function acceptCredentials(
  principal: Principal | null,
  agreed: AgreedParameters,
): Extension[] | ((binding: PskBinding) => Extension[]) {
  const answer = principal ? pskAnswers.get(principal) : undefined;
  if (!answer) return [];
  return (binding) => [{ id: ExtensionId.AUTH_PSK_ANSWER, value: answer(agreed, binding) }];
}

function pskProof(key: Uint8Array, challenge: Uint8Array, offer: PskOffer, identity: Uint8Array): Uint8Array {
  return createHmac('sha256', key)
    .update(pskProofInput(challenge, offer, identity))
    .digest();
}

// ------------------------------------------------------------------ built-in verifiers

/**
 * Bearer tokens: each token names a principal (a string is its id). Every configured token is
 * compared, through SHA-256 digests and timingSafeEqual, whatever matched first.
 */
export function bearerTokens(tokens: Iterable<string> | Map<string, Principal | string>): Authenticator {
  const entries: { digest: Buffer; principal: Principal }[] = [];
  const source = tokens instanceof Map ? tokens : new Map([...tokens].map((t, i) => [t, `token-${i + 1}`] as const));
  for (const [token, p] of source) {
    if (token === '') throw new UsageError(ErrorCode.INVALID_ARGUMENT, 'an empty bearer token is not allowed');
    entries.push({ digest: sha256(token), principal: typeof p === 'string' ? { id: p } : p });
  }
  return (credentials) => {
    if (credentials.type !== 'token') return null;
    const presented = sha256(credentials.token);
    let found: Principal | null = null;
    for (const e of entries) if (timingSafeEqual(e.digest, presented) && found === null) found = e.principal;
    return found;
  };
}

export interface JwtOptions {
  /** A verification key: a KeyObject, a CryptoKey, a JWK, or an HMAC secret (bytes). */
  key?: KeyObject | webcrypto.CryptoKey | JWK | Uint8Array;
  /** A JSON Web Key Set to pick the key from by `kid`. */
  jwks?: JSONWebKeySet;
  issuer?: string | string[];
  audience?: string | string[];
  /** Allowed algorithms (default: those of the key). */
  algorithms?: string[];
  /** Seconds of clock skew allowed on exp and nbf (default 0). */
  clockToleranceSec?: number;
  /** The claim naming the principal (default `sub`). */
  principalClaim?: string;
}

/** JWT bearer tokens verified with `jose`: signature, exp, nbf, and issuer/audience when set. */
export function jwtVerifier(options: JwtOptions): Authenticator {
  if ((options.key === undefined) === (options.jwks === undefined)) {
    throw new UsageError(ErrorCode.INVALID_ARGUMENT, 'jwtVerifier needs exactly one of key or jwks');
  }
  const jwks = options.jwks ? createLocalJWKSet(options.jwks) : null;
  const key = options.key;
  const claim = options.principalClaim ?? 'sub';
  return async (credentials) => {
    if (credentials.type !== 'token' || credentials.token.split('.').length !== 3) return null;
    const verifyOptions = {
      issuer: options.issuer,
      audience: options.audience,
      algorithms: options.algorithms,
      clockTolerance: options.clockToleranceSec ?? 0,
    };
    let payload: JWTPayload;
    try {
      payload = jwks
        ? (await jwtVerify(credentials.token, jwks, verifyOptions)).payload
        : (await jwtVerify(credentials.token, key as Parameters<typeof jwtVerify>[1] & object, verifyOptions)).payload;
    } catch (e) {
      return { refuse: true, reason: `JWT: ${(e as Error).message}` };
    }
    const id = payload[claim];
    if (typeof id !== 'string' || id === '') return { refuse: true, reason: `JWT without a "${claim}" claim` };
    return {
      id,
      claims: payload as Record<string, unknown>,
      ...(typeof payload.exp === 'number' ? { expiresAt: payload.exp * 1000 } : {}),
    };
  };
}

/** Pre-shared keys by identity (each at least 16 bytes); the principal's id is the identity. */
export function preSharedKeys(keys: Map<string, Uint8Array>): Authenticator {
  for (const [id, k] of keys) {
    if (k.byteLength < 16) throw new UsageError(ErrorCode.INVALID_ARGUMENT, `the PSK of "${id}" is under 16 bytes`);
  }
  // An unknown identity is checked against this key, so it takes the same time as a wrong proof.
  const decoy = createHash('sha256').update('liaison psk decoy').digest();
  return (credentials, facts) => {
    if (credentials.type !== 'psk' || facts.challenge === null) return null;
    const known = keys.get(credentials.identity);
    const identity = new TextEncoder().encode(credentials.identity);
    const expected = pskProof(known ?? decoy, facts.challenge, toOffer(facts), identity);
    const ok = timingSafeEqual(expected, credentials.proof) && known !== undefined;
    if (!ok) return null;
    const principal: Principal = { id: credentials.identity };
    const proof = Uint8Array.from(credentials.proof);
    pskAnswers.set(principal, (agreed, binding) => pskAnswer(known, proof, agreed, binding));
    return principal;
  };
}

/** Several verifiers: the first one that names a principal wins; a refusal from one does not stop the others. */
export function anyOf(...verifiers: Authenticator[]): Authenticator {
  return async (credentials, facts) => {
    let refusal: AuthResult = null;
    for (const v of verifiers) {
      const r = await v(credentials, facts);
      if (!isRefusal(r)) return r;
      refusal ??= r;
    }
    return refusal;
  };
}

function toOffer(f: ConnectionFacts): PskOffer {
  const { channel, versionMin, versionMax, keyShare } = f;
  return { channel, versionMin, versionMax, units: f.proposedUnits, keyShare };
}

function sha256(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}

export const REFUSED_UNAUTHENTICATED: Refusal = { refuse: true, code: RefuseCode.UNAUTHENTICATED };
