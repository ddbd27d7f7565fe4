/**
 * The dashboard over real loopback sockets: a liaison echo server, real clients, and fetch()
 * against the dashboard's port. Metrics move with traffic and resumes, the health check follows
 * the server, the API lists sessions as they are, the event stream tells of opens, and only the
 * admin token aborts a session (whose client then sees why).
 */
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { describe, test } from 'node:test';
import { ABORT_REASON, startDashboard } from '@liaison/dashboard';
import { bearerTokens, connect, listen, type Session, UsageError } from '@liaison/node';
import { FaultProxy } from '@liaison/testkit';
import { eventStream, metricsText, sample, setup, track, waitFor, within } from './helpers.js';

const BYTES_IN = 'liaison_bytes_total{direction="in"}';
const BYTES_OUT = 'liaison_bytes_total{direction="out"}';

async function echoOnce(session: Session, text: string): Promise<void> {
  const reply = new Promise<Uint8Array>((resolve) => session.once('message', resolve));
  await session.send(text);
  assert.equal(new TextDecoder().decode(await within(reply, 5_000, 'echo')), text);
}

describe('dashboard /metrics', () => {
  test('counters move with traffic and with a resume after a cut transport', { timeout: 30_000 }, async (t) => {
    const { server, dashboard } = await setup(t);
    const proxy = new FaultProxy({ target: server.address });
    await proxy.start();
    t.after(() => proxy.stop());
    const client = track(t, connect(proxy.url));
    await within(client.ready, 5_000, 'open');

    const before = await metricsText(dashboard);
    assert.equal(sample(before, 'liaison_sessions{state="open"}'), 1);
    assert.equal(sample(before, 'liaison_sessions_opened_total'), 1);
    assert.equal(sample(before, 'liaison_resumes_total'), 0);
    for (let i = 0; i < 5; i++) await echoOnce(client, `message ${i}`);
    const during = await metricsText(dashboard);
    assert.equal(sample(during, BYTES_IN), 5 * 'message 0'.length);
    assert.equal(sample(during, BYTES_OUT), 5 * 'message 0'.length);
    assert.equal(sample(during, 'liaison_messages_total{direction="in"}'), 5);

    const resumed = new Promise((r) => client.once('resumed', r));
    proxy.cutAll();
    await within(resumed, 10_000, 'resumed');
    await echoOnce(client, 'after the cut');
    await waitFor(
      async () => sample(await metricsText(dashboard), 'liaison_resumes_total') === 1,
      5_000,
      'resume counted',
    );
    const after = await metricsText(dashboard);
    assert.equal(sample(after, 'liaison_suspends_total'), 1);
    assert.equal(sample(after, 'liaison_resume_seconds_count'), 1);
    assert.equal(sample(after, BYTES_IN), 5 * 'message 0'.length + 'after the cut'.length);
    assert.match(after, /^process_cpu_user_seconds_total /m, 'default process metrics');

    // A session that ends is counted by how it ended, and its bytes stay in the totals.
    await client.close();
    await waitFor(
      async () => sample(await metricsText(dashboard), 'liaison_sessions_closed_total{kind="released"}') === 1,
      5_000,
      'close counted',
    );
    const closed = await metricsText(dashboard);
    assert.equal(sample(closed, 'liaison_sessions{state="open"}'), 0);
    assert.equal(sample(closed, BYTES_IN), 5 * 'message 0'.length + 'after the cut'.length);
  });

  test('refusals are counted by code name', { timeout: 15_000 }, async (t) => {
    const { dashboard, server } = await setup(t, { listen: { authenticate: bearerTokens(['good']) } });
    const refused = connect(server.url, { auth: { token: 'bad' }, resume: false });
    await assert.rejects(refused.ready);
    await waitFor(
      async () => sample(await metricsText(dashboard), 'liaison_refusals_total{code="UNAUTHENTICATED"}') === 1,
      5_000,
      'refusal counted',
    );
  });
});

describe('dashboard /healthz', () => {
  test('200 with the session count while the server listens, 503 once it closed', { timeout: 15_000 }, async (t) => {
    const { server, dashboard } = await setup(t);
    const client = track(t, connect(server.url));
    await within(client.ready, 5_000, 'open');
    const up = await fetch(new URL('healthz', dashboard.url));
    assert.equal(up.status, 200);
    const body = (await up.json()) as { status: string; sessions: number; uptime: number };
    assert.equal(body.status, 'ok');
    assert.equal(body.sessions, 1);
    assert.equal(typeof body.uptime, 'number');
    await server.close();
    const down = await fetch(new URL('healthz', dashboard.url));
    assert.equal(down.status, 503);
    assert.equal(((await down.json()) as { sessions: number }).sessions, 0);
  });
});

describe('dashboard /api', () => {
  test('/api/sessions lists each session with its principal and transport; /:id details it', {
    timeout: 20_000,
  }, async (t) => {
    const tokens = new Map([
      ['alice-token', 'alice'],
      ['bob-token', 'bob'],
    ]);
    const { server, dashboard } = await setup(t, {
      urls: ['tcp://127.0.0.1:0', 'ws://127.0.0.1:0/liaison'],
      listen: { authenticate: bearerTokens(tokens) },
    });
    const [tcpUrl, wsUrl] = server.urls as [string, string];
    const alice = track(t, connect(tcpUrl, { auth: { token: 'alice-token' } }));
    const bob = track(t, connect(wsUrl, { auth: { token: 'bob-token' } }));
    await within(Promise.all([alice.ready, bob.ready]), 5_000, 'both open');
    await echoOnce(alice, 'hello');

    const res = await fetch(new URL('api/sessions', dashboard.url));
    assert.equal(res.status, 200);
    const { sessions } = (await res.json()) as {
      sessions: { id: string; principal: string; transport: string; state: string; remote: string }[];
    };
    const byPrincipal = new Map(sessions.map((s) => [s.principal, s]));
    assert.equal(sessions.length, 2);
    assert.equal(byPrincipal.get('alice')?.transport, 'tcp');
    assert.equal(byPrincipal.get('bob')?.transport, 'ws');
    assert.equal(byPrincipal.get('alice')?.state, 'open');
    assert.match(byPrincipal.get('alice')?.remote ?? '', /^127\.0\.0\.1:\d+$/);

    const id = byPrincipal.get('alice')?.id as string;
    const detail = await fetch(new URL(`api/sessions/${id}`, dashboard.url));
    assert.equal(detail.status, 200);
    const d = (await detail.json()) as Record<string, unknown>;
    assert.equal(d.principal, 'alice');
    assert.equal(d.bytesIn, 'hello'.length);
    assert.equal(d.bytesOut, 'hello'.length);
    assert.equal(d.resumes, 0);
    assert.equal(typeof d.serial, 'number');
    assert.equal(typeof d.ageMs, 'number');
    assert.equal(typeof d.tokens, 'object');

    const missing = await fetch(new URL('api/sessions/99999', dashboard.url));
    assert.equal(missing.status, 404);
    assert.equal(((await missing.json()) as { error: { code: string } }).error.code, 'SESSION_NOT_FOUND');
  });

  test('/api/events: a snapshot at once, then an open event when a session opens', { timeout: 15_000 }, async (t) => {
    const { server, dashboard } = await setup(t);
    const events = await eventStream(t, new URL('api/events', dashboard.url).href);
    const first = (await events.next('snapshot', 5_000)) as { sessions: number; totals: { bytesIn: number } };
    assert.equal(first.sessions, 0);
    assert.equal(first.totals.bytesIn, 0);
    const client = track(t, connect(server.url));
    await within(client.ready, 5_000, 'open');
    const open = (await events.next('session-open', 5_000)) as { id: string; transport: string; state: string };
    assert.equal(open.transport, 'tcp');
    assert.equal(open.state, 'open');
    await echoOnce(client, 'tick');
    const later = (await events.next('snapshot', 5_000, (s) => (s as { sessions: number }).sessions === 1)) as {
      table: { id: string }[];
    };
    assert.deepEqual(
      later.table.map((r) => r.id),
      [open.id],
    );
    client.abort();
    const close = (await events.next('session-close', 5_000)) as { id: string; kind: string };
    assert.equal(close.id, open.id);
    assert.equal(close.kind, 'aborted');
  });

  test('bad requests get JSON errors: 404 for unknown paths, 405 for a wrong method', {
    timeout: 10_000,
  }, async (t) => {
    const { dashboard } = await setup(t);
    const unknown = await fetch(new URL('nope', dashboard.url));
    assert.equal(unknown.status, 404);
    assert.equal(((await unknown.json()) as { error: { code: string } }).error.code, 'NOT_FOUND');
    const post = await fetch(new URL('metrics', dashboard.url), { method: 'POST' });
    assert.equal(post.status, 405);
    assert.equal(post.headers.get('allow'), 'GET');
    const getAbort = await fetch(new URL('api/sessions/1/abort', dashboard.url));
    assert.equal(getAbort.status, 405);
    const weird = await fetch(new URL('api/sessions/..%2F..%2Fetc', dashboard.url));
    assert.equal(weird.status, 404);
  });

  test('/ serves the page and uPlot from node_modules', { timeout: 10_000 }, async (t) => {
    const { dashboard } = await setup(t, { dashboard: { title: 'prod <eu-1>' } });
    const page = await fetch(dashboard.url);
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
    const html = await page.text();
    assert.match(html, /prod &#60;eu-1&#62;/, 'the title, escaped');
    assert.match(html, /vendor\/uPlot\.iife\.min\.js/);
    const uplot = await fetch(new URL('vendor/uPlot.iife.min.js', dashboard.url));
    assert.equal(uplot.status, 200);
    assert.match(await uplot.text(), /uPlot/);
    const script = await fetch(new URL('dashboard.js', dashboard.url));
    assert.equal(script.status, 200);
    assert.match(script.headers.get('content-type') ?? '', /javascript/);
  });
});

describe('dashboard abort', () => {
  test('403 when no admin token is configured', { timeout: 10_000 }, async (t) => {
    const { server, dashboard } = await setup(t);
    const client = track(t, connect(server.url));
    await within(client.ready, 5_000, 'open');
    const res = await fetch(new URL('api/sessions/1/abort', dashboard.url), {
      method: 'POST',
      headers: { authorization: 'Bearer anything' },
    });
    assert.equal(res.status, 403);
    assert.equal(client.state, 'open');
  });

  test('401 without or with a wrong token, 404 for an unknown id, 200 aborts and the client sees why', {
    timeout: 15_000,
  }, async (t) => {
    const { server, dashboard } = await setup(t, { dashboard: { adminToken: 's3cret' } });
    const client = track(t, connect(server.url, { resume: false }));
    await within(client.ready, 5_000, 'open');
    const list = (await (await fetch(new URL('api/sessions', dashboard.url))).json()) as { sessions: { id: string }[] };
    const id = list.sessions[0]?.id as string;
    const abort = (sessionId: string, headers: Record<string, string>) =>
      fetch(new URL(`api/sessions/${sessionId}/abort`, dashboard.url), { method: 'POST', headers });

    const none = await abort(id, {});
    assert.equal(none.status, 401);
    assert.equal(none.headers.get('www-authenticate')?.startsWith('Bearer'), true);
    assert.equal((await abort(id, { authorization: 'Bearer wrong' })).status, 401);
    assert.equal((await abort(id, { authorization: 'Basic czNjcmV0' })).status, 401);
    assert.equal(client.state, 'open');
    assert.equal((await abort('424242', { authorization: 'Bearer s3cret' })).status, 404);

    const ok = await abort(id, { authorization: 'Bearer s3cret' });
    assert.equal(ok.status, 200);
    const reason = await within(client.closed, 5_000, 'client closed');
    assert.ok(reason.kind === 'aborted', `closed: ${reason.kind}`);
    assert.equal(reason.origin, 'peer');
    assert.equal(reason.by, 'user');
    assert.equal(new TextDecoder().decode(reason.userData), ABORT_REASON);
    assert.equal((await abort(id, { authorization: 'Bearer s3cret' })).status, 404, 'gone once aborted');
  });
});

describe('startDashboard options', () => {
  test('bad options are a UsageError; a port in use rejects', { timeout: 10_000 }, async (t) => {
    const server = await listen('tcp://127.0.0.1:0');
    t.after(() => server.close());
    await assert.rejects(startDashboard(server, { port: -1 }), UsageError);
    await assert.rejects(startDashboard(server, { port: 0, adminToken: '' }), UsageError);
    const first = await startDashboard(server, { host: '127.0.0.1', port: 0 });
    t.after(() => first.close());
    await assert.rejects(startDashboard(server, { host: '127.0.0.1', port: first.address.port }), /EADDRINUSE/);
  });
});

/** GET `path` with a chosen Host header (fetch cannot set one): the status code. */
function statusWithHost(port: number, path: string, host: string): Promise<number> {
  return within(
    new Promise<number>((resolve, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port, path, headers: { host } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end();
    }),
    5_000,
    `GET ${path} as ${host}`,
  );
}

describe('dashboard Host check (DNS rebinding)', () => {
  test('on loopback it answers loopback names only: another site resolved to 127.0.0.1 gets 403', {
    timeout: 10_000,
  }, async (t) => {
    const { dashboard } = await setup(t);
    const port = dashboard.address.port;
    assert.equal(await statusWithHost(port, '/api/sessions', `127.0.0.1:${port}`), 200);
    assert.equal(await statusWithHost(port, '/api/sessions', `localhost:${port}`), 200);
    assert.equal(await statusWithHost(port, '/healthz', `[::1]:${port}`), 200);
    assert.equal(await statusWithHost(port, '/api/sessions', `evil.example:${port}`), 403);
    assert.equal(await statusWithHost(port, '/metrics', 'evil.example'), 403);
  });

  test('allowedHosts replaces the default: only the names listed (and the bound host) are answered', {
    timeout: 10_000,
  }, async (t) => {
    const { dashboard } = await setup(t, { dashboard: { allowedHosts: ['dash.example'] } });
    const port = dashboard.address.port;
    assert.equal(await statusWithHost(port, '/healthz', `dash.example:${port}`), 200);
    assert.equal(await statusWithHost(port, '/healthz', `127.0.0.1:${port}`), 200);
    assert.equal(await statusWithHost(port, '/healthz', `localhost:${port}`), 403);
    const server = await listen('tcp://127.0.0.1:0');
    t.after(() => server.close());
    await assert.rejects(startDashboard(server, { port: 0, allowedHosts: [''] }), UsageError);
  });
});
