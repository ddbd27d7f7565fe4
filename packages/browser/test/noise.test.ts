/**
 * @liaison/browser/noise against a real @liaison/node server with Noise on ws:// (the `ws`
 * package's WebSocket in Node): IK with the server's pinned key, XX reporting the key, a wrong
 * pinned key never opening, and a resume inside Noise after the server cut the transport.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type ConnectOptions, connect, type Session, type WebSocketConstructor } from '@liaison/browser';
import { noise } from '@liaison/browser/noise';
import { generateNoiseKeyPair } from '@liaison/node';
import { within } from '@liaison/testkit';
import WebSocket from 'ws';
import { startEchoServer, text } from './harness.js';

const NodeWebSocket = WebSocket as unknown as WebSocketConstructor;

async function echo(session: Session, message: string): Promise<string> {
  await session.send(message);
  const it = session[Symbol.asyncIterator]();
  const got = await within(it.next(), 5_000, `echo of ${message}`);
  await it.return?.();
  return text(got.value as Uint8Array);
}

describe('@liaison/browser/noise', { timeout: 20_000 }, () => {
  const keys = generateNoiseKeyPair();
  const open = (url: string, options: ConnectOptions): Session =>
    connect(url, { WebSocket: NodeWebSocket, resume: true, ...options });

  test('IK with the pinned server key: echoes, and resumes inside Noise after a cut', async (t) => {
    const server = await startEchoServer(t, { listen: { noise: { staticKey: keys.privateKey } } });
    const client = open(server.url, {
      noise: noise({ remoteStaticKey: keys.publicKey }),
      backoff: { initialDelayMs: 10 },
    });
    t.after(() => client.abort());
    await within(client.ready, 5_000, 'ready');
    assert.deepEqual(client.peerStaticKey, keys.publicKey);
    assert.equal(await echo(client, 'secret'), 'secret');
    assert.ok(server.cutAll() > 0);
    await within(new Promise((r) => client.addEventListener('resumed', r, { once: true })), 5_000, 'resumed');
    assert.equal(await echo(client, 'still secret'), 'still secret');
    assert.deepEqual(server.received[0], ['secret', 'still secret']);
  });

  test('XX without a pinned key reports the server key (hex accepted); a wrong pinned key never opens', async (t) => {
    const server = await startEchoServer(t, { listen: { noise: { staticKey: keys.privateKey } } });
    const tofu = open(server.url, { noise: noise() });
    t.after(() => tofu.abort());
    await within(tofu.ready, 5_000, 'ready');
    assert.deepEqual(tofu.peerStaticKey, keys.publicKey);
    assert.equal(await echo(tofu, 'hi'), 'hi');

    const other = generateNoiseKeyPair();
    const hex = Array.from(other.publicKey, (b) => b.toString(16).padStart(2, '0')).join('');
    const wrong = open(server.url, { noise: noise({ remoteStaticKey: hex }), resume: false });
    t.after(() => wrong.abort());
    await assert.rejects(within(wrong.ready, 5_000, 'refused'), { code: 'ERR_LIAISON_SESSION_ABORTED' });
    assert.throws(() => noise({ remoteStaticKey: 'abc' }), { code: 'ERR_LIAISON_INVALID_ARGUMENT' });
  });
});
