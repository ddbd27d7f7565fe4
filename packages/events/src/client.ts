/** connectEvents(): a client EventSocket on a new liaison session (resumes across broken connections). */
import { type ConnectOptions, connect } from '@liaison/node';
import { EventSocket, type EventSocketOptions } from './event-socket.js';
import type { DefaultEvents, EventsMap } from './types.js';

/**
 * Connects at once and returns the socket; 'connect' fires (and `ready` resolves) when the
 * session is open. Events emitted before that wait in the session's queue.
 * Listen = events the server sends (ServerToClientEvents), Emit = events this client sends.
 */
export function connectEvents<Listen extends EventsMap = DefaultEvents, Emit extends EventsMap = DefaultEvents>(
  url: string | URL,
  options: ConnectOptions & EventSocketOptions = {},
): EventSocket<Listen, Emit> {
  return new EventSocket<Listen, Emit>(connect(url, options), options);
}
