/**
 * Credentials in the core on virtual time: the PSK proof input byte for byte, a CONNECT that waits
 * for the CHALLENGE its proof needs (and the CONNECTs behind it), credential checks on send, the
 * credentials deadline (CREDENTIALS_EXPIRED; a resume after it is refused) and the renewal frames.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  AbortCode,
  type ConnectFrame,
  ErrorCode,
  ExtensionId,
  FrameType,
  pskAnswerInput,
  pskProofInput,
  SessionTable,
} from '@liaison/core';
import { establish, eventsOf, Pair } from './harness.js';
import { seededRandom } from './seeded-random.js';
import { decodeChunks, toHex } from './wire-util.js';

const hex = (s: string) => s.replace(/\s+/g, '');
const table = () => new SessionTable({ resumeWindowMs: 10_000, suspendedBytesMax: 1 << 30 });

function recoveryPair(): Pair {
  return new Pair({
    initiator: { random: seededRandom(1), table: table() },
    responder: { random: seededRandom(2), table: table() },
  });
}

describe('credentials', () => {
  test('the PSK proof and answer inputs, byte for byte (PROTOCOL.md 5.18)', () => {
    const input = pskProofInput(
      new Uint8Array(16).fill(0xaa),
      { channel: 1, versionMin: 1, versionMax: 1, units: 0x19, keyShare: new Uint8Array(32).fill(0xbb) },
      new TextEncoder().encode('id'),
    );
    assert.equal(
      toHex(input),
      hex(`6c696169736f6e2070736b207631 ${'aa'.repeat(16)} 00000001 01 01 0019 02 6964 20 ${'bb'.repeat(32)}`),
    );
    const answer = pskAnswerInput(
      new Uint8Array(32).fill(0xcc),
      { version: 1, units: 0x19 },
      { keyShare: null, sessionId: new Uint8Array(16).fill(0xdd) },
    );
    assert.equal(
      toHex(answer),
      hex(`6c696169736f6e2070736b20616e73776572207631 ${'cc'.repeat(32)} 01 0019 00 10 ${'dd'.repeat(16)}`),
    );
  });

  test('a CONNECT whose credentials need the CHALLENGE waits for it; a later CONNECT waits behind it', () => {
    const p = recoveryPair();
    const seen: Uint8Array[] = [];
    const first = p.a.conn.openSession(p.now, {
      credentials: (challenge, connect: ConnectFrame) => {
        seen.push(challenge);
        return [
          { id: ExtensionId.AUTH_PSK, value: Uint8Array.of(1, 0x41, ...new Uint8Array(32)) },
          { id: 0x1f, value: Uint8Array.of(connect.channel) },
        ];
      },
    });
    const second = p.a.conn.openSession(p.now, {
      credentials: [{ id: ExtensionId.AUTH_TOKEN, value: Uint8Array.of(0x74) }],
    });
    // Before any byte from the responder: the initiator writes its preface only.
    const early = p.a.conn.pollTransmit();
    assert.ok(early);
    assert.equal(decodeChunks([early], { expectPreface: true }).filter((f) => f.type === FrameType.CONNECT).length, 0);
    p.b.conn.handleBytes(p.now, early);
    p.pump();
    const requests = eventsOf(p.b, 'connect-request');
    assert.deepEqual(
      requests.map((e) => e.channel),
      [first.channel, second.channel],
    );
    assert.equal(seen.length, 1);
    const [r1, r2] = requests;
    assert.deepEqual(r1?.request.challenge, seen[0]);
    assert.deepEqual(
      r1?.request.credentials.map((e) => e.id),
      [ExtensionId.AUTH_PSK, 0x1f],
    );
    assert.deepEqual(
      r2?.request.credentials.map((e) => e.id),
      [ExtensionId.AUTH_TOKEN],
    );
    assert.equal(r1?.request.keyShare?.byteLength, 32);
    assert.deepEqual(r1?.request.extensions, [], 'credentials are not application extensions');
  });

  test('credentials outside the auth range, too many or too large are usage errors', () => {
    const p = recoveryPair();
    for (const credentials of [
      [{ id: 0x30, value: new Uint8Array(1) }],
      [{ id: 0x17, value: new Uint8Array(1) }],
      Array.from({ length: 5 }, () => ({ id: ExtensionId.AUTH_TOKEN, value: new Uint8Array(1) })),
      [{ id: ExtensionId.AUTH_TOKEN, value: new Uint8Array(16 * 1024 + 1) }],
    ]) {
      assert.throws(() => p.a.conn.openSession(p.now, { credentials }), { code: ErrorCode.INVALID_ARGUMENT });
    }
  });

  test('past the credentials deadline an established session is aborted CREDENTIALS_EXPIRED on both ends', () => {
    const p = recoveryPair();
    const channel = establish(p);
    const server = p.b.conn.session(channel);
    assert.ok(server);
    server.credentialsExpireAt = p.now + 100;
    p.advance(99);
    assert.equal(server.state, 'open');
    p.advance(2);
    assert.equal(server.closeReason?.kind === 'aborted' && server.closeReason.code, AbortCode.CREDENTIALS_EXPIRED);
    const client = p.a.conn.session(channel);
    const theirs = client?.closeReason ?? eventsOf(p.a, 'closed')[0]?.reason;
    assert.ok(theirs?.kind === 'aborted' && theirs.origin === 'peer' && theirs.code === AbortCode.CREDENTIALS_EXPIRED);
  });

  test('renewal: RENEW_CREDENTIALS reaches the responder as an event, its answer the initiator; wrong sides are usage errors', () => {
    const p = recoveryPair();
    const channel = establish(p);
    const client = p.a.conn.session(channel);
    const server = p.b.conn.session(channel);
    assert.ok(client && server);
    client.renewCredentials(p.now, 9, [{ id: ExtensionId.AUTH_TOKEN, value: Uint8Array.of(1, 2) }]);
    p.pump();
    const [asked] = eventsOf(p.b, 'renewal-requested');
    assert.equal(asked?.requestId, 9);
    assert.deepEqual(asked?.credentials, [{ id: ExtensionId.AUTH_TOKEN, value: Uint8Array.of(1, 2) }]);
    server.credentialsExpireAt = p.now + 60_000;
    server.answerRenewal(p.now, 9, 0, '');
    p.pump();
    const [answered] = eventsOf(p.a, 'renewal-answered');
    assert.deepEqual([answered?.requestId, answered?.code, answered?.message], [9, 0, '']);
    assert.throws(() => server.renewCredentials(p.now, 1, []), { code: ErrorCode.INVALID_STATE });
    assert.throws(() => client.answerRenewal(p.now, 1, 0, ''), { code: ErrorCode.INVALID_STATE });
    assert.equal(client.state, 'open');
    assert.equal(server.state, 'open');
  });
});
