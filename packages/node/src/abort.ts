/**
 * AbortSignal plumbing shared by connect, listen, send, close and the server's shutdown: one
 * listener per waiting operation, removed as soon as the operation settles, so a long-lived
 * signal (one per request handler, say) does not collect listeners.
 */

/**
 * Calls `onAbort(reason)` once if `signal` aborts before `settled` settles (at once when it has
 * already aborted). Nothing to do without a signal.
 */
export function untilSettled(
  signal: AbortSignal | undefined,
  settled: Promise<unknown>,
  onAbort: (reason: unknown) => void,
): void {
  if (!signal) return;
  if (signal.aborted) {
    onAbort(signal.reason);
    return;
  }
  const listener = () => onAbort(signal.reason);
  signal.addEventListener('abort', listener, { once: true });
  const cleanup = () => signal.removeEventListener('abort', listener);
  settled.then(cleanup, cleanup);
}

const ignore = () => {};

/**
 * Marks `p` handled: a caller that never looks at it gets no unhandledRejection (the failure is
 * reported elsewhere: `closed`, undeliveredMessages()). A caller that awaits it still sees it.
 */
export function observed<T>(p: Promise<T>): Promise<T> {
  p.catch(ignore);
  return p;
}

/**
 * Runs `start` unless `signal` has already aborted, and stops waiting for its promise when the
 * signal aborts (rejecting with the signal's reason). The operation itself is not undone: a
 * sync point once sent stays outstanding, as X.225 has no withdrawal (the caller resynchronizes
 * to cancel it). The abandoned promise is marked handled so its later end raises nothing.
 */
export function abortable<T>(signal: AbortSignal | undefined, start: () => Promise<T>): Promise<T> {
  if (!signal) return start();
  if (signal.aborted) return Promise.reject(signal.reason);
  const work = observed(start());
  return new Promise<T>((resolve, reject) => {
    untilSettled(signal, work, reject);
    work.then(resolve, reject);
  });
}
