/**
 * @liaison/browser: liaison's session client for browsers. The same core as @liaison/node over
 * the native WebSocket, ESM, no Node built-ins; a session resumes after the network drops.
 */
export {
  AbortCode,
  abortCodeName,
  type CloseReason,
  describeCloseReason,
  ErrorCode,
  LiaisonError,
  NamedTokenRefusedError,
  ProtocolError,
  type ResumeStats,
  SessionClosedError,
  type SessionStateName,
  type SessionStats,
  type TokenName,
  TransportError,
  type UndeliveredMessage,
  UsageError,
} from '@liaison/core';
export { type ConnectOptions, connect } from './client.js';
export {
  SessionCloseEvent,
  type SessionEventMap,
  SessionMessageEvent,
  SessionResumedEvent,
  SessionSuspendedEvent,
  SessionSyncEvent,
  SessionTokenGrantedEvent,
  SessionTokensEvent,
} from './events.js';
export type { NoiseLayer } from './noise.js';
export { type SendOptions, Session } from './session.js';
export type { InitialTokens, SyncResult } from './session-dialogue.js';
export type { WebSocketConstructor } from './ws-transport.js';
