/**
 * The dialogue units of @liaison/browser against a real @liaison/node server on ws:// (the `ws`
 * package's WebSocket in Node): a half-duplex session where minor and major sync points are
 * confirmed by the server, and giving the data token hands the turn to send over.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { connect, type SessionSyncEvent, type WebSocketConstructor } from '@liaison/browser';
import { listen, type Session as NodeSession } from '@liaison/node';
import { within } from '@liaison/testkit';
import WebSocket from 'ws';
import { sleep, text } from './harness.js';

async function waitUntil(condition: () => boolean): Promise<void> {
  while (!condition()) await sleep(5);
}

const UNITS = ['half-duplex', 'minor-synchronize', 'major-synchronize'];

describe('@liaison/browser dialogue units', { timeout: 20_000 }, () => {
  test('sync points are confirmed by the server in stream order; giveTokens hands the turn over', async (t) => {
    const server = await listen('ws://127.0.0.1:0/liaison');
    t.after(() => server.close());
    const order: string[] = [];
    const accepted = new Promise<NodeSession>((resolve) =>
      server.once('session', (s) => {
        s.on('message', (m) => order.push(text(m)));
        s.on('sync-minor', (e) => {
          order.push(`minor ${e.serial}`);
          s.confirmMinor(e.serial);
        });
        s.on('sync-major', (e) => {
          order.push(`major ${e.serial}`);
          s.confirmMajor();
        });
        resolve(s);
      }),
    );
    const client = connect(server.url, { WebSocket: WebSocket as unknown as WebSocketConstructor, units: UNITS });
    t.after(() => client.abort());
    const s = await within(accepted, 5_000, 'accepted');
    await within(client.ready, 5_000, 'ready');
    assert.deepEqual(client.tokens, { data: 'mine', minor: 'mine', major: 'mine', release: 'unavailable' });

    const minorConfirmed = new Promise<SessionSyncEvent>((resolve) =>
      client.addEventListener('sync-minor-confirmed', resolve, { once: true }),
    );
    await client.send('first');
    const minor = client.syncMinor({ confirm: true });
    assert.equal((await within(minorConfirmed, 5_000, 'minor confirmed')).serial, minor);
    await client.send('second');
    const major = await within(client.syncMajor('checkpoint'), 5_000, 'major confirmed');
    assert.equal(major.serial, minor + 1);
    assert.deepEqual(order, ['first', `minor ${minor}`, 'second', `major ${major.serial}`]);

    const serverHasData = new Promise<void>((resolve) => s.once('tokens', () => resolve()));
    client.giveTokens(['data']);
    await within(serverHasData, 5_000, 'data token at the server');
    assert.equal(client.owns('data'), false);
    await assert.rejects(client.send('not my turn'), { code: 'ERR_LIAISON_TOKEN_NOT_HELD' });
    await s.send('my turn');
    const it = client[Symbol.asyncIterator]();
    const reply = await within(it.next(), 5_000, 'reply');
    assert.equal(text(reply.value as Uint8Array), 'my turn');

    // The server's give is part of its stream: it fires once the page asks for what comes next.
    const given: string[][] = [];
    client.addEventListener('tokens', (e) => given.push([...e.tokens]));
    s.giveTokens(['data']);
    await sleep(100);
    assert.deepEqual(given, [], 'waits until the iterator asks for the next message');
    const after = it.next(); // rejects when the test's end aborts the session
    after.catch(() => {});
    await within(
      waitUntil(() => given.length === 1),
      5_000,
      'tokens event',
    );
    assert.deepEqual(given, [['data', 'minor', 'major']]);
    await client.send('mine again');
  });
});
