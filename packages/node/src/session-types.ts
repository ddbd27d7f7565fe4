/**
 * The public types around a Node `Session`: its events, the options of its calls, the decider of
 * a release the peer asked for, and how a connect() or a server makes one (`SessionInit`).
 */
import type { EventEmitter } from 'node:events';
import type { AgreedParameters, CloseReason, Extension, PskBinding, ResumeStats } from '@liaison/core';
import type { Principal } from './auth.js';
import type { Role } from './diagnostics.js';
import type { DialogueEventMap } from './dialogue.js';
import type { ServerTokens } from './named-tokens.js';
import type { Parking } from './parking.js';
import type { Session } from './session.js';

export interface SessionEventMap extends DialogueEventMap {
  /**
   * Normal data, when a listener is attached (otherwise iterate the session); also typed and
   * expedited data when no 'typed' or 'expedited' listener takes them.
   */
  message: [data: Uint8Array];
  typed: [data: Uint8Array];
  expedited: [data: Uint8Array];
  /** The session is open (also resolves `ready`). */
  open: [];
  /** write() returned false earlier and everything written has been taken: write again. */
  drain: [];
  /** The peer asked for an orderly release; it is answered once earlier messages were taken. */
  'release-request': [userData: Uint8Array];
  /** The peer refused this side's release request (negotiated release); the session goes on. */
  'release-refused': [userData: Uint8Array];
  /** The transport broke; the session waits to be resumed (sends are kept and go out on resume). */
  suspended: [reason: string];
  /** The session resumed on a new transport connection: what it cost, in numbers. */
  resumed: [stats: ResumeStats];
  /** The server's registry granted a named token this session asked for (acquire() resolves too). */
  'named-token-granted': [name: string];
  /** Server: the client renewed its credentials; the principal (and its expiry) is updated. */
  'credentials-renewed': [principal: Principal];
  close: [reason: CloseReason];
}

export interface SendOptions {
  /** Withdraws the message if it aborts while the message waits for room (it is then never sent). */
  signal?: AbortSignal;
}

/** For the calls that wait for the peer's confirmation (sync points, activities, capability data). */
export interface WaitOptions {
  /** Stops waiting when it aborts: the promise rejects with its reason (the request is not withdrawn). */
  signal?: AbortSignal;
}

export interface CloseOptions {
  /** Bounds the wait for the release: when it aborts first, the session is aborted and close() rejects with its reason. */
  signal?: AbortSignal;
}

/** Decides a release requested by the peer: true accepts; false refuses (negotiated release only). */
export type ReleaseDecider = (userData: Uint8Array, session: Session) => boolean | Promise<boolean>;

export interface SessionInit {
  onReleaseRequest?: ReleaseDecider;
  /** Where the session waits while suspended: its events come from there then. */
  parking?: Parking | null;
  /** Server side: the registry this session's named-token requests go to. */
  tokens?: ServerTokens | null;
  /** Client with a PSK: checks the server's answer in ACCEPT; false aborts (AUTHENTICATION_FAILED). */
  checkAccept?: ((credentials: Extension[], agreed: AgreedParameters, binding: PskBinding) => boolean) | null;
  /**
   * Client: the engine session ended before the server accepted it. True means the client takes
   * over (it opens the session again on a new connection, `reestablish`); false lets it end.
   */
  onEstablishmentLost?: ((reason: CloseReason) => boolean) | null;
  /** Which end this is, for diagnostics (default 'server'). */
  role?: Role;
}

/** User data carried by a dialogue service: bytes, or a string sent as UTF-8. */
export type UserBytes = Uint8Array | string;

/** The session's events as its parts raise them: the Session itself, seen through this narrow type. */
export type SessionEmitter = Pick<EventEmitter<SessionEventMap>, 'emit' | 'listenerCount'>;
