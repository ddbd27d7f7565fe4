/**
 * @liaison/node: liaison sessions over TCP for Node.js.
 *
 *   const server = await listen('tcp://127.0.0.1:7000');
 *   for await (const session of server) for await (const m of session) await session.send(m);
 *
 *   const session = connect('tcp://127.0.0.1:7000');
 *   await session.ready;
 *   await session.send('hello');
 *   await session.close();
 */
export * from '@liaison/core';
export {
  type Authenticator,
  type AuthResult,
  anyOf,
  bearerTokens,
  type ClientAuth,
  type ClientCredentials,
  type ConnectionFacts,
  type JwtOptions,
  jwtVerifier,
  type Principal,
  preSharedKeys,
  type Refusal,
} from './auth.js';
export { type ConnectionOptions, type ConnectOptions, connect, Pool, type SessionOptions } from './client.js';
export { nativeKeyAgreement } from './clock.js';
export {
  type DialogueEventMap,
  type InitialTokens,
  SyncAbandonedError,
  type SyncResult,
  type TokenOwner,
} from './dialogue.js';
export { ServerTokens, type ServerTokensEventMap, type TokenHolder } from './named-tokens.js';
export { nodeCrypto } from './node-crypto.js';
export {
  generateNoiseKeyPair,
  keyBytes,
  type NoiseKeyPair,
  type NoiseOptions,
  readNoiseKeyFile,
  writeNoiseKeyFile,
} from './noise.js';
export { AddressGuard, type AttackLimits, addressKey, DEFAULT_ATTACK_LIMITS } from './rate-limit.js';
export {
  type AcceptDecision,
  type IncomingRequest,
  type ListenOptions,
  listen,
  Server,
  type ServerEventMap,
} from './server.js';
export { type ReleaseDecider, Session, type SessionEventMap } from './session.js';
export { type PeerCertificateInfo, TlsTransport } from './tls-transport.js';
export { TcpTransport, type Transport, type TransportHandlers } from './transport.js';
export { TransportFailure, TransportFailureError } from './transport-failure.js';
export { type Endpoint, formatEndpoint, parseEndpoint } from './url.js';
