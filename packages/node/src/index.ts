/**
 * @liaison/node: liaison sessions over TCP, TLS and WebSocket for Node.js. This entry point is the application API
 * only; the engine (frames, codecs, the sans-I/O machines) is at `@liaison/node/engine` and the
 * transports at `@liaison/node/transport`, for profiles and tools. The surface is pinned by
 * api/node.api.md (checked in CI, see docs/API.md).
 *
 *   const server = await listen('tcp://127.0.0.1:7000');
 *   for await (const session of server) for await (const m of session) await session.send(m);
 *
 *   const session = connect('tcp://127.0.0.1:7000');
 *   await session.ready;
 *   await session.send('hello');
 *   await session.close();
 */
export {
  AbortCode,
  type ActivityInfo,
  type AgreedParameters,
  abortCodeName,
  type BackoffOptions,
  type CloseReason,
  type ConnectRequest,
  type CryptoProvider,
  DEFAULT_BACKOFF,
  DEFAULT_LIMITS,
  DEFAULT_NAMED_TOKEN_LIMITS,
  DEFAULT_UNITS,
  type DeliveryStatus,
  type DialogueOptions,
  type DialogueProposal,
  describeCloseReason,
  ErrorCode,
  type Extension,
  IMPLEMENTED_UNITS,
  InternalError,
  type KeyAgreement,
  LiaisonError,
  type Limits,
  type MessageKind,
  type NamedTokenLimits,
  type NamedTokenOffer,
  NamedTokenRefusedError,
  ProtocolError,
  RefuseCode,
  type ResumeStats,
  type ResyncKind,
  refuseCodeName,
  SessionClosedError,
  type SessionStateName,
  type SessionStats,
  TimeoutError,
  TOKEN_NAMES,
  type TokenName,
  TokenRefuseCode,
  TransportError,
  tokenRefuseCodeName,
  type UndeliveredMessage,
  type UnitName,
  UsageError,
  unitNames,
} from '@liaison/core';
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
export { type AttackLimits, DEFAULT_ATTACK_LIMITS } from './rate-limit.js';
export {
  type AcceptDecision,
  type IncomingRequest,
  type ListenOptions,
  listen,
  Server,
  type ServerCloseOptions,
  type ServerEventMap,
} from './server.js';
export type { ServerSessions } from './server-sessions.js';
export {
  type CloseOptions,
  type ReleaseDecider,
  type SendOptions,
  Session,
  type SessionEventMap,
  type UserBytes,
  type WaitOptions,
} from './session.js';
export {
  type SessionDuplexOptions,
  type SessionStreams,
  type SessionStreamsOptions,
  sessionDuplex,
  sessionStreams,
} from './streams.js';
export type { PeerCertificateInfo } from './tls-transport.js';
export type { TransportKind } from './transport.js';
export { TransportFailure, TransportFailureError } from './transport-failure.js';
export { type Endpoint, formatEndpoint, parseEndpoint } from './url.js';
