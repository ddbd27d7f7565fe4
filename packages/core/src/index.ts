/**
 * @liaison/core: the sans-I/O session protocol engine. Feed it bytes and time; pull bytes to
 * write, events and the next deadline. See docs/ARCHITECTURE.md.
 */
export {
  Connection,
  type ConnectionOptions,
  type OpenSessionOptions,
  type Role,
  type RttEstimate,
  type TraceRecord,
} from './connection/connection.js';
export { CipherState } from './crypto/noise/cipher-state.js';
export {
  type HandshakeOptions,
  HandshakeState,
  type KeyPair,
  keyPairFrom,
  type TransportCiphers,
} from './crypto/noise/handshake-state.js';
export { type HandshakePattern, type PatternName, protocolName } from './crypto/noise/patterns.js';
export { NoiseVariant, noisePreface } from './crypto/preface.js';
export {
  AEAD_NONCE_BYTES,
  AEAD_TAG_BYTES,
  type Aead,
  type CryptoProvider,
  nobleCrypto,
  noiseHkdf,
} from './crypto/provider.js';
export { RECORD_DATA_BYTES_MAX, RecordKind, RecordOpener, RecordReader, RecordSealer } from './crypto/records.js';
export { type NoiseConfig, SecureConnection, type SecureConnectionOptions } from './crypto/secure-connection.js';
export {
  AbortCode,
  abortCodeName,
  type CloseReason,
  describeCloseReason,
  ErrorCode,
  InternalError,
  LiaisonError,
  ProtocolError,
  RefuseCode,
  refuseCodeName,
  SessionClosedError,
  TimeoutError,
  TransportError,
  UsageError,
} from './errors.js';
export {
  DEFAULT_LIMITS,
  FRAME_BYTES_FLOOR,
  type Limits,
  PROTOCOL_VERSION_MAX,
  PROTOCOL_VERSION_MIN,
  resolveLimits,
  WINDOW_BYTES_FLOOR,
} from './limits.js';
export {
  type BackoffOptions,
  backoffDelay,
  DEFAULT_BACKOFF,
  FRUITLESS_RESETS_MAX,
  ReconnectSchedule,
} from './recovery/backoff.js';
export {
  constantTimeEqual,
  type KeyAgreement,
  type KeyShare,
  nobleKeyAgreement,
  type RandomSource,
} from './recovery/proof.js';
export { SessionTable, type SessionTableOptions } from './recovery/table.js';
export {
  AUTH_EXTENSION_ID_MAX,
  AUTH_EXTENSION_ID_MIN,
  type Credentials,
  checkCredentials,
  credentialsOf,
  decodePskCredential,
  encodePskCredential,
  extensionValue,
  PSK_PROOF_BYTES,
  type PskBinding,
  type PskOffer,
  pskAnswerInput,
  pskOfferOf,
  pskProofInput,
} from './session/credentials.js';
export {
  type ActivityInfo,
  availableTokens,
  Dialogue,
  type DialogueEvent,
  type DialogueSnapshot,
  type ResyncKind,
  SERIAL_MAX,
  TOKEN_NAMES,
  Token,
  type TokenName,
  tokenMask,
  tokenNames,
} from './session/dialogue.js';
export type { DialogueOptions, DialogueProposal } from './session/dialogue-setup.js';
export type {
  AgreedParameters,
  ConnectionEvent,
  ConnectRequest,
  DeliveryStatus,
  MessageKind,
  ResumeStats,
  SessionEvent,
  UndeliveredMessage,
} from './session/events.js';
export { type AnswerOutcome, type NamedTokenOffer, NamedTokenRequests } from './session/named-token-requests.js';
export { NamedTokenService } from './session/named-token-service.js';
export {
  checkTokenName,
  DEFAULT_NAMED_TOKEN_LIMITS,
  type NamedTokenLimits,
  NamedTokenRefusedError,
  resolveNamedTokenLimits,
  type TokenGrant,
  TokenRefuseCode,
  TokenRegistry,
  type TokenRelease,
  tokenRefuseCodeName,
} from './session/named-tokens.js';
export { agreedFromAccept, buildAccept, buildConnect, evaluateConnect } from './session/negotiation.js';
export {
  type RecordSentFrame,
  type RecordState,
  SESSION_RECORD_VERSION,
  type SessionRecord,
} from './session/record.js';
export { type RestoreOptions, restoreSession, sessionRecord } from './session/record-session.js';
export { Session, type SessionState, type SessionStateName, type SessionStats } from './session/session.js';
export type { SessionEventOf } from './session/types.js';
export {
  DEFAULT_UNITS,
  hasUnit,
  IMPLEMENTED_UNITS,
  negotiateUnits,
  Unit,
  type UnitName,
  unitNames,
  unitsFromNames,
} from './units.js';
export { concatBytes } from './wire/bytes.js';
export { decodePayload, encodeFrame, namedTokenPayload, writeFrame } from './wire/codec.js';
export { type DecoderLimits, FrameDecoder } from './wire/decoder.js';
export * from './wire/frame.js';
export { FrameWriter } from './wire/writer.js';
