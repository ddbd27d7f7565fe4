/**
 * Shared pieces of the events tests: a server on a loopback port, clients closed after the test,
 * the next 'connection' as a promise, and bounded waits.
 */
import type { TestContext } from 'node:test';
import {
  connectEvents,
  type EventServer,
  type EventServerOptions,
  type EventSocket,
  type EventSocketOptions,
  type EventsMap,
  listenEvents,
  type ServerSocket,
} from '@liaison/events';
import type { ConnectOptions, ListenOptions } from '@liaison/node';
import { sleep, waitFor, within } from '@liaison/testkit';

export { sleep, waitFor, within };

export async function startEvents<L extends EventsMap, E extends EventsMap = L>(
  t: TestContext,
  options: EventServerOptions & ListenOptions = {},
): Promise<EventServer<L, E>> {
  const io = await listenEvents<L, E>('tcp://127.0.0.1:0', options);
  t.after(() => io.close());
  return io;
}

/** A client socket, aborted when the test ends (a no-op once closed). */
export function client<L extends EventsMap, E extends EventsMap>(
  t: TestContext,
  url: string,
  options: ConnectOptions & EventSocketOptions = {},
): EventSocket<L, E> {
  const socket = connectEvents<L, E>(url, options);
  t.after(() => socket.session.abort());
  return socket;
}

/** The next `count` sockets the server accepts. */
export function connections<L extends EventsMap, E extends EventsMap>(
  io: EventServer<L, E>,
  count = 1,
): Promise<ServerSocket<L, E>[]> {
  const got: ServerSocket<L, E>[] = [];
  return within(
    new Promise((resolve) => {
      const handler = (socket: ServerSocket<L, E>) => {
        got.push(socket);
        if (got.length < count) return;
        io.off('connection', handler);
        resolve(got);
      };
      io.on('connection', handler);
    }),
    5_000,
    `${count} connection(s)`,
  );
}

/** A connected client and its server-side socket. */
export async function pair<C2S extends EventsMap, S2C extends EventsMap>(
  t: TestContext,
  io: EventServer<C2S, S2C>,
  options: ConnectOptions & EventSocketOptions = {},
): Promise<{ client: EventSocket<S2C, C2S>; server: ServerSocket<C2S, S2C> }> {
  const accepted = connections(io);
  const socket = client<S2C, C2S>(t, io.server.url, options);
  const [server] = await accepted;
  await within(socket.ready, 5_000, 'client ready');
  return { client: socket, server: server as ServerSocket<C2S, S2C> };
}

/** Resolves with the arguments of the next `name` event on `socket`. */
export function next(socket: EventSocket<EventsMap, EventsMap>, name: string, ms = 5_000): Promise<unknown[]> {
  return within(
    new Promise((resolve) => socket.once(name, (...args: unknown[]) => resolve(args))),
    ms,
    `event ${name}`,
  );
}
