/**
 * Channel binding of PSK proofs under Noise (PROTOCOL.md 5.18, 20.5): a man in the middle that
 * terminates Noise on both sides and relays the plaintext verbatim (noise-relay.ts) cannot pass
 * a client's PSK proof on to the server, because the proof covers the handshake hash of the
 * client's own Noise channel. Real sockets on loopback, every wait bounded.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, type TestContext, test } from 'node:test';
import {
  bearerTokens,
  type ClientAuth,
  connect,
  generateNoiseKeyPair,
  preSharedKeys,
  RefuseCode,
  type Server,
} from '@liaison/node';
import { within } from '@liaison/testkit';
import { nextSession, startServer, track } from '../helpers.js';
import { startNoiseRelay } from './noise-relay.js';

const serverKeys = generateNoiseKeyPair();
const key = randomBytes(32);
const psk: ClientAuth = { psk: { identity: 'sensor-7', key } };

async function pskServer(t: TestContext): Promise<{ server: Server; failures: string[] }> {
  const server = await startServer(t, {
    noise: { staticKey: serverKeys.privateKey },
    authenticate: preSharedKeys(new Map([['sensor-7', key]])),
  });
  const failures: string[] = [];
  server.on('auth-failed', (info) => failures.push(info.reason));
  return { server, failures };
}

describe('channel binding under Noise', () => {
  test('a PSK login under Noise opens directly; its proof covers the handshake hash', async (t) => {
    const { server } = await pskServer(t);
    const accepted = nextSession(server, 5_000);
    const client = track(t, connect(server.url, { noise: {}, auth: psk }));
    await within(client.ready, 5_000, 'ready');
    assert.equal((await accepted).principal?.id, 'sensor-7');
  });

  test('a PSK proof relayed by a man in the middle between two Noise channels is refused UNAUTHENTICATED', async (t) => {
    const { server, failures } = await pskServer(t);
    const relay = await startNoiseRelay(t, { host: '127.0.0.1', port: server.address.port });
    const client = track(t, connect(relay.url, { noise: {}, auth: psk, resume: false }));
    await within(
      client.ready.catch(() => {}),
      5_000,
      'refusal',
    );
    const reason = await within(client.closed, 5_000, 'closed');
    assert.equal(relay.bridged, 1, 'both Noise handshakes completed: the relay saw and forwarded everything');
    assert.equal(reason.kind, 'refused', `closed with ${JSON.stringify(reason)}`);
    assert.equal(reason.kind === 'refused' && reason.code, RefuseCode.UNAUTHENTICATED);
    assert.deepEqual(client.peerStaticKey, relay.publicKey, 'the client saw the relay key, not the server one');
    assert.equal(failures.length, 1, 'the server counted one failed login');
  });

  test('a bearer token is not channel-bound: the relay passes it (why a client must pin the server key)', async (t) => {
    const server = await startServer(t, {
      noise: { staticKey: serverKeys.privateKey },
      authenticate: bearerTokens(new Map([['s3cret-token', 'alice']])),
    });
    const relay = await startNoiseRelay(t, { host: '127.0.0.1', port: server.address.port });
    const accepted = nextSession(server, 5_000);
    const client = track(t, connect(relay.url, { noise: {}, auth: { token: 's3cret-token' }, resume: false }));
    await within(client.ready, 5_000, 'ready through the relay');
    assert.equal((await accepted).principal?.id, 'alice');
    // The same client pinning the server key (IK) never talks to the relay at all.
    const pinned = track(
      t,
      connect(relay.url, {
        noise: { remoteStaticKey: serverKeys.publicKey },
        auth: { token: 's3cret-token' },
        resume: false,
      }),
    );
    await within(
      pinned.ready.then(
        () => assert.fail('a pinned client opened a session through the relay'),
        () => {},
      ),
      5_000,
      'pinned refusal',
    );
  });
});
