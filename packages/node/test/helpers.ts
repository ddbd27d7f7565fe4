/**
 * Shared helpers for the node integration tests: every server listens on 127.0.0.1 port 0, every
 * wait is bounded, and everything a test opens is registered for cleanup.
 */
import type { TestContext } from 'node:test';
import { type ListenOptions, listen, type Server, type Session } from '@liaison/node';
import { sleep, waitFor, within } from '@liaison/testkit';

export { sleep, waitFor, within };

export const LOCAL = 'tcp://127.0.0.1:0';

const UTF8_DECODER = new TextDecoder();
export const text = (b: Uint8Array): string => UTF8_DECODER.decode(b);
export const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);

/** Resolves to 'pending' if `p` is still unsettled after `ms`, else to how it settled. */
export async function stateAfter(p: Promise<unknown>, ms: number): Promise<'pending' | 'resolved' | 'rejected'> {
  let state: 'pending' | 'resolved' | 'rejected' = 'pending';
  p.then(
    () => {
      state = 'resolved';
    },
    () => {
      state = 'rejected';
    },
  );
  await sleep(ms);
  return state;
}

/** Starts a server on a free loopback port, closed when the test ends. */
export async function startServer(t: TestContext, options: ListenOptions = {}): Promise<Server> {
  const server = await listen(LOCAL, options);
  t.after(() => server.close());
  return server;
}

/** Aborts a client session when the test ends (a no-op once it closed). */
export function track(t: TestContext, session: Session): Session {
  t.after(() => session.abort());
  return session;
}

/** The next session a server produces, by async iteration. */
export async function nextSession(server: Server, ms = 2_000): Promise<Session> {
  const it = server[Symbol.asyncIterator]();
  const r = await within(it.next(), ms, 'server session');
  if (r.done) throw new Error('server iteration ended');
  return r.value;
}

/** Reads every normal-data message until the iterator ends (release) or throws (abort). */
export async function readAll(session: Session): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  for await (const m of session) out.push(m);
  return out;
}

/** Echoes every message of every session of `server` (sessions are handled concurrently). */
export function echoServer(server: Server): void {
  server.on('session', (session) => {
    void (async () => {
      try {
        for await (const m of session) await session.send(m);
      } catch {
        // aborted: the test looks at `closed`
      }
    })();
  });
}
