/**
 * The INITIAL_TOKENS / INITIAL_SERIAL negotiation of establishment (docs/PROTOCOL.md, "Initial
 * assignment"), unit by unit: what CONNECT carries for given options (nothing new when nothing is
 * asked, so older peers see no change), how the responder reads a proposal, and how the initiator
 * checks an ACCEPT against its CONNECT. Every check the protocol names is pinned from both sides of
 * its boundary, with the error family and wire code a peer or caller would see.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { AbortCode, ErrorCode, ProtocolError, Token, UsageError } from '@liaison/core';
import { SERIAL_MAX } from '../dist/session/dialogue.js';
import {
  acceptedDialogue,
  dialogueAcceptExtensions,
  dialogueConnectExtensions,
  dialogueProposal,
} from '../dist/session/dialogue-setup.js';
import { type Extension, ExtensionId } from '../dist/wire/frame.js';

const TOKENS = ExtensionId.INITIAL_TOKENS;
const SERIAL = ExtensionId.INITIAL_SERIAL;
const ext = (id: number, ...bytes: number[]): Extension => ({ id, value: Uint8Array.from(bytes) });
const bytesOf = (exts: Extension[]) => exts.map((e) => ({ id: e.id, value: [...e.value] }));

const usage = (pattern: RegExp) => (e: unknown) =>
  e instanceof UsageError && e.code === ErrorCode.INVALID_ARGUMENT && pattern.test(e.message);
const protocol = (code: AbortCode, pattern: RegExp) => (e: unknown) =>
  e instanceof ProtocolError && e.wireCode === code && pattern.test(e.message);

describe('dialogueConnectExtensions', () => {
  test('no options: CONNECT carries nothing new', () => {
    assert.deepEqual(dialogueConnectExtensions({}), []);
    assert.deepEqual(dialogueConnectExtensions({ responderTokens: 0, responderChooses: 0 }), []);
  });

  test('assign alone, choose alone, or both: one INITIAL_TOKENS of [assign, choose]', () => {
    assert.deepEqual(bytesOf(dialogueConnectExtensions({ responderTokens: Token.data })), [
      { id: TOKENS, value: [Token.data, 0] },
    ]);
    assert.deepEqual(bytesOf(dialogueConnectExtensions({ responderChooses: Token.minor })), [
      { id: TOKENS, value: [0, Token.minor] },
    ]);
    // A token both assigned and offered is assigned: choose never repeats assign.
    assert.deepEqual(bytesOf(dialogueConnectExtensions({ responderTokens: 0x3, responderChooses: 0x6 })), [
      { id: TOKENS, value: [0x3, 0x4] },
    ]);
  });

  test('token bits outside the four tokens are a UsageError', () => {
    assert.throws(() => dialogueConnectExtensions({ responderTokens: 0x10 }), usage(/unknown token bits/));
    assert.throws(() => dialogueConnectExtensions({ responderChooses: 0x80 }), usage(/unknown token bits/));
    assert.doesNotThrow(() => dialogueConnectExtensions({ responderTokens: 0x0f }));
  });

  test('an initial serial is a big-endian u32 after the tokens', () => {
    assert.deepEqual(bytesOf(dialogueConnectExtensions({ initialSerial: 0 })), [{ id: SERIAL, value: [0, 0, 0, 0] }]);
    assert.deepEqual(bytesOf(dialogueConnectExtensions({ responderTokens: 1, initialSerial: 0x01020304 })), [
      { id: TOKENS, value: [1, 0] },
      { id: SERIAL, value: [1, 2, 3, 4] },
    ]);
    assert.deepEqual(bytesOf(dialogueConnectExtensions({ initialSerial: SERIAL_MAX })), [
      { id: SERIAL, value: [0xff, 0xff, 0xff, 0xff] },
    ]);
  });

  test('an initial serial outside 0..SERIAL_MAX, or not an integer, is a UsageError naming it', () => {
    for (const bad of [-1, SERIAL_MAX + 1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      assert.throws(
        () => dialogueConnectExtensions({ initialSerial: bad }),
        usage(new RegExp(`initial serial ${bad} is not in 0\\.\\.${SERIAL_MAX}`)),
        String(bad),
      );
    }
  });
});

describe('dialogueProposal (the responder reads CONNECT)', () => {
  test('no extension: nothing proposed, not present', () => {
    assert.deepEqual(dialogueProposal([]), { assign: 0, choose: 0, serial: 0, present: false });
  });

  test('either extension alone makes the proposal present', () => {
    assert.deepEqual(dialogueProposal([ext(TOKENS, 1, 2)]), { assign: 1, choose: 2, serial: 0, present: true });
    assert.deepEqual(dialogueProposal([ext(SERIAL, 0, 0, 1, 0)]), { assign: 0, choose: 0, serial: 256, present: true });
  });

  test('round trip with dialogueConnectExtensions', () => {
    const o = { responderTokens: 0x5, responderChooses: 0x2, initialSerial: 0xdeadbeef };
    assert.deepEqual(dialogueProposal(dialogueConnectExtensions(o)), {
      assign: 0x5,
      choose: 0x2,
      serial: 0xdeadbeef,
      present: true,
    });
  });

  test('malformed values fall back to the defaults but still count as present; unknown bits are masked', () => {
    assert.deepEqual(dialogueProposal([ext(TOKENS, 1)]), { assign: 0, choose: 0, serial: 0, present: true });
    assert.deepEqual(dialogueProposal([ext(SERIAL, 1, 2)]), { assign: 0, choose: 0, serial: 0, present: true });
    assert.deepEqual(dialogueProposal([ext(TOKENS, 0xf1, 0x32)]).assign, 0x1);
    assert.deepEqual(dialogueProposal([ext(TOKENS, 0xf1, 0x32)]).choose, 0x2);
  });

  test('dialogueAcceptExtensions: one byte of tokens and the serial echoed', () => {
    assert.deepEqual(bytesOf(dialogueAcceptExtensions(0x9, 7)), [
      { id: TOKENS, value: [0x9] },
      { id: SERIAL, value: [0, 0, 0, 7] },
    ]);
  });
});

describe('acceptedDialogue (the initiator checks ACCEPT against CONNECT)', () => {
  const connect = dialogueConnectExtensions({ responderTokens: 0x1, responderChooses: 0x6, initialSerial: 40 });

  test('an ACCEPT without the extensions: the responder holds what was assigned, serial as proposed', () => {
    assert.deepEqual(acceptedDialogue(connect, []), { responderTokens: 0x1, serial: 40 });
    assert.deepEqual(acceptedDialogue([], []), { responderTokens: 0, serial: 0 });
  });

  test('the responder may take any part of what it could choose, always with what was assigned', () => {
    for (const held of [0x1, 0x3, 0x5, 0x7]) {
      assert.deepEqual(acceptedDialogue(connect, dialogueAcceptExtensions(held, 40)), {
        responderTokens: held,
        serial: 40,
      });
    }
  });

  test('taking a token not offered is TOKEN_VIOLATION', () => {
    assert.throws(
      () => acceptedDialogue(connect, [ext(TOKENS, 0x9)]),
      protocol(AbortCode.TOKEN_VIOLATION, /not offered/),
    );
  });

  test('leaving an assigned token behind is TOKEN_VIOLATION', () => {
    assert.throws(
      () => acceptedDialogue(connect, [ext(TOKENS, 0x6)]),
      protocol(AbortCode.TOKEN_VIOLATION, /not offered/),
    );
  });

  test('INITIAL_TOKENS of any size but one byte is MALFORMED_FRAME', () => {
    for (const bytes of [[], [0x1, 0x0]]) {
      assert.throws(
        () => acceptedDialogue(connect, [ext(TOKENS, ...bytes)]),
        protocol(AbortCode.MALFORMED_FRAME, /INITIAL_TOKENS of the wrong size/),
      );
    }
  });

  test('a changed serial is SYNC_VIOLATION, even when only the ACCEPT carries one', () => {
    assert.throws(
      () => acceptedDialogue(connect, [ext(TOKENS, 0x1), ext(SERIAL, 0, 0, 0, 41)]),
      protocol(AbortCode.SYNC_VIOLATION, /changed the initial serial/),
    );
    assert.throws(
      () => acceptedDialogue([], [ext(SERIAL, 0, 0, 0, 1)]),
      protocol(AbortCode.SYNC_VIOLATION, /changed the initial serial/),
    );
    assert.deepEqual(acceptedDialogue(connect, [ext(SERIAL, 0, 0, 0, 40)]), { responderTokens: 0x1, serial: 40 });
  });

  test('INITIAL_SERIAL of any size but four bytes is MALFORMED_FRAME', () => {
    for (const bytes of [
      [0, 0, 40],
      [0, 0, 0, 0, 40],
    ]) {
      assert.throws(
        () => acceptedDialogue(connect, [ext(SERIAL, ...bytes)]),
        protocol(AbortCode.MALFORMED_FRAME, /INITIAL_SERIAL of the wrong size/),
      );
    }
  });
});
