/**
 * The credential helpers and the resume credentials at their exact edges. credentials.ts holds the
 * API's limits (PROTOCOL.md 5.18: at most 4 entries of at most 16 KiB, ids 0x18-0x2F, a PSK
 * identity of at most 255 bytes), the AUTH_PSK layout both ends must read alike and the answer
 * input the PSK's mutual proof hangs on; resume-credentials.ts reads an ACCEPT's recovery offer
 * (5.15: no recovery without KEY_SHARE and SESSION_ID, MALFORMED_FRAME for a bad id,
 * PROTOCOL_ERROR for a rejected share, a RESUME_WINDOW that is not 4 bytes ignored). An off-by-one
 * at any of these edges either refuses what the protocol allows or lets through what it forbids.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  AbortCode,
  type ConnectFrame,
  checkCredentials,
  credentialsOf,
  decodePskCredential,
  ErrorCode,
  type Extension,
  ExtensionId,
  encodePskCredential,
  extensionValue,
  FrameType,
  ProtocolError,
  pskAnswerInput,
  pskOfferOf,
  pskProofInput,
  UsageError,
} from '@liaison/core';
import fc from 'fast-check';
import { newKeyShare, nobleKeyAgreement, resumeKeyFrom } from '../dist/recovery/proof.js';
import { ResumeCredentials } from '../dist/session/resume-credentials.js';
import { seededRandom } from './seeded-random.js';
import { toHex } from './wire-util.js';

const hex = (s: string) => s.replace(/\s+/g, '');
const bytes = (n: number, fill = 0) => new Uint8Array(n).fill(fill);
const cred = (id: number, n = 1): Extension => ({ id, value: bytes(n, id) });

/** A UsageError with INVALID_ARGUMENT whose message says `says` (the limit or the culprit). */
const invalid = (says: RegExp) => (e: unknown) => {
  assert.ok(e instanceof UsageError);
  assert.equal(e.code, ErrorCode.INVALID_ARGUMENT);
  assert.match(e.message, says);
  return true;
};

describe('checkCredentials: the API limits, inclusive', () => {
  test('4 entries pass, a 5th is refused', () => {
    const four = [0x18, 0x19, 0x1a, 0x1b].map((id) => cred(id));
    checkCredentials(four);
    assert.throws(() => checkCredentials([...four, cred(0x1c)]), invalid(/\b4\b/));
  });

  test('ids 0x18 and 0x2F pass, 0x17, 0x30 and a non-integer are refused, naming the id', () => {
    checkCredentials([cred(0x18), cred(0x2f)]);
    for (const id of [0x17, 0x30, 0x18 + 0.5]) {
      assert.throws(() => checkCredentials([cred(id)]), invalid(new RegExp(`\\b${String(id).replace('.', '\\.')}\\b`)));
    }
  });

  test('a value of 16 KiB passes, one byte more is refused', () => {
    checkCredentials([cred(0x18, 16 * 1024)]);
    assert.throws(() => checkCredentials([cred(0x18, 16 * 1024 + 1)]), invalid(/16384/));
  });
});

describe('credentialsOf and extensionValue', () => {
  test('credentialsOf keeps exactly the ids 0x18..0x2F, in order, duplicates included', () => {
    const all = [0x01, 0x2f, 0x17, 0x18, 0x30, 0x19, 0x2f].map((id, i) => ({ id, value: bytes(1, i) }));
    assert.deepEqual(
      credentialsOf(all).map((e) => [e.id, e.value[0]]),
      [
        [0x2f, 1],
        [0x18, 3],
        [0x19, 5],
        [0x2f, 6],
      ],
    );
  });

  test('extensionValue is the first entry with the id, or null', () => {
    const exts = [
      { id: 0x01, value: bytes(1, 1) },
      { id: 0x19, value: bytes(1, 2) },
      { id: 0x19, value: bytes(1, 3) },
    ];
    assert.deepEqual(extensionValue(exts, 0x19), bytes(1, 2));
    assert.equal(extensionValue(exts, 0x02), null);
  });
});

describe('pskOfferOf', () => {
  const connect = (extensions: Extension[]): ConnectFrame => ({
    type: FrameType.CONNECT,
    channel: 7,
    versionMin: 1,
    versionMax: 3,
    units: 0x0123,
    frameBytesMax: 1 << 16,
    messageBytesMax: 1 << 20,
    receiveWindowBytes: 1 << 20,
    keepaliveIntervalMs: 0,
    idleTimeoutMs: 0,
    extensions,
    userData: new Uint8Array(0),
  });

  test('takes the fields a proof covers and the KEY_SHARE wherever it sits, null without one', () => {
    const share = bytes(32, 0xbb);
    const withShare = connect([
      { id: 0x30, value: bytes(2) },
      { id: ExtensionId.KEY_SHARE, value: share },
    ]);
    assert.deepEqual(pskOfferOf(withShare), {
      channel: 7,
      versionMin: 1,
      versionMax: 3,
      units: 0x0123,
      keyShare: share,
    });
    assert.deepEqual(pskOfferOf(connect([{ id: 0x30, value: bytes(2) }])), {
      channel: 7,
      versionMin: 1,
      versionMax: 3,
      units: 0x0123,
      keyShare: null,
    });
  });
});

describe('pskProofInput: the identity limit', () => {
  const offer = { channel: 1, versionMin: 1, versionMax: 1, units: 1, keyShare: null };

  test('a 255-byte identity is carried with its length byte 0xFF; 256 bytes are refused', () => {
    const input = pskProofInput(bytes(16), offer, bytes(255, 0x69));
    // label 14, challenge 16, channel..units 8, then the identity's length byte.
    assert.equal(input[14 + 16 + 8], 0xff);
    assert.equal(input.byteLength, 14 + 16 + 8 + 1 + 255 + 1);
    assert.throws(() => pskProofInput(bytes(16), offer, bytes(256)), invalid(/255/));
  });
});

describe('pskAnswerInput with both recovery values', () => {
  test('byte for byte, the key share before the session id, each after its length', () => {
    const answer = pskAnswerInput(
      bytes(32, 0xcc),
      { version: 2, units: 0x0419 },
      { keyShare: bytes(32, 0xee), sessionId: bytes(16, 0xdd) },
    );
    assert.equal(
      toHex(answer),
      hex(
        `6c696169736f6e2070736b20616e73776572207631 ${'cc'.repeat(32)} 02 0419 20 ${'ee'.repeat(32)} 10 ${'dd'.repeat(16)}`,
      ),
    );
  });

  test('a key share without a session id still ends in a zero length', () => {
    const answer = pskAnswerInput(
      bytes(32, 0xcc),
      { version: 1, units: 1 },
      { keyShare: bytes(32, 0xee), sessionId: null },
    );
    assert.equal(
      toHex(answer),
      hex(`6c696169736f6e2070736b20616e73776572207631 ${'cc'.repeat(32)} 01 0001 20 ${'ee'.repeat(32)} 00`),
    );
  });
});

describe('AUTH_PSK value: encode and decode', () => {
  test('the layout: u8 identity length, identity, 32-byte proof', () => {
    const value = encodePskCredential(new TextEncoder().encode('id'), bytes(32, 0xab));
    assert.equal(toHex(value), hex(`02 6964 ${'ab'.repeat(32)}`));
  });

  test('decode reads back what encode wrote, for identities of 1 to 255 bytes', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 1, maxLength: 255 }),
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        (identity, proof) => {
          const decoded = decodePskCredential(encodePskCredential(identity, proof));
          assert.ok(decoded);
          assert.deepEqual(decoded.identity, identity);
          assert.deepEqual(decoded.proof, proof);
        },
      ),
      { numRuns: 100 },
    );
  });

  test('decode refuses anything but exactly 1 + n + 32 bytes', () => {
    const good = encodePskCredential(bytes(3, 0x69), bytes(32, 0xab));
    assert.equal(decodePskCredential(new Uint8Array(0)), null);
    assert.equal(decodePskCredential(Uint8Array.of(0)), null);
    assert.equal(decodePskCredential(good.subarray(0, good.byteLength - 1)), null);
    assert.equal(decodePskCredential(Uint8Array.from([...good, 0])), null);
    // A length byte that claims more (or less) than is there.
    assert.equal(decodePskCredential(Uint8Array.from([4, ...good.subarray(1)])), null);
    assert.equal(decodePskCredential(Uint8Array.from([2, ...good.subarray(1)])), null);
  });

  test('an empty identity is no AUTH_PSK (PROTOCOL.md: 1-255 bytes), neither read nor written', () => {
    assert.equal(decodePskCredential(Uint8Array.from([0, ...bytes(32, 0xab)])), null);
    const refused = (identity: number, proof: number, message: RegExp) =>
      assert.throws(
        () => encodePskCredential(bytes(identity, 0x69), bytes(proof, 0xab)),
        (e) => e instanceof UsageError && e.code === ErrorCode.INVALID_ARGUMENT && message.test(e.message),
      );
    refused(0, 32, /^a PSK identity has 1\.\.255 bytes, not 0$/);
    refused(256, 32, /^a PSK identity has 1\.\.255 bytes, not 256$/);
    refused(1, 31, /^a PSK proof has 32 bytes$/);
    assert.equal(encodePskCredential(bytes(255, 0x69), bytes(32, 0xab)).byteLength, 1 + 255 + 32);
  });

  test('any byte string decodes to null or to the parts that re-encode to it', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 80 }), (value) => {
        const decoded = decodePskCredential(value);
        if (decoded) assert.deepEqual(encodePskCredential(decoded.identity, decoded.proof), value);
        else assert.ok(value.byteLength === 0 || value[0] === 0 || value.byteLength !== 1 + (value[0] as number) + 32);
      }),
      { numRuns: 200 },
    );
  });
});

describe('ResumeCredentials.fromAccept', () => {
  const random = seededRandom(11);
  const mine = newKeyShare(random);
  const theirs = newKeyShare(random);
  const sessionId = bytes(16, 0x5a);
  const agree = (peer: Uint8Array) => nobleKeyAgreement.agree(mine, peer);
  const keyShare = { id: ExtensionId.KEY_SHARE, value: theirs.publicKey };
  const idExt = { id: ExtensionId.SESSION_ID, value: sessionId };
  const u32 = (n: number) => {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, n);
    return b;
  };

  test('derives the key the responder holds, and the resume window even at an offset in a larger buffer', () => {
    const frame = Uint8Array.from([9, 9, 9, ...u32(0x00012345), 9]);
    const window = { id: ExtensionId.RESUME_WINDOW, value: frame.subarray(3, 7) };
    const creds = ResumeCredentials.fromAccept([{ id: 0x30, value: bytes(4, 1) }, keyShare, idExt, window], agree);
    assert.ok(creds);
    assert.deepEqual(creds.sessionId, sessionId);
    const responderKey = resumeKeyFrom(nobleKeyAgreement.agree(theirs, mine.publicKey), sessionId);
    assert.deepEqual(creds.key, responderKey);
    assert.equal(creds.resumeWindowMs, 0x12345);
    // Both ends then prove to each other with the same key.
    const responder = new ResumeCredentials(sessionId, responderKey, null);
    const attempt = { challenge: bytes(16, 1), clientNonce: bytes(16, 2), resendFrom: 3 };
    assert.ok(responder.proves('initiator', attempt, 5, creds.proof('initiator', attempt, 5)));
    assert.ok(!responder.proves('initiator', attempt, 6, creds.proof('initiator', attempt, 5)));
  });

  test('no RESUME_WINDOW, or one that is not 4 bytes, leaves the window unknown', () => {
    assert.equal(ResumeCredentials.fromAccept([keyShare, idExt], agree)?.resumeWindowMs, null);
    for (const n of [0, 3, 5, 8]) {
      const window = { id: ExtensionId.RESUME_WINDOW, value: bytes(n, 1) };
      assert.equal(ResumeCredentials.fromAccept([keyShare, idExt, window], agree)?.resumeWindowMs, null, `${n} bytes`);
    }
  });

  test('without KEY_SHARE or without SESSION_ID there is no recovery, and nothing is agreed', () => {
    let agreed = 0;
    const counting = (peer: Uint8Array) => {
      agreed++;
      return agree(peer);
    };
    const window = { id: ExtensionId.RESUME_WINDOW, value: u32(1000) };
    assert.equal(ResumeCredentials.fromAccept([], counting), null);
    assert.equal(ResumeCredentials.fromAccept([idExt, window], counting), null);
    assert.equal(ResumeCredentials.fromAccept([keyShare, window], counting), null);
    assert.equal(agreed, 0);
  });

  test('a session id that is not 16 bytes is MALFORMED_FRAME', () => {
    for (const n of [0, 15, 17]) {
      assert.throws(
        () => ResumeCredentials.fromAccept([keyShare, { id: ExtensionId.SESSION_ID, value: bytes(n, 1) }], agree),
        (e: unknown) => {
          assert.ok(e instanceof ProtocolError);
          assert.equal(e.wireCode, AbortCode.MALFORMED_FRAME);
          assert.match(e.message, /session id/);
          return true;
        },
        `${n} bytes`,
      );
    }
  });

  test('a key share the agreement rejects (low order) is PROTOCOL_ERROR, with the rejection as cause', () => {
    let rejection: unknown;
    const rejecting = (peer: Uint8Array) => {
      try {
        return agree(peer);
      } catch (e) {
        rejection = e;
        throw e;
      }
    };
    assert.throws(
      () => ResumeCredentials.fromAccept([{ id: ExtensionId.KEY_SHARE, value: bytes(32) }, idExt], rejecting),
      (e: unknown) => {
        assert.ok(e instanceof ProtocolError);
        assert.equal(e.wireCode, AbortCode.PROTOCOL_ERROR);
        assert.match(e.message, /key share/);
        assert.ok(rejection !== undefined);
        assert.equal(e.cause, rejection);
        return true;
      },
    );
  });
});
