/**
 * node:diagnostics_channel over real sockets: a session's open, suspend, resume and close, a
 * refusal and a peer that breaks the protocol each publish one message on their channel, and
 * NODE_DEBUG=liaison prints them on stderr (in a child process, as a user would set it).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { connect as netConnect } from 'node:net';
import { describe, type TestContext, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { connect, RefuseCode } from '@liaison/node';
import { FaultProxy } from '@liaison/testkit';
import { startServer, track, waitFor, within } from './helpers.js';

type Seen = { name: string; message: Record<string, unknown> };

function record(t: TestContext): Seen[] {
  const seen: Seen[] = [];
  const names = [
    'liaison:session:open',
    'liaison:session:suspend',
    'liaison:session:resume',
    'liaison:session:close',
    'liaison:session:refused',
    'liaison:protocol-error',
  ];
  const listener = (message: unknown, name: string | symbol) =>
    seen.push({ name: String(name), message: message as Record<string, unknown> });
  for (const n of names) subscribe(n, listener);
  t.after(() => {
    for (const n of names) unsubscribe(n, listener);
  });
  return seen;
}

describe('diagnostics channels', () => {
  test('open, suspend, resume and close of one session, on both ends', async (t) => {
    const seen = record(t);
    const server = await startServer(t);
    const proxy = new FaultProxy({ target: server.address });
    await proxy.start();
    t.after(() => proxy.stop());
    const client = track(t, connect(proxy.url));
    await within(client.ready, 5_000, 'open');
    await waitFor(() => seen.filter((s) => s.name === 'liaison:session:open').length === 2, 2_000, 'two opens');
    proxy.cutAll();
    await within(new Promise((r) => client.once('resumed', r)), 10_000, 'resumed');
    await client.close();
    await waitFor(() => seen.filter((s) => s.name === 'liaison:session:close').length === 2, 2_000, 'two closes');
    const mine = seen.filter((s) => s.message.session === client).map((s) => s.name);
    assert.deepEqual(mine, [
      'liaison:session:open',
      'liaison:session:suspend',
      'liaison:session:resume',
      'liaison:session:close',
    ]);
    const opens = seen.filter((s) => s.name === 'liaison:session:open').map((s) => s.message.role);
    assert.deepEqual(opens.sort(), ['client', 'server']);
    const close = seen.find((s) => s.name === 'liaison:session:close' && s.message.session === client);
    assert.ok(close);
    assert.equal((close.message.reason as { kind: string }).kind, 'released');
  });

  test('a refusal and a peer speaking something else are published', async (t) => {
    const seen = record(t);
    const server = await startServer(t, { onConnect: () => ({ accept: false, code: RefuseCode.REJECTED }) });
    const refused = connect(server.url);
    await assert.rejects(refused.ready);
    await waitFor(() => seen.some((s) => s.name === 'liaison:session:refused'), 2_000, 'refused');
    const r = seen.filter((s) => s.name === 'liaison:session:refused');
    assert.ok(r.some((s) => s.message.role === 'client' && s.message.code === RefuseCode.REJECTED));
    const port = Number(new URL(server.url).port);
    const socket = netConnect(port, '127.0.0.1', () => socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
    socket.on('error', () => {});
    t.after(() => socket.destroy());
    await waitFor(() => seen.some((s) => s.name === 'liaison:protocol-error'), 5_000, 'protocol error');
    const e = seen.find((s) => s.name === 'liaison:protocol-error');
    assert.equal(e?.message.remoteAddress, '127.0.0.1');
    assert.ok(e?.message.error instanceof Error);
  });

  test('NODE_DEBUG=liaison prints each message on stderr', async () => {
    const script = `
      import { connect, listen } from '@liaison/node';
      const server = await listen('tcp://127.0.0.1:0');
      const s = connect(server.url);
      await s.ready;
      await s.close();
      await server.close();
    `;
    const cwd = fileURLToPath(new URL('..', import.meta.url));
    const { stderr } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], {
      cwd,
      env: { ...process.env, NODE_DEBUG: 'liaison' },
      timeout: 20_000,
    });
    assert.match(stderr, /LIAISON \d+: liaison:session:open client ch\d+/);
    assert.match(stderr, /LIAISON \d+: liaison:session:close client ch\d+: session released/);
  });
});
