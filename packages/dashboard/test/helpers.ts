/**
 * Helpers of the dashboard tests: a real liaison server (echo) with its dashboard on loopback,
 * both closed when the test ends; bounded waits; reading a Prometheus sample and an event stream.
 */
import type { TestContext } from 'node:test';
import { type Dashboard, type DashboardOptions, startDashboard } from '@liaison/dashboard';
import { type ListenOptions, listen, type Server, type Session } from '@liaison/node';
import { within } from '@liaison/testkit';

export { within };

export interface Setup {
  server: Server;
  dashboard: Dashboard;
}

/** An echo server on `urls` (default one tcp:// port) and its dashboard on 127.0.0.1, port 0. */
export async function setup(
  t: TestContext,
  options: { listen?: ListenOptions; urls?: string[]; dashboard?: Partial<DashboardOptions> } = {},
): Promise<Setup> {
  const server = await listen(options.urls ?? ['tcp://127.0.0.1:0'], {
    onSession: echo,
    ...options.listen,
  });
  t.after(() => server.close());
  const dashboard = await startDashboard(server, { host: '127.0.0.1', port: 0, ...options.dashboard });
  t.after(() => dashboard.close());
  return { server, dashboard };
}

async function echo(session: Session): Promise<void> {
  for await (const m of session) await session.send(m);
}

/** Aborts a client session when the test ends (a no-op once it closed). */
export function track(t: TestContext, session: Session): Session {
  t.after(() => session.abort());
  return session;
}

/** Polls `condition` every 20 ms; rejects if it is still false after `ms`. */
export async function waitFor(condition: () => Promise<boolean> | boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export async function metricsText(dashboard: Dashboard): Promise<string> {
  const res = await fetch(new URL('metrics', dashboard.url));
  if (res.status !== 200) throw new Error(`/metrics answered ${res.status}`);
  return res.text();
}

/** One sample's value from Prometheus text (`name{labels}` as written), or null when absent. */
export function sample(text: string, series: string): number | null {
  for (const line of text.split('\n')) {
    if (line.startsWith(`${series} `)) return Number(line.slice(series.length + 1));
  }
  return null;
}

/** Server-Sent Events from a URL, parsed: an async queue of { event, data }; aborted at test end. */
export async function eventStream(
  t: TestContext,
  url: string,
): Promise<{ next(event: string, ms: number, where?: (data: unknown) => boolean): Promise<unknown> }> {
  const controller = new AbortController();
  t.after(() => controller.abort());
  const res = await fetch(url, { signal: controller.signal });
  if (res.status !== 200 || !res.body) throw new Error(`event stream answered ${res.status}`);
  const seen: { event: string; data: unknown }[] = [];
  const waiter: { wake: (() => void) | null } = { wake: null };
  void (async () => {
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        buffer += decoder.decode(chunk, { stream: true });
        let end = buffer.indexOf('\n\n');
        while (end >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const event = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (event && data !== undefined) seen.push({ event, data: JSON.parse(data) });
          waiter.wake?.();
          end = buffer.indexOf('\n\n');
        }
      }
    } catch {
      // aborted at the end of the test
    }
  })();
  return {
    async next(event, ms, where = () => true) {
      const deadline = Date.now() + ms;
      for (;;) {
        const i = seen.findIndex((e) => e.event === event && where(e.data));
        if (i >= 0) return seen.splice(i, 1)[0]?.data;
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`no ${event} event within ${ms} ms`);
        await new Promise<void>((r) => {
          const timer = setTimeout(r, left);
          waiter.wake = () => {
            clearTimeout(timer);
            r();
          };
        });
      }
    },
  };
}
